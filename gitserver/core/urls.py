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


def raw_url(owner: str, repo: str, ref: str, path: str) -> str:
    """The file's bytes at `ref` (a path on this site)."""
    return f"/{owner}/{repo}/raw/{_path(ref)}/{_path(path)}"


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
