"""Materialise a commit's .py files into a private folder, so imports between them resolve."""

from __future__ import annotations

import stat
from pathlib import Path, PurePosixPath

from dulwich.objects import Blob, Commit
from dulwich.repo import Repo


class UnsafePath(ValueError):
    """A tree path that would escape the destination folder."""


def materialise_py_files(repo_path: Path, commit_sha: str, dest: Path) -> list[str]:
    """Write every .py blob of the commit under dest (regular files only); return their paths."""
    git = Repo(str(repo_path))
    commit = git[commit_sha.encode()]
    assert isinstance(commit, Commit)
    dest = dest.resolve()
    written = []
    for entry in git.object_store.iter_tree_contents(commit.tree):
        name = entry.path.decode("utf-8")
        if not name.endswith(".py") or not stat.S_ISREG(entry.mode):
            continue
        parts = PurePosixPath(name).parts
        if any(p in ("", ".", "..") for p in parts) or name.startswith("/"):
            raise UnsafePath(name)
        target = dest.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = git[entry.sha]
        assert isinstance(blob, Blob)
        # O_EXCL-like: never write through a link that is already there
        with open(target, "xb") as handle:
            handle.write(blob.as_raw_string())
        written.append(name)
    return written
