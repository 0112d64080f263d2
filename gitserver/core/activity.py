"""What a signed-in user's dashboard lists: their latest pushes with the state they reached."""

# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see
from __future__ import annotations

import json
from dataclasses import dataclass

from gitserver.core.models import Commit, Push, Repo, User
from gitserver.core.queries import commit_marks


@dataclass(frozen=True)
class PushSummary:
    """One push: where, which branch moved to which commit, and that commit's state."""
    push: Push
    repo: Repo
    branch: str
    sha: str  # "" when the push only deleted refs
    commit: Commit | None
    state: str | None
    score: float | None


def _main_update(push: Push, default_branch: str) -> tuple[str, str]:
    """(branch or tag, new sha) the push is known by: its update of the default branch, else of
    another branch, else of a tag; ("ref", "") when it only deleted refs."""
    updates = [(ref, new) for ref, _old, new in json.loads(push.ref_updates or "[]")]
    kept = [(ref, new) for ref, new in updates if new and set(new) != {"0"}]
    for wanted in (f"refs/heads/{default_branch}", "refs/heads/", ""):
        for ref, new in kept:
            if ref == wanted or (wanted.endswith("/") and ref.startswith(wanted)) or not wanted:
                return ref.removeprefix("refs/heads/").removeprefix("refs/tags/"), new
    return (updates[0][0].removeprefix("refs/heads/") if updates else ""), ""


def recent_pushes(user: User, limit: int = 10) -> list[PushSummary]:
    """The latest pushes to the user's repositories, newest first, in three queries."""
    pushes = list(Push.select(Push, Repo).join(Repo)
                  .where(Repo.owner == user).order_by(Push.created_at.desc(), Push.id.desc())
                  .limit(limit))
    tips = {push.id: _main_update(push, push.repo.default_branch) for push in pushes}
    shas = [sha for _, sha in tips.values() if sha]
    commits = {(c.repo_id, c.sha): c for c in Commit.select().where(
        Commit.repo.in_([p.repo_id for p in pushes]) & Commit.sha.in_(shas))} if shas else {}
    marks = commit_marks([c.id for c in commits.values()])
    found = []
    for push in pushes:
        branch, sha = tips[push.id]
        commit = commits.get((push.repo_id, sha))
        state, score = marks.get(commit.id, (None, None)) if commit is not None else (None, None)
        found.append(PushSummary(push, push.repo, branch, sha, commit, state, score))
    return found
