"""Write the .py files of one commit into a folder, so pylint sees the commit's own tree.

Read straight from the object store with dulwich (no `git` process, no work tree), or, on a
worker without the repositories, from the tar stream the web node sends (`unpack_tar`). The
push policy already refuses symlinks and odd paths; this module checks again because the
folder is written on the server's disk: every name is validated, files are created only
under `dest`, never over an existing path, and never through a symlink.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dulwich.objects import Blob, Commit
from dulwich.repo import Repo

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# Names that must not appear as a path component, compared case-insensitively.
FORBIDDEN_PARTS = frozenset({"", ".", "..", ".git"})


# A downloaded tree may carry this much beyond its files' bytes: tar headers and padding.
TAR_OVERHEAD_BYTES = 32 * 1024 * 1024


class UnsafePath(ValueError):
    """A tree entry's path would leave the destination folder or is not a plain name."""


class TreeTooLarge(ValueError):
    """A downloaded tree is over a size limit; str(exc) names the file or the total."""


class BadTreeStream(ValueError):
    """A downloaded tree is not a complete tar stream."""


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


def unpack_tar(stream: BinaryIO, dest: Path, max_file_bytes: int, max_tree_bytes: int
               ) -> list[str]:
    """Write the files of a tar stream (a commit's .py files, as the web node sends them) under
    `dest`, with the checks of `materialise_py_files`; return their posix paths.

    Every member must be a regular `.py` file of at most `max_file_bytes`, all of them at most
    `max_tree_bytes` together; the limits are checked before a file is read, and the stream as
    a whole is cut off past `max_tree_bytes` + TAR_OVERHEAD_BYTES, so nothing is read unbounded.
    """
    dest = Path(dest).resolve(strict=True)
    written: list[str] = []
    total = 0
    capped = _CappedReader(stream, max_tree_bytes + TAR_OVERHEAD_BYTES)
    try:
        with tarfile.open(fileobj=capped, mode="r|", encoding="utf-8") as tar:
            for member in tar:
                relpath = _safe_relpath(member.name.encode("utf-8", "surrogateescape"))
                if not member.isreg() or not relpath.endswith(".py"):
                    raise UnsafePath(f"{relpath!r}: not a regular .py file")
                if member.size > max_file_bytes:
                    raise TreeTooLarge(f"{relpath}: {member.size} bytes, over "
                                       f"limits.max_file_bytes ({max_file_bytes})")
                total += member.size
                if total > max_tree_bytes:
                    raise TreeTooLarge(f"the commit's .py files are over {max_tree_bytes} bytes "
                                       "together (limits.max_push_bytes)")
                handle = tar.extractfile(member)
                data = handle.read() if handle is not None else b""
                if len(data) != member.size:
                    raise BadTreeStream(f"{relpath}: the stream ended inside the file")
                try:
                    _write_new_file(dest, relpath, data)
                except FileExistsError:
                    raise UnsafePath(f"{relpath!r}: sent twice") from None
                written.append(relpath)
    except (tarfile.TarError, EOFError) as exc:
        raise BadTreeStream(f"the tree download is not a complete tar stream ({exc})") from None
    return written


class _CappedReader(io.RawIOBase):
    """A stream that raises TreeTooLarge once more than `limit` bytes were read from it."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(min(len(view), self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise TreeTooLarge("the tree download is larger than its files can be "
                               "(limits.max_push_bytes plus tar headers)")
        view[:len(data)] = data
        return len(data)


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
