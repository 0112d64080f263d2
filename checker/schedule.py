"""Which checks a push needs: one row per .py file of each tip and of its newest new commits.

Runs in post-receive. A blob already checked under the same settings gets a copy of that result
at once (reused), so an incremental push only leaves the changed files pending.
"""

from __future__ import annotations

from collections.abc import Iterable

from dulwich.objects import Commit as GitCommit
from dulwich.repo import Repo as GitRepo

from gitserver.core.config import Settings
from gitserver.core.models import (
    CHANGE_UNCHANGED,
    FINAL_STATES,
    STATE_ERROR,
    STATE_PENDING,
    Check,
    Commit,
    FileVersion,
    Push,
    bulk_insert,
    utcnow,
)

from .runner import settings_fingerprint

_REUSED_FIELDS = ("state", "score", "duration_ms", "messages", "error", "checked_at")


def current_fingerprint(settings: Settings) -> str:
    """The fingerprint of these checker settings; stored results are reused under it."""
    return settings_fingerprint(settings.checker.disable, settings.checker.fail_under)


def commits_to_check(tips: Iterable[Commit], new_commits: list[Commit],
                     max_commits: int) -> list[Commit]:
    """Each tip, then up to `max_commits` of the newest new commits; newest first."""
    chosen: dict[int, Commit] = {c.id: c for c in tips}
    for commit in reversed(new_commits[-max_commits:]):
        chosen.setdefault(commit.id, commit)
    return list(chosen.values())


def py_files(git: GitRepo, sha: str) -> dict[str, str]:
    """path -> blob sha of every .py file in the commit's tree."""
    commit = git[sha.encode()]
    assert isinstance(commit, GitCommit)
    return {entry.path.decode("utf-8"): entry.sha.decode()
            for entry in git.object_store.iter_tree_contents(commit.tree)
            if entry.path.endswith(b".py")}


def reusable_results(blobs: Iterable[str], fingerprint: str) -> dict[str, Check]:
    """The newest final (not `error`) check of each blob under these settings."""
    found: dict[str, Check] = {}
    blob_list = sorted(set(blobs))
    for start in range(0, len(blob_list), 500):
        query = (Check.select().where(
            Check.blob_sha.in_(blob_list[start:start + 500])
            & (Check.settings_fp == fingerprint)
            & Check.state.in_([s for s in FINAL_STATES if s != STATE_ERROR]))
            .order_by(Check.id.desc()))
        for check in query:
            found.setdefault(check.blob_sha, check)
    return found


def schedule_commit(git: GitRepo, push: Push, commit: Commit, fingerprint: str) -> int:
    """Create the commit's check rows; return how many are pending (0: nothing to enqueue)."""
    if Check.select().where(Check.commit == commit).exists():
        return 0  # checked before (the same commit pushed to another branch)
    files = py_files(git, commit.sha)
    changes = {fv.path: fv.change for fv in FileVersion.select().where(
        FileVersion.commit == commit).iterator()}
    reuse = reusable_results(files.values(), fingerprint)
    now = utcnow()
    rows = []
    for path, blob in sorted(files.items()):
        row = {"repo": commit.repo_id, "commit": commit.id, "push": push.id, "path": path,
               "blob_sha": blob, "change": changes.get(path, CHANGE_UNCHANGED),
               "settings_fp": fingerprint, "state": STATE_PENDING, "created_at": now}
        previous = reuse.get(blob)
        if previous is not None:
            row.update({name: getattr(previous, name) for name in _REUSED_FIELDS}, reused=True)
        rows.append(row)
    bulk_insert(Check, rows)
    return sum(1 for row in rows if row["state"] == STATE_PENDING)
