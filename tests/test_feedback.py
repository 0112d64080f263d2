"""Feedback that leads with what the push changed (issue 15): the push verdict's order on a
real multi-file project with legacy messages, repo lint settings and the gate `new`, the help
pages, push options. Real pushes with the real git against a real server and pylint."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import (
    PASSWORD,
    Server,
    api,
    checks_of,
    commit_files,
    git,
    make_work_repo,
    start_server,
    wait_until,
)
from .test_accounts import browser, post_form, sign_in

WAIT_S = 20
# A small package with the legacy of a real one: conventions and warnings everywhere.
LEGACY = {
    "pkg/__init__.py": "from .util import add, scale\nimport os\nVersion = '1'\n",
    "pkg/util.py": ("def add(a, b):\n    return a + b\n\n\n"
                    "def scale(values, factor):\n    unused = 3\n"
                    "    return [v * factor for v in values]\n"),
    "pkg/shapes.py": ("class Box:\n    def __init__(self, w, h):\n        self.w = w\n"
                      "        self.h = h\n\n    def area(self):\n"
                      "        return self.w * self.h\n"),
    "app.py": "import sys\nfrom pkg import add\n\nprint(add(1, 2))\n",
    "pkg/helpers.py": "".join(f"def helper_{n}(x):\n    return x + {n}\n\n\n"
                              for n in range(12)),
}
ADD_ERROR = ("def add(a, b):\n    return a + b\n\n\n"
             "def scale(values, factor):\n    unused = 3\n"
             "    return [v * factr for v in values]\n")


def remote_lines(stderr: str) -> list[str]:
    return [line[len("remote: "):].rstrip() for line in stderr.splitlines()
            if line.startswith("remote: ")]


def push(server: Server, work: Path, repo: str, *options: str, check: bool = True
         ) -> tuple[str, list[str], str]:
    args = [arg for option in options for arg in ("-o", option)]
    result = git(work, "push", *args, server.url(f"alice/{repo}.git", "alice"), "main",
                 check=check)
    return git(work, "rev-parse", "HEAD").stdout.strip(), remote_lines(result.stderr), \
        result.stderr


def message_lines(lines: list[str]) -> list[str]:
    return [ln for ln in lines if re.match(r"    \S+\.py:\d+:\d+: ", ln)]


@pytest.fixture(scope="module", name="srv")
def fixture_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("feedback"),
                       {"GITSERVER_CHECKER_PUSH_WAIT_S": str(WAIT_S)})
    try:
        srv.add_user("alice")
        srv.add_user("bob")
        yield srv
    finally:
        srv.stop()


def lint_api(srv: Server, repo: str, user: str | None = "alice", method: str = "GET",
             body: object = None) -> httpx.Response:
    auth = (user, PASSWORD) if user else None
    return httpx.request(method, srv.url(f"api/v1/repos/alice/{repo}/lint"), auth=auth,
                         json=body, timeout=60)


# -- the verdict leads with the change -----------------------------------------------------------

def test_feedback_push_adding_one_error_prints_it_as_the_first_message_line(
        srv: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", LEGACY)
    root_sha, root_lines, _ = push(srv, work, "legacy")
    assert root_lines[0].startswith(f"main {root_sha[:7]}: failure")
    assert root_lines[1].startswith("  new in this first commit: ")
    assert len(message_lines(root_lines)) == 20  # the legacy fills the budget...
    assert any(re.fullmatch(r"  \u2026 and \d+ more messages in \d files: .*", ln)
               for ln in root_lines), root_lines  # ...and says what it cut

    commit_files(work, {"pkg/util.py": ADD_ERROR}, "Typo in scale")
    sha, lines, _ = push(srv, work, "legacy")
    assert lines[0].startswith(f"main {sha[:7]}: failure, score ")
    assert re.search(r"/10 \(-\d+\.\d\d\) \(5 files checked\)$", lines[0]), lines[0]
    assert lines[1] == "  new since the parent: 1 error, 1 warning"  # factor is unused now
    assert message_lines(lines)[0] == (
        "    pkg/util.py:7:16: undefined-variable (E0602) Undefined variable 'factr'")
    assert lines[2] == message_lines(lines)[0]
    assert lines[3].startswith("    pkg/util.py:5:18: unused-argument (W0613)")
    assert re.fullmatch(r"  pkg/util\.py: failure, score \d+\.\d\d \(-\d+\.\d\d\) \(1 error.*",
                        lines[4]), lines[4]
    assert any(ln.startswith("  unchanged and still failing: 4 files: ") for ln in lines)
    assert lines[-2] == f"  Status: {srv.base_url}/alice/legacy/commit/{sha}"
    assert lines[-1] == f"explain: {srv.base_url}/help/pylint/undefined-variable"

    commit_files(work, {"pkg/util.py": LEGACY["pkg/util.py"]}, "Fix the typo")
    _, fixed_lines, _ = push(srv, work, "legacy")
    assert "  you fixed 2: undefined-variable, unused-argument" in fixed_lines
    assert not any(ln.startswith("  new since the parent") for ln in fixed_lines)
    assert not any(ln.startswith("explain: ") for ln in fixed_lines)


# -- repo lint settings --------------------------------------------------------------------------

def test_feedback_gate_new_is_green_until_a_new_message_is_added(srv: Server,
                                                                 tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", LEGACY)
    sha, _, _ = push(srv, work, "gated")
    before = checks_of(srv, "gated", sha)
    assert before is not None and before["state"] == "failure"

    assert lint_api(srv, "gated").json() == {"disable": [], "fail_under": 8.0, "gate": "all"}
    saved = lint_api(srv, "gated", method="PATCH", body={"gate": "new"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["gate"] == "new"
    # The settings are part of the result key: the tip is checked again, and turns green
    # (a root commit's messages are all new, so it is the same verdict; a child shows it).
    commit_files(work, {"app.py": LEGACY["app.py"] + "print(add(2, 3))\n"}, "More output")
    sha, lines, _ = push(srv, work, "gated")
    assert lines[0].startswith(f"main {sha[:7]}: success"), lines
    after = checks_of(srv, "gated", sha)
    assert after is not None and after["state"] == "success"
    assert {f["state"] for f in after["files"]} == {"success"}

    commit_files(work, {"pkg/util.py": ADD_ERROR}, "Typo in scale")
    sha, lines, _ = push(srv, work, "gated")
    assert lines[0].startswith(f"main {sha[:7]}: failure"), lines
    assert message_lines(lines)[0].startswith("    pkg/util.py:7:16: undefined-variable")
    file_line = next(ln for ln in lines if ln.startswith("  pkg/util.py: "))
    assert file_line.startswith("  pkg/util.py: failure") and "(1 new error" in file_line
    # the file's older messages are shown, marked, and do not fail it
    assert any(ln.endswith("[old: does not fail]") and "pkg/util.py" in ln for ln in lines)
    page = httpx.get(srv.url(f"alice/gated/blob/{sha}/pkg/util.py"),
                     auth=("alice", PASSWORD), timeout=30)
    assert page.status_code == 200 and "baseline-mark" in page.text


def test_feedback_changing_settings_rechecks_the_tip(srv: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"mod.py": '"""Doc."""\nimport os\nX = 1\n'})
    sha, lines, _ = push(srv, work, "recheck")
    assert lines[0].startswith(f"main {sha[:7]}: failure")  # unused-import: 5.00 < 8
    saved = lint_api(srv, "recheck", method="PATCH", body={"disable": ["W0611"]})
    assert saved.json()["disable"] == ["unused-import"]

    def rechecked() -> dict | None:
        body = checks_of(srv, "recheck", sha)
        return body if body and body["state"] == "success" else None
    body = wait_until("the tip to be checked again", rechecked)
    [file] = body["files"]
    assert file["score"] == 10.0 and file["messages"] == []
    # and back: the earlier result's key again, so its result comes back
    lint_api(srv, "recheck", method="PATCH", body={"disable": []})
    wait_until("the tip to fail again", lambda: (
        (b := checks_of(srv, "recheck", sha)) is not None and b["state"] == "failure"))


def test_feedback_lint_settings_refuse_unknown_messages_and_bad_values(srv: Server,
                                                                       tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"ok.py": '"""Doc."""\n'})
    push(srv, work, "validated")
    bad = lint_api(srv, "validated", method="PATCH",
                   body={"disable": ["line-too-long", "no-such-message"]})
    assert bad.status_code == 422
    assert "'no-such-message'" in bad.json()["message"]
    assert "/help/pylint" in bad.json()["message"]
    assert lint_api(srv, "validated", method="PATCH",
                    body={"fail_under": 11}).status_code == 422
    assert lint_api(srv, "validated", method="PATCH", body={"gate": "some"}).status_code == 422
    assert lint_api(srv, "validated").json() == {"disable": [], "fail_under": 8.0,
                                                 "gate": "all"}
    good = lint_api(srv, "validated", method="PATCH",
                    body={"disable": ["C0301", "invalid-name"], "fail_under": 6.5})
    assert good.json() == {"disable": ["invalid-name", "line-too-long"], "fail_under": 6.5,
                           "gate": "all"}


def test_feedback_lint_settings_api_is_the_owners_only(srv: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"ok.py": '"""Doc."""\n'})
    push(srv, work, "mine")
    assert lint_api(srv, "mine", user="bob").status_code == 404
    assert lint_api(srv, "mine", user="bob", method="PATCH",
                    body={"gate": "new"}).status_code == 404
    assert lint_api(srv, "mine", user=None).status_code == 401
    # public: bob may read the code, not the settings
    public = httpx.patch(srv.url("api/v1/repos/alice/mine"), auth=("alice", PASSWORD),
                         json={"private": False}, timeout=30)
    assert public.status_code == 200, public.text
    assert api(srv, "repos/alice/mine", user="bob").status_code == 200
    assert lint_api(srv, "mine", user="bob").status_code == 404
    assert lint_api(srv, "mine", user="bob", method="PATCH",
                    body={"gate": "new"}).status_code == 404
    assert lint_api(srv, "mine").json()["gate"] == "all"


def test_feedback_settings_page_saves_lint_settings(srv: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"ok.py": '"""Doc."""\n'})
    push(srv, work, "paged")
    client = browser(srv)
    sign_in(client, "alice")
    page = client.get("/alice/paged/settings")
    assert 'id="lint"' in page.text and 'name="gate"' in page.text
    saved = post_form(client, "/alice/paged/settings", "/alice/paged/settings/lint",
                      {"disable": "line-too-long, C0114", "fail_under": "7", "gate": "new"})
    assert saved.status_code == 303
    assert lint_api(srv, "paged").json() == {
        "disable": ["line-too-long", "missing-module-docstring"], "fail_under": 7.0,
        "gate": "new"}
    refused = post_form(client, "/alice/paged/settings", "/alice/paged/settings/lint",
                        {"disable": "nonsense-symbol", "fail_under": "", "gate": "new"})
    assert refused.status_code == 303
    assert "nonsense-symbol" in client.get("/alice/paged/settings").text
    bob = browser(srv)
    sign_in(bob, "bob")
    assert post_form(bob, "/settings", "/alice/paged/settings/lint",
                     {"disable": "", "fail_under": "", "gate": "all"}).status_code == 404


# -- explanations --------------------------------------------------------------------------------

def test_feedback_help_page_explains_a_message_with_example_and_own_occurrences(
        srv: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"greet.py": '"""Greet."""\nprint(nme)\n'})
    push(srv, work, "helped")
    anonymous = httpx.get(srv.url("help/pylint/undefined-variable"), timeout=30)
    assert anonymous.status_code == 200
    text = anonymous.text
    assert 'id="msgid">E0602' in text
    assert "Used when an undefined variable is accessed." in text  # pylint's own words
    assert 'id="bad"' in text and "from math import pi" in text
    assert 'id="occurrences"' not in text
    by_id = httpx.get(srv.url("help/pylint/E0602"), timeout=30)
    assert by_id.status_code == 301
    assert by_id.headers["location"] == "/help/pylint/undefined-variable"
    mine = httpx.get(srv.url("help/pylint/undefined-variable"), auth=("alice", PASSWORD),
                     timeout=30)
    assert "helped/greet.py:2" in mine.text
    theirs = httpx.get(srv.url("help/pylint/undefined-variable"), auth=("bob", PASSWORD),
                       timeout=30)
    assert "helped/greet.py" not in theirs.text
    # a message without an example of its own gets its category's advice
    rare = httpx.get(srv.url("help/pylint/bad-reversed-sequence"), timeout=30)
    assert rare.status_code == 200 and "advice for every error message" in rare.text
    assert httpx.get(srv.url("help/pylint/no-such-message"), timeout=30).status_code == 404
    index = httpx.get(srv.url("help/pylint"), timeout=30)
    assert index.status_code == 200 and "/help/pylint/line-too-long" in index.text


def test_feedback_every_message_on_the_commit_page_links_to_its_help(srv: Server,
                                                                     tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "import os\nprint(nme)\n"})
    sha, _, _ = push(srv, work, "linked")
    page = httpx.get(srv.url(f"alice/linked/commit/{sha}"), auth=("alice", PASSWORD),
                     timeout=30).text
    body = checks_of(srv, "linked", sha)
    assert body is not None
    for message in body["files"][0]["messages"]:
        assert f'href="/help/pylint/{message["symbol"]}"' in page


# -- push options --------------------------------------------------------------------------------

def test_feedback_push_options_wait_and_unknown(srv: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": '"""Doc."""\n'})
    sha, lines, _ = push(srv, work, "options", "wait=0")
    assert lines == [f"main {sha[:7]}: {srv.base_url}/alice/options/commit/{sha}"]

    commit_files(work, {"a.py": '"""Doc."""\nX = 1\n'}, "second")
    _, lines, stderr = push(srv, work, "options", "wat=3", check=False)
    assert "[remote rejected]" in stderr
    assert lines[0].startswith("Push rejected: unknown push option 'wat=3'. Push options this "
                               "server knows: wait=N (0-60")
    assert "notify=none" in lines[0]
    _, lines, stderr = push(srv, work, "options", "wait=61", check=False)
    assert "[remote rejected]" in stderr and "0 to 60" in lines[0]
    remote = git(work, "ls-remote", srv.url("alice/options.git", "alice"), "main").stdout
    assert remote.split()[0] == sha  # nothing moved

    sha, lines, _ = push(srv, work, "options", "wait=15")
    assert lines[0].startswith(f"main {sha[:7]}: success, score 10.00/10")
