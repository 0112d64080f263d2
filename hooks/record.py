"""Record an accepted push: a Push row, a Commit row per new commit, its file changes.

Shared by post-receive and the browser's upload/edit/delete, which make commits server-side.
A commit already recorded for the repo is never recorded twice, so re-pushing is harmless.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from gitserver.core.gitbatch import ZERO, CommitDetails, GitBatch
from gitserver.core.gitrepo import GitRepo
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
from gitserver.core.orgs import push_is_late

from .updates import RefUpdate


@dataclass
class RecordedPush:
    """A recorded push: its row, its tips and the commits new to the database."""
    push: Push
    tips: list[tuple[str, Commit]] = field(default_factory=list)  # (ref, commit) per pushed tip
    new_commits: int = 0  # how many commits are new to the database


def _utc(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


_CHANGE_KINDS = {"A": CHANGE_ADDED, "M": CHANGE_MODIFIED, "T": CHANGE_MODIFIED,
                 "D": CHANGE_DELETED}
_CHUNK = 500  # shas per IN (...) query


def _recorded_shas(repo: Repo, shas: list[str]) -> set[str]:
    """Which of these commits the database holds for the repo (a few IN queries)."""
    found: set[str] = set()
    for start in range(0, len(shas), _CHUNK):
        found |= {row.sha for row in Commit.select(Commit.sha).where(
            (Commit.repo == repo) & Commit.sha.in_(shas[start:start + _CHUNK])).iterator()}
    return found


def _unrecorded(repo: Repo, batch: GitBatch, git: GitRepo, tips: list[str],
                olds: list[str]) -> list[str]:
    """Commits reachable from tips that the database does not hold yet, parents first.

    One `rev-list`, stopped at the commits the database is known to hold: the pushed refs'
    old tips and every other branch's tip that is recorded. What it lists anyway (a commit an
    unfinished recording left out, say) is filtered against the database.
    """
    boundary = [sha for sha in [*olds, *git.branch_tips()] if sha and sha not in tips]
    known = _recorded_shas(repo, list(dict.fromkeys(boundary)))
    listed = [c.sha for c in batch.new_commits(tips, exclude=sorted(known))]
    recorded = _recorded_shas(repo, listed)
    return [sha for sha in listed if sha not in recorded]


def _insert_commits(repo: Repo, push: Push, details: list[CommitDetails]) -> dict[str, int]:
    """One batched insert of the commit rows; sha -> row id, in the order given."""
    bulk_insert(Commit, [{
        "repo": repo.id, "push": push.id, "sha": c.sha,
        "parent_sha": c.parents[0] if c.parents else None, "message": c.message,
        "author_name": c.author_name.strip()[:255], "author_email": c.author_email[:255],
        "authored_at": _utc(c.authored_at), "committed_at": _utc(c.committed_at)}
        for c in details])
    ids: dict[str, int] = {}
    shas = [c.sha for c in details]
    for start in range(0, len(shas), _CHUNK):
        part = shas[start:start + _CHUNK]
        ids.update(Commit.select(Commit.sha, Commit.id).where(
            (Commit.repo == repo) & Commit.sha.in_(part)).tuples().iterator())
    return {sha: ids[sha] for sha in shas}


def _file_versions(batch: GitBatch, details: list[CommitDetails]) -> dict[str, list[dict]]:
    """sha -> its changes against its first parent (rows without their commit id), from one
    `diff-tree --stdin` for every commit."""
    pairs = [(c.sha, c.parents[0] if c.parents else None) for c in details]
    versions: dict[str, list[dict]] = {sha: [] for sha, _ in pairs}
    for sha, changes in batch.changes(pairs):
        for change in changes:
            kind = _CHANGE_KINDS.get(change.status)
            if kind is None:
                continue
            versions[sha].append({"path": change.path.decode("utf-8", "replace"),
                                  "blob_sha": None if kind == CHANGE_DELETED else change.new_sha,
                                  "change": kind})
    return versions


def create_push(repo: Repo, pusher_id: int | None, updates: list[RefUpdate],
                notify: bool = True) -> Push:
    """The Push row of these ref updates (its commits are recorded by record_commits).

    `notify=False` (`git push -o notify=none`): its report is never mailed.
    """
    return Push.create(repo=repo, pusher=pusher_id, ref_updates=json.dumps(
        [[u.ref, u.old, u.new] for u in updates]), late=push_is_late(repo),
        report_state="" if notify else "skipped")


def _tip_commits(batch: GitBatch, updates: list[tuple[str, str, str]]) -> dict[str, str]:
    """ref -> the commit its new sha peels to, for the refs that point at commits."""
    peeled = batch.peel_to_commits(new for _, _, new in updates)
    tips: dict[str, str] = {}
    for ref, _, new in updates:
        commit = peeled.get(new)
        if commit is not None:
            tips[ref] = commit
    return tips


def record_commits(push: Push, git: GitRepo) -> RecordedPush:
    """Record the push's new commits and their file changes; safe to run again.

    git's batch tools read the whole push in three processes (rev-list, log, diff-tree) and
    the rows go in with a few batched statements, however many commits the push brings.
    """
    repo = push.repo
    updates = [(ref, old, new) for ref, old, new in push.updates if new != ZERO]
    # git is read outside the transaction: at a deadline thirty pushes record at once, and
    # SQLite has one writer; each holds the write lock only for its inserts.
    with GitBatch(Path(git.controldir())) as batch:
        tip_shas = _tip_commits(batch, updates)
        new_shas = _unrecorded(repo, batch, git, list(dict.fromkeys(tip_shas.values())),
                               [old for _, old, _ in updates if old != ZERO])
        details = list(batch.details(new_shas))
        versions = _file_versions(batch, details)
    with database.atomic():
        # A recording of the same commits may have finished meanwhile (another push of them,
        # the requeuer finishing this one): insert only what is still missing.
        done = _recorded_shas(repo, new_shas)
        ids = _insert_commits(repo, push, [c for c in details if c.sha not in done])
        bulk_insert(FileVersion, [dict(row, commit=commit_id) for sha, commit_id in ids.items()
                                  for row in versions[sha]])
        recorded = RecordedPush(push, new_commits=len(ids))
        for ref, sha in tip_shas.items():
            recorded.tips.append((ref, Commit.get((Commit.repo == repo) & (Commit.sha == sha))))
        Repo.update(updated_at=utcnow()).where(Repo.id == repo.id).execute()
    return recorded


def recorded_tips(push: Push, git: GitRepo) -> RecordedPush | None:
    """The push's tips, read back from the database: the commit each pushed ref peels to
    (one `cat-file`, one query); None when one of them is not recorded (record it then)."""
    updates = [(ref, old, new) for ref, old, new in push.updates if new != ZERO]
    with GitBatch(Path(git.controldir())) as batch:
        tip_shas = _tip_commits(batch, updates)
    wanted = list(dict.fromkeys(tip_shas.values()))
    rows = {c.sha: c for c in Commit.select().where(
        (Commit.repo == push.repo) & Commit.sha.in_(wanted)).iterator()} if wanted else {}
    if len(rows) != len(wanted):
        return None
    return RecordedPush(push, tips=[(ref, rows[sha]) for ref, sha in tip_shas.items()])


def record_push(repo: Repo, git: GitRepo, pusher_id: int | None,
                updates: list[RefUpdate]) -> RecordedPush:
    """Create the Push row and record its commits in one go."""
    return record_commits(create_push(repo, pusher_id, updates), git)


def changed_py_files(git: GitRepo, updates: list[RefUpdate], base_branch: str) -> int:
    """How many .py blobs the pushed tips add or change: what a push will have to lint.

    A new branch is compared with `base_branch` (the default branch), so pushing a topic branch
    that changes one file counts one file, not the whole tree. One `diff-tree --stdin`.
    """
    # The default branch as it was before this push: post-receive runs after the refs moved,
    # and a first push that creates the default branch must count every file, not none.
    before = {u.ref: u.old for u in updates}
    base: str | None = before.get(f"refs/heads/{base_branch}", git.branch_tip(base_branch))
    if base == ZERO:
        base = None
    pairs = []
    for update in updates:
        if update.deleted:
            continue
        old = base if update.created else update.old
        pairs.append((update.new, old if old and git.has_object(old) else None))
    with GitBatch(Path(git.controldir())) as batch:
        peeled = batch.peel_to_commits([sha for pair in pairs for sha in pair if sha])
        count = 0
        wanted: list[tuple[str, str]] = []
        for new, old in pairs:
            commit = peeled.get(new)
            base_commit = peeled.get(old) if old else None
            if commit is None:
                continue
            if base_commit is None:  # nothing to compare with: every file is new
                count += sum(1 for path in batch.tree_paths(commit) if path.endswith(b".py"))
            else:
                wanted.append((commit, base_commit))
        return count + sum(sum(1 for change in changes if change.status in ("A", "M", "T")
                               and change.path.endswith(b".py"))
                           for _, changes in batch.changes(wanted))


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
