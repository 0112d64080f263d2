"""The code host around the checks, over real HTTP after real pushes: the landing page and the
dashboard, /explore, /new, raw files and zips, diffs on the commit page, compare, refs, trends."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import datetime as dt
import html
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gitserver.core.models import Check, Commit

from .support import PASSWORD, Server, commit_files, git, make_work_repo, server_db
from .test_pages import CSRF_RE, HTML, signed_in, wait_final

V1 = '"""Tools."""\n\n\ndef double(value):\n    """Twice."""\n    return value * 2\n'
V2 = ('"""Tools."""\nimport os\n\n\ndef double(value):\n    """Twice."""\n'
      "    return value * 2\n")
INIT = '"""Package."""\n'
VALUES = '"""Values: café, naïve, 数."""\nNAMES = ["é"]\n'


@dataclass
class Host:
    """The module's server and the commits of alice/tools."""
    server: Server
    first: str
    second: str


@pytest.fixture(scope="module", name="host")
def fixture_host(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Host:
    """alice/tools (private): a first commit, then one that adds `import os` to tools.py;
    alice/shared (public); a branch `feature` and a tag `v1` on tools."""
    work = make_work_repo(tmp_path_factory.mktemp("tools") / "w")
    first = commit_files(work, {"tools.py": V1, "pkg/__init__.py": INIT,
                                "data/values.py": VALUES}, "First tools")
    git(work, "tag", "v1")
    second = commit_files(work, {"tools.py": V2}, "Import os")
    git(work, "branch", "feature", first)
    git(work, "branch", "topic/deep", first)
    git(work, "push", server.url("alice/tools.git", "alice"), "main", "feature", "topic/deep",
        "v1")
    shared = make_work_repo(tmp_path_factory.mktemp("shared") / "w", {"s.py": INIT}, "shared")
    git(shared, "push", server.url("alice/shared.git", "alice"), "main")
    response = httpx.patch(server.url("api/v1/repos/alice/shared"), json={"private": False},
                           auth=("alice", PASSWORD))
    assert response.status_code == 200, response.text
    wait_final(server, "alice/tools", second)
    wait_final(server, "alice/tools", first)
    return Host(server, first, second)


@pytest.fixture(scope="module", name="alice")
def fixture_alice(host: Host) -> Iterator[httpx.Client]:
    client = signed_in(host.server, "alice")
    yield client
    client.close()


def anonymous(host: Host) -> httpx.Client:
    return httpx.Client(base_url=host.server.base_url, headers=HTML, timeout=30)


def text_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


# -- /, /explore, /new ---------------------------------------------------------------------------

def test_home_signed_out_explains_and_shows_the_first_push_with_the_real_url(host: Host):
    with anonymous(host) as client:
        page = text_of(client.get("/"))
    assert "pylint" in page and 'href="/register"' in page and 'href="/login"' in page
    push = re.search(r'id="first-push">(.*?)</pre>', page, re.S).group(1)
    assert f"git remote add origin {host.server.base_url}/YOUR-USERNAME/hello.git" in push
    assert "git push -u origin main" in push


def test_home_signed_in_is_the_dashboard_with_repos_pushes_and_new_button(
        host: Host, alice: httpx.Client):
    page = text_of(alice.get("/"))
    assert 'href="/new"' in page and 'id="dashboard-organizations"' in page
    repos = re.search(r'id="repos">(.*?)id="dashboard-organizations"', page, re.S).group(1)
    assert ">tools</a>" in repos and ">shared</a>" in repos
    pushes = re.search(r'id="recent-pushes">(.*?)</ul>', page, re.S).group(1)
    assert f"/alice/tools/commit/{host.second}" in pushes and "data-state=" in pushes


def test_explore_lists_public_repos_only(host: Host):
    with anonymous(host) as client:
        page = text_of(client.get("/explore"))
    assert "alice/shared" in page and "alice/tools" not in page


def test_new_creates_a_repo_and_refuses_bad_or_taken_names(host: Host, alice: httpx.Client,
                                                           tmp_path: Path):
    token = CSRF_RE.search(alice.get("/new").text).group(1)
    bad = alice.post("/new", data={"name": "no spaces", "visibility": "private",
                                   "csrf_token": token})
    assert bad.status_code == 422 and "not a valid repository name" in html.unescape(bad.text)
    taken = alice.post("/new", data={"name": "tools", "visibility": "private",
                                     "csrf_token": token})
    assert taken.status_code == 422 and "already have a repository" in html.unescape(taken.text)
    made = alice.post("/new", data={"name": "fresh", "visibility": "public",
                                    "csrf_token": token})
    assert made.status_code == 303 and made.headers["location"] == "/alice/fresh"
    with anonymous(host) as client:
        assert "git push -u origin main" in text_of(client.get("/alice/fresh"))
    work = make_work_repo(tmp_path / "fresh", {"fresh.py": INIT}, "Into the new repo")
    git(work, "push", host.server.url("alice/fresh.git", "alice"), "main")
    wait_final(host.server, "alice/fresh", "main")
    with anonymous(host) as client:  # public, as chosen
        assert "Into the new repo" in text_of(client.get("/alice/fresh"))
    no_csrf = alice.post("/new", data={"name": "other", "visibility": "private"})
    assert no_csrf.status_code == 403


def test_new_sends_a_visitor_to_sign_in(host: Host):
    with anonymous(host) as client:
        response = client.get("/new")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


# -- raw and zip ---------------------------------------------------------------------------------

def test_raw_serves_text_and_binary_bytes_with_safe_headers(alice: httpx.Client, host: Host):
    text = alice.get("/alice/tools/raw/main/tools.py")
    assert text.status_code == 200 and text.content == V2.encode()
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["x-content-type-options"] == "nosniff"
    assert text.headers["content-disposition"].startswith('inline; filename="tools.py"')
    old = alice.get(f"/alice/tools/raw/{host.first}/tools.py")
    assert old.content == V1.encode()
    utf8 = alice.get("/alice/tools/raw/v1/data/values.py")
    assert utf8.content == VALUES.encode() and utf8.text == VALUES
    assert alice.get("/alice/tools/raw/main/missing.py").status_code == 404


def test_raw_and_zip_of_a_private_repo_are_404_for_others(host: Host):
    with anonymous(host) as client:
        assert client.get("/alice/tools/raw/main/tools.py").status_code == 404
        assert client.get("/alice/tools/archive/main.zip").status_code == 404
        assert client.get("/alice/shared/raw/main/s.py").content == INIT.encode()
    bob = signed_in(host.server, "bob")
    try:
        assert bob.get("/alice/tools/raw/main/tools.py").status_code == 404
    finally:
        bob.close()


def test_zip_holds_every_file_with_its_bytes_under_the_top_folder(alice: httpx.Client):
    response = alice.get("/alice/tools/archive/v1.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="tools-v1.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["tools-v1/data/values.py",
                                              "tools-v1/pkg/__init__.py", "tools-v1/tools.py"]
        assert archive.read("tools-v1/tools.py") == V1.encode()
        assert archive.read("tools-v1/data/values.py") == VALUES.encode()
    head = alice.get("/alice/tools/archive/main.zip")
    with zipfile.ZipFile(io.BytesIO(head.content)) as archive:
        assert archive.read("tools-main/tools.py") == V2.encode()


def test_blob_and_repo_pages_link_raw_and_zip(alice: httpx.Client):
    blob = text_of(alice.get("/alice/tools/blob/main/tools.py"))
    assert 'href="/alice/tools/raw/main/tools.py"' in blob
    repo = text_of(alice.get("/alice/tools"))
    assert 'href="/alice/tools/archive/main.zip"' in repo



# -- diffs, compare, refs, trends ----------------------------------------------------------------

def test_commit_page_shows_the_changed_line_as_a_diff_line_with_its_new_message(
        host: Host, alice: httpx.Client):
    page = text_of(alice.get(f"/alice/tools/commit/{host.second}"))
    diff = re.search(r'<details class="card mb-3 diff-file"[^>]*data-file="tools.py".*?</details>',
                     page, re.S).group(0)
    added = re.search(r'<tr class="diff-add has-messages" data-new-line="2">(.*?)</tr>\s*'
                      r'<tr class="msg-row">(.*?)</tr>', diff, re.S)
    assert added is not None, diff
    assert "import" in added.group(1) and "os" in added.group(1)
    assert "unused-import" in added.group(2) and "new-mark" in added.group(2)
    assert "+1" in diff and "1 new message" in diff
    # one changed file: the unchanged ones are collapsed into one list after it
    assert page.count('class="card mb-3 diff-file"') == 1
    assert "2 unchanged files" in page
    assert page.index('data-path="tools.py"') < page.index('id="unchanged-files"') \
        < page.index('data-path="pkg/__init__.py"')


def test_compare_shows_the_diff_and_the_messages_new_and_fixed(host: Host, alice: httpx.Client):
    forward = text_of(alice.get(f"/alice/tools/compare/{host.first}...main"))
    new = re.search(r'id="new-messages">(.*?)</ul>', forward, re.S).group(1)
    assert "unused-import" in new
    assert 'data-file="tools.py"' in forward and 'data-new-line="2"' in forward
    assert "1 commit" in forward and "Import os" in forward
    backward = text_of(alice.get("/alice/tools/compare/main...v1"))
    fixed = re.search(r'id="fixed-messages">(.*?)</ul>', backward, re.S).group(1)
    assert "unused-import" in fixed
    assert 'class="diff-del has-messages"' in backward and "fixed-mark" in backward
    assert alice.get("/alice/tools/compare/main...nope").status_code == 404
    assert alice.get("/alice/tools/compare/main").status_code == 404


def test_blob_page_links_versions_to_compare_for_that_file(host: Host, alice: httpx.Client):
    page = text_of(alice.get("/alice/tools/blob/main/tools.py"))
    link = f'href="/alice/tools/compare/{host.first}...{host.second}?path=tools.py"'
    assert link in page
    one = text_of(alice.get(f"/alice/tools/compare/{host.first}...{host.second}?path=tools.py"))
    assert one.count('class="card mb-3 diff-file"') == 1


def test_switcher_lists_branches_and_tags_and_pages_show_any_ref(alice: httpx.Client):
    page = text_of(alice.get("/alice/tools"))
    switch = re.search(r'id="ref-switcher">(.*?)</details>', page, re.S).group(1)
    assert 'href="/alice/tools/tree/feature"' in switch and 'href="/alice/tools/tree/v1"' in switch
    feature = text_of(alice.get("/alice/tools/tree/feature"))
    assert 'id="current-ref">feature<' in feature
    assert 'href="/alice/tools/blob/feature/tools.py"' in feature
    assert 'href="/alice/tools/archive/feature.zip"' in feature
    folder = text_of(alice.get("/alice/tools/tree/main/pkg"))
    assert ">__init__.py</a>" in folder and "tools.py</a>" not in folder
    blob = text_of(alice.get("/alice/tools/blob/v1/tools.py"))
    assert 'id="current-ref">v1<' in blob and "import os" not in blob
    assert 'href="/alice/tools/blob/feature/tools.py"' in blob
    assert alice.get("/alice/tools/tree/nope").status_code == 404


def test_score_trends_are_inline_svg_on_repo_and_blob_pages(alice: httpx.Client):
    repo = text_of(alice.get("/alice/tools"))
    trend = re.search(r'<figure class="trend mb-0" id="repo-trend" data-points="(\d+)">(.*?)'
                      r'</figure>', repo, re.S)
    assert trend is not None and trend.group(1) == "2"
    assert "<svg" in trend.group(2) and "<polyline" in trend.group(2)
    assert "<script" not in trend.group(2)
    blob = text_of(alice.get("/alice/tools/blob/main/tools.py"))
    assert re.search(r'id="file-trend" data-points="2"', blob)


# -- UI fixes ------------------------------------------------------------------------------------

def test_footer_api_link_opens_the_browsable_api_reference(host: Host):
    with anonymous(host) as client:
        home = text_of(client.get("/"))
        assert 'href="/api">API</a>' in home
        page = client.get("/api")
    assert page.status_code == 200 and "<script" not in page.text.split("</footer>")[0]
    text = html.unescape(page.text)
    assert f'id="api-base">{host.server.base_url}/api/v1<' in text
    assert "/repos/{owner}/{repo}/commits/{ref}/status" in text
    assert 'id="schema-CombinedStatus"' in text and "cdn" not in text.lower()


def test_repo_page_reads_underscores_and_counts_one_message(alice: httpx.Client):
    page = text_of(alice.get("/alice/tools"))
    row = re.search(r'<tr data-path="tools.py">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r">\s*1 message\s*<", row), row
    assert 'class="card mb-4 table-responsive"' in page
    css = alice.get("/static/css/pages.css").text
    assert "a.font-monospace { text-decoration: none; }" in css


def test_reused_statuses_are_updated_no_earlier_than_created(server: Server, tmp_path: Path):
    work = make_work_repo(tmp_path / "w", {"keep.py": INIT, "edit.py": INIT}, "one")
    git(work, "push", server.url("alice/reuse.git", "alice"), "main")
    first = wait_final(server, "alice/reuse", "main")["sha"]
    with server_db(server):  # checked an hour ago: a reused copy keeps that time
        checks = list(Check.select().join(Commit).where(Commit.sha == first))
        earlier = min(c.checked_at for c in checks) - dt.timedelta(hours=1)
        Check.update(checked_at=earlier).where(Check.id.in_([c.id for c in checks])).execute()
    second = commit_files(work, {"edit.py": '"""Edited."""\n'}, "two")
    git(work, "push", server.url("alice/reuse.git", "alice"), "main")
    checks = wait_final(server, "alice/reuse", second)
    assert {f["path"]: f["reused"] for f in checks["files"]}["keep.py"] is True
    statuses = httpx.get(server.url(f"api/v1/repos/alice/reuse/commits/{second}/status"),
                         auth=("alice", PASSWORD), timeout=30).json()["statuses"]
    for status in statuses:
        assert status["updated_at"] >= status["created_at"], status


def test_refs_with_slashes_work_in_tree_blob_raw_and_zip(alice: httpx.Client):
    tree = text_of(alice.get("/alice/tools/tree/topic/deep"))
    assert 'id="current-ref">topic/deep<' in tree
    assert 'href="/alice/tools/blob/topic/deep/tools.py"' in tree
    assert ">__init__.py</a>" in text_of(alice.get("/alice/tools/tree/topic/deep/pkg"))
    blob = text_of(alice.get("/alice/tools/blob/topic/deep/tools.py"))
    assert 'id="current-ref">topic/deep<' in blob and '<span class="nf">double</span>' in blob
    assert alice.get("/alice/tools/raw/topic/deep/tools.py").content == V1.encode()
    archive = alice.get("/alice/tools/archive/topic/deep.zip")
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert zipped.read("tools-topic-deep/tools.py") == V1.encode()
