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
from dulwich.objects import Commit as GitCommit
from dulwich.objects import Tag
from dulwich.repo import Repo as GitRepo

from gitserver.models import (
    CHANGE_ADDED,
    CHANGE_DELETED,
    CHANGE_MODIFIED,
    Commit,
    FileVersion,
    Push,
    Repo,
    database,
    utcnow,
)

from .updates import RefUpdate

_CHANGE_KINDS = {"add": CHANGE_ADDED, "delete": CHANGE_DELETED, "modify": CHANGE_MODIFIED}


@dataclass
class RecordedPush:
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
            (Commit.repo == repo) & Commit.sha.in_([c.id.decode() for c in batch]))}
        for commit in batch:
            if commit.id.decode() in known or commit.id in found:
                continue
            found[commit.id] = commit
            stack.extend(git[p] for p in commit.parents)
    return sorted(found.values(), key=lambda c: (c.commit_time, c.id))


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


def record_push(repo: Repo, git: GitRepo, pusher_id: int | None,
                updates: list[RefUpdate]) -> RecordedPush:
    with database.atomic():
        push = Push.create(repo=repo, pusher=pusher_id, ref_updates=json.dumps(
            [[u.ref, u.old, u.new] for u in updates]))
        tip_commits = {}
        for update in updates:
            if not update.deleted:
                commit = _peel(git, update.new.encode())
                if commit is not None:
                    tip_commits[update.ref] = commit
        recorded = RecordedPush(push)
        rows: dict[str, Commit] = {}
        for commit in _unrecorded(repo, git, tip_commits.values()):
            row = _commit_row(repo, push, commit)
            rows[row.sha] = row
            recorded.new_commits.append(row)
            versions = _file_versions(git, commit, row)
            if versions:
                FileVersion.insert_many(versions).execute()
        for ref, commit in tip_commits.items():
            sha = commit.id.decode()
            row = rows.get(sha) or Commit.get((Commit.repo == repo) & (Commit.sha == sha))
            recorded.tips.append((ref, row))
        Repo.update(updated_at=utcnow()).where(Repo.id == repo.id).execute()
    return recorded
