"""Write the .py files of one commit into a folder, so pylint sees the commit's own tree.

Read straight from the object store with dulwich (no `git` process, no work tree). The
push policy already refuses symlinks and odd paths; this module checks again because the
folder is written on the server's disk: every name is validated, files are created only
under `dest`, never over an existing path, and never through a symlink.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dulwich.objects import Blob, Commit
from dulwich.repo import Repo

# Names that must not appear as a path component, compared case-insensitively.
FORBIDDEN_PARTS = frozenset({"", ".", "..", ".git"})


class UnsafePath(ValueError):
    """A tree entry's path would leave the destination folder or is not a plain name."""


def materialise_py_files(repo_path: Path, commit_sha: str, dest: Path) -> list[str]:
    """Write every regular .py file of the commit under `dest`; return their posix paths.

    `dest` must be an existing, empty folder of ours. Symlinks, submodules and other
    non-regular entries are skipped; an unsafe name raises UnsafePath.
    """
    dest = Path(dest).resolve(strict=True)
    written: list[str] = []
    with Repo(str(repo_path)) as repo:
        commit = repo[commit_sha.encode("ascii")]
        if not isinstance(commit, Commit):
            raise ValueError(f"{commit_sha} is not a commit")
        for entry in repo.object_store.iter_tree_contents(commit.tree):
            if not (entry.path and entry.mode and entry.sha):
                continue
            if not stat.S_ISREG(entry.mode) or not entry.path.endswith(b".py"):
                continue  # symlinks (120000), submodules (160000), other files
            relpath = _safe_relpath(entry.path)
            blob = repo[entry.sha]
            if not isinstance(blob, Blob):
                raise ValueError(f"{relpath}: tree entry is not a blob")
            _write_new_file(dest, relpath, blob.as_raw_string())
            written.append(relpath)
    return written


def _safe_relpath(raw: bytes) -> str:
    try:
        path = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafePath(f"{raw!r}: path is not UTF-8") from None
    parts = path.split("/")
    for part in parts:
        if part.lower() in FORBIDDEN_PARTS or "\\" in part or "\0" in part:
            raise UnsafePath(f"{path!r}: unsafe path component {part!r}")
    return path


def _write_new_file(dest: Path, relpath: str, data: bytes) -> None:
    *folders, name = relpath.split("/")
    current = dest
    for folder in folders:
        current = current / folder
        try:
            current.mkdir(mode=0o700)
        except FileExistsError:
            # Only a folder we created ourselves is acceptable, never a symlink or file.
            if current.is_symlink() or not current.is_dir():
                raise UnsafePath(f"{relpath!r}: {folder!r} is not a folder") from None
    target = current / name
    if not target.resolve().is_relative_to(dest):
        raise UnsafePath(f"{relpath!r}: escapes {dest}")
    # O_EXCL: never replace a path that exists; O_NOFOLLOW: never write through a symlink.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
