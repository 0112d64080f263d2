"""post-receive: record the push, queue its checks, and tell the pusher where the results are.

git runs this after every ref of the push has moved. Its output reaches the pusher as `remote:`
lines while `git push` is still waiting, so it stays quick: recording is a few inserts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dulwich.repo import Repo as GitRepo

from gitserver.config import Settings, load_settings
from gitserver.models import Repo, init_db

from .record import RecordedPush, record_push
from .updates import RefUpdate, read_updates, say


def status_url(settings: Settings, repo: Repo, sha: str) -> str:
    return f"{settings.server.base_url}/{repo.owner.username}/{repo.name}/commit/{sha}"


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
    git.refs.set_symbolic_ref(b"HEAD", f"refs/heads/{branch}".encode())
    Repo.update(default_branch=branch).where(Repo.id == repo.id).execute()


def report(settings: Settings, repo: Repo, recorded: RecordedPush) -> None:
    for ref, commit in recorded.tips:
        name = ref.rsplit("/", 1)[-1] if ref.startswith(("refs/heads/", "refs/tags/")) else ref
        say(f"{name} {commit.sha[:7]}: checks at {status_url(settings, repo, commit.sha)}")


def main() -> int:
    settings = load_settings()
    updates = read_updates()
    init_db(settings.database_url)
    repo = Repo.get_by_id(int(os.environ["GITSERVER_REPO_ID"]))
    pusher = os.environ.get("GITSERVER_PUSHER_ID")
    git = GitRepo(os.environ.get("GIT_DIR", str(Path.cwd())))
    fix_default_branch(repo, git, updates)
    recorded = record_push(repo, git, int(pusher) if pusher else None, updates)
    report(settings, repo, recorded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
