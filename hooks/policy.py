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

import functools
import os
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from gitserver.core.gitbatch import (
    Change,
    GitBatch,
    NewCommit,
    ObjectInfo,
    may_have_odd_modes,
    split_by_delta_chain,
    tree_entries_raw,
)
from gitserver.core.gitrepo import FILE_MODE

# Characters HFS+ ignores in file names (git's is_hfs_dotgit list).
_HFS_IGNORABLE = dict.fromkeys(map(ord, "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d"
                                         "\u202e\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"))
_FILE_MODES = (0o100644, 0o100755)
_SUBMODULE = 0o160000
# cat-file processes reading a push's new blobs side by side (one per CPU, up to two: beyond
# that, this process's own reading of their output is the limit).
_SCAN_READERS = max(1, min(2, os.cpu_count() or 1))
# Modes as git itself writes them in a tree; anything else was written by another tool.
_WRITTEN_MODES = frozenset((0o40000, 0o100644, 0o100755, 0o120000, 0o160000))


class Rule(StrEnum):
    """The rules of the push policy; the value is the rule's stable id."""
    DOT_PATH = "dot-path"  # a path component `.` or `..`
    EMPTY_NAME = "empty-name"  # an empty path component (`a//b.py`, a leading `/`)
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
    Rule.EMPTY_NAME: "empty folder or file names ('//') are not allowed",
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
    Rule.EMPTY_NAME: "remove the extra '/'",
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


@functools.lru_cache(maxsize=4096)  # a long history names the same files over and over
def _name_rule(name: str) -> tuple[Rule, str | None] | None:
    if name in (".", ".."):
        return Rule.DOT_PATH, name
    if is_dotgit_alias(name):
        return Rule.DOTGIT, name
    if "\\" in name:
        return Rule.BACKSLASH, None
    return None


def name_problem(path: str, name: str) -> Problem | None:
    """The problem of `name`, a component of `path`, or None."""
    found = _name_rule(name)
    return None if found is None else Problem(found[0], path, value=found[1])


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
    if b"\0" in data:  # memchr, in C
        return Problem(Rule.NUL, path)
    if data.isascii():  # ASCII is UTF-8: no decoded copy to make
        return None
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
    if "" in (*folders, name):  # git would write a tree that no clone or fsck accepts
        return Problem(Rule.EMPTY_NAME, path)
    for folder in folders:
        problem = name_problem(path, folder)
        if problem is not None:
            return problem
    problem = name_problem(path, name) or mode_problem(path, FILE_MODE)
    if problem is None and data is not None:
        problem = blob_problem(path, data, max_bytes)
    return problem


class _Entry(NamedTuple):
    """One changed entry of one new commit, in the order git lists them."""
    commit: str
    path: str
    blob: str
    problem: Problem | None  # a name or mode problem, found without reading anything
    needs_content: bool  # a new blob whose bytes must be checked


def _folders(changed: list[tuple[str, list[Change]]]) -> dict[str, str]:
    """tree -> its path and a slash, for the folders `diff-tree -t` lists as changed."""
    folders: dict[str, str] = {}
    for _, changes in changed:
        for change in changes:
            if stat.S_ISDIR(change.new_mode):
                folders.setdefault(change.new_sha, change.path.decode("utf-8", "replace") + "/")
    return folders


def _content_problems(read: Callable[[list[str]], Iterable[tuple[str, bytes]]],
                      blobs: list[tuple[str, int]], max_file_bytes: int) -> dict[str, Problem]:
    """blob -> its content problem (with an empty path), for the bad ones of (blob, size);
    `read` gives the bytes of a list of blobs."""
    found: dict[str, Problem] = {}
    small = []
    for blob, size in blobs:
        if size > max_file_bytes:  # refused by size before any byte is read
            found[blob] = Problem(Rule.TOO_LARGE, "", value=size, limit=max_file_bytes)
        else:
            small.append(blob)
    for blob, data in read(small):
        problem = blob_problem("", data, max_file_bytes)
        if problem is not None:
            found[blob] = problem
    return found


class _QuarantineScan:
    """The quarantine's objects listed, then its trees and blobs read, on threads and git
    processes of their own while the main thread lists and diffs the commits: the git
    processes use every CPU there is.

    Every new blob is checked, not only those the commits' diffs name: a push's new blobs are
    the ones its new commits bring, so that is the same work, started sooner. The blobs are
    split between the readers a delta chain at a time (`split_by_delta_chain`). Only what is
    bad is kept (and the rare tree with an odd mode); one object per reader is in memory.
    """

    def __init__(self, batch: GitBatch, quarantine: Path, max_file_bytes: int) -> None:
        self.new_objects: dict[str, ObjectInfo] = {}
        self.odd_trees: list[tuple[str, bytes]] = []
        self.content: dict[str, Problem] = {}
        self._listed = threading.Event()
        self._errors: list[BaseException] = []
        # The readers share the one cat-file's default delta cache (96 MiB): a push's memory
        # stays what it was with one reader.
        self._batch = GitBatch(batch.git_dir, batch.env,
                               {"core.deltaBaseCacheLimit": f"{96 // _SCAN_READERS}m"})
        self._threads: list[threading.Thread] = []
        self._start(self._list, quarantine, max_file_bytes)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=self._guarded, args=(target, *args),
                                  name="policy-scan", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guarded(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except BaseException as exc:  # pylint: disable=broad-exception-caught  # raised in finish
            self._errors.append(exc)
        finally:
            self._listed.set()  # a failed listing must not leave the main thread waiting

    def _list(self, quarantine: Path, max_file_bytes: int) -> None:
        self.new_objects = self._batch.object_ids(quarantine)
        self._listed.set()
        trees, blobs, tree_bytes = [], [], 0
        for info in self.new_objects.values():
            if info.type == "tree":
                trees.append(info.sha)
                tree_bytes += info.size
            elif info.type == "blob":
                blobs.append(info)
        # Trees cost their reader about twice their bytes (many small objects): weigh them so.
        first, *others = split_by_delta_chain(blobs, [2 * tree_bytes] + [0] * (_SCAN_READERS - 1))
        for part in others:
            if part:
                self._start(self._read, [], part, max_file_bytes)
        self._read(sorted(trees), first, max_file_bytes)

    def _read(self, trees: list[str], blobs: list[ObjectInfo], max_file_bytes: int) -> None:
        if trees:
            self.odd_trees = [(tree, raw) for tree, raw in self._batch.stream(trees)
                              if may_have_odd_modes(raw)]
        self.content.update(_content_problems(self._batch.stream,
                                              [(b.sha, b.size) for b in blobs], max_file_bytes))

    def listed(self) -> dict[str, ObjectInfo]:
        """The quarantine's objects by id, once listed."""
        self._listed.wait()
        if self._errors:
            raise self._errors[0]
        return self.new_objects

    def finish(self) -> None:
        """Wait for the scan; raise what it raised."""
        self._threads[0].join()  # the listing thread, which starts the other readers
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]


class PolicyChecker:
    """Checks the new commits of a push with git's own batch tools; every problem once.

    `rev-list` finds the commits the push brings (parents first), one `diff-tree --stdin` lists
    every commit's changed entries against its first parent (folders too), and `cat-file`
    gives the sizes of the new blobs and the bytes of those under the size limit. Entries a
    commit leaves unchanged were checked with the commit that brought them (or when they first
    arrived), so the work grows with what the push adds, not with commits times tree size.
    Objects in the repository already are not read again: `new_objects` is the quarantine's
    content (without a quarantine every object counts as new, which is safe but slower). With a
    quarantine, it is listed and its trees and blobs read on threads of their own from the
    start: use the checker as a context manager, which waits for them at the end.
    """

    def __init__(self, batch: GitBatch, quarantine: Path | None, max_file_bytes: int) -> None:
        self.batch = batch
        self.quarantine = quarantine
        self.max_file_bytes = max_file_bytes
        self._scan: _QuarantineScan | None = None
        self._new_objects: Mapping[str, ObjectInfo] | None = None

    def __enter__(self) -> PolicyChecker:
        if self.quarantine is not None:
            self._scan = _QuarantineScan(self.batch, self.quarantine, self.max_file_bytes)
        return self

    def __exit__(self, *exc: object) -> None:
        scan, self._scan = self._scan, None
        if scan is not None:
            try:
                scan.finish()
            except Exception:  # pylint: disable=broad-exception-caught
                if exc[0] is None:  # nothing else went wrong: this did
                    raise

    @property
    def new_objects(self) -> Mapping[str, ObjectInfo] | None:
        """The quarantine's objects by id (None without a quarantine: every object is new)."""
        if self._new_objects is None and self.quarantine is not None:
            if self._scan is not None:
                self._new_objects = self._scan.listed()
            else:  # not used as a context manager: list them here
                self._new_objects = self.batch.object_ids(self.quarantine)
        return self._new_objects

    def ref_problems(self, updates: Iterable[tuple[str, str]]) -> dict[str, Problem]:
        """ref -> the problem of its new target (it must be a commit), for the bad ones."""
        pairs = list(updates)
        infos = self.batch.info(f"{new}^{{}}" for _, new in pairs)
        return {ref: Problem(Rule.REF_TARGET, ref, value=info.type)
                for (ref, _), info in zip(pairs, infos, strict=True) if info.type != "commit"}

    def new_commits(self, tips: Iterable[str]) -> list[NewCommit]:
        """Commits the push brings, parents before children (topological, not by date:
        commits made within one second share a timestamp, and a file must be blamed on the
        commit that added it, not on a later one that carries it)."""
        return self.batch.new_commits(tips, exclude_all_refs=self.quarantine is not None)

    def _entries(self, changed: list[tuple[str, list[Change]]],
                 odd: Mapping[tuple[str, str], int]) -> list[_Entry]:
        new_objects = self.new_objects
        entries = []
        for sha, changes in changed:
            refused_folders: list[str] = []
            for change in changes:
                mode = change.new_mode
                if mode == 0:
                    continue  # deleted
                path = change.path.decode("utf-8", errors="replace")
                if refused_folders and any(path.startswith(folder)
                                           for folder in refused_folders):
                    continue  # inside a folder refused by name: the folder says it
                if odd:
                    mode = odd.get((path, change.new_sha), mode)
                problem = name_problem(path, path.rpartition("/")[2])
                if problem is None and not (mode in _FILE_MODES and path.endswith(".py")):
                    problem = mode_problem(path, mode)
                is_dir = stat.S_ISDIR(change.new_mode)
                if problem is not None and is_dir:
                    refused_folders.append(path + "/")
                entries.append(_Entry(sha, path, change.new_sha, problem,
                                      problem is None and not is_dir and (
                                          new_objects is None or change.new_sha in new_objects)))
        return entries

    def _odd_modes(self, commits: list[NewCommit], changed: list[tuple[str, list[Change]]],
                   odd_trees: list[tuple[str, bytes]]) -> dict[tuple[str, str], int]:
        """(path, blob) -> mode, for entries of the push's new trees whose mode is written
        other than git writes it (100664, say), which every git reader shows normalised."""
        if not odd_trees:
            return {}
        # Rare: where each such tree is. A root's entries are at the top; a tree that no new
        # commit reaches is never checked out, so its modes do not matter.
        folders = _folders(changed)
        for root in self.batch.info(f"{c.sha}^{{tree}}" for c in commits):
            folders.setdefault(root.sha, "")
        odd: dict[tuple[str, str], int] = {}
        for tree, raw in odd_trees:
            for name, mode, blob in tree_entries_raw(raw) if tree in folders else ():
                if mode not in _WRITTEN_MODES:
                    odd[(folders[tree] + name.decode("utf-8", "replace"), blob)] = mode
        return odd

    def _read_new(self, commits: list[NewCommit], changed: list[tuple[str, list[Change]]],
                  entries: list[_Entry]) -> tuple[list[tuple[str, bytes]], dict[str, Problem]]:
        """Without a quarantine: the odd trees and content problems, read here and now."""
        roots = [root.sha for root in self.batch.info(f"{c.sha}^{{tree}}" for c in commits)]
        trees = list(dict.fromkeys([*roots, *_folders(changed)]))
        odd_trees = [(tree, raw) for tree, raw in self.batch.read_many(trees)
                     if may_have_odd_modes(raw)]
        blobs = sorted({e.blob for e in entries if e.needs_content})
        sizes = [info.size for info in self.batch.info(blobs)]
        return odd_trees, _content_problems(self.batch.read_many,
                                            list(zip(blobs, sizes, strict=True)),
                                            self.max_file_bytes)

    def check_commits(self, commits: list[NewCommit]) -> list[Problem]:
        """The problems of the commits' new entries and files, each (path, blob) once."""
        pairs = [(c.sha, c.parents[0] if c.parents else None) for c in commits]
        changed = list(self.batch.changes(pairs, trees=True))
        entries = self._entries(changed, {})
        if self._scan is not None:
            scan, self._scan = self._scan, None
            scan.finish()
            odd_trees, content = scan.odd_trees, scan.content
        else:
            odd_trees, content = self._read_new(commits, changed, entries)
        odd = self._odd_modes(commits, changed, odd_trees)
        if odd:  # rare: the entries again, with the modes as written
            entries = self._entries(changed, odd)
        problems: list[Problem] = []
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            problem = entry.problem
            if problem is None and entry.needs_content and entry.blob in content:
                problem = replace(content[entry.blob], path=entry.path)
            if problem is not None and (entry.path, entry.blob) not in seen:
                seen.add((entry.path, entry.blob))
                problems.append(replace(problem, commit=entry.commit))
        return problems
