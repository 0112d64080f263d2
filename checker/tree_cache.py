"""The materialised trees of one worker process, kept for the next batch of the same commit.

A big commit is linted in batches of a few files (`checker.lease`), often several in a row by
the same worker: its tree is written once per worker, not once per batch. Each tree has its
own id (the commit and a random part), which the lint process uses to know when a request is
for another tree; a folder is never reused for another commit. Trees in use are never removed;
of the others, the least recently used go past `keep`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gitserver.core.models import Repo

from .lint_user import share_tree

# (repo, commit sha, empty destination folder) -> the posix paths of the .py files written
Materialise = Callable[[Repo, str, Path], list[str]]


@dataclass
class Tree:
    """One commit's .py files on disk."""
    root: Path
    files: frozenset[str]
    tree_id: str
    users: int = 0


class TreeCache:
    """Materialised trees by (repo id, commit sha), shared by the threads of one worker."""

    def __init__(self, materialise: Materialise, keep: int = 4) -> None:
        self._materialise = materialise
        self._keep = keep
        self._trees: OrderedDict[tuple[int, str], Tree] = OrderedDict()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def use(self, repo: Repo, sha: str) -> Iterator[Tree]:
        """The commit's tree, written first if this worker has none of it."""
        key = (repo.id, sha)
        with self._lock:
            tree = self._trees.get(key)
            if tree is None:
                tree = self._write(repo, sha)
                self._trees[key] = tree
            self._trees.move_to_end(key)
            tree.users += 1
        try:
            yield tree
        finally:
            with self._lock:
                tree.users -= 1
                self._trim()

    def _write(self, repo: Repo, sha: str) -> Tree:
        folder = Path(tempfile.mkdtemp(prefix="gitserver-tree-"))
        try:
            root = folder / "src"
            root.mkdir()
            files = self._materialise(repo, sha, root)
            share_tree(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return Tree(root=root, files=frozenset(files), tree_id=f"{sha}:{uuid.uuid4().hex}")

    def _trim(self) -> None:
        idle = [key for key, tree in self._trees.items() if tree.users == 0]
        for key in idle[:max(0, len(self._trees) - self._keep)]:
            shutil.rmtree(self._trees.pop(key).root.parent, ignore_errors=True)

    def close(self) -> None:
        """Remove every tree (the worker stops)."""
        with self._lock:
            for tree in self._trees.values():
                shutil.rmtree(tree.root.parent, ignore_errors=True)
            self._trees.clear()
