"""The repository pages over real HTTP: every page in every auth case, their key content, and
upload/edit/delete from the browser's forms (real pushes, real pylint, real workers)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .support import PASSWORD, Server, commit_files, git, make_work_repo

HTML = {"Accept": "text/html"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TIP_RE = re.compile(r'name="tip" value="([0-9a-f]*)"')

A_V1 = '"""Module a."""\nimport os\n'
A_V2 = ('"""Module a."""\nimport sys\n\n\ndef double(value):\n    """Twice."""\n'
        "    return value * 2\n\n\nprint(undefined_name)\n")
B_PY = '"""Module b."""\n\nLIMIT = 3\n'


@dataclass
class Site:
    """The module's server and the commits the tests look at."""
    server: Server
    head: str  # tip of alice/demo main
    parent: str
    open_head: str  # tip of alice/open main


def wait_final(server: Server, repo: str, ref: str, timeout: float = 30) -> dict:
    """Poll the API until no file of the commit is pending; return its /checks."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(server.url(f"api/v1/repos/{repo}/commits/{ref}/checks"),
                             auth=("alice", PASSWORD), timeout=10)
        if response.status_code == 200:
            body = response.json()
            if body["files"] and all(f["state"] != "pending" for f in body["files"]):
                return body
        assert time.monotonic() < deadline, f"checks of {repo}@{ref} not final: {response.text}"
        time.sleep(0.05)


def wait_mailed(server: Server, repo: str, ref: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        body = wait_final(server, repo, ref)
        if all(f["emailed_at"] for f in body["files"]):
            return
        assert time.monotonic() < deadline, "the report mail was not recorded"
        time.sleep(0.05)


def signed_in(server: Server, username: str) -> httpx.Client:
    """A client holding a session cookie, signed in through the /login form."""
    client = httpx.Client(base_url=server.base_url, headers=HTML, timeout=30)
    token = CSRF_RE.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"login": username, "password": PASSWORD,
                                           "csrf_token": token, "next": f"/{username}"})
    assert response.status_code == 303, response.text
    return client


def csrf(client: httpx.Client, path: str) -> tuple[str, str]:
    """(csrf token, tip) from the form on the page at `path`."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    tip = TIP_RE.search(page.text)
    return CSRF_RE.search(page.text).group(1), tip.group(1) if tip else ""


def text_of(response: httpx.Response) -> str:
    return html.unescape(response.text)


@pytest.fixture(scope="module", name="site")
def fixture_site(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """alice/demo (private, 32 commits), alice/open (public), alice/empty (no commits)."""
    work = make_work_repo(tmp_path_factory.mktemp("demo") / "w",
                          {"a.py": A_V1, "pkg/b.py": B_PY}, "first")
    git(work, "push", server.url("alice/demo.git", "alice"), "main")
    for number in range(30):
        git(work, "commit", "-q", "--allow-empty", "-m", f"empty {number}")
    parent = git(work, "rev-parse", "HEAD").stdout.strip()
    head = commit_files(work, {"a.py": A_V2}, "Rework a\n\nWith a body line.")
    git(work, "push", server.url("alice/demo.git", "alice"), "main")
    opened = make_work_repo(tmp_path_factory.mktemp("open") / "w", {"c.py": B_PY}, "open")
    git(opened, "push", server.url("alice/open.git", "alice"), "main")
    response = httpx.patch(server.url("api/v1/repos/alice/open"), json={"private": False},
                           auth=("alice", PASSWORD))
    assert response.status_code == 200, response.text
    refused = make_work_repo(tmp_path_factory.mktemp("empty") / "w", {"notes.txt": "x\n"})
    assert git(refused, "push", server.url("alice/empty.git", "alice"), "main",
               check=False).returncode != 0
    wait_mailed(server, "alice/demo", head)
    open_head = wait_final(server, "alice/open", "main")["sha"]
    return Site(server, head, parent, open_head)


@pytest.fixture(scope="module", name="alice")
def fixture_alice(site: Site) -> Iterator[httpx.Client]:
    client = signed_in(site.server, "alice")
    yield client
    client.close()


@pytest.fixture(scope="module", name="bob")
def fixture_bob(site: Site) -> Iterator[httpx.Client]:
    client = signed_in(site.server, "bob")
    yield client
    client.close()


# -- who sees what ----------------------------------------------------------------------------

READ_PAGES = ["{o}", "{o}/{r}", "{o}/{r}/commits/main", "{o}/{r}/commit/{sha}",
              "{o}/{r}/blob/main/a.py"]
WRITE_PAGES = ["{o}/{r}/settings", "{o}/{r}/upload/main", "{o}/{r}/new/main",
               "{o}/{r}/edit/main/a.py", "{o}/{r}/delete/main/a.py"]


def _pages(site: Site, repo: str, pages: list[str]) -> list[str]:
    sha, file = (site.head, "a.py") if repo == "demo" else (site.open_head, "c.py")
    return ["/" + p.format(o="alice", r=repo, sha=sha).replace("a.py", file) for p in pages]


def test_pages_owner_sees_every_page_with_basic_auth_and_with_session(site: Site,
                                                                     alice: httpx.Client):
    for path in _pages(site, "demo", READ_PAGES + WRITE_PAGES):
        basic = httpx.get(site.server.url(path), auth=("alice", PASSWORD), headers=HTML)
        assert basic.status_code == 200, (path, basic.text[:300])
        assert alice.get(path).status_code == 200, path


def test_pages_anonymous_on_private_content_gets_the_login_page(site: Site):
    for path in _pages(site, "demo", READ_PAGES[1:] + WRITE_PAGES):
        response = httpx.get(site.server.url(path), headers=HTML)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F")
    follow = httpx.get(site.server.url("/alice/demo"), headers=HTML, follow_redirects=True)
    assert 'action="/login"' in follow.text
    assert 'name="next" value="/alice/demo"' in follow.text


def test_pages_other_user_gets_404_on_private_content(site: Site, bob: httpx.Client):
    for path in _pages(site, "demo", READ_PAGES[1:] + WRITE_PAGES):
        assert bob.get(path).status_code == 404, path
        basic = httpx.get(site.server.url(path), auth=("bob", PASSWORD), headers=HTML)
        assert basic.status_code == 404, path
    assert "demo" not in bob.get("/alice").text


def test_pages_public_repo_readable_by_all_writable_by_owner_only(site: Site,
                                                                bob: httpx.Client):
    for path in _pages(site, "open", READ_PAGES):
        assert httpx.get(site.server.url(path), headers=HTML).status_code == 200, path
        assert bob.get(path).status_code == 200, path
    for path in _pages(site, "open", WRITE_PAGES):
        assert bob.get(path).status_code == 403, path
        assert httpx.get(site.server.url(path), headers=HTML).status_code == 303, path


def test_pages_wrong_password_is_401(site: Site):
    response = httpx.get(site.server.url("/alice/open"), auth=("alice", "wrong-password"),
                         headers=HTML)
    assert response.status_code == 401


def test_pages_unknown_user_repo_commit_and_file_are_404(alice: httpx.Client):
    for path in ("/nobody", "/alice/nothing", "/alice/demo/commit/" + "0" * 40,
                 "/alice/demo/blob/main/missing.py", "/alice/demo/commits/no-branch",
                 "/alice/demo/edit/main/missing.py", "/alice/demo/upload/no-branch"):
        assert alice.get(path).status_code == 404, path


# -- what the pages show ----------------------------------------------------------------------

def test_user_page_lists_repos_with_head_state_and_score(site: Site, alice: httpx.Client):
    page = text_of(alice.get("/alice"))
    for name in ("demo", "open", "empty"):
        assert f'href="/alice/{name}"' in page
    assert "failure" in page and "10.00" in page  # demo fails; open scores 10
    assert "nothing pushed yet" in page
    anonymous = text_of(httpx.get(site.server.url("/alice"), headers=HTML))
    assert 'href="/alice/open"' in anonymous and 'href="/alice/demo"' not in anonymous


def test_repo_page_shows_files_state_last_change_commits_and_clone_url(site: Site,
                                                                     alice: httpx.Client):
    page = text_of(alice.get("/alice/demo"))
    assert f'value="{site.server.base_url}/alice/demo.git"' in page
    assert 'data-copy="#clone-url"' in page
    rows = dict(re.findall(r'<tr data-path="([^"]+)">(.*?)</tr>', page, re.S))
    assert set(rows) == {"a.py", "pkg/b.py"}
    assert "failure" in rows["a.py"] and "Rework a" in rows["a.py"]
    assert "success" in rows["pkg/b.py"] and "10.00" in rows["pkg/b.py"]
    assert "first" in rows["pkg/b.py"]  # its last change is the first commit
    assert page.count('class="list-group-item px-0') == 10  # recent commits
    assert f'/alice/demo/commit/{site.head}' in page


def test_empty_repo_page_shows_how_to_push(site: Site, alice: httpx.Client):
    page = text_of(alice.get("/alice/empty"))
    assert "This repository is empty" in page
    assert f"git remote add origin {site.server.base_url}/alice/empty.git" in page
    assert "git push -u origin main" in page
    assert "No commits here." in text_of(alice.get("/alice/empty/commits/main"))


def test_commits_page_is_paginated_with_per_commit_state(site: Site, alice: httpx.Client):
    first = text_of(alice.get("/alice/demo/commits/main"))
    shas = re.findall(r'class="list-group-item[^"]*commit-row" data-sha="([0-9a-f]{40})"', first)
    assert len(shas) == 30 and shas[0] == site.head and shas[1] == site.parent
    assert 'rel="next" href="?page=2"' in first
    second = text_of(alice.get("/alice/demo/commits/main?page=2"))
    more = re.findall(r'commit-row" data-sha="([0-9a-f]{40})"', second)
    assert len(more) == 2 and not set(more) & set(shas)
    assert "first" in second and "failure" in second


def test_status_page_summarises_and_groups_messages_by_symbol(site: Site,
                                                              alice: httpx.Client):
    page = text_of(alice.get(f"/alice/demo/commit/{site.head}"))
    assert "Rework a" in page and "With a body line." in page
    assert 'id="file-count">2<' in page
    assert 'data-pending="false"' in page and "http-equiv" not in page
    card = re.search(r'data-path="a.py".*?</details>', page, re.S).group(0)
    assert "undefined-variable" in card and "unused-import" in card
    assert f'/alice/demo/blob/{site.head}/a.py#L10"' in card  # print(undefined_name)
    assert f'/alice/demo/blob/{site.head}/a.py#L2"' in card
    assert card.index("undefined-variable") < card.index("unused-import")  # errors first
    new = re.search(r'id="new-messages">(.*?)</ul>', page, re.S).group(1)
    fixed = re.search(r'id="fixed-messages">(.*?)</ul>', page, re.S).group(1)
    assert "Unused import sys" in new and "undefined-variable" in new
    assert "Unused import os" in fixed and "Unused import sys" not in fixed


def test_status_page_of_a_branch_name_redirects_to_the_sha(site: Site, alice: httpx.Client):
    response = alice.get("/alice/demo/commit/main")
    assert response.status_code == 302
    assert response.headers["location"] == f"/alice/demo/commit/{site.head}"


def test_blob_page_highlights_source_with_messages_versions_and_check_log(alice: httpx.Client):
    page = text_of(alice.get("/alice/demo/blob/main/a.py"))
    assert '<span class="k">def</span>' in page  # Pygments highlighting
    line = re.search(r'<tr id="L10".*?</tr>\s*<tr class="msg-row">(.*?)</tr>', page, re.S)
    assert line is not None and "undefined-variable" in line.group(1)
    versions = re.search(r'id="versions">(.*?)</ul>', page, re.S).group(1)
    assert versions.count("<li") == 2
    assert 'title="modified">M<' in versions and 'title="added">A<' in versions
    log = re.search(r'id="check-log">(.*?)</ul>', page, re.S).group(1)
    assert log.count("<li") == 2 and log.count("mailed") >= 2
    assert 'href="/alice/demo/edit/main/a.py"' in page


def test_badge_shows_state_and_score_with_cache_headers(site: Site):
    response = httpx.get(site.server.url("/alice/open/badge.svg"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "10.00 passing" in response.text
    assert "max-age" in response.headers["cache-control"]
    again = httpx.get(site.server.url("/alice/open/badge.svg"),
                      headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert httpx.get(site.server.url("/alice/demo/badge.svg")).status_code == 404
    private = httpx.get(site.server.url("/alice/demo/badge.svg"), auth=("alice", PASSWORD))
    assert "failing" in private.text and private.headers["cache-control"].startswith("private")


# -- changing files from the browser ----------------------------------------------------------

def test_upload_commits_files_that_get_checked(site: Site, alice: httpx.Client):
    token, _ = csrf(alice, "/alice/open/upload/main")
    files = [("files", ("up.py", b'"""Uploaded."""\n\nVALUE = 1\n', "text/x-python")),
             ("files", ("two.py", b'"""Second."""\n', "text/x-python"))]
    response = alice.post("/alice/open/upload/main", files=files,
                          data={"csrf_token": token, "folder": "sub", "message": "Upload two"})
    assert response.status_code == 303, response.text
    sha = response.headers["location"].rsplit("/", 1)[1]
    body = wait_final(site.server, "alice/open", sha)
    assert {f["path"] for f in body["files"]} == {"c.py", "sub/up.py", "sub/two.py"}
    assert {f["change"] for f in body["files"] if f["path"].startswith("sub/")} == {"added"}
    page = text_of(alice.get(f"/alice/open/commit/{sha}"))
    assert "Upload two" in page and "sub/up.py" in page


def test_upload_of_a_txt_file_is_refused_without_a_commit(site: Site, alice: httpx.Client):
    before = httpx.get(site.server.url("api/v1/repos/alice/open/commits/main")).json()["sha"]
    token, _ = csrf(alice, "/alice/open/upload/main")
    response = alice.post("/alice/open/upload/main", data={"csrf_token": token},
                          files=[("files", ("notes.txt", b"hello\n", "text/plain"))])
    assert response.status_code == 422
    assert "notes.txt: only .py files are accepted" in text_of(response)
    assert "Nothing was committed" in text_of(response)
    after = httpx.get(site.server.url("api/v1/repos/alice/open/commits/main")).json()["sha"]
    assert after == before


def test_form_without_csrf_token_is_refused(alice: httpx.Client):
    response = alice.post("/alice/open/new/main", data={"path": "x.py", "content": "X = 1\n"})
    assert response.status_code == 403
    assert alice.get("/alice/open/blob/main/x.py").status_code == 404


def test_new_edit_and_delete_make_commits(site: Site, alice: httpx.Client):
    token, tip = csrf(alice, "/alice/open/new/main")
    response = alice.post("/alice/open/new/main", data={
        "csrf_token": token, "tip": tip, "path": "lib/new.py",
        "content": '"""New."""\r\n\r\nX = 1\r\n', "message": ""})
    assert response.status_code == 303, response.text
    wait_final(site.server, "alice/open", response.headers["location"].rsplit("/", 1)[1])
    raw = httpx.get(site.server.url("api/v1/repos/alice/open/contents/lib/new.py")).json()
    assert raw["size"] == len('"""New."""\n\nX = 1\n')  # the browser's CRLF became LF

    token, tip = csrf(alice, "/alice/open/edit/main/lib/new.py")
    response = alice.post("/alice/open/edit/main/lib/new.py", data={
        "csrf_token": token, "tip": tip, "content": '"""Edited."""\n', "message": "Edit it"})
    assert response.status_code == 303, response.text
    commit = httpx.get(site.server.url("api/v1/repos/alice/open/commits/main")).json()
    assert commit["commit"]["message"] == "Edit it\n"
    assert commit["commit"]["author"]["name"] == "alice"
    assert commit["files"] == [{"filename": "lib/new.py", "status": "modified",
                                "sha": commit["files"][0]["sha"]}]

    token, tip = csrf(alice, "/alice/open/delete/main/lib/new.py")
    response = alice.post("/alice/open/delete/main/lib/new.py",
                          data={"csrf_token": token, "tip": tip})
    assert response.status_code == 303
    assert alice.get("/alice/open/blob/main/lib/new.py").status_code == 404
    versions = httpx.get(site.server.url("api/v1/repos/alice/open/files/lib/new.py/versions"))
    assert [v["change"] for v in versions.json()] == ["deleted", "modified", "added"]


def test_edit_against_an_outdated_head_is_refused_and_keeps_the_text(site: Site,
                                                                    alice: httpx.Client):
    token, old_tip = csrf(alice, "/alice/open/edit/main/c.py")
    first = alice.post("/alice/open/edit/main/c.py", data={
        "csrf_token": token, "tip": old_tip, "content": '"""One."""\n'})
    assert first.status_code == 303
    second = alice.post("/alice/open/edit/main/c.py", data={
        "csrf_token": token, "tip": old_tip, "content": '"""My precious text."""\n'})
    assert second.status_code == 409
    page = text_of(second)
    assert "the branch changed since you opened the editor; your text is below" in page
    assert '"""My precious text."""' in page
    raw = httpx.get(site.server.url("api/v1/repos/alice/open/contents/c.py")).json()
    assert raw["content"] == "IiIiT25lLiIiIgo="  # base64 of the first edit, not the second


def test_settings_change_visibility_and_delete_after_confirmation(
        site: Site, alice: httpx.Client, tmp_path: Path):
    work = make_work_repo(tmp_path / "w", {"gone.py": B_PY})
    git(work, "push", site.server.url("alice/gone.git", "alice"), "main")
    token, _ = csrf(alice, "/alice/gone/settings")
    response = alice.post("/alice/gone/settings/visibility",
                          data={"csrf_token": token, "visibility": "public"})
    assert response.status_code == 303
    assert httpx.get(site.server.url("/alice/gone"), headers=HTML).status_code == 200
    wrong = alice.post("/alice/gone/settings/delete", data={"csrf_token": token,
                                                           "confirm": "gone"})
    assert wrong.status_code == 422 and "was not deleted" in text_of(wrong)
    done = alice.post("/alice/gone/settings/delete", data={"csrf_token": token,
                                                          "confirm": "alice/gone"})
    assert done.status_code == 303 and done.headers["location"] == "/alice"
    assert alice.get("/alice/gone").status_code == 404
    assert not (site.server.data_dir / "repos" / "alice" / "gone.git").exists()


def test_first_commit_of_an_empty_repo_from_the_browser_with_an_odd_name(
        site: Site, alice: httpx.Client):
    token, tip = csrf(alice, "/alice/empty/new/main")
    assert tip == ""  # no branch yet
    response = alice.post("/alice/empty/new/main", data={
        "csrf_token": token, "tip": tip, "path": "odd name #1.py",
        "content": '"""Odd."""\n', "message": "First from the browser"})
    assert response.status_code == 303, response.text
    wait_final(site.server, "alice/empty", response.headers["location"].rsplit("/", 1)[1])
    page = alice.get("/alice/empty").text
    assert 'href="/alice/empty/blob/main/odd%20name%20%231.py"' in page
    assert alice.get("/alice/empty/blob/main/odd%20name%20%231.py").status_code == 200
