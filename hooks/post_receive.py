"""post-receive: record the push, queue its checks, and tell the pusher where the results are.

git runs this after every ref of the push has moved. Its output reaches the pusher as `remote:`
lines while `git push` is still waiting, so it stays quick: recording is a few inserts.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import timedelta

from dulwich.file import FileLocked
from dulwich.repo import Repo as GitRepo

from checker.queue import create_huey
from checker.schedule import commits_to_check, current_fingerprint, schedule_commit
from checker.tasks import Tasks, claim_report, register_tasks
from gitserver.config import Settings
from gitserver.models import Push, Repo, utcnow
from gitserver.repos import repo_path

from .process import run_as_process
from .record import RecordedPush, changed_py_files, create_push, record_commits
from .updates import HookCall, RefUpdate
from .verdict import budget, verdict_lines, wait_for, worth_waiting

logger = logging.getLogger(__name__)


def status_url(settings: Settings, repo: Repo, sha: str) -> str:
    """The web page of a commit's check results."""
    return f"{settings.server.base_url}/{repo.owner.username}/{repo.name}/commit/{sha}"


def fix_default_branch(repo: Repo, git: GitRepo, updates: list[RefUpdate]) -> None:
    """Like GitHub: when HEAD names no branch yet, the first pushed branch becomes the default."""
    head = git.refs.read_ref(b"HEAD") or b""
    target = head[len(b"ref: "):] if head.startswith(b"ref: ") else b""
    if target and target in git.refs:
        return
    branches = [u.branch for u in updates if u.branch and not u.deleted]
    if not branches:
        return
    branch = "main" if "main" in branches else branches[0]
    try:
        git.refs.set_symbolic_ref(b"HEAD", f"refs/heads/{branch}".encode())
    except FileLocked:
        return  # a concurrent first push is choosing the default branch right now
    Repo.update(default_branch=branch).where(Repo.id == repo.id).execute()


def schedule(settings: Settings, git: GitRepo, recorded: RecordedPush,
             tasks: Tasks | None = None) -> dict[int, int]:
    """Create check rows and enqueue them; return commit id -> pending files for the tips."""
    tasks = tasks or register_tasks(create_huey(settings), settings)
    fingerprint = current_fingerprint(settings)
    tip_ids = {commit.id for _, commit in recorded.tips}
    pending: dict[int, int] = {}
    chosen = commits_to_check([c for _, c in recorded.tips], recorded.new_commits,
                              settings.checker.max_commits_per_push)
    for commit in chosen:
        count = schedule_commit(git, recorded.push, commit, fingerprint)
        if count:
            tasks.check_commit(commit.id)
        if commit.id in tip_ids:
            pending[commit.id] = count
    if recorded.tips and claim_report(recorded.push.id):
        tasks.send_report(recorded.push.id)  # every result was reused: report at once
    return pending


def finish_push(settings: Settings, push_id: int, tasks: Tasks | None = None
                ) -> tuple[RecordedPush, dict[int, int]]:
    """Record the push's commits and queue its checks (idempotent: safe to repeat)."""
    push = Push.get_by_id(push_id)
    git = GitRepo(str(repo_path(settings.repos_dir, push.repo.owner.username, push.repo.name)))
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


def say_urls(settings: Settings, repo: Repo, tips: list[tuple[str, str]],
             say: Callable[[str], None]) -> None:
    """Tell the pusher where each tip's results are (or will be, while checks run)."""
    for ref, sha in tips:
        url = status_url(settings, repo, sha)
        if settings.checker.push_wait_s <= 0:
            say(f"{short_ref(ref)} {sha[:7]}: {url}")
        else:
            say(f"{short_ref(ref)} {sha[:7]}: checks are still running; the results will be at")
            say(f"  {url}")
            say("  and in your report mail.")


def short_ref(ref: str) -> str:
    """A branch or tag name without its refs/heads/ or refs/tags/ prefix."""
    return ref.rsplit("/", 1)[-1] if ref.startswith(("refs/heads/", "refs/tags/")) else ref


def say_verdict(settings: Settings, repo: Repo, recorded: RecordedPush,
                say: Callable[[str], None]) -> None:
    """Wait up to `checker.push_wait_s` for the tips' checks; say the verdict or the URLs."""
    tips = [commit for _, commit in recorded.tips]
    if not wait_for(tips, time.monotonic() + settings.checker.push_wait_s):
        say_urls(settings, repo, [(ref, c.sha) for ref, c in recorded.tips], say)
        return
    lines_left = budget()
    for ref, commit in recorded.tips:
        url = status_url(settings, repo, commit.sha)
        for line in verdict_lines(short_ref(ref), commit, url, lines_left):
            say(line)


def run(settings: Settings, call: HookCall, tasks: Tasks | None = None) -> int:
    """The post-receive hook: record the push, queue its checks, tell the pusher."""
    repo = Repo.get_by_id(call.int_env("GITSERVER_REPO_ID"))
    git = GitRepo(str(call.git_dir))
    # The Push row first: if anything after it fails, the requeuer finishes the push.
    push = create_push(repo, call.int_env("GITSERVER_PUSHER_ID"), call.updates)
    fix_default_branch(repo, git, call.updates)
    tips = [(u.ref, u.new) for u in call.updates if not u.deleted]
    changed = changed_py_files(git, call.updates, f"refs/heads/{repo.default_branch}".encode())
    if tips and worth_waiting(settings, changed):
        recorded, pending = finish_push(settings, push.id, tasks)
        if worth_waiting(settings, sum(pending.values())):
            say_verdict(settings, repo, recorded, call.out)
        else:
            say_urls(settings, repo, [(r, c.sha) for r, c in recorded.tips], call.out)
        return 0
    # Too much to lint while git waits: answer now, record and queue right after.
    say_urls(settings, repo, tips, call.out)
    call.defer(lambda: finish_push(settings, push.id, tasks))
    return 0


if __name__ == "__main__":
    sys.exit(run_as_process(run))
