"""Every link the service hands out (pages, mails, push output, API), built in one place.

`base` is `server.base_url` for absolute links (mails, push output, API fields) or "" for the
site-relative links of pages and redirects. Paths inside a repository are percent-encoded
(`/` kept), as the pages' templates encode them, so a file named `odd name #1.py` links to itself.
"""

from __future__ import annotations

from urllib.parse import quote

API_PREFIX = "/api/v1"


def _path(path: str) -> str:
    return quote(path, safe="/")


# -- pages --------------------------------------------------------------------------------------

def user_url(base: str, username: str) -> str:
    """A user's page: their repositories."""
    return f"{base}/{username}"


def repo_url(base: str, owner: str, name: str) -> str:
    """The repo page."""
    return f"{base}/{owner}/{name}"


def clone_url(base: str, owner: str, name: str) -> str:
    """What `git clone` takes."""
    return f"{repo_url(base, owner, name)}.git"


def commit_url(base: str, owner: str, name: str, sha: str) -> str:
    """The commit page: the check results of that commit."""
    return f"{repo_url(base, owner, name)}/commit/{sha}"


def commits_url(base: str, owner: str, name: str, branch: str) -> str:
    """The history of a branch."""
    return f"{repo_url(base, owner, name)}/commits/{_path(branch)}"


def blob_url(base: str, owner: str, name: str, ref: str, path: str) -> str:
    """The page of one file at a ref, with its messages inline."""
    return f"{repo_url(base, owner, name)}/blob/{ref}/{_path(path)}"


def tree_url(base: str, owner: str, name: str, ref: str) -> str:
    """The repo page at a branch, tag or commit."""
    return f"{repo_url(base, owner, name)}/tree/{_path(ref)}"


def raw_url(owner: str, repo: str, ref: str, path: str) -> str:
    """A file's bytes at a ref (site-relative)."""
    return f"/{owner}/{repo}/raw/{_path(ref)}/{_path(path)}"


def archive_url(owner: str, repo: str, ref: str) -> str:
    """The tree at a ref as a zip (site-relative)."""
    return f"/{owner}/{repo}/archive/{_path(ref)}.zip"


def compare_url(base: str, owner: str, name: str, old: str, new: str) -> str:
    """The diff and the messages new and fixed from commit `old` to `new`."""
    return f"{repo_url(base, owner, name)}/compare/{_path(old)}...{_path(new)}"


def repo_settings_url(base: str, owner: str, name: str) -> str:
    """The repository's settings page (owner only)."""
    return f"{repo_url(base, owner, name)}/settings"


# -- accounts -----------------------------------------------------------------------------------

def login_url(base: str, next_path: str = "") -> str:
    """The sign-in page; with `next_path`, where it goes afterwards."""
    return f"{base}/login" + (f"?next={_path(next_path)}" if next_path else "")


def register_url(base: str) -> str:
    """The sign-up page."""
    return f"{base}/register"


def activate_url(base: str, key: str) -> str:
    """The mailed activation link of a new account."""
    return f"{base}/activate/{key}"


def password_reset_url(base: str, key: str = "") -> str:
    """The form asking for a reset link; with `key`, the mailed link itself."""
    return f"{base}/password/reset" + (f"/{key}" if key else "")


def settings_url(base: str, section: str = "") -> str:
    """The signed-in user's settings; `section`: the part of the page (`sessions`)."""
    return f"{base}/settings" + (f"#{section}" if section else "")


def email_change_url(base: str, key: str = "") -> str:
    """The form to change one's address; with `key`, the link mailed to the new address."""
    return f"{base}/settings/email" + (f"/{key}" if key else "")


# -- API ----------------------------------------------------------------------------------------

def api_url(base: str) -> str:
    """The API root, what GitHub clients take as their base URL."""
    return f"{base}{API_PREFIX}"


def api_user_url(base: str, username: str) -> str:
    """`GET /users/{username}`."""
    return f"{api_url(base)}/users/{username}"


def api_user_repos_url(base: str, username: str) -> str:
    """`GET /users/{username}/repos`."""
    return f"{api_user_url(base, username)}/repos"


def api_repo_url(base: str, owner: str, name: str) -> str:
    """`GET /repos/{owner}/{repo}`."""
    return f"{api_url(base)}/repos/{owner}/{name}"


def api_commit_url(base: str, owner: str, name: str, sha: str) -> str:
    """`GET /repos/{owner}/{repo}/commits/{sha}`."""
    return f"{api_repo_url(base, owner, name)}/commits/{sha}"


def api_status_url(base: str, owner: str, name: str, sha: str) -> str:
    """`GET .../commits/{sha}/status`: the combined status."""
    return f"{api_commit_url(base, owner, name, sha)}/status"


def api_checks_url(base: str, owner: str, name: str, sha: str) -> str:
    """`GET .../commits/{sha}/checks`: every file's check."""
    return f"{api_commit_url(base, owner, name, sha)}/checks"


def api_statuses_url(base: str, owner: str, name: str, sha: str) -> str:
    """`GET .../statuses/{sha}`: the list of statuses."""
    return f"{api_repo_url(base, owner, name)}/statuses/{sha}"


def api_contents_url(base: str, owner: str, name: str, path: str) -> str:
    """`GET .../contents/{path}`: a file or folder."""
    return f"{api_repo_url(base, owner, name)}/contents/{_path(path)}"


# -- organizations ------------------------------------------------------------------------------

def org_people_url(base: str, org: str) -> str:
    """The organization's members page (staff manage them there)."""
    return f"{user_url(base, org)}/people"


def org_dashboard_url(base: str, org: str) -> str:
    """The staff's view of the whole class."""
    return f"{base}/orgs/{org}/dashboard"


def org_dashboard_csv_url(base: str, org: str) -> str:
    """The dashboard as CSV, one row per student and assignment."""
    return f"{org_dashboard_url(base, org)}.csv"


def org_form_url(base: str, org: str, form: str) -> str:
    """Where the organization page's forms post (`assignments`, `settings`)."""
    return f"{base}/orgs/{org}/{form}"


def pylint_help_url(base: str, symbol: str) -> str:
    """What a pylint message means and how to fix it."""
    return f"{base}/help/pylint/{quote(symbol, safe='')}"


def api_org_url(base: str, org: str) -> str:
    """`GET /orgs/{org}`."""
    return f"{api_url(base)}/orgs/{org}"


def api_org_repos_url(base: str, org: str) -> str:
    """`GET /orgs/{org}/repos`."""
    return f"{api_org_url(base, org)}/repos"
