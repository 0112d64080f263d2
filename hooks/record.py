"""Record an accepted push: a Push row, a Commit row per new commit, its file changes.

Shared by post-receive and the browser's upload/edit/delete, which make commits server-side.
A commit already recorded for the repo is never recorded twice, so re-pushing is harmless.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from gitserver.core.gitrepo import CommitInfo, GitRepo
from gitserver.core.models import (
    CHANGE_ADDED,
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


@dataclass
class RecordedPush:
    """A recorded push: its row, its tips and the commits new to the database."""
    push: Push
    tips: list[tuple[str, Commit]] = field(default_factory=list)  # (ref, commit) per pushed tip
    new_commits: list[Commit] = field(default_factory=list)  # oldest first


def _utc(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def _unrecorded(repo: Repo, git: GitRepo, tips: Iterable[CommitInfo]) -> list[CommitInfo]:
    """Commits reachable from tips that the database does not hold yet, oldest first."""
    found: dict[str, CommitInfo] = {}
    stack = list(tips)
    while stack:
        batch = [c for c in stack if c.sha not in found]
        stack = []
        if not batch:
            break
        known = {row.sha for row in Commit.select(Commit.sha).where(
            (Commit.repo == repo) & Commit.sha.in_([c.sha for c in batch])).iterator()}
        for commit in batch:
            if commit.sha in known or commit.sha in found:
                continue
            found[commit.sha] = commit
            stack.extend(git.commit(p) for p in commit.parents)
    return _parents_first(found)


def _parents_first(commits: dict[str, CommitInfo]) -> list[CommitInfo]:
    """Topological order, so row ids grow from parent to child (dates can tie or lie)."""
    order: list[CommitInfo] = []
    done: set[str] = set()
    for start in sorted(commits.values(), key=lambda c: (c.committed_at, c.sha)):
        stack = [(start.sha, False)]
        while stack:
            sha, expanded = stack.pop()
            if expanded:
                order.append(commits[sha])
            elif sha not in done and sha in commits:
                done.add(sha)
                stack.append((sha, True))
                stack.extend((p, False) for p in reversed(commits[sha].parents))
    return order


def _file_versions(git: GitRepo, commit: CommitInfo, row: Commit) -> list[dict]:
    parent = commit.parents[0] if commit.parents else None
    return [{"commit": row.id, "path": change.path, "blob_sha": change.blob,
             "change": change.kind} for change in git.changed_files(parent, commit.sha)]


def _commit_row(repo: Repo, push: Push, commit: CommitInfo) -> Commit:
    author_name, _, author_email = commit.author.partition(" <")
    return Commit.create(
        repo=repo, push=push, sha=commit.sha,
        parent_sha=commit.parents[0] if commit.parents else None,
        message=commit.message,
        author_name=author_name.strip()[:255], author_email=author_email.rstrip(">")[:255],
        authored_at=_utc(commit.authored_at), committed_at=_utc(commit.committed_at))


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
                sha = git.peel_commit(new)
                if sha is not None:
                    tip_commits[ref] = git.commit(sha)
        recorded = RecordedPush(push)
        rows: dict[str, Commit] = {}
        for commit in _unrecorded(repo, git, tip_commits.values()):
            row = _commit_row(repo, push, commit)
            rows[row.sha] = row
            recorded.new_commits.append(row)
            bulk_insert(FileVersion, _file_versions(git, commit, row))
        for ref, commit in tip_commits.items():
            sha = commit.sha
            row = rows.get(sha) or Commit.get((Commit.repo == repo) & (Commit.sha == sha))
            recorded.tips.append((ref, row))
        Repo.update(updated_at=utcnow()).where(Repo.id == repo.id).execute()
    return recorded


def record_push(repo: Repo, git: GitRepo, pusher_id: int | None,
                updates: list[RefUpdate]) -> RecordedPush:
    """Create the Push row and record its commits in one go."""
    return record_commits(create_push(repo, pusher_id, updates), git)


def changed_py_files(git: GitRepo, updates: list[RefUpdate], base_branch: str) -> int:
    """How many .py blobs the pushed tips add or change: what a push will have to lint.

    A new branch is compared with `base_branch` (the default branch), so pushing a topic branch
    that changes one file counts one file, not the whole tree.
    """
    base = git.branch_tip(base_branch)
    count = 0
    for update in updates:
        if update.deleted:
            continue
        new = git.peel_commit(update.new)
        old_sha = base if update.created else update.old
        old = git.peel_commit(old_sha) if old_sha and git.has_object(old_sha) else None
        if new is None:
            continue
        count += sum(1 for change in git.changed_files(old, new)
                     if change.kind in (CHANGE_ADDED, CHANGE_MODIFIED)
                     and change.path.endswith(".py"))
    return count


def fix_default_branch(repo: Repo, git: GitRepo, updates: list[RefUpdate]) -> None:
    """Like GitHub: when HEAD names no branch yet, the first pushed branch becomes the default."""
    head = git.head_ref()
    if head is not None and git.ref_target(head) is not None:
        return
    branches = [u.branch for u in updates if u.branch and not u.deleted]
    if not branches:
        return
    branch = "main" if "main" in branches else branches[0]
    if not git.set_head_branch(branch):
        return  # a concurrent first push is choosing the default branch right now
    Repo.update(default_branch=branch).where(Repo.id == repo.id).execute()
