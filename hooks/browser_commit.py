"""Commits made in the browser (upload, edit, delete) or the contents API, server-side.

They follow the road of a push: every new entry is checked with the push policy's own functions
before any object is written (so a refused change leaves nothing behind), the branch moves by
compare-and-swap, and the result is recorded and scheduled exactly as post-receive does it.
A branch that moved since the user loaded the form is never overwritten: the change is refused
with `StaleBranch` and the caller shows the user's text again.
"""

from __future__ import annotations

import re
import stat
import time
from dataclasses import dataclass

from dulwich.file import FileLocked
from dulwich.object_store import commit_tree_changes
from dulwich.objects import Blob, Tree
from dulwich.objects import Commit as GitCommit

from checker.tasks import Tasks
from gitserver.core.config import Settings
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Commit, Repo, User

from .enqueue import schedule
from .policy import blob_problem, entry_problem
from .record import fix_default_branch, record_push
from .updates import ZERO, RefUpdate

MAX_PATH = 4096
_GIT_HINT = re.compile(r"\s*\(`[^`]*`\)")
FILE_MODE = 0o100644
STALE = ("the branch changed since you opened the editor; your text is below, copy it and "
         "reopen")


class BrowserCommitRefused(Exception):
    """The change cannot be committed; str(exc) tells the user why and what to do."""


class StaleBranch(BrowserCommitRefused):
    """The branch moved since the form was loaded (or is moving right now)."""

    def __init__(self) -> None:
        super().__init__(STALE)


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


def path_problem(path: str, data: bytes | None, max_file_bytes: int) -> str | None:
    """The push policy's verdict on one new or changed file, in the same words as a push."""
    parts = path.split("/")
    problems = [entry_problem(folder, stat.S_IFDIR) for folder in parts[:-1]]
    problems.append(entry_problem(parts[-1], FILE_MODE))
    problem = next((p for p in problems if p), None)
    if problem is None and data is not None:
        problem = blob_problem(data, max_file_bytes)
    if problem and "`" in problem:
        # The git command that fixes a push means nothing in a browser.
        problem = _GIT_HINT.sub("", problem).split("; untrack")[0]
    return problem


def _lookup(git: GitRepo, tree_id: bytes | None, path: str) -> tuple[int, bytes] | None:
    """(mode, sha) of `path` in the tree, or None."""
    if tree_id is None:
        return None
    tree = git[tree_id]
    parts = path.encode("utf-8").split(b"/")
    for depth, part in enumerate(parts):
        assert isinstance(tree, Tree)
        if part not in tree:
            return None
        mode, sha = tree[part]
        if depth == len(parts) - 1:
            return mode, sha
        if not stat.S_ISDIR(mode):
            return mode, sha  # a file where a folder is wanted: reported by _conflict
        tree = git[sha]
    return None


def _conflict(git: GitRepo, tree_id: bytes | None, change: FileChange) -> str | None:
    parts = change.path.split("/")
    for depth in range(1, len(parts)):
        found = _lookup(git, tree_id, "/".join(parts[:depth]))
        if found is not None and not stat.S_ISDIR(found[0]):
            return f"{change.path}: {'/'.join(parts[:depth])} is a file, not a folder"
    found = _lookup(git, tree_id, change.path)
    if found is not None and stat.S_ISDIR(found[0]):
        return f"{change.path} is a folder; choose another name"
    if change.data is None and found is None:
        return f"{change.path} does not exist on this branch (deleted already?); reload the page"
    return None


def _validate(git: GitRepo, tree_id: bytes | None, changes: list[FileChange],
              max_file_bytes: int) -> None:
    problems = []
    for change in changes:
        problem = path_problem(change.path, change.data, max_file_bytes)
        if problem is not None:
            problems.append(f"{change.path}: {problem}")
            continue
        problem = _conflict(git, tree_id, change)
        if problem is not None:
            problems.append(problem)
    paths = [c.path for c in changes]
    if len(set(paths)) != len(paths):
        problems.append("the same file is named twice; give each file its own name")
    if problems:
        raise BrowserCommitRefused("; ".join(problems) + ". Nothing was committed.")


def _make_commit(git: GitRepo, user: User, parent: bytes | None, tree_id: bytes,
                 message: str) -> GitCommit:
    commit = GitCommit()
    commit.tree = tree_id
    commit.parents = [parent] if parent else []
    person = f"{user.username} <{user.email}>".encode()
    commit.author = commit.committer = person
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    text = message.replace("\r\n", "\n").strip()
    commit.message = (text + "\n").encode("utf-8")
    git.object_store.add_object(commit)
    return commit


def _move_branch(git: GitRepo, ref: bytes, old: bytes | None, new: bytes) -> None:
    try:
        moved = (git.refs.add_if_new(ref, new) if old is None
                 else git.refs.set_if_equals(ref, old, new))
    except FileLocked:
        moved = False  # a push is moving the branch right now
    if not moved:
        raise StaleBranch


def branch_tip(git: GitRepo, branch: str) -> bytes | None:
    """The sha the branch points at, or None when it does not exist."""
    ref = f"refs/heads/{branch}".encode()
    return git.refs[ref] if ref in git.refs else None


def _new_tree(git: GitRepo, parent_tree: bytes | None, changes: list[FileChange]) -> bytes:
    """Write the changed blobs and the trees above them; the new root tree's sha."""
    entries: list[tuple[bytes, int | None, bytes | None]] = []
    for change in changes:
        if change.data is None:
            entries.append((change.path.encode("utf-8"), None, None))
            continue
        blob = Blob.from_string(change.data)
        git.object_store.add_object(blob)
        existing = _lookup(git, parent_tree, change.path)
        mode = existing[0] if existing else FILE_MODE  # keep an executable bit
        entries.append((change.path.encode("utf-8"), mode, blob.id))
    return commit_tree_changes(git.object_store, parent_tree or Tree(), entries)


# pylint: disable-next=too-many-arguments  # keyword-only, each a part of the commit
def commit_changes(settings: Settings, tasks: Tasks, repo: Repo, user: User, *, branch: str,
                   changes: list[FileChange], message: str,
                   expected_tip: str | None = None) -> BrowserCommit:
    """Commit `changes` on top of `branch` as `user`; record and schedule its checks.

    With `expected_tip` (the tip the user's form was built on; "" for an empty branch) the
    commit is refused with StaleBranch when the branch is elsewhere now.
    """
    if not changes:
        raise BrowserCommitRefused("choose at least one file")
    if not message.strip():
        raise BrowserCommitRefused("write a commit message")
    git = GitRepo.of(settings, repo)
    ref = f"refs/heads/{branch}".encode()
    old = branch_tip(git, branch)
    if expected_tip is not None and (old.decode() if old else "") != expected_tip:
        raise StaleBranch
    parent_tree = git[old].tree if old else None
    _validate(git, parent_tree, changes, settings.limits.max_file_bytes)
    tree_id = _new_tree(git, parent_tree, changes)
    if tree_id == parent_tree:
        raise BrowserCommitRefused("the files are the same as on the branch; nothing to commit")
    new = _make_commit(git, user, old, tree_id, message)
    _move_branch(git, ref, old, new.id)
    update = RefUpdate(str(old, "ascii") if old else ZERO, str(new.id, "ascii"), ref.decode())
    return _record(settings, tasks, git, repo, user, update=update)


# pylint: disable-next=too-many-arguments  # the parts of one browser commit
def _record(settings: Settings, tasks: Tasks, git: GitRepo, repo: Repo, user: User, *,
            update: RefUpdate) -> BrowserCommit:
    """Record the commit as post-receive records a push, and queue its checks."""
    fix_default_branch(repo, git, [update])
    recorded = record_push(repo, git, user.id, [update])
    schedule(settings, git, recorded, tasks)
    return BrowserCommit(update.new, recorded.tips[0][1])
