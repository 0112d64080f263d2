"""The push policy: only Python source, checked on every new commit of a push.

Each path must be a regular file (mode 100644 or 100755) whose name ends in `.py`, UTF-8 text
without NUL, at most `limits.max_file_bytes`; no symlinks, no submodules, and no path component
`.`, `..` or `.git` in any spelling git itself treats as `.git` on some filesystem (`.GIT`,
`.git.`, `.git ` on Windows, `git~1` as an NTFS short name, `.git` with Unicode ignorables on
macOS). Objects that existed before the push were checked when they arrived, so only trees and
blobs that this push brings are read: an incremental push costs what it adds.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dulwich.objects import Blob, Commit, Tag, Tree

# Characters HFS+ ignores in file names (git's is_hfs_dotgit list).
_HFS_IGNORABLE = dict.fromkeys(map(ord, "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d"
                                         "\u202e\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"))
_FILE_MODES = (0o100644, 0o100755)


@dataclass(frozen=True)
class Violation:
    """A policy problem of one path in one commit, as the pusher is told it."""
    commit: str
    path: str
    problem: str  # what is wrong and how to fix it, for the pusher

    def line(self) -> str:
        """The line `git push` shows for it."""
        return f"  {self.commit[:7]} {self.path}: {self.problem}"


def is_dotgit_alias(name: str) -> bool:
    """True for `.git` and every name some filesystem resolves to it."""
    folded = name.translate(_HFS_IGNORABLE).lower()
    folded = folded.split(":", 1)[0].rstrip(". ")  # NTFS: `.git.`, `.git `, `.git::$DATA`
    return folded in (".git", "git~1")


def name_problem(name: str) -> str | None:
    """What is wrong with one path component's name, or None."""
    if name in (".", ".."):
        return f"the path component {name!r} is not allowed; rename the folder"
    if is_dotgit_alias(name):
        return (f"{name!r} is reserved for git's own data; rename it "
                f"(`git mv '{name}' <new name>`)")
    if "\\" in name:
        return "backslashes in file names are not allowed; rename it"
    return None


def mode_problem(name: str, mode: int) -> str | None:
    """What is wrong with an entry's type or mode (only regular .py files pass), or None."""
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symbolic links are not accepted; commit the real .py file instead"
    if mode == 0o160000:
        return ("submodules are not accepted; copy the .py files in instead "
                "(`git rm --cached <path>`, then add the files)")
    if not name.endswith(".py"):
        return "only .py files are accepted; untrack it with `git rm --cached <path>`"
    if mode not in _FILE_MODES:
        return f"file mode {mode:o} is not a regular file; use 100644"
    return None


def entry_problem(name: str, mode: int) -> str | None:
    """The policy problem of one tree entry's name and mode, or None."""
    return name_problem(name) or mode_problem(name, mode)


def blob_problem(data: bytes, max_bytes: int) -> str | None:
    """What is wrong with a file's content (too large, binary, not UTF-8), or None."""
    if len(data) > max_bytes:
        return (f"{len(data):,} bytes is over the {max_bytes:,}-byte file limit; "
                "split the module or leave generated files out")
    if b"\0" in data:
        return "contains NUL bytes, so it is not Python source; leave binary files out"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (f"is not UTF-8 (byte {exc.start}); save it as UTF-8 "
                "(most editors: 'Save with encoding')")
    return None


class PolicyChecker:
    """Walks the new commits of a push and collects every violation once."""

    def __init__(self, store: object, is_new: Callable[[bytes], bool], max_file_bytes: int):
        self.store = store
        self.is_new = is_new
        self.max_file_bytes = max_file_bytes
        self._seen_trees: set[bytes] = set()
        self._seen: set[tuple[str, bytes]] = set()

    def new_commits(self, tips: Iterable[bytes]) -> list[Commit]:
        """Commits the push brings (in the quarantine), parents before children.

        Topological, not by date: commits made within one second share a timestamp, and a
        file must be blamed on the commit that added it, not on a later one that carries it.
        """
        order: list[Commit] = []
        done: set[bytes] = set()
        stack: list[tuple[bytes, bool]] = [(t, False) for t in
                                           (self._peel(tip) for tip in tips) if t is not None]
        while stack:
            sha, expanded = stack.pop()
            if expanded:
                order.append(self.store[sha])
                continue
            if sha in done or not self.is_new(sha):
                continue
            done.add(sha)
            stack.append((sha, True))
            stack.extend((parent, False) for parent in reversed(self.store[sha].parents))
        return order

    def _peel(self, sha: bytes) -> bytes | None:
        obj = self.store[sha]
        while isinstance(obj, Tag):
            obj = self.store[obj.object[1]]
        return obj.id if isinstance(obj, Commit) else None

    def ref_problem(self, ref: str, new: bytes) -> str | None:
        """What is wrong with a ref's new target (it must be a commit), or None."""
        obj = self.store[new]
        while isinstance(obj, Tag):
            obj = self.store[obj.object[1]]
        if not isinstance(obj, Commit):
            return f"{ref} must point at a commit, not a {obj.type_name.decode()}"
        return None

    def check_commit(self, commit: Commit) -> list[Violation]:
        """The problems of the commit's new trees and files; each path's once per push."""
        violations: list[Violation] = []
        sha = commit.id.decode()
        self._check_tree(commit.tree, "", lambda path, problem: violations.append(
            Violation(sha, path, problem.replace("<path>", path))))
        return violations

    def _check_tree(self, tree_id: bytes, prefix: str,
                    report: Callable[[str, str], None]) -> None:
        if tree_id in self._seen_trees or not self.is_new(tree_id):
            return  # checked already, in this push or when it first arrived
        self._seen_trees.add(tree_id)
        tree = self.store[tree_id]
        assert isinstance(tree, Tree)
        for entry in tree.iteritems():
            name = entry.path.decode("utf-8", errors="replace")
            path = prefix + name
            problem = entry_problem(name, entry.mode)
            if problem is None and stat.S_ISDIR(entry.mode):
                self._check_tree(entry.sha, path + "/", report)
            elif problem is None and self.is_new(entry.sha):
                blob = self.store[entry.sha]
                assert isinstance(blob, Blob)
                problem = blob_problem(blob.as_raw_string(), self.max_file_bytes)
            if problem is not None and (path, entry.sha) not in self._seen:
                self._seen.add((path, entry.sha))
                report(path, problem)
