"""The one way in to a bare repository on disk: `GitRepo.of(settings, repo)`."""

from __future__ import annotations

from dulwich.repo import Repo as DulwichRepo

from gitserver.core.config import Settings
from gitserver.core.models import Repo
from gitserver.core.repos import repo_path


class GitRepo(DulwichRepo):
    """A bare repository of ours (dulwich's `Repo`, opened from a Repo row)."""

    @classmethod
    def of(cls, settings: Settings, repo: Repo) -> GitRepo:
        """Open the bare repository of `repo`."""
        return cls(str(repo_path(settings.repos_dir, repo.owner.username, repo.name)))
