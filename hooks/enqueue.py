"""Recording a push and queueing its checks: shared by post-receive and browser commits.

The tips come first: for a push small enough to wait for, their check rows are made and queued
while the push is recorded, so the pusher's verdict can come in the same second. The commits
behind them (up to `checker.max_commits_per_push`), and the tips of a push too large to wait for,
are scheduled by a queued task, `schedule_history`, on the repo queue (consumed by a thread of
`gitserver serve`, which has the repositories; workers may not): a push of a long history costs
the web request only its recording. A push's report waits for every row.

Everything here is idempotent, so the requeuer can finish a push whose recording or history
task was lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from checker.lease import LANE_HISTORY, supersede
from checker.schedule import recheck_commit, repo_fingerprint, schedule_commit
from checker.tasks import Tasks, claim_report
from gitserver.core import lint_settings
from gitserver.core.config import Settings
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Check, Commit, Push, Repo, utcnow
from gitserver.core.queries import get_commit, resolve_ref

from .record import RecordedPush, record_commits, recorded_tips

logger = logging.getLogger(__name__)

HISTORY_STALE_S = 300  # a history task queued this long ago and not done was lost: queue again


def schedule(settings: Settings, git: GitRepo, recorded: RecordedPush,
             tasks: Tasks) -> dict[int, int]:
    """Create the tips' check rows and enqueue them, then queue the history behind them;
    return commit id -> pending files for the tips."""
    pending = _schedule_tips(settings, git, recorded, tasks)
    if history(settings, recorded.push.id, exclude=set(pending)):
        queue_history(recorded.push.id, tasks)
    else:
        _history_done(recorded.push.id, tasks)
    return pending


def queue_history(push_id: int, tasks: Tasks) -> None:
    """Leave the push's checks to the `schedule_history` task, on the repo queue."""
    Push.update(history_queued_at=utcnow()).where(Push.id == push_id).execute()
    tasks.schedule_history(push_id)


def _schedule_tips(settings: Settings, git: GitRepo, recorded: RecordedPush,
                   tasks: Tasks) -> dict[int, int]:
    lint = lint_settings.of(recorded.push.repo)
    fingerprint = repo_fingerprint(settings, lint)
    pending: dict[int, int] = {}
    for _, commit in recorded.tips:
        if commit.id in pending:
            continue  # two refs of the push at one commit
        count = schedule_commit(git, recorded.push, commit, fingerprint, lint)
        if count:
            tasks.check_commit(commit.id)
        pending[commit.id] = count
    # The tips this push moved branches away from wait behind every newest tip.
    supersede(recorded.push.repo_id, [old for _, old, _ in recorded.push.updates
                                      if old.strip("0")], keep=git.branch_tips())
    return pending


def _history_done(push_id: int, tasks: Tasks) -> None:
    Push.update(history_at=utcnow()).where(Push.id == push_id).execute()
    if claim_report(push_id):
        tasks.report(push_id)  # every result was reused: report now


def history(settings: Settings, push_id: int, exclude: set[int]) -> list[Commit]:
    """The push's commits to check besides its tips (`exclude`), newest first (at most
    `checker.max_commits_per_push`); those with check rows already are left out."""
    newest = (Commit.select().where(Commit.push == push_id).order_by(Commit.id.desc())
              .limit(settings.checker.max_commits_per_push))
    candidates = [c for c in newest if c.id not in exclude]
    checked = {row.commit_id for row in Check.select(Check.commit).where(
        Check.commit.in_([c.id for c in candidates])).distinct()}
    return [c for c in candidates if c.id not in checked]


def schedule_history(settings: Settings, push_id: int, tasks: Tasks) -> None:
    """The queued task: check rows for the push's tips (when the push did not wait for them),
    then for the commits behind them, newest first."""
    push = Push.get_by_id(push_id)
    if push.history_at is not None:
        return  # a repeated delivery
    git = GitRepo.of(settings, push.repo)
    # Recorded already (finish_push queued this task after recording): only its tips to find
    recorded = recorded_tips(push, git) or record_commits(push, git)
    tips = _schedule_tips(settings, git, recorded, tasks)
    lint = lint_settings.of(push.repo)
    fingerprint = repo_fingerprint(settings, lint)
    queued = [commit.id for commit in history(settings, push_id, exclude=set(tips))
              if schedule_commit(git, push, commit, fingerprint, lint, lane=LANE_HISTORY)]
    if queued:
        tasks.check_commit(queued[0])  # one wake-up: each worker wakes the next while work waits
    _history_done(push_id, tasks)


def finish_push(settings: Settings, push_id: int, tasks: Tasks, wait: bool = True
                ) -> tuple[RecordedPush, dict[int, int]]:
    """Record the push's commits and queue its checks (idempotent: safe to repeat).

    `wait`: the tips' check rows are made here, for a pusher who waits for the verdict;
    otherwise the `schedule_history` task makes every row of the push, on the repo queue.
    """
    push = Push.get_by_id(push_id)
    git = GitRepo.of(settings, push.repo)
    recorded = record_commits(push, git)
    if wait:
        pending = schedule(settings, git, recorded, tasks)
    else:
        pending = {}
        queue_history(push_id, tasks)
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
        finish_push(settings, push.id, tasks, wait=False)
    lost = Push.select(Push.id).where(
        Push.history_at.is_null() & Push.recorded_at.is_null(False)
        & (Push.history_queued_at < now - timedelta(seconds=HISTORY_STALE_S)))
    for push in lost.iterator():
        logger.warning("queueing again the history checks of push %d (task lost)", push.id)
        queue_history(push.id, tasks)


def recheck_tip(settings: Settings, repo: Repo, tasks: Tasks) -> Commit | None:
    """Check the default branch's tip again under the repository's current lint settings
    (after the owner changed them); return that commit, None when there is none yet."""
    git = GitRepo.find(settings.repos_dir, repo)
    sha = resolve_ref(git, repo, repo.default_branch) if git is not None else None
    commit = get_commit(repo, sha) if sha is not None else None
    if git is None or commit is None:
        return None
    lint = lint_settings.of(repo)
    if recheck_commit(git, commit, repo_fingerprint(settings, lint), lint):
        tasks.check_commit(commit.id)
    return commit
