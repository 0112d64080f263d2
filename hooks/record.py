"""Record an accepted push: a Push row, a Commit row per new commit, its file changes.

Shared by post-receive and the browser's upload/edit/delete, which make commits server-side.
A commit already recorded for the repo is never recorded twice, so re-pushing is harmless.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from dulwich.diff_tree import tree_changes
from dulwich.file import FileLocked
from dulwich.objects import Commit as GitCommit
from dulwich.objects import Tag
from dulwich.repo import Repo as GitRepo

from gitserver.core.models import (
    CHANGE_ADDED,
    CHANGE_DELETED,
    CHANGE_MODIFIED,
    Commit,
    FileVersion,
    Push,
    Repo,
    bulk_insert,
    database,
    utcnow,
)

from .updates import RefUpdate

_CHANGE_KINDS = {"add": CHANGE_ADDED, "delete": CHANGE_DELETED, "modify": CHANGE_MODIFIED}


@dataclass
class RecordedPush:
    """A recorded push: its row, its tips and the commits new to the database."""
    push: Push
    tips: list[tuple[str, Commit]] = field(default_factory=list)  # (ref, commit) per pushed tip
    new_commits: list[Commit] = field(default_factory=list)  # oldest first


def _utc(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def _peel(git: GitRepo, sha: bytes) -> GitCommit | None:
    obj = git[sha]
    while isinstance(obj, Tag):
        obj = git[obj.object[1]]
    return obj if isinstance(obj, GitCommit) else None


def _unrecorded(repo: Repo, git: GitRepo, tips: Iterable[GitCommit]) -> list[GitCommit]:
    """Commits reachable from tips that the database does not hold yet, oldest first."""
    found: dict[bytes, GitCommit] = {}
    stack = list(tips)
    while stack:
        batch = [c for c in stack if c.id not in found]
        stack = []
        if not batch:
            break
        known = {row.sha for row in Commit.select(Commit.sha).where(
            (Commit.repo == repo) & Commit.sha.in_([c.id.decode() for c in batch])).iterator()}
        for commit in batch:
            if commit.id.decode() in known or commit.id in found:
                continue
            found[commit.id] = commit
            stack.extend(git[p] for p in commit.parents)
    return _parents_first(found)


def _parents_first(commits: dict[bytes, GitCommit]) -> list[GitCommit]:
    """Topological order, so row ids grow from parent to child (dates can tie or lie)."""
    order: list[GitCommit] = []
    done: set[bytes] = set()
    for start in sorted(commits.values(), key=lambda c: (c.commit_time, c.id)):
        stack = [(start.id, False)]
        while stack:
            sha, expanded = stack.pop()
            if expanded:
                order.append(commits[sha])
            elif sha not in done and sha in commits:
                done.add(sha)
                stack.append((sha, True))
                stack.extend((p, False) for p in reversed(commits[sha].parents))
    return order


def _file_versions(git: GitRepo, commit: GitCommit, row: Commit) -> list[dict]:
    parent_tree = git[commit.parents[0]].tree if commit.parents else None
    versions = []
    for change in tree_changes(git.object_store, parent_tree, commit.tree):
        kind = _CHANGE_KINDS.get(change.type)
        if kind is None:
            continue
        entry = change.new if kind != CHANGE_DELETED else change.old
        versions.append({"commit": row.id, "path": entry.path.decode("utf-8"),
                         "blob_sha": None if kind == CHANGE_DELETED else entry.sha.decode(),
                         "change": kind})
    return versions


def _commit_row(repo: Repo, push: Push, commit: GitCommit) -> Commit:
    author_name, _, author_email = commit.author.decode("utf-8", "replace").partition(" <")
    return Commit.create(
        repo=repo, push=push, sha=commit.id.decode(),
        parent_sha=commit.parents[0].decode() if commit.parents else None,
        message=commit.message.decode("utf-8", "replace"),
        author_name=author_name.strip()[:255], author_email=author_email.rstrip(">")[:255],
        authored_at=_utc(commit.author_time), committed_at=_utc(commit.commit_time))


def create_push(repo: Repo, pusher_id: int | None, updates: list[RefUpdate]) -> Push:
    """The Push row of these ref updates (its commits are recorded by record_commits)."""
    return Push.create(repo=repo, pusher=pusher_id, ref_updates=json.dumps(
        [[u.ref, u.old, u.new] for u in updates]))


def record_commits(push: Push, git: GitRepo) -> RecordedPush:
    """Record the push's new commits and their file changes; safe to run again."""
    repo = push.repo
    with database.atomic():
        tip_commits = {}
        for ref, _old, new in push.updates:
            if new != "0" * 40:
                commit = _peel(git, new.encode())
                if commit is not None:
                    tip_commits[ref] = commit
        recorded = RecordedPush(push)
        rows: dict[str, Commit] = {}
        for commit in _unrecorded(repo, git, tip_commits.values()):
            row = _commit_row(repo, push, commit)
            rows[row.sha] = row
            recorded.new_commits.append(row)
            bulk_insert(FileVersion, _file_versions(git, commit, row))
        for ref, commit in tip_commits.items():
            sha = commit.id.decode()
            row = rows.get(sha) or Commit.get((Commit.repo == repo) & (Commit.sha == sha))
            recorded.tips.append((ref, row))
        Repo.update(updated_at=utcnow()).where(Repo.id == repo.id).execute()
    return recorded


def record_push(repo: Repo, git: GitRepo, pusher_id: int | None,
                updates: list[RefUpdate]) -> RecordedPush:
    """Create the Push row and record its commits in one go."""
    return record_commits(create_push(repo, pusher_id, updates), git)


def changed_py_files(git: GitRepo, updates: list[RefUpdate], base_ref: bytes) -> int:
    """How many .py blobs the pushed tips add or change: what a push will have to lint.

    A new branch is compared with `base_ref` (the default branch), so pushing a topic branch
    that changes one file counts one file, not the whole tree.
    """
    base = git.refs[base_ref] if base_ref in git.refs else None
    count = 0
    for update in updates:
        if update.deleted:
            continue
        new = _peel(git, update.new.encode())
        old_sha = base if update.created else update.old.encode()
        old = _peel(git, old_sha) if old_sha and old_sha in git else None
        if new is None:
            continue
        for change in tree_changes(git.object_store, old.tree if old else None, new.tree):
            if change.type in ("add", "modify") and change.new.path.endswith(b".py"):
                count += 1
    return count


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
