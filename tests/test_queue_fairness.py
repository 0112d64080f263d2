"""The queue at a deadline, end to end: a real `gitserver serve` without embedded workers, one
`gitserver worker` thread, real git and pylint. Another user's big push does not hold a small
push back (round-robin between users), and a push behind a long queue returns at once with its
place instead of waiting for a verdict that cannot come in time."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitserver.core.models import Check, Repo, User
from gitserver.core.states import STATE_PENDING

from .support import (
    Server,
    api,
    git,
    make_work_repo,
    server_db,
    slow_source,
    start_server,
    wait_until,
    workers,
)

SETTINGS = {"GITSERVER_QUEUE_EMBEDDED": "false", "GITSERVER_QUEUE_WORKERS": "1",
            "GITSERVER_CHECKER_TIMEOUT_S": "60", "GITSERVER_CHECKER_PUSH_WAIT_S": "0"}
SLOW_FILES = 12


@pytest.fixture(scope="module", name="deadline")
def fixture_deadline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("deadline"), SETTINGS)
    try:
        for name in ("alice", "bob", "carol"):
            srv.add_user(name)
        yield srv
    finally:
        srv.stop()


def push_as(server: Server, work: Path, user: str, *options: str) -> tuple[list[str], float]:
    """Push main to <user>/<work's name>; return the remote lines and the seconds it took."""
    started = time.monotonic()
    result = git(work, "push", *options, server.url(f"{user}/{work.name}.git", user), "main")
    lines = [line[len("remote: "):].rstrip() for line in result.stderr.splitlines()
             if line.startswith("remote: ")]
    return lines, time.monotonic() - started


def big_push(server: Server, tmp: Path, user: str, tag: int) -> Path:
    files = {f"slow{i}.py": slow_source(450, tag * 100 + i) for i in range(SLOW_FILES)}
    work = make_work_repo(tmp / f"{user}-big{tag}", files, "Many slow files")
    push_as(server, work, user)
    return work


def pending_of(server: Server, user: str, repo: str) -> int:
    with server_db(server):
        return (Check.select().join(Repo, on=Check.repo == Repo.id)
                .join(User, on=Repo.owner == User.id)
                .where((User.username == user) & (Repo.name == repo)
                       & (Check.state == STATE_PENDING)).count())


def test_a_small_push_is_not_held_behind_another_users_big_push(deadline: Server,
                                                                tmp_path: Path) -> None:
    with workers(deadline, tmp_path / "worker.log"):
        big_push(deadline, tmp_path, "alice", 1)
        wait_until("alice's checks to start", lambda: pending_of(
            deadline, "alice", "alice-big1") < SLOW_FILES or None, deadline_s=60)
        small = make_work_repo(tmp_path / "bob-small", {"hello.py": '"""Hi."""\nprint("hi")\n'},
                               "Hello")
        lines, _ = push_as(deadline, small, "bob", "-o", "wait=60")
        left = pending_of(deadline, "alice", "alice-big1")
        # bob's verdict came while most of alice's files still waited: a first-in first-out
        # queue would have made him wait behind all twelve.
        assert any(line.startswith("main ") and "success" in line for line in lines), lines
        assert left >= SLOW_FILES // 2, (left, lines)
        sha = git(small, "rev-parse", "HEAD").stdout.strip()
        body = api(deadline, f"repos/bob/bob-small/commits/{sha}/checks", user="bob").json()
        assert body["state"] == "success"


def test_a_push_behind_a_long_queue_returns_at_once_with_its_place(deadline: Server,
                                                                   tmp_path: Path) -> None:
    classmates = [f"student{i}" for i in range(6)]
    for name in classmates:
        deadline.add_user(name)
    with workers(deadline, tmp_path / "worker.log"):
        for tag, name in enumerate(classmates, 10):
            big_push(deadline, tmp_path, name, tag)
        for tag, name in enumerate(classmates, 10):
            wait_until(f"{name}'s push to be queued", lambda name=name, tag=tag: pending_of(
                deadline, name, f"{name}-big{tag}") or None, deadline_s=60)
        files = {f"m{i}.py": f'"""Module {i}."""\nVALUE = {i}\n' for i in range(6)}
        work = make_work_repo(tmp_path / "bob-six", files, "Six modules")
        lines, took = push_as(deadline, work, "bob", "-o", "wait=15")
        # Ahead of bob's six files: the running batch, then, round by round, a file of each of
        # six classmates for each of his: over 36 files at ~1 s each on one thread, more than
        # 15 s. His own six alone would take a second, so a wait that ignored the queue waits.
        assert any(line.startswith("queue: position ") for line in lines), lines
        assert not any(line.startswith("main ") and "score" in line for line in lines), lines
        assert took < 15, (took, lines)


def test_a_push_right_after_the_last_worker_stopped_says_no_worker_runs(deadline: Server,
                                                                       tmp_path: Path) -> None:
    with workers(deadline, tmp_path / "worker.log"):
        pass
    # The stopped worker's last beat says it has no threads: the push is told at once, not once
    # its beat has gone stale, and it does not wait for checks no one runs.
    work = make_work_repo(tmp_path / "bob-alone", {"one.py": '"""One."""\nONE = 1\n'}, "One")
    lines, took = push_as(deadline, work, "bob", "-o", "wait=15")
    assert any(line.startswith("queue: position ") and "no worker is running" in line
               for line in lines), lines
    assert took < 10, (took, lines)
