"""Security: no way of writing a file on the server makes a tree with an empty, `.` or `..`
name, which would break every clone (issue 14, finding 7)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest

from .support import PASSWORD, Server, git, make_work_repo

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
BAD_PATHS = ["a//b.py", "./x.py", "a/../x.py", "a/./x.py"]


@pytest.fixture(name="browser")
def fixture_browser(server: Server, tmp_path: Path) -> httpx.Client:
    work = make_work_repo(tmp_path / "seed", {"lead.py": "LEAD = 1\n"})
    git(work, "push", "-q", server.url("alice/paths.git", "alice"), "main",
        check=False)  # the module's first test made it; the later ones find it
    client = httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"Accept": "text/html"})
    csrf = CSRF_RE.search(client.get("/login").text)
    assert csrf
    assert client.post("/login", data={"csrf_token": csrf.group(1), "login": "alice",
                                       "password": PASSWORD, "next": ""}).status_code == 303
    return client


def token_of(client: httpx.Client, page: str) -> str:
    found = CSRF_RE.search(client.get(page).text)
    assert found, page
    return found.group(1)


def assert_clone_fscks(server: Server, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    git(tmp_path, "clone", "-q", server.url("alice/paths.git", "alice"), str(copy))
    git(copy, "fsck", "--strict")
    assert sorted(p.name for p in copy.iterdir() if p.name != ".git") == ["lead.py"]


def test_editor_new_file_refuses_empty_and_dot_names(server: Server, browser: httpx.Client,
                                                     tmp_path: Path) -> None:
    for path in BAD_PATHS:
        answer = browser.post("/alice/paths/new/main", data={
            "csrf_token": token_of(browser, "/alice/paths/new/main"), "path": path,
            "content": "X = 1\n", "message": ""})
        assert answer.status_code == 422, (path, answer.status_code)
        assert "not allowed" in answer.text, path
    assert_clone_fscks(server, tmp_path)


def test_editor_edit_and_upload_refuse_empty_names(server: Server, browser: httpx.Client,
                                                   tmp_path: Path) -> None:
    tip = git(tmp_path, "ls-remote", server.url("alice/paths.git", "alice"),
              "refs/heads/main").stdout.split()[0]
    csrf = token_of(browser, "/alice/paths/edit/main/lead.py")
    for url in ("/alice/paths/edit/main//lead.py", "/alice/paths/edit/main/a//lead.py"):
        answer = browser.post(url, data={"csrf_token": csrf, "content": "LEAD = 2\n",
                                         "message": "", "tip": tip})
        assert answer.status_code == 422, (url, answer.status_code)
        assert "empty folder or file names" in answer.text
    upload = browser.post("/alice/paths/upload/main",
                          data={"csrf_token": token_of(browser, "/alice/paths/upload/main"),
                                "folder": "a//b"}, files={"files": ("x.py", b"X = 1\n")})
    assert upload.status_code == 422
    assert "empty folder names" in upload.text or "empty folder or file names" in upload.text
    assert_clone_fscks(server, tmp_path)


def test_api_contents_refuses_empty_and_dot_names(server: Server, tmp_path: Path) -> None:
    make_work_repo(tmp_path / "seed", {"lead.py": "LEAD = 1\n"})
    git(tmp_path / "seed", "push", "-q", server.url("alice/paths.git", "alice"), "main",
        check=False)
    body = {"message": "m", "content": base64.b64encode(b"X = 1\n").decode()}
    for path in BAD_PATHS:
        quoted = path.replace(".", "%2E")  # as sent: no client may fold the dots away first
        answer = httpx.put(server.url(f"api/v1/repos/alice/paths/contents/{quoted}"),
                           json=body, auth=("alice", PASSWORD), timeout=30)
        assert answer.status_code == 422, (path, answer.status_code, answer.text)
        assert "not allowed" in answer.json()["message"], path
    assert_clone_fscks(server, tmp_path)
