"""Every link the service hands out, from core/urls.py: the same bytes as the links pages, mails
and the API have always carried, and file paths percent-encoded as the pages encode them."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from gitserver.core import urls

BASE = "https://git.example.org"
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_urls_page_links_absolute_and_relative():
    assert urls.user_url(BASE, "alice") == f"{BASE}/alice"
    assert urls.repo_url(BASE, "alice", "hw") == f"{BASE}/alice/hw"
    assert urls.repo_url("", "alice", "hw") == "/alice/hw"
    assert urls.clone_url(BASE, "alice", "hw") == f"{BASE}/alice/hw.git"
    assert urls.commit_url(BASE, "alice", "hw", SHA) == f"{BASE}/alice/hw/commit/{SHA}"
    assert urls.commits_url("", "alice", "hw", "main") == "/alice/hw/commits/main"
    assert urls.blob_url(BASE, "alice", "hw", SHA, "pkg/a.py") == \
        f"{BASE}/alice/hw/blob/{SHA}/pkg/a.py"
    assert urls.repo_settings_url("", "alice", "hw") == "/alice/hw/settings"


def test_urls_paths_and_branches_are_percent_encoded_like_the_pages():
    assert urls.blob_url("", "alice", "hw", "main", "odd name #1.py") == \
        "/alice/hw/blob/main/odd%20name%20%231.py"
    assert urls.commits_url("", "alice", "hw", "fix/#2") == "/alice/hw/commits/fix/%232"
    assert urls.api_contents_url(BASE, "alice", "hw", "a b.py") == \
        f"{BASE}/api/v1/repos/alice/hw/contents/a%20b.py"


def test_urls_account_links():
    assert urls.login_url(BASE) == f"{BASE}/login"
    assert urls.login_url("", "/settings") == "/login?next=/settings"
    assert urls.register_url(BASE) == f"{BASE}/register"
    assert urls.activate_url(BASE, "k3y") == f"{BASE}/activate/k3y"


def test_urls_api_links():
    api = f"{BASE}/api/v1"
    assert urls.api_url(BASE) == api
    assert urls.api_user_url(BASE, "alice") == f"{api}/users/alice"
    assert urls.api_user_repos_url(BASE, "alice") == f"{api}/users/alice/repos"
    assert urls.api_repo_url(BASE, "alice", "hw") == f"{api}/repos/alice/hw"
    assert urls.api_commit_url(BASE, "alice", "hw", SHA) == f"{api}/repos/alice/hw/commits/{SHA}"
    assert urls.api_status_url(BASE, "alice", "hw", SHA) == \
        f"{api}/repos/alice/hw/commits/{SHA}/status"
    assert urls.api_checks_url("", "alice", "hw", SHA) == \
        f"/api/v1/repos/alice/hw/commits/{SHA}/checks"
    assert urls.api_statuses_url(BASE, "alice", "hw", SHA) == \
        f"{api}/repos/alice/hw/statuses/{SHA}"
