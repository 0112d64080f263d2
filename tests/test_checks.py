"""The checks (issue 4), end to end: real pushes, real pylint in the real workers, read back
through the JSON API and the Maildir, as a client of the server would see them.

Every test pushes to its own repository of the module's server, so they do not interfere; the
settings that change what a check yields (`checker.timeout_s`, `checker.disable`) get a server of
their own. Results are awaited by polling the API against a deadline, never by fixed sleeps.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .support import (
    PASSWORD,
    Server,
    api,
    by_path,
    commit_files,
    git,
    make_work_repo,
    report_mails,
    slow_source,
    wait_until,
)

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
FINAL = {"success", "failure", "error"}
MESSAGE_KEYS = {"line", "column", "end_line", "end_column", "type", "symbol", "message_id",
                "message"}
FILE_KEYS = {"path", "blob", "change", "state", "score", "duration_ms", "checked_at",
             "emailed_at", "messages"}

CLEAN = '"""A clean module."""\n\nANSWER = 42\n\n\ndef double(value: int) -> int:\n' \
        '    """Twice the value."""\n    return 2 * value\n'
UNDEFINED = ('"""Undefined names and unused imports."""\n'
             "import os\n"
             "import sys\n"
             "\n"
             "\n"
             "def greet() -> str:\n"
             '    """Say hello."""\n'
             "    return undefined_name\n")
SYNTAX_ERROR = '"""Broken."""\n\ndef broken(:\n    pass\n'
NO_DOCSTRING = "ANSWER = 42\n"


def recursion_source(terms: int = 5000) -> str:
    """A flat sum whose syntax tree nests `terms` deep: astroid hits the recursion limit."""
    return '"""Too deep."""\nX = ' + " + ".join(["1"] * terms) + "\n"


# -- helpers ---------------------------------------------------------------------------------

def tagged(source: str, tag: str) -> str:
    """The source with a comment that makes its blob unique to one test.

    A result is reused for an identical blob on the whole server, so a test that looks at a
    fresh check must not push a blob that an earlier test already had checked.
    """
    return f"{source}# {tag}\n"


def final_checks(server: Server, repo: str, sha: str, emailed: bool = False) -> dict[str, Any]:
    """The commit's /checks once no file is pending (and, if `emailed`, every file mailed)."""
    def probe() -> dict[str, Any] | None:
        resp = api(server, f"repos/alice/{repo}/commits/{sha}/checks")
        if resp.status_code != 200:
            return None
        body = resp.json()
        files = [f for f in body["files"] if f["change"] != "deleted"]
        if not files or any(f["state"] not in FINAL for f in files):
            return None
        if emailed and not all(f["emailed_at"] for f in files):
            return None
        return body
    return wait_until(f"the checks of {repo}@{sha[:7]}", probe)


def push(server: Server, work: Path, repo: str) -> str:
    """Push main to alice/<repo>; return the pushed sha."""
    git(work, "push", "-q", server.url(f"alice/{repo}.git", "alice"), "main")
    return git(work, "rev-parse", "HEAD").stdout.strip()


def new_repo(server: Server, tmp_path: Path, repo: str, files: dict[str, str],
             message: str = "first") -> tuple[Path, str]:
    work = make_work_repo(tmp_path / repo, files, message)
    return work, push(server, work, repo)


def symbols_at(file: dict[str, Any]) -> list[tuple[str, int]]:
    return [(m["symbol"], m["line"]) for m in file["messages"]]


# -- one file, one verdict -------------------------------------------------------------------

def test_check_clean_file_is_success_with_full_score(server: Server, tmp_path: Path) -> None:
    work, sha = new_repo(server, tmp_path, "clean", {"clean.py": tagged(CLEAN, "clean")})
    checks = final_checks(server, "clean", sha)
    assert checks["sha"] == sha
    assert checks["state"] == "success"
    [file] = checks["files"]
    assert FILE_KEYS <= file.keys()
    assert file["path"] == "clean.py"
    assert file["blob"] == git(work, "rev-parse", "HEAD:clean.py").stdout.strip()
    assert file["change"] == "added"
    assert (file["state"], file["score"], file["messages"]) == ("success", 10.0, [])
    assert isinstance(file["duration_ms"], int) and file["duration_ms"] >= 0
    assert ISO_Z.fullmatch(file["checked_at"])
    combined = api(server, "repos/alice/clean/commits/main/status").json()
    assert (combined["state"], combined["sha"], combined["total_count"]) == ("success", sha, 1)


def test_check_undefined_name_and_unused_imports_fail_at_their_lines(
        server: Server, tmp_path: Path) -> None:
    _, sha = new_repo(server, tmp_path, "undefined",
                      {"greet.py": tagged(UNDEFINED, "undefined")})
    checks = final_checks(server, "undefined", sha)
    assert checks["state"] == "failure"
    [file] = checks["files"]
    assert file["state"] == "failure"
    assert file["score"] < 8.0
    assert symbols_at(file) == [("unused-import", 2), ("unused-import", 3),
                                ("undefined-variable", 8)]
    unused_os, unused_sys, undefined = file["messages"]
    assert all(set(m) == MESSAGE_KEYS for m in file["messages"])
    assert (unused_os["message_id"], unused_os["type"], unused_os["column"]) == ("W0611",
                                                                                 "warning", 0)
    assert unused_os["message"] == "Unused import os"
    assert unused_sys["message"] == "Unused import sys"
    assert undefined == {"line": 8, "column": 11, "end_line": 8, "end_column": 25,
                         "type": "error", "symbol": "undefined-variable",
                         "message_id": "E0602",
                         "message": "Undefined variable 'undefined_name'"}


def test_check_syntax_error_is_failure(server: Server, tmp_path: Path) -> None:
    _, sha = new_repo(server, tmp_path, "syntax", {"broken.py": tagged(SYNTAX_ERROR, "syntax")})
    [file] = final_checks(server, "syntax", sha)["files"]
    assert (file["state"], file["score"]) == ("failure", 0.0)
    assert [(m["symbol"], m["message_id"], m["line"]) for m in file["messages"]] == [
        ("syntax-error", "E0001", 3)]


def test_check_timeout_and_recursion_are_errors_and_the_rest_finishes(
        dedicated: Callable[[dict[str, str]], Server], tmp_path: Path) -> None:
    srv = dedicated({"GITSERVER_CHECKER_TIMEOUT_S": "3"})
    files = {"a_clean.py": CLEAN, "b_undefined.py": UNDEFINED, "hang.py": slow_source(2500),
             "recursion.py": recursion_source(), "z_after.py": CLEAN.replace("42", "43")}
    started = time.monotonic()
    _, sha = new_repo(srv, tmp_path, "hard", files)
    checks = by_path(final_checks(srv, "hard", sha))
    elapsed = time.monotonic() - started
    assert checks["hang.py"]["state"] == "error"
    assert checks["hang.py"]["score"] is None
    assert "timed out after 3 s" in checks["hang.py"]["error"]
    assert checks["recursion.py"]["state"] == "error"
    assert "RecursionError" in checks["recursion.py"]["error"]
    # The files before and after the troublemakers were checked by the same task.
    assert (checks["a_clean.py"]["state"], checks["a_clean.py"]["score"]) == ("success", 10.0)
    assert checks["b_undefined.py"]["state"] == "failure"
    assert (checks["z_after.py"]["state"], checks["z_after.py"]["score"]) == ("success", 10.0)
    assert elapsed < 45, f"the timeout of 3 s did not bound the check ({elapsed:.1f} s)"
    combined = api(srv, f"repos/alice/hard/commits/{sha}/status").json()
    assert combined["state"] == "failure"
    hang_status = next(s for s in combined["statuses"] if s["context"] == "pylint/hang.py")
    assert hang_status["state"] == "error"
    assert "timed out" in hang_status["description"]


def test_check_disable_setting_removes_that_message(
        server: Server, dedicated: Callable[[dict[str, str]], Server], tmp_path: Path) -> None:
    quiet = dedicated({"GITSERVER_CHECKER_DISABLE": "missing-module-docstring"})
    _, loud_sha = new_repo(server, tmp_path / "loud", "nodoc", {"nodoc.py": NO_DOCSTRING})
    _, quiet_sha = new_repo(quiet, tmp_path / "quiet", "nodoc", {"nodoc.py": NO_DOCSTRING})
    [loud_file] = final_checks(server, "nodoc", loud_sha)["files"]
    [quiet_file] = final_checks(quiet, "nodoc", quiet_sha)["files"]
    assert [m["symbol"] for m in loud_file["messages"]] == ["missing-module-docstring"]
    assert loud_file["score"] == 0.0  # one convention message on one statement
    assert (quiet_file["state"], quiet_file["score"], quiet_file["messages"]) == (
        "success", 10.0, [])


# -- reuse and the check log -----------------------------------------------------------------

def test_check_unchanged_blob_is_reused_and_changed_file_is_checked_anew(
        server: Server, tmp_path: Path) -> None:
    work, first = new_repo(server, tmp_path, "reuse",
                           {"kept.py": tagged(UNDEFINED, "reuse"),
                            "edited.py": tagged(CLEAN, "reuse")})
    before = by_path(final_checks(server, "reuse", first))
    commit_files(work, {"edited.py": tagged(CLEAN, "reuse") + "print(missing)\n"},
                 "edit one file")
    second = push(server, work, "reuse")
    after = by_path(final_checks(server, "reuse", second))

    kept, edited = after["kept.py"], after["edited.py"]
    assert before["kept.py"]["reused"] is False
    assert kept["reused"] is True
    assert kept["change"] == "unchanged"
    for key in ("blob", "state", "score", "messages", "duration_ms", "checked_at"):
        assert kept[key] == before["kept.py"][key], key
    assert edited["reused"] is False
    assert edited["change"] == "modified"
    assert edited["blob"] != before["edited.py"]["blob"]
    assert edited["state"] == "failure"
    assert ("undefined-variable", 10) in symbols_at(edited)


def test_check_file_log_lists_one_entry_per_commit_newest_first(
        server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "log", {"log.py": tagged(CLEAN, "log"),
                                             "other.py": tagged(CLEAN, "log other")}, "one")
    shas = [git(work, "rev-parse", "HEAD").stdout.strip()]
    shas.append(commit_files(work, {"log.py": tagged(UNDEFINED, "log")}, "two"))
    push(server, work, "log")  # two new commits in one push: both are checked
    shas.append(commit_files(work, {"other.py": tagged(UNDEFINED, "log other")}, "three"))
    push(server, work, "log")
    for sha in shas:
        final_checks(server, "log", sha)

    resp = api(server, "repos/alice/log/files/log.py/checks")
    assert resp.status_code == 200
    log = resp.json()
    assert [entry["sha"] for entry in log] == shas[::-1]
    assert all(entry["path"] == "log.py" and FILE_KEYS <= entry.keys() for entry in log)
    assert [entry["state"] for entry in log] == ["failure", "failure", "success"]
    assert [entry["reused"] for entry in log] == [True, False, False]
    assert [entry["change"] for entry in log] == ["unchanged", "modified", "added"]
    missing = api(server, "repos/alice/log/files/nowhere.py/checks")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["type"] == "not_found"


# -- the API's shapes and rules --------------------------------------------------------------

def test_combined_status_has_github_shape(server: Server, tmp_path: Path) -> None:
    _, sha = new_repo(server, tmp_path, "shape",
                      {"good.py": tagged(CLEAN, "shape"), "pkg/__init__.py": '"""Package."""\n',
                       "pkg/bad.py": tagged(UNDEFINED, "shape")})
    final_checks(server, "shape", sha)
    by_branch = api(server, "repos/alice/shape/commits/main/status")
    by_sha = api(server, f"repos/alice/shape/commits/{sha}/status")
    assert by_branch.status_code == by_sha.status_code == 200
    status = by_sha.json()
    assert status == by_branch.json()
    assert {"state", "sha", "total_count", "statuses", "repository", "commit_url",
            "url"} <= status.keys()
    assert (status["state"], status["sha"], status["total_count"]) == ("failure", sha, 3)
    root = server.base_url
    assert status["commit_url"] == f"{root}/api/v1/repos/alice/shape/commits/{sha}"
    assert status["url"] == f"{root}/api/v1/repos/alice/shape/commits/{sha}/status"
    repository = status["repository"]
    assert (repository["full_name"], repository["owner"]["login"], repository["private"]) == (
        "alice/shape", "alice", True)
    contexts = {s["context"]: s for s in status["statuses"]}
    assert set(contexts) == {"pylint/good.py", "pylint/pkg/__init__.py", "pylint/pkg/bad.py"}
    for item in status["statuses"]:
        assert {"id", "state", "description", "target_url", "context", "created_at",
                "updated_at"} <= item.keys()
        assert isinstance(item["id"], int)
        assert ISO_Z.fullmatch(item["created_at"]) and ISO_Z.fullmatch(item["updated_at"])
        assert item["target_url"].startswith(f"{root}/alice/shape/")
        assert item["description"]
    assert contexts["pylint/good.py"]["state"] == "success"
    assert contexts["pylint/pkg/bad.py"]["state"] == "failure"
    listed = api(server, f"repos/alice/shape/statuses/{sha}")
    assert listed.status_code == 200
    assert {s["id"] for s in listed.json()} == {s["id"] for s in status["statuses"]}


def test_combined_status_of_commit_without_files_is_pending(
        server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "empty")
    git(work, "commit", "-q", "--allow-empty", "-m", "nothing yet")
    sha = push(server, work, "empty")
    status = api(server, f"repos/alice/empty/commits/{sha}/status").json()
    assert (status["state"], status["total_count"], status["statuses"]) == ("pending", 0, [])


def test_commits_are_paginated_newest_first_with_link_header(
        server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "pages", {"f0.py": CLEAN}, "commit 0")
    shas = [git(work, "rev-parse", "HEAD").stdout.strip()]
    shas += [commit_files(work, {f"f{i}.py": CLEAN}, f"commit {i}") for i in range(1, 5)]
    push(server, work, "pages")
    for sha in shas:
        final_checks(server, "pages", sha)  # every commit recorded
    newest_first = shas[::-1]

    first = api(server, "repos/alice/pages/commits", per_page=2)
    assert first.status_code == 200
    assert [c["sha"] for c in first.json()] == newest_first[:2]
    assert first.json()[0]["commit"]["message"].startswith("commit 4")
    links = parse_links(first.headers["link"])
    assert set(links) == {"next", "last"}
    assert links["next"].startswith(f"{server.base_url}/api/v1/repos/alice/pages/commits?")
    assert "page=2" in links["next"] and "page=3" in links["last"]

    last = httpx.get(links["last"], auth=("alice", PASSWORD), timeout=30)
    assert [c["sha"] for c in last.json()] == newest_first[4:]
    assert set(parse_links(last.headers["link"])) == {"first", "prev"}
    middle = httpx.get(links["next"], auth=("alice", PASSWORD), timeout=30)
    assert [c["sha"] for c in middle.json()] == newest_first[2:4]

    from_sha = api(server, "repos/alice/pages/commits", sha=shas[2])
    assert [c["sha"] for c in from_sha.json()] == shas[2::-1]
    assert "link" not in from_sha.headers  # one page holds all three


def parse_links(header: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>;\s*rel="(\w+)"', header)}


API_PATHS = ("commits/{sha}/status", "commits/{sha}/checks", "commits",
             "statuses/{sha}", "files/secret.py/checks", "")


def test_api_hides_private_repos(server: Server, tmp_path: Path) -> None:
    _, sha = new_repo(server, tmp_path, "private", {"secret.py": CLEAN})
    final_checks(server, "private", sha)
    for template in API_PATHS:
        path = f"repos/alice/private/{template.format(sha=sha)}".rstrip("/")
        assert api(server, path).status_code == 200, path

        anonymous = api(server, path, user=None)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["www-authenticate"] == 'Basic realm="gitserver"'
        body = anonymous.json()
        assert body["errors"][0]["type"] and body["message"] == body["errors"][0]["description"]

        stranger = api(server, path, user="bob")
        assert stranger.status_code == 404, path  # bob may not learn that it exists
        assert stranger.json()["errors"][0]["type"] == "not_found"
        absent = api(server, path.replace("/private", "/no-such-repo"))
        assert absent.status_code == 404, path
    # Once only: failed passwords count towards the sign-in throttle.
    assert api(server, "repos/alice/private", password="wrong-password").status_code == 401
    unknown = api(server, "repos/alice/private/commits/0123456789abcdef/status")
    assert unknown.status_code == 404


# -- the report mail -------------------------------------------------------------------------

def test_report_mail_arrives_once_per_push(server: Server, tmp_path: Path) -> None:
    work, first = new_repo(server, tmp_path, "mailed", {"greet.py": tagged(UNDEFINED, "mail")},
                           "Add greeting")
    checks = final_checks(server, "mailed", first, emailed=True)
    assert all(ISO_Z.fullmatch(f["emailed_at"]) for f in checks["files"])
    [mail] = wait_until("the first report mail", lambda: report_mails(server, "mailed"))
    assert mail["Subject"] == f"[alice/mailed] failure: {first[:7]} Add greeting"
    assert mail["To"].addresses[0].addr_spec == "alice@example.com"
    assert f"/alice/mailed/commit/{first}" in mail.get_body(("plain",)).get_content()

    # Every result of this commit is reused: the report goes out without any lint run.
    git(work, "commit", "-q", "--allow-empty", "-m", "Nothing changed")
    second = push(server, work, "mailed")
    assert by_path(final_checks(server, "mailed", second, emailed=True))["greet.py"]["reused"]
    commit_files(work, {"greet.py": tagged(CLEAN, "mail")}, "Fix greeting")
    third = push(server, work, "mailed")
    final_checks(server, "mailed", third, emailed=True)

    three = wait_until("three report mails", lambda: report_mails(server, "mailed")[2:])
    subjects = [str(m["Subject"]) for m in report_mails(server, "mailed")]
    assert len(subjects) == len(three) + 2
    assert sorted(subjects) == sorted([
        f"[alice/mailed] failure: {first[:7]} Add greeting",
        f"[alice/mailed] failure: {second[:7]} Nothing changed",
        f"[alice/mailed] success: {third[:7]} Fix greeting"])
