"""Results you can trust (issue 13), end to end: real pushes, real workers, and `pylint` itself
run on a checkout of the same tree as the referee.

- a file is checked again when a module it imports changes, appears, vanishes or is renamed,
  and when an `__init__.py` appears or vanishes; its verdict is then pylint's own;
- results are reused within one repository only: another tenant's identical bytes are checked
  anew and show nothing of the first (path, time, messages);
- a slow file carried by many commits costs one timeout, retried once by a later push;
- the commit score is pylint's global evaluation ("Your code has been rated at");
- a failing file says why; a file that stops parsing leaves its old messages unknown, not fixed.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from .support import (
    PASSWORD,
    ROOT,
    Server,
    api,
    by_path,
    commit_files,
    git,
    make_work_repo,
    server_db,
    slow_source,
    wait_until,
)

RCFILE = ROOT / "checker" / "pylintrc"
FINAL = {"success", "failure", "error"}
SITE_PACKAGES = Path(httpx.__file__).resolve().parent.parent


# -- helpers ---------------------------------------------------------------------------------

def push(server: Server, work: Path, repo: str, user: str = "alice") -> str:
    git(work, "push", "-q", server.url(f"{user}/{repo}.git", user), "HEAD:main")
    return git(work, "rev-parse", "HEAD").stdout.strip()


def final(server: Server, repo: str, sha: str, user: str = "alice") -> dict[str, Any]:
    """The commit's /checks once every file is final."""
    def probe() -> dict[str, Any] | None:
        resp = api(server, f"repos/{user}/{repo}/commits/{sha}/checks", user=user)
        if resp.status_code != 200:
            return None
        body = resp.json()
        files = [f for f in body["files"] if f["change"] != "deleted"]
        return body if files and all(f["state"] in FINAL for f in files) else None
    return wait_until(f"the checks of {user}/{repo}@{sha[:7]}", probe)


def commit(work: Path, files: dict[str, str | None], message: str = "change") -> str:
    """Write (or, for None, delete) files and commit them."""
    for path, source in files.items():
        if source is None:
            git(work, "rm", "-q", path)
    written: dict[str, str | bytes] = {p: s for p, s in files.items() if s is not None}
    if written:
        return commit_files(work, written, message)
    git(work, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD").stdout.strip()


def pylint_json(work: Path, *targets: str) -> dict[str, Any]:
    """`pylint --rcfile checker/pylintrc` itself on the work tree (json2: messages, score)."""
    result = subprocess.run(
        [sys.executable, "-I", "-m", "pylint", "--rcfile", str(RCFILE),
         "--output-format=json2", *targets],
        cwd=work, capture_output=True, text=True, timeout=300, check=False)
    assert result.stdout, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def pylint_verdict(work: Path, path: str) -> list[tuple[int, str, str]]:
    """(line, symbol, message) of pylint's own messages for one file of the work tree."""
    messages = pylint_json(work, path)["messages"]
    return sorted((m["line"], m["symbol"], m["message"]) for m in messages)


def served(file: dict[str, Any]) -> list[tuple[int, str, str]]:
    return sorted((m["line"], m["symbol"], m["message"]) for m in file["messages"])


def assert_pylints_verdict(server: Server, work: Path, repo: str, sha: str,
                           path: str) -> dict[str, Any]:
    """The server's check of `path` at `sha` is pylint's own on the same tree; returned."""
    file = by_path(final(server, repo, sha))[path]
    assert served(file) == pylint_verdict(work, path), path
    return file


# -- imported modules --------------------------------------------------------------------------

GREETER = '"""Greetings."""\n\n\ndef greet() -> str:\n    """Say hello."""\n    return "hi"\n'
RENAMED = '"""Greetings."""\n\n\ndef hello() -> str:\n    """Say hello."""\n    return "hi"\n'
USER = ('"""Uses the greeter."""\nfrom pkg.b import greet\n\n\ndef main() -> None:\n'
        '    """Greet."""\n    print(greet())\n')


def test_renamed_function_in_an_imported_module_fails_the_importer(
        server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"pkg/__init__.py": '"""Package."""\n',
                                           "pkg/a.py": USER, "pkg/b.py": GREETER})
    first = push(server, work, "rename-fn")
    assert by_path(final(server, "rename-fn", first))["pkg/a.py"]["state"] == "success"

    second = commit(work, {"pkg/b.py": RENAMED}, "rename greet in b only")
    push(server, work, "rename-fn")
    user = assert_pylints_verdict(server, work, "rename-fn", second, "pkg/a.py")
    assert user["reused"] is False and user["change"] == "unchanged"
    assert user["state"] == "failure"
    assert ("no-name-in-module", "No name 'greet' in module 'pkg.b'") in {
        (m["symbol"], m["message"]) for m in user["messages"]}
    assert "1 error" in user["description"]
    status = api(server, f"repos/alice/rename-fn/commits/{second}/status").json()
    assert status["state"] == "failure"


def test_imported_module_added_deleted_and_renamed(server: Server, tmp_path: Path) -> None:
    main = '"""Main."""\nimport helper\n\nprint(helper.greet())\n'
    empty_helper = '"""A helper without greet."""\n'
    work = make_work_repo(tmp_path / "w", {"main.py": main, "other.py": '"""Other."""\n'})
    shas = [push(server, work, "imports")]
    missing = assert_pylints_verdict(server, work, "imports", shas[0], "main.py")
    assert missing["state"] == "success"

    shas.append(commit(work, {"helper.py": empty_helper}, "add helper"))
    push(server, work, "imports")
    added = assert_pylints_verdict(server, work, "imports", shas[-1], "main.py")
    assert added["reused"] is False
    assert [m["symbol"] for m in added["messages"]] == ["no-member"]

    git(work, "mv", "helper.py", "helpers.py")
    shas.append(commit(work, {}, "rename helper"))
    push(server, work, "imports")
    renamed = assert_pylints_verdict(server, work, "imports", shas[-1], "main.py")
    # Without helper.py main.py sees the first commit's tree again: that result stands.
    assert renamed["messages"] == [] and renamed["checked_at"] == missing["checked_at"]

    git(work, "mv", "helpers.py", "helper.py")
    shas.append(commit(work, {}, "rename it back"))
    push(server, work, "imports")
    back = assert_pylints_verdict(server, work, "imports", shas[-1], "main.py")
    assert back["reused"] is True  # the same tree as the second commit: its result stands
    assert back["checked_at"] == added["checked_at"]

    shas.append(commit(work, {"helper.py": None}, "delete helper"))
    push(server, work, "imports")
    deleted = assert_pylints_verdict(server, work, "imports", shas[-1], "main.py")
    assert deleted["messages"] == []
    # A file that imports nothing of the tree kept its result through all of it.
    log = api(server, "repos/alice/imports/files/other.py/checks").json()
    assert [entry["reused"] for entry in log] == [True] * (len(shas) - 1) + [False]


def test_relative_import_follows_the_imported_module(server: Server, tmp_path: Path) -> None:
    user = USER.replace("from pkg.b import greet", "from .b import greet")
    work = make_work_repo(tmp_path / "w", {"pkg/__init__.py": '"""Package."""\n',
                                           "pkg/a.py": user, "pkg/b.py": GREETER,
                                           "pkg/c.py": '"""Unrelated."""\n'})
    push(server, work, "relative")
    second = commit(work, {"pkg/b.py": RENAMED}, "rename greet")
    push(server, work, "relative")
    checks = by_path(final(server, "relative", second))
    assert checks["pkg/a.py"]["reused"] is False
    assert checks["pkg/c.py"]["reused"] is True
    assert_pylints_verdict(server, work, "relative", second, "pkg/a.py")
    assert "no-name-in-module" in [m["symbol"] for m in checks["pkg/a.py"]["messages"]]


def test_init_py_appearing_and_vanishing_changes_the_verdict(
        server: Server, tmp_path: Path) -> None:
    encoding = ('"""Encoding."""\nfrom .util import SEPARATOR\n\n\n'
                'def join(parts: list[str]) -> str:\n    """Join."""\n'
                '    return SEPARATOR.join(parts)\n')
    work = make_work_repo(tmp_path / "w", {"enc/encoding.py": encoding,
                                           "enc/util.py": '"""Util."""\nSEPARATOR = ","\n'})
    loose = push(server, work, "init")
    first = assert_pylints_verdict(server, work, "init", loose, "enc/encoding.py")
    assert "relative-beyond-top-level" in [m["symbol"] for m in first["messages"]]

    package = commit(work, {"enc/__init__.py": '"""Package."""\n'}, "add __init__")
    push(server, work, "init")
    second = assert_pylints_verdict(server, work, "init", package, "enc/encoding.py")
    assert second["reused"] is False
    assert second["messages"] == [] and second["state"] == "success"

    again = commit(work, {"enc/__init__.py": None}, "remove __init__")
    push(server, work, "init")
    third = assert_pylints_verdict(server, work, "init", again, "enc/encoding.py")
    assert "relative-beyond-top-level" in [m["symbol"] for m in third["messages"]]


# -- tenants ---------------------------------------------------------------------------------

def test_same_bytes_in_another_repository_are_checked_anew_and_show_nothing_of_it(
        server: Server, tmp_path: Path) -> None:
    secret = '"""Top secret."""\nVALUE = 1\n'
    mine = make_work_repo(tmp_path / "alice", {"SecretProjectName.py": secret})
    alice_sha = push(server, mine, "secret")
    [alice_file] = final(server, "secret", alice_sha)["files"]
    assert "SecretProjectName" in json.dumps(alice_file["messages"])

    theirs = make_work_repo(tmp_path / "bob", {"c.py": secret})
    bob_sha = push(server, theirs, "mine", user="bob")
    bob_body = final(server, "mine", bob_sha, user="bob")
    [bob_file] = bob_body["files"]
    assert bob_file["blob"] == alice_file["blob"]
    assert bob_file["reused"] is False
    everything = json.dumps(bob_body) + api(
        server, f"repos/bob/mine/commits/{bob_sha}/status", user="bob").text
    assert "SecretProjectName" not in everything
    page = httpx.get(server.url(f"bob/mine/commit/{bob_sha}"), auth=("bob", PASSWORD),
                     timeout=30).text
    assert "SecretProjectName" not in page
    # The same path and bytes in another repository of the same owner: checked anew too.
    again = make_work_repo(tmp_path / "alice2", {"SecretProjectName.py": secret})
    other_sha = push(server, again, "secret-copy")
    [other] = final(server, "secret-copy", other_sha)["files"]
    assert other["reused"] is False


# -- errors are results too ------------------------------------------------------------------

def test_slow_file_in_ten_commits_costs_one_timeout(
        dedicated: Callable[[dict[str, str]], Server], tmp_path: Path) -> None:
    srv = dedicated({"GITSERVER_CHECKER_TIMEOUT_S": "3"})
    work = make_work_repo(tmp_path / "w", {"slow.py": slow_source(2500),
                                           "n.py": '"""N."""\nN = 0\n'}, "commit 0")
    shas = [git(work, "rev-parse", "HEAD").stdout.strip()]
    shas += [commit_files(work, {"n.py": f'"""N."""\nN = {i}\n'}, f"commit {i}")
             for i in range(1, 10)]
    started = time.monotonic()
    push(srv, work, "slow")
    for sha in shas:
        final(srv, "slow", sha)
    elapsed = time.monotonic() - started
    log = api(srv, "repos/alice/slow/files/slow.py/checks").json()
    assert sorted(entry["sha"] for entry in log) == sorted(shas)
    assert {entry["state"] for entry in log} == {"error"}
    assert "timed out after 3 s" in log[0]["description"]
    assert [entry["reused"] for entry in log].count(False) == 1, "linted more than once"
    assert elapsed < 60, f"ten commits took {elapsed:.0f} s"

    # A later push tries the key once more (the machine may have been busy)...
    retry = commit(work, {"n.py": '"""N."""\nN = 10\n'})
    push(srv, work, "slow")
    assert by_path(final(srv, "slow", retry))["slow.py"]["reused"] is False
    # ... and then its error stands.
    settled = commit(work, {"n.py": '"""N."""\nN = 11\n'})
    push(srv, work, "slow")
    file = by_path(final(srv, "slow", settled))["slow.py"]
    assert (file["state"], file["reused"]) == ("error", True)


# -- the commit score ------------------------------------------------------------------------

def test_commit_score_is_pylints_global_evaluation(server: Server, tmp_path: Path) -> None:
    work = tmp_path / "w"
    shutil.copytree(SITE_PACKAGES / "itsdangerous", work / "itsdangerous",
                    ignore=lambda _folder, names: [n for n in names
                                                   if not n.endswith(".py")])
    make_work_repo(work)
    sha = commit_files(work, {}, "itsdangerous")
    push(server, work, "its")
    body = final(server, "its", sha)
    expected = pylint_json(work, "itsdangerous")["statistics"]["score"]
    assert body["score"] == pytest.approx(expected, abs=0.01)
    scores = [f["score"] for f in body["files"]]
    assert body["score"] != pytest.approx(sum(scores) / len(scores), abs=0.01)

    empty = commit_files(work, {"itsdangerous/empty.py": ""}, "an empty module")
    push(server, work, "its")
    assert final(server, "its", empty)["score"] == body["score"]


# -- why, and what stopped parsing -----------------------------------------------------------

def test_a_file_that_stops_parsing_leaves_its_old_messages_unknown(
        server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"app.py": '"""App."""\nimport os\n'})
    push(server, work, "broken")
    broken = commit(work, {"app.py": '"""App."""\nimport os\ndef broken(:\n'}, "break it")
    push(server, work, "broken")
    since = final(server, "broken", broken)["since_parent"]
    assert [m["symbol"] for m in since["new"]] == ["syntax-error"]
    assert since["fixed"] == []
    assert [m["symbol"] for m in since["unknown"]] == ["unused-import"]
    page = httpx.get(server.url(f"alice/broken/commit/{broken}"), auth=("alice", PASSWORD),
                     timeout=30).text
    assert 'id="unknown-messages"' in page and "1 unknown" in page


def test_failing_files_say_why_on_pages_and_statuses(server: Server, tmp_path: Path) -> None:
    files = {"low.py": "x = 1\ny = 2\n",  # two conventions on 2 statements: 0.00
             "err.py": '"""Err."""\n' + "".join(f"A{i} = {i}\n" for i in range(30))
             + "print(missing)\n"}
    work = make_work_repo(tmp_path / "w", files)
    sha = push(server, work, "why")
    checks = by_path(final(server, "why", sha))
    assert checks["err.py"]["score"] >= 8.0  # fails on its error alone
    assert checks["err.py"]["description"].startswith("1 error (pylint ")
    assert checks["low.py"]["description"].startswith("score 0.00 < 8.00 (pylint ")
    statuses = {s["context"]: s for s in api(
        server, f"repos/alice/why/commits/{sha}/status").json()["statuses"]}
    assert statuses["pylint/err.py"]["description"] == checks["err.py"]["description"]
    page = httpx.get(server.url(f"alice/why/commit/{sha}"), auth=("alice", PASSWORD),
                     timeout=30).text
    assert "1 error" in page and "score 0.00 &lt; 8.00" in page
    assert 'id="commit-reason"' in page and "2 of 2 files failing" in page
    blob = httpx.get(server.url(f"alice/why/blob/{sha}/err.py"), auth=("alice", PASSWORD),
                     timeout=30).text
    assert 'id="file-reason"' in blob and "1 error" in blob
    css = httpx.get(server.url("static/css/states.css"), timeout=30)
    assert css.status_code == 200 and ".state-bg-error" in css.text


# -- results of the old key ------------------------------------------------------------------

def test_results_stored_under_the_old_key_are_not_reused(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"kept.py": '"""Kept."""\n'})
    first = push(server, work, "legacy")
    final(server, "legacy", first)
    with server_db(server):
        from gitserver.core.models import Check  # pylint: disable=import-outside-toplevel
        # As the upgrade leaves the rows of RESULT_VERSION 2: no key.
        Check.update(result_key="").where(Check.path == "kept.py").execute()
    git(work, "commit", "-q", "--allow-empty", "-m", "nothing changed")
    second = push(server, work, "legacy")
    assert by_path(final(server, "legacy", second))["kept.py"]["reused"] is False
