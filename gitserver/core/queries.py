"""Read-side lookups shared by the JSON API and the pages: refs, commits, checks, states."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitserver.core.changes import Feedback, ParentDiff, compare, feedback
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Check, Commit, FileVersion, Repo
from gitserver.core.states import COUNT_COLUMNS, combined_state, commit_score

SHA_RE = re.compile(r"[0-9a-f]{4,40}")
FULL_SHA_RE = re.compile(r"[0-9a-f]{40}")


def resolve_ref(git: GitRepo | None, repo: Repo, ref: str) -> str | None:
    """A branch, tag or (abbreviated) sha -> full commit sha, or None.

    `git`: the repo's repository, None when it is missing on disk (recorded shas still resolve).
    """
    if FULL_SHA_RE.fullmatch(ref) and get_commit(repo, ref) is not None:
        return ref  # like git, a full object name wins over a ref of that name
    if git is not None and git.names_ref(ref):
        return git.resolve(ref)
    if SHA_RE.fullmatch(ref.lower()):
        rows = list(Commit.select(Commit.sha).where(
            (Commit.repo == repo) & Commit.sha.startswith(ref.lower())).limit(2))
        if len(rows) == 1:
            return rows[0].sha
    return None


def get_commit(repo: Repo, sha: str) -> Commit | None:
    """The recorded commit `sha` of `repo`, or None."""
    return Commit.get_or_none((Commit.repo == repo) & (Commit.sha == sha))


def file_check(repo: Repo, sha: str, path: str) -> Check | None:
    """The check of `path` in the recorded commit `sha`, or None (not recorded, or no check)."""
    return Check.select().join(Commit).where(
        (Commit.repo == repo) & (Commit.sha == sha) & (Check.path == path)).first()


def commit_checks(commit: Commit) -> list[Check]:
    """The commit's checks, by path."""
    return list(Check.select().where(Check.commit == commit).order_by(Check.path))


def deleted_files(commit: Commit) -> list[FileVersion]:
    """The files the commit deleted, by path."""
    return list(FileVersion.select().where((FileVersion.commit == commit)
                                           & (FileVersion.change == "deleted"))
                .order_by(FileVersion.path))


def commit_states(commit_ids: list[int]) -> dict[int, str]:
    """commit id -> the combined state of its checks, in one query."""
    states: dict[int, list[str]] = {cid: [] for cid in commit_ids}
    query = Check.select(Check.commit, Check.state).where(Check.commit.in_(commit_ids))
    for check in query.iterator():
        states[check.commit_id].append(check.state)
    return {cid: combined_state(values) for cid, values in states.items()}


# -- pages and their API twins ---------------------------------------------------------------

def parent_checks(commit: Commit) -> list[Check] | None:
    """The checks of the commit's first parent; None for a root commit."""
    if not commit.parent_sha:
        return None
    return list(Check.select(Check).join(Commit).where(
        (Commit.repo == commit.repo_id) & (Commit.sha == commit.parent_sha))
        .order_by(Check.path))


def since_parent(commit: Commit, checks: Sequence[Any],
                 before: Sequence[Any] | None = None) -> ParentDiff | None:
    """New and fixed messages relative to the first parent; None for a root commit.

    `before`: the parent's checks when the caller has them already (`parent_checks`).
    """
    if before is None:
        before = parent_checks(commit)
    if before is None or not commit.parent_sha:
        return None
    return compare(commit.parent_sha, checks, before)


def commit_feedback(commit: Commit, checks: Sequence[Any] | None = None) -> Feedback:
    """The commit's results ordered by what it changed (`gitserver.core.changes.feedback`)."""
    if checks is None:
        checks = commit_checks(commit)
    return feedback(commit.sha, commit.parent_sha, checks, parent_checks(commit))


def last_changes(repo: Repo, files: dict[str, str]) -> dict[str, Commit]:
    """path -> the newest commit that gave the path its current blob (`files`: path -> blob)."""
    found: dict[str, Commit] = {}
    paths = sorted(files)
    for start in range(0, len(paths), 500):
        query = (FileVersion.select(FileVersion.path, FileVersion.blob_sha, Commit)
                 .join(Commit)
                 .where((Commit.repo == repo) & FileVersion.path.in_(paths[start:start + 500])
                        & FileVersion.blob_sha.is_null(False))
                 .order_by(Commit.committed_at.desc(), Commit.id.desc()))
        for version in query:
            if files.get(version.path) == version.blob_sha:
                found.setdefault(version.path, version.commit)
    return found


def file_versions(repo: Repo, path: str, limit: int = 100) -> list[FileVersion]:
    """The commits that added, modified or deleted `path`, newest first (commit joined)."""
    return list(FileVersion.select(FileVersion, Commit).join(Commit)
                .where((Commit.repo == repo) & (FileVersion.path == path))
                .order_by(Commit.committed_at.desc(), Commit.id.desc()).limit(limit))


def file_check_log(repo: Repo, path: str) -> Any:
    """The query of every check of `path` in the repo, newest commit first (commit joined)."""
    # By commit row, not check id: a push schedules its tip before its older commits, while
    # commits are recorded parents first (dates can tie within a second, or lie).
    return (Check.select(Check, Commit).join(Commit)
            .where((Check.repo == repo) & (Check.path == path))
            .order_by(Commit.id.desc(), Check.id.desc()))


# What a commit's state and score are computed from.
_SCORE_COLUMNS = (Check.commit, Check.state, Check.score,
                  *(getattr(Check, name) for name in COUNT_COLUMNS))


@dataclass(frozen=True)
class HeadSummary:
    """The state and score of a default branch's tip."""
    sha: str
    state: str
    score: float | None
    commit: Commit | None  # None when the tip was never recorded


def head_summaries(repos_dir: Path, repos: list[Repo]) -> dict[int, HeadSummary]:
    """repo id -> the state and score of its default branch's tip; absent for empty repos."""
    tips: dict[int, str] = {}
    for repo in repos:
        sha = resolve_ref(GitRepo.find(repos_dir, repo), repo, repo.default_branch)
        if sha is not None:
            tips[repo.id] = sha
    if not tips:
        return {}
    rows = {(c.repo_id, c.sha): c for c in Commit.select().where(
        Commit.repo.in_(list(tips)) & Commit.sha.in_(list(tips.values()))).iterator()}
    commits = {rid: rows.get((rid, sha)) for rid, sha in tips.items()}
    ids = [c.id for c in commits.values() if c is not None]
    checks: dict[int, list[Check]] = {i: [] for i in ids}
    for check in Check.select(*_SCORE_COLUMNS).where(Check.commit.in_(ids)).iterator():
        checks[check.commit_id].append(check)
    summaries = {}
    for rid, sha in tips.items():
        commit = commits[rid]
        found = checks.get(commit.id, []) if commit is not None else []
        summaries[rid] = HeadSummary(sha, combined_state([c.state for c in found]),
                                     commit_score(found), commit)
    return summaries


def commit_marks(commit_ids: list[int]) -> dict[int, tuple[str, float | None]]:
    """commit id -> (combined state, score), in one query."""
    found: dict[int, list[Check]] = {cid: [] for cid in commit_ids}
    for check in Check.select(*_SCORE_COLUMNS).where(Check.commit.in_(commit_ids)).iterator():
        found[check.commit_id].append(check)
    return {cid: (combined_state([c.state for c in checks]), commit_score(checks))
            for cid, checks in found.items()}
