"""SIGTERM is a clean stop: a push in flight finishes, a check in flight finishes."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx

from gitserver.core.models import Check, database, init_db
from gitserver.core.states import STATE_PENDING

from .support import (
    GITSERVER,
    PASSWORD,
    Server,
    commit_files,
    git,
    make_work_repo,
    slow_source,
    start_server,
    wait_until,
)

DEADLINE_S = 90


def ref_moved(server: Server, repo: str, sha: str) -> bool:
    response = httpx.get(server.url(f"api/v1/repos/alice/{repo}/commits/main/status"),
                         auth=("alice", PASSWORD), timeout=5)
    return response.status_code == 200 and response.json()["sha"] == sha


def test_sigterm_during_a_push_lets_the_push_finish(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"GITSERVER_CHECKER_PUSH_WAIT_S": "30"})
    try:
        server.add_user("alice")
        work = make_work_repo(tmp_path / "w", {"slow.py": slow_source(700)})
        sha = git(work, "rev-parse", "HEAD").stdout.strip()
        push = subprocess.Popen(["git", "push", server.url("alice/term.git", "alice"), "main"],
                                cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**server.env, "GIT_TERMINAL_PROMPT": "0"})
        # The ref has moved and post-receive is waiting for the verdict: stop the server now.
        wait_until("the push to reach post-receive", lambda: ref_moved(server, "term", sha))
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        _, stderr = push.communicate(timeout=DEADLINE_S)
        assert push.returncode == 0, stderr
        assert "main -> main" in stderr
        assert f"remote: main {sha[:7]}: success, score" in stderr, stderr
        server.proc.wait(timeout=DEADLINE_S)
        assert "Application shutdown complete" in server.log()
    finally:
        server.stop()


def test_sigterm_to_a_worker_lets_its_check_finish(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"GITSERVER_QUEUE_EMBEDDED": "false",
                                             "GITSERVER_CHECKER_PUSH_WAIT_S": "0"})
    worker = subprocess.Popen([GITSERVER, "worker"], env=server.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        server.add_user("alice")
        work = make_work_repo(tmp_path / "w", {"ok.py": '"""Fine."""\n'})
        commit_files(work, {"slow.py": slow_source(700)}, "slow")
        git(work, "push", "-q", server.url("alice/wterm.git", "alice"), "main")
        init_db(server.database_url)
        leased = wait_until("a worker to lease the slow check", lambda: Check.get_or_none(
            (Check.path == "slow.py") & Check.lease_owner.is_null(False)
            & (Check.state == STATE_PENDING)))
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=DEADLINE_S)
        assert worker.returncode == 0, stderr[-2000:]
        check = Check.get_by_id(leased.id)
        assert check.state == "success", (check.state, check.error)
        assert check.lease_until is None
        assert "Shutting down gracefully" in stderr
    finally:
        database.close()
        if worker.poll() is None:
            worker.kill()
        server.stop()
