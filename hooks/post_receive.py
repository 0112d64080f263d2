"""post-receive: record the push, queue its checks, and tell the pusher where the results are.

git runs this after every ref of the push has moved. Its output reaches the pusher as `remote:`
lines while `git push` is still waiting, so it stays quick: recording is a few inserts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from checker.schedule import queue_user
from checker.tasks import Tasks
from gitserver.core.config import Settings
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Repo
from gitserver.core.queries import commit_feedback
from gitserver.core.urls import commit_url

from . import push_options
from .enqueue import finish_push
from .record import RecordedPush, changed_py_files, create_push, fix_default_branch
from .updates import HookCall
from .verdict import (
    QueueWait,
    budget,
    explain_line,
    feedback_lines,
    queue_wait,
    wait_for,
    worth_waiting,
)

logger = logging.getLogger(__name__)


def status_url(settings: Settings, repo: Repo, sha: str) -> str:
    """The web page of a commit's check results."""
    return commit_url(settings.server.base_url, repo.owner.username, repo.name, sha)


# pylint: disable-next=too-many-arguments  # what the lines say, and where
def say_urls(settings: Settings, repo: Repo, tips: list[tuple[str, str]],
             say: Callable[[str], None], wait_s: float, *,
             queue: QueueWait | None = None) -> None:
    """Tell the pusher where each tip's results are (or will be, while checks run), and the
    push's place in the queue when others' files come first."""
    for ref, sha in tips:
        url = status_url(settings, repo, sha)
        if wait_s <= 0:
            say(f"{short_ref(ref)} {sha[:7]}: {url}")
        else:
            say(f"{short_ref(ref)} {sha[:7]}: checks are still running; the results will be at")
            say(f"  {url}")
            say("  and in your report mail.")
    line = queue.line() if queue is not None and tips else None
    if line:
        say(line)


def short_ref(ref: str) -> str:
    """A branch or tag name without its refs/heads/ or refs/tags/ prefix."""
    return ref.rsplit("/", 1)[-1] if ref.startswith(("refs/heads/", "refs/tags/")) else ref


def say_verdict(settings: Settings, repo: Repo, recorded: RecordedPush,
                say: Callable[[str], None], wait_s: float) -> None:
    """Wait up to `wait_s` for the tips' checks; say the verdict or the URLs.

    The verdict leads with what the push changed; it ends with one "explain:" link for the
    first new error of the push.
    """
    tips = [commit for _, commit in recorded.tips]
    if not wait_for(tips, time.monotonic() + wait_s):
        say_urls(settings, repo, [(ref, c.sha) for ref, c in recorded.tips], say, wait_s)
        return
    lines_left = budget()
    explain = None
    for ref, commit in recorded.tips:
        url = status_url(settings, repo, commit.sha)
        found = commit_feedback(commit)
        for line in feedback_lines(short_ref(ref), found, url, lines_left):
            say(line)
        explain = explain or explain_line(settings.server.base_url, found)
    if explain:
        say(explain)


def run(settings: Settings, call: HookCall, tasks: Tasks) -> int:
    """The post-receive hook: record the push, queue its checks, tell the pusher.

    A pusher waits `wait_s` at most from here, recording included: when recording took most of
    it (thirty pushes at once), the push answers with its URLs instead of waiting on.
    """
    started = time.monotonic()
    repo = Repo.get_by_id(call.int_env("GITSERVER_REPO_ID"))
    git = GitRepo(str(call.git_dir))
    options = push_options.parse(call.env)  # pre-receive refused the push if this fails
    wait_s = settings.checker.push_wait_s if options.wait_s is None else options.wait_s
    # The Push row first: if anything after it fails, the requeuer finishes the push.
    push = create_push(repo, call.int_env("GITSERVER_PUSHER_ID"), call.updates,
                       notify=options.notify)
    fix_default_branch(repo, git, call.updates)
    tips = [(u.ref, u.new) for u in call.updates if not u.deleted]
    user = queue_user(push)
    # The files to lint, and the queue ahead of them, matter only to a pusher who would wait
    queue = queue_wait(settings, [], user, own=changed_py_files(
        git, call.updates, repo.default_branch)) if tips and wait_s > 0 else None
    if queue is not None and worth_waiting(settings, queue, wait_s):
        recorded, _ = finish_push(settings, push.id, tasks)
        queue = queue_wait(settings, [c.id for _, c in recorded.tips], user)
        left = wait_s - (time.monotonic() - started)
        if worth_waiting(settings, queue, left):
            say_verdict(settings, repo, recorded, call.out, left)
        else:
            say_urls(settings, repo, [(r, c.sha) for r, c in recorded.tips], call.out, wait_s,
                     queue=queue)
        return 0
    # Too much to lint while git waits: answer now, record and queue right after.
    say_urls(settings, repo, tips, call.out, wait_s, queue=queue)
    call.defer(lambda: finish_push(settings, push.id, tasks, wait=False))
    return 0
