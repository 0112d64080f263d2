"""Read-side lookups shared by the JSON API and the pages: refs, commits, checks, states."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Check, Commit, FileVersion, Repo
from gitserver.core.states import COUNT_COLUMNS, STATE_ERROR, combined_state, commit_score

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

def message_key(message: dict[str, Any]) -> tuple[str, str]:
    """What identifies a lint message when a commit is compared with its parent."""
    # Without the line: a message that only moved because lines were added above it is
    # neither new nor fixed.
    return (str(message.get("symbol")), str(message.get("message")))


@dataclass
class ParentDiff:
    """What changed in the lint messages since the commit's first parent."""
    sha: str
    checked: bool  # False: the parent has no checks (it was not a checked commit of its push)
    state: str | None = None
    score: float | None = None
    new: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (path, message)
    fixed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # The parent's messages of files pylint could not look into now (they stopped parsing, or
    # the checker failed on them): neither fixed nor still there, as far as anyone knows.
    unknown: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _by_path(checks: Iterable[Check]) -> dict[str, Check]:
    return {c.path: c for c in checks}


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
    return compare_checks(commit.parent_sha, checks, before)


def compare_checks(base_sha: str, checks: Sequence[Any], before: Sequence[Any]) -> ParentDiff:
    """New and fixed messages of `checks` relative to `before`, the checks of commit
    `base_sha` (empty: that commit was not checked)."""
    diff = ParentDiff(sha=base_sha, checked=bool(before))
    if not before:
        return diff
    diff.state = combined_state([c.state for c in before])
    diff.score = commit_score(before)
    mine, theirs = _by_path(checks), _by_path(before)
    for path in sorted(set(mine) | set(theirs)):
        now, old = mine.get(path), theirs.get(path)
        if now is not None and old is not None and now.blob_sha == old.blob_sha \
                and now.messages == old.messages:
            continue
        new, fixed = message_changes(now.message_list if now is not None else [],
                                     old.message_list if old is not None else [])
        diff.new.extend((path, m) for m in new)
        (diff.unknown if now is not None and not_looked_into(now) else diff.fixed).extend(
            (path, m) for m in fixed)
    return diff


def not_looked_into(check: Any) -> bool:
    """Whether pylint could not look into the file's code: it does not parse, or the checker
    failed on it. Its earlier messages are then unknown, not fixed."""
    if check.state == STATE_ERROR:
        return True
    return any(m.get("symbol") in UNPARSED_SYMBOLS for m in check.message_list)


# pylint's messages for a module it could not build: nothing else is checked in it.
UNPARSED_SYMBOLS = frozenset({"syntax-error", "parse-error", "astroid-error"})


def message_changes(now: list[dict[str, Any]], before: list[dict[str, Any]]
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(messages only in `now`, messages only in `before`), counting repeats."""
    def only_in(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> list:
        left = Counter(message_key(m) for m in second)
        found = []
        for message in first:
            key = message_key(message)
            if left[key] > 0:
                left[key] -= 1
            else:
                found.append(message)
        return found
    return only_in(now, before), only_in(before, now)


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
