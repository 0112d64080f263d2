"""The push policy: only Python source, checked on every new commit of a push.

Each path must be a regular file (mode 100644 or 100755) whose name ends in `.py`, UTF-8 text
without NUL, at most `limits.max_file_bytes`; no symlinks, no submodules, and no path component
`.`, `..` or `.git` in any spelling git itself treats as `.git` on some filesystem (`.GIT`,
`.git.`, `.git ` on Windows, `git~1` as an NTFS short name, `.git` with Unicode ignorables on
macOS). Objects that existed before the push were checked when they arrived, so only trees and
blobs that this push brings are read: an incremental push costs what it adds.

The policy answers with `Problem`s, data rather than prose: each audience says them in its own
words (`git push` output in `pre_receive`, the browser's commits in `browser_commit`, the API).
What is wrong (`Problem.what`) and what to do in any medium (`Problem.hint`) are said here once;
the git commands that fix a pushed commit belong to the push output.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from gitserver.core.gitrepo import FILE_MODE, CommitInfo, PushObjects

# Characters HFS+ ignores in file names (git's is_hfs_dotgit list).
_HFS_IGNORABLE = dict.fromkeys(map(ord, "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d"
                                         "\u202e\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"))
_FILE_MODES = (0o100644, 0o100755)
_SUBMODULE = 0o160000


class Rule(StrEnum):
    """The rules of the push policy; the value is the rule's stable id."""
    DOT_PATH = "dot-path"  # a path component `.` or `..`
    DOTGIT = "dotgit"  # `.git` or a name some filesystem takes for it
    BACKSLASH = "backslash"
    SYMLINK = "symlink"
    SUBMODULE = "submodule"
    NOT_PYTHON = "not-python"  # a file whose name does not end in `.py`
    FILE_MODE = "file-mode"  # neither 100644 nor 100755
    TOO_LARGE = "too-large"
    NUL = "nul"
    NOT_UTF8 = "not-utf8"
    REF_TARGET = "ref-target"  # a ref that does not point at a commit


# What is wrong, said the same way to every audience (str.format over the Problem's fields).
_WHAT = {
    Rule.DOT_PATH: "the path component {value!r} is not allowed",
    Rule.DOTGIT: "{value!r} is reserved for git's own data",
    Rule.BACKSLASH: "backslashes in file names are not allowed",
    Rule.SYMLINK: "symbolic links are not accepted",
    Rule.SUBMODULE: "submodules are not accepted",
    Rule.NOT_PYTHON: "only .py files are accepted",
    Rule.FILE_MODE: "file mode {value:o} is not a regular file",
    Rule.TOO_LARGE: "{value:,} bytes is over the {limit:,}-byte file limit",
    Rule.NUL: "contains NUL bytes, so it is not Python source",
    Rule.NOT_UTF8: "is not UTF-8 (byte {value})",
    Rule.REF_TARGET: "{path} must point at a commit, not a {value}",
}
# What to do about it, in words that fit a push and a browser alike ("" when the rule says it).
_HINT = {
    Rule.DOT_PATH: "rename the folder",
    Rule.DOTGIT: "rename it",
    Rule.BACKSLASH: "rename it",
    Rule.SYMLINK: "commit the real .py file instead",
    Rule.SUBMODULE: "copy the .py files in instead",
    Rule.NOT_PYTHON: "",
    Rule.FILE_MODE: "use 100644",
    Rule.TOO_LARGE: "split the module or leave generated files out",
    Rule.NUL: "leave binary files out",
    Rule.NOT_UTF8: "save it as UTF-8 (most editors: 'Save with encoding')",
    Rule.REF_TARGET: "",
}


@dataclass(frozen=True)
class Problem:
    """One thing the policy refuses: the rule broken, where, and the facts to say it with."""
    rule: Rule
    path: str  # the offending path; for REF_TARGET the ref
    commit: str | None = None  # the commit that brings it; None for a ref or an uncommitted file
    # The offending value: the path component (DOT_PATH, DOTGIT), the file mode (FILE_MODE),
    # the size in bytes (TOO_LARGE), the first bad byte (NOT_UTF8), the object type (REF_TARGET).
    value: str | int | None = None
    limit: int | None = None  # the limit the size broke (TOO_LARGE)

    @property
    def what(self) -> str:
        """What is wrong, e.g. "symbolic links are not accepted"."""
        return _WHAT[self.rule].format(path=self.path, value=self.value, limit=self.limit)

    @property
    def hint(self) -> str:
        """What to do about it, in words for any medium; "" when there is nothing to add."""
        return _HINT[self.rule]


def is_dotgit_alias(name: str) -> bool:
    """True for `.git` and every name some filesystem resolves to it."""
    folded = name.translate(_HFS_IGNORABLE).lower()
    folded = folded.split(":", 1)[0].rstrip(". ")  # NTFS: `.git.`, `.git `, `.git::$DATA`
    return folded in (".git", "git~1")


def name_problem(path: str, name: str) -> Problem | None:
    """The problem of `name`, a component of `path`, or None."""
    if name in (".", ".."):
        return Problem(Rule.DOT_PATH, path, value=name)
    if is_dotgit_alias(name):
        return Problem(Rule.DOTGIT, path, value=name)
    if "\\" in name:
        return Problem(Rule.BACKSLASH, path)
    return None


def mode_problem(path: str, mode: int) -> Problem | None:
    """The problem of an entry's type or mode (folders and regular .py files pass), or None."""
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISLNK(mode):
        return Problem(Rule.SYMLINK, path)
    if mode == _SUBMODULE:
        return Problem(Rule.SUBMODULE, path)
    if not path.endswith(".py"):
        return Problem(Rule.NOT_PYTHON, path)
    if mode not in _FILE_MODES:
        return Problem(Rule.FILE_MODE, path, value=mode)
    return None


def blob_problem(path: str, data: bytes, max_bytes: int) -> Problem | None:
    """The problem of a file's content (too large, binary, not UTF-8), or None."""
    if len(data) > max_bytes:
        return Problem(Rule.TOO_LARGE, path, value=len(data), limit=max_bytes)
    if b"\0" in data:
        return Problem(Rule.NUL, path)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(Rule.NOT_UTF8, path, value=exc.start)
    return None


def file_problem(path: str, data: bytes | None, max_bytes: int) -> Problem | None:
    """The problem of writing `data` (None: deleting) as a regular file at `path`, or None.

    For changes not pushed but made on the server (the browser, the API): the path is checked
    component by component as the push checks the trees above it.
    """
    *folders, name = path.split("/")
    for folder in folders:
        problem = name_problem(path, folder)
        if problem is not None:
            return problem
    problem = name_problem(path, name) or mode_problem(path, FILE_MODE)
    if problem is None and data is not None:
        problem = blob_problem(path, data, max_bytes)
    return problem


class PolicyChecker:
    """Walks the new commits of a push and collects every problem once."""

    def __init__(self, objects: PushObjects, max_file_bytes: int) -> None:
        self.objects = objects
        self.max_file_bytes = max_file_bytes
        self._seen_trees: set[str] = set()
        self._seen: set[tuple[str, str]] = set()

    def new_commits(self, tips: Iterable[str]) -> list[CommitInfo]:
        """Commits the push brings (in the quarantine), parents before children.

        Topological, not by date: commits made within one second share a timestamp, and a
        file must be blamed on the commit that added it, not on a later one that carries it.
        """
        order: list[CommitInfo] = []
        done: set[str] = set()
        stack: list[tuple[str, bool]] = [
            (t, False) for t in (self.objects.peel_commit(tip) for tip in tips) if t is not None]
        while stack:
            sha, expanded = stack.pop()
            if expanded:
                order.append(self.objects.commit(sha))
                continue
            if sha in done or not self.objects.is_new(sha):
                continue
            done.add(sha)
            stack.append((sha, True))
            stack.extend((parent, False)
                         for parent in reversed(self.objects.commit(sha).parents))
        return order

    def ref_problem(self, ref: str, new: str) -> Problem | None:
        """The problem of a ref's new target (it must be a commit), or None."""
        kind, _ = self.objects.peel(new)
        return Problem(Rule.REF_TARGET, ref, value=kind) if kind != "commit" else None

    def check_commit(self, commit: CommitInfo) -> list[Problem]:
        """The problems of the commit's new trees and files; each path's once per push."""
        problems: list[Problem] = []
        self._check_tree(commit.tree, "", lambda problem: problems.append(
            replace(problem, commit=commit.sha)))
        return problems

    def _check_tree(self, tree: str, prefix: str, report: Callable[[Problem], None]) -> None:
        if tree in self._seen_trees or not self.objects.is_new(tree):
            return  # checked already, in this push or when it first arrived
        self._seen_trees.add(tree)
        for entry in self.objects.tree_entries(tree):
            path = prefix + entry.name
            problem = name_problem(path, entry.name) or mode_problem(path, entry.mode)
            if problem is None and entry.is_dir:
                self._check_tree(entry.sha, path + "/", report)
            elif problem is None and self.objects.is_new(entry.sha):
                problem = blob_problem(path, self.objects.blob(entry.sha), self.max_file_bytes)
            if problem is not None and (path, entry.sha) not in self._seen:
                self._seen.add((path, entry.sha))
                report(problem)
