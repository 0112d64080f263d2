"""Where bare repositories live on disk, how they are named and how one is created."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from peewee import IntegrityError

from gitserver.core.models import Repo, User, database

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
    """Where the bare repository of owner/name lives on disk."""
    # Names are validated before they get here; the lowercase owner keeps one folder per user.
    return repos_dir / owner.lower() / f"{name}.git"


def init_bare(path: Path, default_branch: str = "main") -> None:
    """Create a bare repository that accepts force pushes and branch deletion, like GitHub.

    Built in a temporary folder and renamed into place, so two first pushes racing to create
    the same repo never see a half-made one, and the loser simply finds the winner's.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".init-", dir=path.parent) as tmp:
        staging = Path(tmp) / "repo.git"
        subprocess.run(["git", "init", "--quiet", "--bare",
                        f"--initial-branch={default_branch}", str(staging)],
                       check=True, capture_output=True)
        with (staging / "config").open("a", encoding="utf-8") as handle:
            handle.write("[receive]\n\tdenyNonFastForwards = false\n\tdenyDeletes = false\n"
                         "[core]\n\tlogAllRefUpdates = true\n")
        try:
            staging.rename(path)
        except OSError:
            if not (path / "HEAD").exists():
                raise


def get_repo(owner: str, name: str) -> Repo | None:
    """The repo `name` of `owner`, both in any case as on GitHub, with its owner joined.

    The exact name first: of two repos whose names differed only in case before names were
    case-insensitive (schema step 9), each stays reachable by its own spelling.
    """
    query = Repo.select(Repo, User).join(User).where(User.username == owner.lower())
    return query.where(Repo.name == name).first() or \
        query.where(Repo.name_lower == name.lower()).first()


def create_repo(repos_dir: Path, owner: User, name: str) -> Repo:
    """The owner's repo `name` in any case; created (row and bare repository on disk, private)
    if there is none. The name keeps the case it was created with."""
    found = get_repo(owner.username, name)
    if found is not None:
        return found
    path = repo_path(repos_dir, owner.username, name)
    if not (path / "HEAD").exists():
        init_bare(path)
    try:
        with database.atomic():
            repo: Repo = Repo.create(owner=owner, name=name, private=True)
    except IntegrityError:  # created by a concurrent first push a moment ago, in some case
        found = get_repo(owner.username, name)
        assert found is not None, f"{owner.username}/{name} collided but is not there"
        return found
    return repo
