"""Recording a push and queueing its checks: shared by post-receive and browser commits.

The tips come first: their check rows are made and queued while the push is recorded, so the
pusher's verdict can come in the same second. The commits behind them (up to
`checker.max_commits_per_push`) are scheduled by a queued task, `schedule_history`, so a push of
a long history costs the web process only the recording. A push's report waits for both.

Everything here is idempotent, so the requeuer can finish a push whose recording or history
task was lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from checker.schedule import commits_to_check, current_fingerprint, schedule_commit
from checker.tasks import Tasks, claim_report
from gitserver.core.config import Settings
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Commit, Push, utcnow

from .record import RecordedPush, record_commits

logger = logging.getLogger(__name__)

HISTORY_STALE_S = 300  # a history task queued this long ago and not done was lost: queue again


def schedule(settings: Settings, git: GitRepo, recorded: RecordedPush,
             tasks: Tasks) -> dict[int, int]:
    """Create the tips' check rows and enqueue them, then queue the history behind them;
    return commit id -> pending files for the tips."""
    fingerprint = current_fingerprint(settings)
    pending: dict[int, int] = {}
    for _, commit in recorded.tips:
        if commit.id in pending:
            continue  # two refs of the push at one commit
        count = schedule_commit(git, recorded.push, commit, fingerprint)
        if count:
            tasks.check_commit(commit.id)
        pending[commit.id] = count
    behind = [c for c in history(settings, recorded.push.id) if c.id not in pending]
    if behind:
        Push.update(history_queued_at=utcnow()).where(Push.id == recorded.push.id).execute()
        tasks.schedule_history(recorded.push.id)
    else:
        Push.update(history_at=utcnow()).where(Push.id == recorded.push.id).execute()
        if recorded.tips and claim_report(recorded.push.id):
            tasks.send_report(recorded.push.id)  # every result was reused: report at once
    return pending


def history(settings: Settings, push_id: int) -> list[Commit]:
    """The push's commits to check besides its tips, newest first (at most
    `checker.max_commits_per_push`); those with check rows already are left out."""
    commits = list(Commit.select().where(Commit.push == push_id).order_by(Commit.id))
    chosen = commits_to_check([], commits, settings.checker.max_commits_per_push)
    return [c for c in chosen if not c.checks.exists()]


def schedule_history(settings: Settings, push_id: int, tasks: Tasks) -> None:
    """The queued task: check rows for the commits behind the push's tips, newest first."""
    push = Push.get_by_id(push_id)
    if push.history_at is not None:
        return  # a repeated delivery
    git = GitRepo.of(settings, push.repo)
    fingerprint = current_fingerprint(settings)
    for commit in history(settings, push_id):
        if schedule_commit(git, push, commit, fingerprint):
            tasks.check_commit(commit.id)
    Push.update(history_at=utcnow()).where(Push.id == push_id).execute()
    if claim_report(push_id):
        tasks.send_report(push_id)


def finish_push(settings: Settings, push_id: int, tasks: Tasks
                ) -> tuple[RecordedPush, dict[int, int]]:
    """Record the push's commits and queue its checks (idempotent: safe to repeat)."""
    push = Push.get_by_id(push_id)
    git = GitRepo.of(settings, push.repo)
    recorded = record_commits(push, git)
    pending = schedule(settings, git, recorded, tasks)
    Push.update(recorded_at=utcnow()).where(Push.id == push_id).execute()
    return recorded, pending


def finish_unrecorded_pushes(settings: Settings, tasks: Tasks, older_than_s: float = 60) -> None:
    """Finish pushes whose recording after git's reply was lost (a crash, a restart), and
    queue again the history tasks that were lost."""
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_s)
    for push in Push.select(Push.id).where(Push.recorded_at.is_null()
                                           & (Push.created_at < cutoff)).iterator():
        logger.warning("finishing push %d, which was left unrecorded", push.id)
        finish_push(settings, push.id, tasks)
    lost = Push.select(Push.id).where(
        Push.history_at.is_null() & Push.recorded_at.is_null(False)
        & (Push.history_queued_at < now - timedelta(seconds=HISTORY_STALE_S)))
    for push in lost.iterator():
        logger.warning("queueing again the history checks of push %d (task lost)", push.id)
        Push.update(history_queued_at=now).where(Push.id == push.id).execute()
        tasks.schedule_history(push.id)
