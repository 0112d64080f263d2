"""Recording a push and queueing its checks: shared by post-receive and browser commits.

`finish_push` is idempotent, so the requeuer can finish a push whose recording was lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from checker.schedule import commits_to_check, recheck_commit, repo_fingerprint, schedule_commit
from checker.tasks import Tasks, claim_report
from gitserver.core import lint_settings
from gitserver.core.config import Settings
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Commit, Push, Repo, utcnow
from gitserver.core.queries import get_commit, resolve_ref

from .record import RecordedPush, record_commits

logger = logging.getLogger(__name__)


def schedule(settings: Settings, git: GitRepo, recorded: RecordedPush,
             tasks: Tasks) -> dict[int, int]:
    """Create check rows and enqueue them; return commit id -> pending files for the tips."""
    lint = lint_settings.of(recorded.push.repo)
    fingerprint = repo_fingerprint(settings, lint)
    tip_ids = {commit.id for _, commit in recorded.tips}
    pending: dict[int, int] = {}
    chosen = commits_to_check([c for _, c in recorded.tips], recorded.new_commits,
                              settings.checker.max_commits_per_push)
    for commit in chosen:
        count = schedule_commit(git, recorded.push, commit, fingerprint, lint)
        if count:
            tasks.check_commit(commit.id)
        if commit.id in tip_ids:
            pending[commit.id] = count
    if recorded.tips and claim_report(recorded.push.id):
        tasks.report(recorded.push.id)  # every result was reused: report now
    return pending


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
    """Finish pushes whose recording after git's reply was lost (a crash, a restart)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    for push in Push.select(Push.id).where(Push.recorded_at.is_null()
                                           & (Push.created_at < cutoff)).iterator():
        logger.warning("finishing push %d, which was left unrecorded", push.id)
        finish_push(settings, push.id, tasks)


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
