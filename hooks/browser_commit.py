"""Commits made in the browser (upload, edit, delete) or the contents API, server-side.

They follow the road of a push: every new entry is checked with the push policy's own functions
before any object is written (so a refused change leaves nothing behind), the branch moves by
compare-and-swap, and the result is recorded and scheduled exactly as post-receive does it.
A branch that moved since the user loaded the form is never overwritten: the change is refused
with `StaleBranch` and the caller shows the user's text again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from checker.tasks import Tasks
from gitserver.core.config import Settings
from gitserver.core.gitrepo import FILE_MODE, GitRepo, TreeEdit
from gitserver.core.models import Commit, Repo, User

from .enqueue import schedule
from .policy import Problem, file_problem
from .record import fix_default_branch, record_push
from .updates import ZERO, RefUpdate

MAX_PATH = 4096
STALE = ("the branch changed since you opened the editor; your text is below, copy it and "
         "reopen")


class BrowserCommitRefused(Exception):
    """The change cannot be committed; str(exc) tells the user why and what to do."""


class StaleBranch(BrowserCommitRefused):
    """The branch moved since the form was loaded (or is moving right now)."""

    def __init__(self) -> None:
        super().__init__(STALE)


class ChangesRefused(BrowserCommitRefused):
    """Some changes break the push policy or do not fit the branch; nothing was committed.

    `reasons` keeps each in the order of the changes: a policy `Problem` as data (the API says
    it in its own words), anything else as the sentence the user reads.
    """

    def __init__(self, reasons: list[Problem | str]) -> None:
        super().__init__("; ".join(browser_words(r) if isinstance(r, Problem) else r
                                   for r in reasons) + ". Nothing was committed.")
        self.reasons = reasons


def browser_words(problem: Problem) -> str:
    """A policy problem as the browser tells it: the path, what is wrong, what to do.

    No git commands here: whoever changes files in the browser fixes them in the browser.
    """
    return f"{problem.path}: {problem.what}" + (f"; {problem.hint}" if problem.hint else "")


@dataclass(frozen=True)
class FileChange:
    """One file to write (data) or delete (None)."""
    path: str
    data: bytes | None  # None deletes the file


@dataclass(frozen=True)
class BrowserCommit:
    """The commit made: its sha and its recorded row."""
    sha: str
    commit: Commit  # the recorded row; its checks are scheduled


def clean_path(raw: str) -> str:
    """A repository path from user input: '/'-separated, no empty, '.' or '..' parts."""
    path = raw.strip().replace("\\", "/").strip("/")
    if not path:
        raise BrowserCommitRefused("give the file a name ending in .py")
    if len(path.encode("utf-8")) > MAX_PATH:
        raise BrowserCommitRefused(f"the path is longer than {MAX_PATH} bytes; shorten it")
    if any(part == "" for part in path.split("/")):
        raise BrowserCommitRefused(f"{path}: empty folder names ('//') are not allowed")
    return path


def _conflict(git: GitRepo, tip: str | None, change: FileChange) -> str | None:
    """What keeps the change from fitting the branch's tree, or None."""
    parts = change.path.split("/")
    for depth in range(1, len(parts)):
        found = git.entry_at(tip, "/".join(parts[:depth])) if tip else None
        if found is not None and not found.is_dir:
            return f"{change.path}: {'/'.join(parts[:depth])} is a file, not a folder"
    found = git.entry_at(tip, change.path) if tip else None
    if found is not None and found.is_dir:
        return f"{change.path} is a folder; choose another name"
    if change.data is None and found is None:
        return f"{change.path} does not exist on this branch (deleted already?); reload the page"
    return None


def _validate(git: GitRepo, tip: str | None, changes: list[FileChange],
              max_file_bytes: int) -> None:
    reasons: list[Problem | str] = []
    for change in changes:
        reason = (file_problem(change.path, change.data, max_file_bytes)
                  or _conflict(git, tip, change))
        if reason is not None:
            reasons.append(reason)
    paths = [c.path for c in changes]
    if len(set(paths)) != len(paths):
        reasons.append("the same file is named twice; give each file its own name")
    if reasons:
        raise ChangesRefused(reasons)


def _new_tree(git: GitRepo, tip: str | None, changes: list[FileChange]) -> str:
    """Write the changed blobs and the trees above them; the new root tree's sha."""
    edits = []
    for change in changes:
        if change.data is None:
            edits.append(TreeEdit(change.path, None, None))
            continue
        existing = git.entry_at(tip, change.path) if tip else None
        mode = existing.mode if existing else FILE_MODE  # keep an executable bit
        edits.append(TreeEdit(change.path, mode, git.write_blob(change.data)))
    return git.write_tree(tip, edits)


# pylint: disable-next=too-many-arguments  # keyword-only, each a part of the commit
def commit_changes(settings: Settings, tasks: Tasks, git: GitRepo, repo: Repo, user: User, *,
                   branch: str, changes: list[FileChange], message: str,
                   expected_tip: str | None = None) -> BrowserCommit:
    """Commit `changes` on top of `branch` of `git` (the repo's repository) as `user`; record
    and schedule its checks.

    With `expected_tip` (the tip the user's form was built on; "" for an empty branch) the
    commit is refused with StaleBranch when the branch is elsewhere now.
    """
    if not changes:
        raise BrowserCommitRefused("choose at least one file")
    if not message.strip():
        raise BrowserCommitRefused("write a commit message")
    old = git.branch_tip(branch)
    if expected_tip is not None and (old or "") != expected_tip:
        raise StaleBranch
    _validate(git, old, changes, settings.limits.max_file_bytes)
    tree = _new_tree(git, old, changes)
    if old is not None and tree == git.commit(old).tree:
        raise BrowserCommitRefused("the files are the same as on the branch; nothing to commit")
    new = git.write_commit(tree=tree, parents=[old] if old else [],
                           person=f"{user.username} <{user.email}>",
                           message=message.replace("\r\n", "\n").strip() + "\n",
                           when=int(time.time()))
    ref = f"refs/heads/{branch}"
    if not git.move_ref(ref, old, new):
        raise StaleBranch  # the branch moved (or is moving) since `old` was read
    update = RefUpdate(old or ZERO, new, ref)
    return _record(settings, tasks, git, repo, user, update=update)


# pylint: disable-next=too-many-arguments  # the parts of one browser commit
def _record(settings: Settings, tasks: Tasks, git: GitRepo, repo: Repo, user: User, *,
            update: RefUpdate) -> BrowserCommit:
    """Record the commit as post-receive records a push, and queue its checks."""
    fix_default_branch(repo, git, [update])
    recorded = record_push(repo, git, user.id, [update])
    schedule(settings, git, recorded, tasks)
    return BrowserCommit(update.new, recorded.tips[0][1])
