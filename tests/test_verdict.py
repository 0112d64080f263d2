"""The verdict in the push itself (issue 9): what `git push` prints as `remote:` lines.

Real pushes through the real git CLI against a real server with its embedded workers. The
module's server waits up to 15 s (not the default 3 s) so that a busy test machine does not turn
a verdict into "still running"; the wait ends as soon as the checks are final, so it costs
nothing. Settings that change the waiting itself get a server of their own.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import astroid
import pylint
import pytest

from gitserver.core.models import Push, utcnow

from .support import (
    Server,
    api,
    checks_of,
    commit_files,
    git,
    make_work_repo,
    report_subjects,
    server_db,
    slow_source,
    start_server,
    wait_until,
)

POLL_S = 0.05  # faster than the default: a wait here can race a push in flight
WAIT_S = 15

CLEAN = '"""A clean module."""\n\nANSWER = 42\n'
UNDEFINED = ('"""Undefined names."""\n'
             "\n"
             "\n"
             "def greet() -> str:\n"
             '    """Say hello."""\n'
             "    return undefined_name\n")


# -- helpers ---------------------------------------------------------------------------------

def git_env() -> dict[str, str]:
    """The environment tests.support.git gives git, for a `git push` we start with Popen."""
    return dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1",
                GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")


def remote_lines(stderr: str) -> list[str]:
    """What the hooks printed: git's `remote: ` lines without the prefix and its padding."""
    return [line[len("remote: "):].rstrip() for line in stderr.splitlines()
            if line.startswith("remote: ")]


def push(server: Server, work: Path, repo: str) -> tuple[str, list[str], float]:
    """Push main to alice/<repo>; return (sha, the remote lines, seconds the push took)."""
    started = time.monotonic()
    result = git(work, "push", server.url(f"alice/{repo}.git", "alice"), "main")
    elapsed = time.monotonic() - started
    return git(work, "rev-parse", "HEAD").stdout.strip(), remote_lines(result.stderr), elapsed


def status_url(server: Server, repo: str, sha: str) -> str:
    return f"{server.base_url}/alice/{repo}/commit/{sha}"


def start_with_alice(tmp: Path, extra: dict[str, str]) -> Server:
    tmp.mkdir(exist_ok=True)
    srv = start_server(tmp, extra)
    try:
        srv.add_user("alice")
    except BaseException:
        srv.stop()
        raise
    return srv


@pytest.fixture(scope="module", name="verdict_server")
def fixture_verdict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Embedded workers, push_wait_s = WAIT_S, user alice."""
    srv = start_with_alice(tmp_path_factory.mktemp("verdict"),
                           {"GITSERVER_CHECKER_PUSH_WAIT_S": str(WAIT_S)})
    try:
        yield srv
    finally:
        srv.stop()


# -- the verdict -----------------------------------------------------------------------------

def test_verdict_prints_the_undefined_variable_line(verdict_server: Server,
                                                    tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"ok.py": CLEAN, "app/greet.py": UNDEFINED})
    sha, lines, _ = push(verdict_server, work, "undefined")
    assert lines[0].startswith(f"main {sha[:7]}: failure, score ")
    assert "(2 files checked)" in lines[0]
    assert "    app/greet.py:6:11: undefined-variable (E0602) Undefined variable " \
           "'undefined_name'" in lines
    assert any(re.fullmatch(r"  app/greet\.py: failure, score (\d+\.\d\d) "
                            r"\(1 error, score \1 < 8\.00\)", line)
               for line in lines), lines
    assert not any("ok.py" in line for line in lines), "a clean file's name was printed"
    assert f"  Status: {status_url(verdict_server, 'undefined', sha)}" in lines


def test_verdict_clean_push_prints_success_and_score(verdict_server: Server,
                                                     tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"clean.py": CLEAN})
    sha, lines, _ = push(verdict_server, work, "clean")
    assert lines == [f"main {sha[:7]}: success, score 10.00/10 (1 file checked)",
                     f"  Status: {status_url(verdict_server, 'clean', sha)}"]


def test_verdict_caps_messages_at_twenty(verdict_server: Server, tmp_path: Path) -> None:
    names = "".join(f"print(undefined_{i})\n" for i in range(30))
    work = make_work_repo(tmp_path / "w", {"many.py": '"""Many."""\n' + names})
    sha, lines, _ = push(verdict_server, work, "many")
    checks = checks_of(verdict_server, "many", sha)
    assert checks is not None
    [file] = checks["files"]
    total = len(file["messages"])
    assert total > 20
    message_lines = [line for line in lines if re.match(r"    many\.py:\d+:\d+: ", line)]
    assert len(message_lines) == 20
    assert message_lines[0] == ("    many.py:2:6: undefined-variable (E0602) "
                                "Undefined variable 'undefined_0'")
    url = status_url(verdict_server, "many", sha)
    assert f"  \u2026 and {total - 20} more messages in 1 file: {url}" in lines
    assert lines[-1] == f"explain: {verdict_server.base_url}/help/pylint/undefined-variable"


def test_verdict_client_killed_during_wait_loses_nothing(verdict_server: Server,
                                                         tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"slow.py": slow_source(500), "greet.py": UNDEFINED},
                          "Slow push")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    url = verdict_server.url("alice/killed.git", "alice")
    with subprocess.Popen(["git", "push", url, "main"], cwd=work, env=git_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as client:
        try:
            # The check rows exist once post-receive has scheduled them; it then waits.
            wait_until("the push to be scheduled", lambda: (
                (body := checks_of(verdict_server, "killed", sha)) is not None
                and any(f["state"] == "pending" for f in body["files"])), poll_s=POLL_S)
            assert client.poll() is None, "the push ended before its checks did"
        finally:
            client.kill()
    after_kill = checks_of(verdict_server, "killed", sha)
    assert after_kill is not None
    assert any(f["state"] == "pending" for f in after_kill["files"]), \
        "the checks ended before the client was killed; use a slower file"

    def mailed() -> dict[str, Any] | None:
        body = checks_of(verdict_server, "killed", sha)
        if body and all(f["state"] != "pending" and f["emailed_at"] for f in body["files"]):
            return body
        return None
    done = wait_until("the checks and the report mail", mailed, poll_s=POLL_S)
    assert {f["path"]: f["state"] for f in done["files"]} == {"slow.py": "success",
                                                              "greet.py": "failure"}
    assert report_subjects(verdict_server, "killed") == [
        f"[alice/killed] failure: {sha[:7]} Slow push"]
    refs = git(work, "ls-remote", url, "refs/heads/main").stdout.split()
    assert refs == [sha, "refs/heads/main"]


def test_verdict_of_a_second_push_reports_the_new_commit(verdict_server: Server,
                                                         tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": CLEAN})
    push(verdict_server, work, "second")
    commit_files(work, {"a.py": UNDEFINED}, "break it")
    sha, lines, _ = push(verdict_server, work, "second")
    assert lines[0].startswith(f"main {sha[:7]}: failure")
    assert "    a.py:6:11: undefined-variable (E0602) Undefined variable 'undefined_name'" \
        in lines


# -- when the push does not wait -------------------------------------------------------------

def test_verdict_push_wait_zero_prints_only_the_url(tmp_path: Path) -> None:
    # No workers needed: with push_wait_s = 0 the hook prints before any check could finish.
    srv = start_with_alice(tmp_path / "server", {"GITSERVER_QUEUE_EMBEDDED": "false",
                                                 "GITSERVER_CHECKER_PUSH_WAIT_S": "0"})
    try:
        work = make_work_repo(tmp_path / "w", {"greet.py": UNDEFINED})
        sha, lines, _ = push(srv, work, "nowait")
        assert lines == [f"main {sha[:7]}: {status_url(srv, 'nowait', sha)}"]
    finally:
        srv.stop()


def corpus(target: Path) -> int:
    """Copy the .py files of the installed pylint and astroid (286 files, 3.9 MB) into target."""
    count = 0
    for package in (pylint, astroid):
        folder = Path(package.__file__).parent
        for source in sorted(folder.rglob("*.py")):
            destination = target / folder.name / source.relative_to(folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
            count += 1
    return count


def test_verdict_large_first_push_does_not_wait(tmp_path: Path) -> None:
    # No workers here: what is tested is the hook's choice not to wait, and a queue of 286
    # files would keep this 2-core machine busy for a minute after the test.
    wait_s = 10
    srv = start_with_alice(tmp_path / "server", {"GITSERVER_QUEUE_EMBEDDED": "false",
                                                 "GITSERVER_CHECKER_PUSH_WAIT_S": str(wait_s)})
    try:
        work = make_work_repo(tmp_path / "w")
        files = corpus(work)
        assert files > 250
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "corpus")
        sha, lines, elapsed = push(srv, work, "corpus")
        url = status_url(srv, "corpus", sha)
        assert lines == [f"main {sha[:7]}: checks are still running; the results will be at",
                         f"  {url}", "  and in your report mail."]
        assert elapsed < wait_s, f"the push took {elapsed:.1f} s: it waited for its checks"
        # Recorded right after git's answer, its check rows left to a queued task (the web
        # node's repo queue); no worker runs here, so the commit is known and pending.
        status = wait_until("the push to be recorded", lambda: (
            (resp := api(srv, f"repos/alice/corpus/commits/{sha}/status")).status_code == 200
            and resp.json()), poll_s=POLL_S)
        assert status["state"] == "pending"
        assert {s["state"] for s in status["statuses"]} <= {"pending"}
        with server_db(srv):  # the commit is visible a moment before the push is marked so
            row = wait_until("the push to be marked recorded", lambda: Push.get_or_none(
                Push.recorded_at.is_null(False)), poll_s=POLL_S)
            assert row.history_queued_at is not None
    finally:
        srv.stop()


def test_verdict_push_behind_others_not_yet_scheduled_does_not_wait(tmp_path: Path) -> None:
    # A deadline: other users' pushes are recorded but their check rows not made yet (here:
    # rows of bob's pushes that no repo queue task will schedule). Their files come before
    # alice's in the round-robin, so her push answers at once with its place in the queue.
    wait_s = 3
    srv = start_with_alice(tmp_path / "server", {"GITSERVER_QUEUE_EMBEDDED": "false",
                                                 "GITSERVER_CHECKER_PUSH_WAIT_S": str(wait_s)})
    try:
        srv.add_user("bob")
        bob = make_work_repo(tmp_path / "bob", {"b.py": CLEAN})
        git(bob, "push", "-o", "wait=0", srv.url("bob/hw.git", "bob"), "main")
        with server_db(srv):
            repo = wait_until("bob's push to be scheduled", lambda: Push.get_or_none(
                Push.history_at.is_null(False)), poll_s=POLL_S).repo
            for _ in range(4):
                Push.create(repo=repo, pusher=repo.owner, recorded_at=utcnow(),
                            history_queued_at=utcnow())
        work = make_work_repo(tmp_path / "w", {f"m{i}.py": CLEAN for i in range(10)})
        sha, lines, elapsed = push(srv, work, "deadline")
        assert lines[:3] == [
            f"main {sha[:7]}: checks are still running; the results will be at",
            f"  {status_url(srv, 'deadline', sha)}", "  and in your report mail."]
        # bob's first push left one file pending (no worker runs), then 10 per unscheduled push
        assert lines[3].startswith("queue: position 42, 41 files ahead of this push's 10;"), lines
        assert elapsed < wait_s, f"the push took {elapsed:.1f} s: it waited for its checks"
    finally:
        srv.stop()
