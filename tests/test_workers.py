"""Separate `gitserver worker` processes (queue.embedded = false): at-least-once checks that
survive `kill -9`, and two workers sharing one queue without doing a file twice.

The module runs twice: on the suite's default backend and on PostgreSQL + Redis ("scaleout";
skipped when those services are unreachable, a failure when GITSERVER_TEST_REQUIRE_SERVICES=1).
checker.timeout_s is 3, so a lease (timeout + 15 s) left by a killed worker runs out in ~18 s.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from checker.queue import create_huey
from gitserver.core.config import load_settings
from gitserver.core.models import Check, Push, Repo

from .support import (
    Server,
    api,
    by_path,
    checks_of,
    commit_files,
    git,
    make_work_repo,
    report_subjects,
    server_db,
    slow_source,
    start_server,
    wait_until,
    workers,
)

DEADLINE_S = 120.0  # the lease of a killed worker alone takes 20 s to run out
FINAL = {"success", "failure", "error"}
SETTINGS = {"GITSERVER_QUEUE_EMBEDDED": "false", "GITSERVER_CHECKER_TIMEOUT_S": "3",
            "GITSERVER_CHECKER_PUSH_WAIT_S": "0"}
EXECUTING = b".check_commit: "  # huey logs "Executing <module>.check_commit: <id>"


# -- helpers ---------------------------------------------------------------------------------

def all_final_and_mailed(server: Server, repo: str, shas: list[str]) -> list[dict[str, Any]]:
    """Each commit's /checks, once every file is final and its report mail recorded."""
    def probe() -> list[dict[str, Any]] | None:
        bodies = [body for sha in shas if (body := checks_of(server, repo, sha)) is not None]
        files = [f for body in bodies for f in body["files"]]
        if len(bodies) == len(shas) and files and all(
                f["state"] in FINAL and f["emailed_at"] for f in files):
            return bodies
        return None
    return wait_until(f"the checks of {repo}", probe, deadline_s=DEADLINE_S)


@pytest.fixture(scope="module", params=["default", "scaleout"], name="queue_server")
def fixture_queue_server(request: pytest.FixtureRequest,
                         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server without embedded workers, with user alice, on the backend of the param."""
    backend = "scaleout" if request.param == "scaleout" else None
    srv = start_server(tmp_path_factory.mktemp(request.param), SETTINGS, backend)
    try:
        srv.add_user("alice")
        yield srv
    finally:
        srv.stop()


def recorded_push(server: Server, repo: str) -> Push | None:
    """The latest push to alice/<repo> once it is recorded and its checks are queued."""
    with server_db(server):
        return (Push.select().join(Repo).where((Repo.name == repo) & Push.recorded_at.is_null(False)
                                                & Push.history_queued_at.is_null(False))
                .order_by(Push.id.desc()).first())


def history_done(server: Server, repo: str) -> Push | None:
    """The latest push to alice/<repo> once its check rows are made and their checks queued."""
    push = recorded_push(server, repo)
    return push if push is not None and push.history_at is not None else None


# -- tests -----------------------------------------------------------------------------------

def test_worker_killed_mid_check_loses_nothing(queue_server: Server, tmp_path: Path) -> None:
    files = {f"slow{i}.py": slow_source(200, i) for i in range(4)}
    work = make_work_repo(tmp_path / "w", files, "Four slow files")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    with workers(queue_server, tmp_path / "first.log") as [first]:
        git(work, "push", "-q", queue_server.url("alice/killed.git", "alice"), "main")

        def midway() -> dict[str, dict[str, Any]] | None:
            body = checks_of(queue_server, "killed", sha)
            if body is None:
                return None
            checks = by_path(body)
            states = {f["state"] for f in checks.values()}
            return checks if "pending" in states and states & FINAL else None
        # One task lints the commit's files one by one: some done, some not = mid-commit.
        before = wait_until("the first worker to be midway", midway, deadline_s=DEADLINE_S)
        first.kill()
        first.wait()
    done_before = {path: f for path, f in before.items() if f["state"] in FINAL}
    assert set(before) == set(files)

    with workers(queue_server, tmp_path / "second.log") as [second]:
        [after_body] = all_final_and_mailed(queue_server, "killed", [sha])
        assert second.poll() is None
    after = by_path(after_body)
    assert set(after) == set(files)
    assert {f["state"] for f in after.values()} <= {"success", "error"}
    # A result written before the kill stands (a file whose check outlived checker.timeout_s on
    # a busy machine is `error`, which is final too); nothing was checked twice.
    for path, file in done_before.items():
        assert after[path]["checked_at"] == file["checked_at"], path
        assert after[path]["state"] == file["state"], path
    for path in files:
        log = api(queue_server, f"repos/alice/killed/files/{path}/checks").json()
        assert [entry["sha"] for entry in log] == [sha], path
    assert report_subjects(queue_server, "killed") == [
        f"[alice/killed] {after_body['state']}: {sha[:7]} Four slow files"]


def test_two_workers_share_the_queue_one_check_per_file(queue_server: Server,
                                                        tmp_path: Path) -> None:
    # Six commits in one push, one task each, queued before any worker runs; every commit
    # holds the same slow file, so the workers also race for identical blobs. n.py is slow
    # too (and different in each commit): the shared file is linted once for all six commits,
    # and this leaves work for both workers.
    def n_source(i: int) -> str:
        return f"N = {i}\n" + "".join(f"N = N + {k}\n" for k in range(120)) + "print(NOPE)\n"
    work = make_work_repo(tmp_path / "w", {"shared.py": slow_source(150), "n.py": n_source(0)},
                          "commit 0")
    shas = [git(work, "rev-parse", "HEAD").stdout.strip()]
    shas += [commit_files(work, {"n.py": n_source(i)}, f"commit {i}") for i in range(1, 6)]
    git(work, "push", "-q", queue_server.url("alice/shared.git", "alice"), "main")
    # The push is recorded at once; the web node makes its check rows (the repo queue's task)
    # and queues each commit's check before any worker runs.
    wait_until("the push's checks to be queued", lambda: history_done(queue_server, "shared"),
               deadline_s=DEADLINE_S)
    assert [{f["state"] for f in checks_of(queue_server, "shared", sha)["files"]}
            for sha in shas] == [{"pending"}] * 6
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    with workers(queue_server, *logs):
        bodies = all_final_and_mailed(queue_server, "shared", shas)

    for sha, body in zip(shas, bodies, strict=True):
        assert body["sha"] == sha
        assert set(by_path(body)) == {"shared.py", "n.py"}
    for path in ("shared.py", "n.py"):
        log = api(queue_server, f"repos/alice/shared/files/{path}/checks").json()
        assert sorted(entry["sha"] for entry in log) == sorted(shas), path
    shared = [by_path(body)["shared.py"] for body in bodies]
    assert len({(f["blob"], f["state"], f["score"], str(f["messages"])) for f in shared}) == 1
    assert {f["state"] for f in shared} == {"success"}
    for log in logs:
        assert EXECUTING in log.read_bytes(), f"{log.name}: this worker ran no check"
    # The last checks of the push finish on either worker; exactly one of them mails.
    assert report_subjects(queue_server, "shared") == [
        f"[alice/shared] failure: {shas[-1][:7]} commit 5"]


def test_a_lost_history_task_is_queued_again(queue_server: Server, tmp_path: Path) -> None:
    # Three commits pushed with no worker running: the push is recorded and its one task (make
    # the check rows of the tip and the commits behind it) is queued on the web node's repo
    # queue, which runs it at once. Then the task is made lost: the queue wiped, its rows gone.
    work = make_work_repo(tmp_path / "w", {"a.py": '"""A."""\nA = 1\n'}, "commit 0")
    shas = [git(work, "rev-parse", "HEAD").stdout.strip()]
    shas += [commit_files(work, {"a.py": f'"""A."""\nA = {i + 1}\n'}, f"commit {i}")
             for i in (1, 2)]
    git(work, "push", "-q", queue_server.url("alice/lost.git", "alice"), "main")
    push = wait_until("the push's checks to be queued", lambda: history_done(queue_server, "lost"),
                      deadline_s=DEADLINE_S)
    huey = create_huey(load_settings(environ=queue_server.env))
    assert huey.pending_count() >= 1  # wake-ups for the tip and for the commits behind it
    huey.flush()  # the queue was wiped
    # The history task undone five minutes on: the web node's requeuer queues it again.
    with server_db(queue_server):
        Check.delete().where(Check.push == push.id).execute()  # pylint: disable=no-value-for-parameter
        Push.update(history_at=None,
                    history_queued_at=push.history_queued_at - timedelta(minutes=10)).where(
            Push.id == push.id).execute()
    with workers(queue_server, tmp_path / "requeue.log") as _:
        bodies = all_final_and_mailed(queue_server, "lost", shas)
    assert [body["sha"] for body in bodies] == shas
    assert all(body["state"] == "success" for body in bodies)
    assert "history checks of push" in queue_server.log()
    assert report_subjects(queue_server, "lost") == [
        f"[alice/lost] success: {shas[-1][:7]} commit 2"]
