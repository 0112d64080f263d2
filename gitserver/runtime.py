"""The one place that wires the service together: the Huey object and its tasks, the hook
service, the workers and the web app; `serve` and `run_worker` run them.

Layers (enforced by import-linter in `make lint`): cli > runtime > web > hooks > checker >
mailer > core. Only this module (and the hook process entry, `hook_process`) knows all of them.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Callable

import uvicorn
from huey import Huey
from starlette.applications import Starlette

from checker.consumer import ChildProcess, Workers, exit_with_parent
from checker.queue import REPO_QUEUE, create_huey
from checker.sources import HttpTrees, LocalTrees, TreeSource, tree_source
from checker.tasks import CheckWorker, Tasks, claim_report, requeue_lost_work
from gitserver.core.accounts import remove_expired_registrations
from gitserver.core.config import (
    ConfigError,
    Settings,
    child_environment,
    secret_key_problem,
)
from gitserver.core.memory import release_free_memory
from gitserver.core.models import init_db
from gitserver.core.schema import migrate
from gitserver.web.app import create_app
from hooks.enqueue import finish_unrecorded_pushes
from hooks.enqueue import schedule_history as schedule_pushed_history
from hooks.service import HookService
from mailer.digest import send_due_digests
from mailer.tasks import COALESCE_S, send_push_report

logger = logging.getLogger(__name__)

QUEUE_MODULE = "checker.tasks"
REPO_QUEUE_NICENESS = 5  # the repo queue worker: below the pushes, above the lint (10)


def build_queues(settings: Settings, worker: CheckWorker | None = None) -> tuple[Tasks, Huey]:
    """The two Huey objects of `queue.url` with our tasks registered: the check queue (checks,
    report mails), which workers on any host consume, and the repo queue (returned second),
    which only `serve` consumes, for tasks that read the repositories. Calling a task enqueues it.

    Enqueuers (the web process without workers, a hook process) pass no worker; the process
    that consumes the check queue passes its CheckWorker, which the check task runs on.
    """
    huey = create_huey(settings)
    repo_huey = create_huey(settings, REPO_QUEUE)

    def check_commit(commit_id: int) -> None:  # pylint: disable=unused-argument
        # A wake-up: the worker takes the queue's next files, whichever commit queued it
        # (checker.lease); the id stays in the task for the log and older queued tasks.
        if worker is None:
            raise RuntimeError("check_commit runs in a worker process; start `gitserver worker`")
        for push_id in worker.check_next(wake=lambda: check_task(0)):
            if claim_report(push_id):
                report_soon(push_id)

    def send_report(push_id: int) -> None:
        send_push_report(settings, push_id)

    def schedule_history(push_id: int) -> None:
        try:
            schedule_pushed_history(settings, push_id, tasks)
        finally:
            # A long history's trees and blobs were read through dulwich: give the C heap's
            # free pages back before the next push's task, as the hooks do.
            release_free_memory()

    def hand_over_history(push_id: int) -> None:
        # Queued on the check queue by a version without the repo queue: a worker may have no
        # repositories, so the web node's repo queue takes it.
        history_task(push_id)

    # A task's identity on the queue is "module.name"; these keep the names the tasks had when
    # they were defined in checker.tasks, so tasks queued before an upgrade still run after it.
    check_task = huey.task(name="check_commit", retries=2, retry_delay=5,
                           __module__=QUEUE_MODULE)(check_commit)
    report_task = huey.task(name="send_report", retries=20, retry_delay=30,
                            __module__=QUEUE_MODULE)(send_report)
    history_task = repo_huey.task(name="schedule_history", retries=2, retry_delay=5,
                                  __module__=QUEUE_MODULE)(schedule_history)
    huey.task(name="schedule_history", retries=2, retry_delay=5,
              __module__=QUEUE_MODULE)(hand_over_history)

    def report_soon(push_id: int) -> None:
        # A few seconds later, so that a quick next push to the branch can supersede this
        # report (mailer.tasks.superseded_by): one mail about the newest.
        report_task.schedule((push_id,), delay=COALESCE_S)

    tasks = Tasks(huey=huey, check_commit=check_task, send_report=report_task,
                  schedule_history=history_task, report_soon=report_soon)
    return tasks, repo_huey


def build_tasks(settings: Settings, worker: CheckWorker | None = None) -> Tasks:
    """The tasks of `build_queues`, for a process that only enqueues (or consumes checks)."""
    return build_queues(settings, worker)[0]


def _database_jobs(settings: Settings, tasks: Tasks) -> list[Callable[[], object]]:
    """Maintenance that needs only the database and the queue: any worker host runs it."""
    return [lambda: requeue_lost_work(tasks), lambda: send_due_digests(settings),
            remove_expired_registrations]


def build_workers(settings: Settings, source: TreeSource) -> Workers:
    """`gitserver worker`: the check queue's threads with warm lint processes (trees from
    `source`), and the maintenance jobs that need no repository."""
    worker = CheckWorker(settings, source=source)
    tasks = build_tasks(settings, worker)
    return Workers(settings, tasks, worker, maintenance=_database_jobs(settings, tasks))


def build_web_workers(settings: Settings, embedded: bool) -> Workers:
    """What `serve` runs besides the app: the repo queue's process (`run_repo_worker`), and with
    `embedded` the check workers, reading the trees from the data dir, and their jobs."""
    worker = CheckWorker(settings, source=LocalTrees(settings.repos_dir)) if embedded else None
    tasks = build_tasks(settings, worker)
    repo_worker = ChildProcess(
        "the repo queue's worker", [sys.executable, "-m", "gitserver.cli", "worker",
                                    "--repo-queue"],
        child_environment(settings), stop_timeout_s=settings.checker.timeout_s + 10)
    return Workers(settings, tasks, worker,
                   maintenance=_database_jobs(settings, tasks) if embedded else (),
                   children=[repo_worker])


def run_repo_worker(settings: Settings) -> None:
    """The repo queue and the jobs that read the repositories (finishing pushes whose recording
    or history task was lost), in the process `serve` starts next to itself
    (`gitserver worker --repo-queue`): on the host with the repositories, and not holding the
    web process's GIL while pushes come in."""
    # Scheduling checks is background work: the pushes coming in first (a push waiting for its
    # verdict makes its tips' rows itself), then this, then the lint (nicer still).
    os.nice(REPO_QUEUE_NICENESS)
    init_db(settings.database_url)
    tasks, repo_huey = build_queues(settings)
    workers = Workers(settings, tasks, None, repo_huey=repo_huey,
                      maintenance=[lambda: finish_unrecorded_pushes(settings, tasks)])
    exit_with_parent()
    logger.info("gitserver repo queue worker: repositories in %s", settings.repos_dir)
    workers.run()


def warn_if_shared(settings: Settings) -> None:
    """Log a warning when other accounts may read or enter the data dir."""
    mode = stat.S_IMODE(settings.data_dir.stat().st_mode)
    if mode & 0o077:
        logger.warning("the data dir %s is open to other accounts (mode %o): it holds every "
                       "repository, password hash and the secret key; run `chmod -R go= %s`",
                       settings.data_dir, mode, settings.data_dir)


def build_app(settings: Settings, embedded_workers: bool = False) -> Starlette:
    """The web app with its hook service and the repo queue's consumer; with
    `embedded_workers`, the check workers run inside it too."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    warn_if_shared(settings)
    init_db(settings.database_url)
    migrate()
    workers = build_web_workers(settings, embedded_workers)
    return create_app(settings, workers.tasks, HookService(settings, workers.tasks), workers)


def serve(settings: Settings) -> None:
    """Run the web server in the foreground, with the workers when `queue.embedded`."""
    problem = secret_key_problem(settings.server.secret_key)
    if problem is not None:
        raise ConfigError(problem)
    app = build_app(settings, embedded_workers=settings.queue.embedded)
    config = uvicorn.Config(app, host=settings.server.host, port=settings.server.port,
                            log_config=None, access_log=False, timeout_graceful_shutdown=30,
                            server_header=False)
    logger.info("gitserver listening on %s (data in %s)", settings.server.base_url,
                settings.data_dir)
    uvicorn.Server(config).run()


def run_worker(settings: Settings) -> None:
    """Run the check and mail workers in the foreground (`gitserver worker`)."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    warn_if_shared(settings)
    init_db(settings.database_url)
    migrate()
    source = tree_source(settings)
    if isinstance(source, HttpTrees):
        refusal = source.refusal()
        if refusal is not None:
            raise ConfigError(f"queue.web_url: {refusal}")
    elif not settings.repos_dir.is_dir():
        logger.warning("%s does not exist: set queue.web_url to the web node's URL, or share "
                       "its data dir with this worker", settings.repos_dir)
    workers = build_workers(settings, source)
    logger.info("gitserver worker: %d threads on %s, trees from %s", settings.queue.workers,
                settings.queue_url.split("@")[-1],
                source.web_url if isinstance(source, HttpTrees) else settings.repos_dir)
    workers.run()
