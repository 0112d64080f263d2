"""post-receive: record the push, queue its checks, and tell the pusher where the results are.

git runs this after every ref of the push has moved. Its output reaches the pusher as `remote:`
lines while `git push` is still waiting, so it stays quick: recording is a few inserts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from dulwich.repo import Repo as GitRepo

from checker.queue import create_huey
from checker.schedule import commits_to_check, current_fingerprint, schedule_commit
from checker.tasks import Tasks, claim_report, register_tasks
from gitserver.config import Settings, load_settings
from gitserver.models import Repo, init_db

from .record import RecordedPush, record_push
from .updates import HookCall, RefUpdate, from_process
from .verdict import budget, verdict_lines, wait_for, worth_waiting


def status_url(settings: Settings, repo: Repo, sha: str) -> str:
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
    git.refs.set_symbolic_ref(b"HEAD", f"refs/heads/{branch}".encode())
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


def report(settings: Settings, repo: Repo, recorded: RecordedPush,
           pending: dict[int, int], say: Callable[[str], None]) -> None:
    if not recorded.tips:
        return
    tips = [commit for _, commit in recorded.tips]
    waited = False
    if worth_waiting(settings, sum(pending.values())):
        waited = wait_for(tips, time.monotonic() + settings.checker.push_wait_s)
    lines_left = budget()
    for ref, commit in recorded.tips:
        name = ref.rsplit("/", 1)[-1] if ref.startswith(("refs/heads/", "refs/tags/")) else ref
        url = status_url(settings, repo, commit.sha)
        if waited:
            for line in verdict_lines(name, commit, url, lines_left):
                say(line)
        elif settings.checker.push_wait_s <= 0:
            say(f"{name} {commit.sha[:7]}: {url}")
        else:
            say(f"{name} {commit.sha[:7]}: checks are still running; the results will be at")
            say(f"  {url}")
            say("  and in your report mail.")


def run(settings: Settings, call: HookCall, tasks: Tasks | None = None) -> int:
    repo = Repo.get_by_id(call.int_env("GITSERVER_REPO_ID"))
    git = GitRepo(str(call.git_dir))
    fix_default_branch(repo, git, call.updates)
    recorded = record_push(repo, git, call.int_env("GITSERVER_PUSHER_ID"), call.updates)
    pending = schedule(settings, git, recorded, tasks)
    report(settings, repo, recorded, pending, call.out)
    return 0


def main() -> int:
    """Run as git's hook process (when the server's hook socket is not there)."""
    settings = load_settings()
    init_db(settings.database_url)
    return run(settings, from_process())


if __name__ == "__main__":
    sys.exit(main())
