"""Read-side lookups shared by the JSON API and the pages: refs, commits, checks, states."""

from __future__ import annotations

import re
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.objects import Commit as GitCommit
from dulwich.objects import Tag
from dulwich.repo import Repo as GitRepo
from dulwich.walk import Walker

from .models import (
    STATE_ERROR,
    STATE_FAILURE,
    STATE_PENDING,
    STATE_SUCCESS,
    Check,
    Commit,
    FileVersion,
    Repo,
)
from .repos import repo_path

SHA_RE = re.compile(r"[0-9a-f]{4,40}")


def combined_state(states: list[str]) -> str:
    """GitHub's combined status: failure if any failure or error, pending if any pending or
    none, else success."""
    if any(s in (STATE_FAILURE, STATE_ERROR) for s in states):
        return STATE_FAILURE
    if not states or STATE_PENDING in states:
        return STATE_PENDING
    return STATE_SUCCESS


def open_git(repos_dir: Path, repo: Repo) -> GitRepo | None:
    try:
        return GitRepo(str(repo_path(repos_dir, repo.owner.username, repo.name)))
    except NotGitRepository:
        return None


def _peel(git: GitRepo, sha: bytes) -> str | None:
    obj = git[sha]
    while isinstance(obj, Tag):
        obj = git[obj.object[1]]
    return obj.id.decode() if isinstance(obj, GitCommit) else None


def resolve_ref(repos_dir: Path, repo: Repo, ref: str) -> str | None:
    """A branch, tag or (abbreviated) sha -> full commit sha, or None."""
    git = open_git(repos_dir, repo)
    if git is not None:
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref if ref == "HEAD" else ""):
            if name and name.encode() in git.refs:
                return _peel(git, git.refs[name.encode()])
    if SHA_RE.fullmatch(ref.lower()):
        rows = list(Commit.select(Commit.sha).where(
            (Commit.repo == repo) & Commit.sha.startswith(ref.lower())).limit(2))
        if len(rows) == 1:
            return rows[0].sha
    return None


def get_commit(repo: Repo, sha: str) -> Commit | None:
    return Commit.get_or_none((Commit.repo == repo) & (Commit.sha == sha))


def commit_checks(commit: Commit) -> list[Check]:
    return list(Check.select().where(Check.commit == commit).order_by(Check.path))


def deleted_files(commit: Commit) -> list[FileVersion]:
    return list(FileVersion.select().where((FileVersion.commit == commit)
                                           & (FileVersion.change == "deleted"))
                .order_by(FileVersion.path))


def history(repos_dir: Path, repo: Repo, start_sha: str) -> list[str]:
    """Shas reachable from start_sha, newest first (git log order)."""
    git = open_git(repos_dir, repo)
    if git is None:
        return []
    return [entry.commit.id.decode() for entry in Walker(git.object_store, [start_sha.encode()])]


def commit_states(commit_ids: list[int]) -> dict[int, str]:
    states: dict[int, list[str]] = {cid: [] for cid in commit_ids}
    for check in Check.select(Check.commit, Check.state).where(Check.commit.in_(commit_ids)):
        states[check.commit_id].append(check.state)
    return {cid: combined_state(values) for cid, values in states.items()}
