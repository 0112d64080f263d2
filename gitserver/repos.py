"""Where bare repositories live on disk, how they are named and how one is created."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .models import Repo, User

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,38}")
REPO_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")


class RepoNameError(ValueError):
    """A repository name that the contract does not allow; str(exc) says why."""


def split_repo_name(raw: str) -> str:
    """Cut an optional `.git` suffix and validate what is left."""
    name = raw[:-4] if raw.endswith(".git") else raw
    if not REPO_NAME_RE.fullmatch(name) or name in (".", "..") or name.endswith(".git"):
        raise RepoNameError(
            f"{raw!r} is not a valid repository name: use 1-100 letters, digits, '.', '_' "
            "or '-', not '.' or '..', and do not end it in '.git'")
    return name


def repo_path(repos_dir: Path, owner: str, name: str) -> Path:
    # Names are validated before they get here; the lowercase owner keeps one folder per user.
    return repos_dir / owner.lower() / f"{name}.git"


def init_bare(path: Path, default_branch: str = "main") -> None:
    """Create a bare repository that accepts force pushes and branch deletion, like GitHub."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}",
                    str(path)], check=True, capture_output=True)
    config = path / "config"
    with config.open("a", encoding="utf-8") as handle:
        handle.write("[receive]\n\tdenyNonFastForwards = false\n\tdenyDeletes = false\n"
                     "[core]\n\tlogAllRefUpdates = true\n")


def get_repo(owner: str, name: str) -> Repo | None:
    return (Repo.select(Repo, User).join(User)
            .where((User.username == owner.lower()) & (Repo.name == name)).first())


def create_repo(repos_dir: Path, owner: User, name: str) -> Repo:
    """Create the database row and the bare repository on disk (push-to-create: private)."""
    path = repo_path(repos_dir, owner.username, name)
    if not (path / "HEAD").exists():
        init_bare(path)
    repo, _ = Repo.get_or_create(owner=owner, name=name, defaults={"private": True})
    return repo
