"""git's own batch tools, for reading what a push brings without Python's pack reader.

One `git` process per question for a whole push (not one per commit): `rev-list` for the new
commits, `diff-tree --stdin` for every commit's changes in one run, and one long-lived
`cat-file --batch-command` for object types, sizes and the bytes of the blobs that need a
content check. The environment passes git's quarantine through (GIT_OBJECT_DIRECTORY and
GIT_ALTERNATE_OBJECT_DIRECTORIES), so a pre-receive hook sees the pushed objects.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

ZERO = "0" * 40
_QUARANTINE_ENV = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                   "GIT_QUARANTINE_PATH")


class GitBatchError(Exception):
    """A git batch command failed; str(exc) has git's own message."""


@dataclass(frozen=True)
class NewCommit:
    """A commit and its parents, as `rev-list --parents` lists them."""
    sha: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class CommitDetails:
    """What a commit says of itself: author, dates (Unix seconds), message."""
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored_at: int
    committed_at: int
    message: str


class Change(NamedTuple):
    """One entry of a commit's diff: old and new mode/sha (zeros when absent), status, path.

    A tuple, not a dataclass: a long history lists tens of thousands, made at C speed."""
    old_mode: int
    new_mode: int
    old_sha: str
    new_sha: str
    status: str  # A, M, D, T (type change); renames are off, so no R/C
    path: bytes


class ObjectInfo(NamedTuple):
    """What `cat-file` says of an object: its type and size, or `missing` (a tuple: a push
    brings tens of thousands of objects)."""
    sha: str
    type: str  # blob, tree, commit, tag, or "missing"
    size: int
    # The object it is stored as a delta of (ZERO: stored whole); from object_ids() only.
    delta_base: str = ZERO


# NamedTuples made from a tuple by tuple.__new__ itself: a C call per object, where the class's
# own __new__ and _make are Python functions (a push lists tens of thousands of objects).
_new_info = functools.partial(tuple.__new__, ObjectInfo)
_new_change = functools.partial(tuple.__new__, Change)


def git_env(git_dir: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for git on `git_dir`, keeping a hook's quarantine variables."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_DIR": str(git_dir),
            "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(git_dir)}
    for name in _QUARANTINE_ENV:
        if env and env.get(name):
            base[name] = env[name]
    return base


class GitBatch:
    """Batch reads of one repository (and a push's quarantine), one git process per question."""

    def __init__(self, git_dir: Path, env: Mapping[str, str] | None = None,
                 config: Mapping[str, str] | None = None) -> None:
        self.git_dir = git_dir
        self.env = git_env(git_dir, env)
        for number, (key, value) in enumerate((config or {}).items()):  # git -c, for each git
            self.env[f"GIT_CONFIG_KEY_{number}"] = key
            self.env[f"GIT_CONFIG_VALUE_{number}"] = value
            self.env["GIT_CONFIG_COUNT"] = str(number + 1)
        self._cat: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GitBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the long-lived cat-file process."""
        if self._cat is not None:
            assert self._cat.stdin is not None
            self._cat.stdin.close()
            self._cat.wait(timeout=30)
            self._cat = None

    def _run(self, args: list[str], stdin: bytes = b"") -> bytes:
        result = subprocess.run(["git", *args], input=stdin, capture_output=True,
                                env=self.env, check=False, timeout=600)
        if result.returncode != 0:
            raise GitBatchError(f"git {args[0]} failed: "
                                f"{result.stderr.decode('utf-8', 'replace').strip()}")
        return result.stdout

    # -- commits -------------------------------------------------------------------------------

    def new_commits(self, tips: Iterable[str], exclude: Iterable[str] = (),
                    exclude_all_refs: bool = False) -> list[NewCommit]:
        """Commits reachable from `tips` but not from `exclude` (or any ref), parents first."""
        tips = [sha for sha in tips if sha]
        if not tips:
            return []
        # git 2.39 takes no options on stdin: exclusions are ^sha lines, and `--not --all`
        # after `--stdin` applies to the refs only (stdin is read where `--stdin` stands).
        lines = [*tips, *(f"^{sha}" for sha in exclude if sha)]
        args = ["rev-list", "--topo-order", "--reverse", "--parents", "--stdin"]
        if exclude_all_refs:
            args += ["--not", "--all"]
        out = self._run(args, ("\n".join(lines) + "\n").encode())
        commits = []
        for line in out.decode("ascii").splitlines():
            sha, *parents = line.split()
            commits.append(NewCommit(sha, tuple(parents)))
        return commits

    def peel_to_commits(self, shas: Iterable[str]) -> dict[str, str | None]:
        """Each sha's commit once tags are peeled (None when it is not a commit)."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        infos = self.info(f"{sha}^{{commit}}" for sha in wanted)
        return {sha: (info.sha if info.type == "commit" else None)
                for sha, info in zip(wanted, infos, strict=True)}

    def details(self, shas: list[str]) -> Iterator[CommitDetails]:
        """Author, dates and message of each commit, in the order given (one `git log`)."""
        if not shas:
            return
        out = self._run(["log", "--no-walk=unsorted", "--stdin", "-z",
                         "--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%ct%x00%B%x00"],
                        ("\n".join(shas) + "\n").encode())
        fields = out.split(b"\0")
        for start in range(0, len(fields) - 6, 8):  # 7 fields, then the NUL between commits
            sha, parents, name, email, authored, committed, body = fields[start:start + 7]
            yield CommitDetails(sha.decode("ascii"), tuple(parents.decode("ascii").split()),
                                name.decode("utf-8", "replace"),
                                email.decode("utf-8", "replace"), int(authored),
                                int(committed), body.decode("utf-8", "replace"))

    # -- changes -------------------------------------------------------------------------------

    def changes(self, pairs: Iterable[tuple[str, str | None]], trees: bool = False
                ) -> Iterator[tuple[str, list[Change]]]:
        """(commit, its changes against `parent`) for each (commit, parent or None) pair.

        One `diff-tree --stdin` for all of them. None: against the commit's own parents, which
        for a root commit is the empty tree (give None for root commits only). With `trees`,
        tree entries are listed too (`-t`), so folder names show.
        """
        lines = [f"{sha} {parent}" if parent else sha for sha, parent in pairs]
        if not lines:
            return
        args = ["diff-tree", "-r", "-z", "--root", "--always", "--no-renames", "--stdin"]
        if trees:
            args.append("-t")
        out = self._run(args, ("\n".join(lines) + "\n").encode())
        yield from _parse_diff_tree(out)

    def tree_paths(self, commit: str) -> list[bytes]:
        """Every file path of the commit's tree (one `ls-tree -r`)."""
        out = self._run(["ls-tree", "-r", "-z", "--name-only", commit])
        return [path for path in out.split(b"\0") if path]

    # -- objects -------------------------------------------------------------------------------

    def _cat_file(self) -> subprocess.Popen[bytes]:
        if self._cat is None:
            # Not a `with`: the process lives as long as this object (see close()).
            self._cat = subprocess.Popen(  # pylint: disable=consider-using-with
                ["git", "cat-file", "--batch-command", "--buffer"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=self.env, bufsize=1 << 20)
        return self._cat

    def info(self, names: Iterable[str]) -> list[ObjectInfo]:
        """Type and size of each object name (sha, or sha^{commit} etc.), in order."""
        names = list(names)
        if not names:
            return []
        proc = self._cat_file()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"".join(f"info {n}\n".encode() for n in names) + b"flush\n")
        proc.stdin.flush()
        infos = []
        for name in names:
            parts = proc.stdout.readline().decode("ascii", "replace").split()
            if len(parts) == 3:
                infos.append(ObjectInfo(parts[0], parts[1], int(parts[2])))
            else:
                infos.append(ObjectInfo(name, "missing", 0))
        return infos

    def object_ids(self, objects_dir: Path) -> dict[str, ObjectInfo]:
        """The type, size and delta base of every object stored in `objects_dir` alone (a
        push's quarantine: the objects the push brings), whatever its alternates hold; by id."""
        env = {**self.env, "GIT_OBJECT_DIRECTORY": str(objects_dir)}
        env.pop("GIT_ALTERNATE_OBJECT_DIRECTORIES", None)
        result = subprocess.run(
            ["git", "cat-file", "--batch-all-objects",
             "--batch-check=%(objectname) %(objecttype) %(objectsize) %(deltabase)",
             "--unordered"],
            capture_output=True, env=env, check=False, timeout=600)
        if result.returncode != 0:
            raise GitBatchError("git cat-file failed: "
                                + result.stderr.decode("utf-8", "replace").strip())
        fields = result.stdout.decode("ascii").split()
        shas = fields[0::4]
        return dict(zip(shas, map(_new_info, zip(
            shas, fields[1::4], map(int, fields[2::4]), fields[3::4], strict=True)),
            strict=True))

    def read_many(self, shas: Iterable[str], chunk: int = 256) -> Iterator[tuple[str, bytes]]:
        """(sha, raw bytes) of each object, in order, one object in memory at a time.

        A thread writes the commands (flushed every `chunk`) while this one reads the answers,
        so git works on the next objects while we look at the last: no round trip per chunk.
        Stopping early reads the rest to the end, so git and the writer are never left blocked.
        """
        proc = self._cat_file()
        assert proc.stdin is not None
        stdin = proc.stdin
        pending = list(shas)

        def feed() -> None:
            for start in range(0, len(pending), chunk):
                stdin.write(b"".join(f"contents {sha}\n".encode()
                                     for sha in pending[start:start + chunk]) + b"flush\n")
                stdin.flush()
        feeder = threading.Thread(target=feed, name="cat-file-feed", daemon=True)
        feeder.start()
        answered = 0
        try:
            for sha in pending:
                answered += 1
                yield sha, self._read_answer(sha)
        finally:
            for sha in pending[answered:]:  # stopped early (or a missing object): drain
                with contextlib.suppress(GitBatchError):
                    self._read_answer(sha)
            feeder.join()

    def stream(self, shas: list[str]) -> Iterator[tuple[str, bytes]]:
        """(sha, raw bytes) of each object, in order, from a `cat-file --batch` of its own
        (so threads can read side by side), one object in memory at a time.

        A thread writes the ids, one C-level join for all of them, while this one reads the
        answers. Stopping early (or a missing object) ends that process.
        """
        if not shas:
            return
        # Not a `with`: ended in the finally below, whichever way the reader stops.
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            ["git", "cat-file", "--batch", "--buffer"], stdin=subprocess.PIPE,
            # 64 KiB: small objects come many per read; a larger one is read straight into
            # its own bytes, not through (and beside) a buffer of its size
            stdout=subprocess.PIPE, env=self.env, bufsize=1 << 16)
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def feed() -> None:
            with contextlib.suppress(BrokenPipeError, ValueError), stdin:  # ended early
                stdin.write(("\n".join(shas) + "\n").encode("ascii"))
        feeder = threading.Thread(target=feed, name="cat-file-feed", daemon=True)
        feeder.start()
        readline, read = stdout.readline, stdout.read
        done = False
        try:
            for sha in shas:
                header = readline().split()
                if len(header) != 3:
                    raise GitBatchError(f"object {sha} is missing")
                yield sha, read(int(header[2]))
                read(1)  # the newline after the contents
            done = True
        finally:
            if not done:
                proc.kill()
            feeder.join()
            stdout.close()
            proc.wait(timeout=30)

    def _read_answer(self, sha: str) -> bytes:
        assert self._cat is not None and self._cat.stdout is not None
        stdout = self._cat.stdout
        header = stdout.readline().decode("ascii", "replace").split()
        if len(header) != 3:
            raise GitBatchError(f"object {sha} is missing")
        data = stdout.read(int(header[2]))
        stdout.read(1)  # the newline after the contents
        return data

    def read(self, sha: str) -> bytes:
        """The raw bytes of one object."""
        proc = self._cat_file()
        assert proc.stdin is not None
        proc.stdin.write(f"contents {sha}\nflush\n".encode())
        proc.stdin.flush()
        return self._read_answer(sha)


def split_by_delta_chain(objects: Iterable[ObjectInfo],
                         weights: list[int]) -> list[list[ObjectInfo]]:
    """`objects` in one list per starting weight, each delta chain whole in one list, so that
    weight plus bytes comes out about equal (each list in id order, which `cat-file` reads
    fastest).

    `cat-file` rebuilds an object from its delta base: two processes given halves of one chain
    would both rebuild all of it, while whole chains on each side halve the work.
    """
    by_sha = {info.sha: info for info in objects}
    roots: dict[str, str] = {}
    for info in by_sha.values():
        path: list[str] = []
        current = info
        # down to a chain's base (or to an object whose base is known); a cycle cannot be
        # stored, but do not loop on one
        while (current.sha not in roots and current.delta_base in by_sha
               and len(path) <= len(by_sha)):
            path.append(current.sha)
            current = by_sha[current.delta_base]
        root = roots.get(current.sha, current.sha)
        for sha in (*path, current.sha):
            roots[sha] = root
    chains: dict[str, list[ObjectInfo]] = {}
    for sha, info in by_sha.items():
        chains.setdefault(roots[sha], []).append(info)
    weights = list(weights) or [0]
    lists: list[list[ObjectInfo]] = [[] for _ in weights]
    for chain in sorted(chains.values(), key=lambda c: -sum(i.size for i in c)):
        lightest = weights.index(min(weights))
        lists[lightest] += chain
        weights[lightest] += sum(info.size for info in chain)
    return [sorted(part) for part in lists]


# A tree whose every entry has a mode as git writes it: entry after entry, a written mode, the
# name (no NUL), the NUL and the 20-byte id. The regex engine walks the entries in C; a tree it
# does not match whole has an odd mode (or is malformed) and is read entry by entry.
_WRITTEN_TREE = re.compile(
    rb"(?:(?:100644|100755|40000|120000|160000) [^\x00]*\x00[\s\S]{20})*")


def may_have_odd_modes(raw: bytes) -> bool:
    """False when every entry of the raw tree has a mode as git writes it."""
    return _WRITTEN_TREE.fullmatch(raw) is None


def tree_entries_raw(raw: bytes) -> Iterator[tuple[bytes, int, str]]:
    """(name, mode, object id) of each entry of a raw tree object, the mode as written: git's
    own readers (`diff-tree`, `ls-tree`) show 100664 as 100644, so odd modes show only here."""
    pos, end = 0, len(raw)
    while pos < end:
        space = raw.index(b" ", pos)
        nul = raw.index(b"\0", space)
        yield raw[space + 1:nul], int(raw[pos:space], 8), raw[nul + 1:nul + 21].hex()
        pos = nul + 21  # the NUL, then the 20-byte object id


def _parse_diff_tree(out: bytes) -> Iterator[tuple[str, list[Change]]]:
    """Parse `diff-tree -r -z --stdin` output: a commit id line, then its raw entries.

    Each raw entry is `:<mode> <mode> <sha> <sha> <status>` and its path, NUL-terminated; a
    commit's line starts with its id (and a NUL, with -z).
    """
    fields = out.split(b"\0")
    commit: str | None = None
    changes: list[Change] = []
    append = changes.append
    i, end = 0, len(fields)
    while i < end:
        item = fields[i]
        if item[:1] == b":":
            old_mode, new_mode, old_sha, new_sha, status = item[1:].decode("ascii").split(" ")
            append(_new_change((int(old_mode, 8), int(new_mode, 8), old_sha, new_sha,
                                status[:1], fields[i + 1])))
            i += 2
            continue
        if item:
            if commit is not None:
                yield commit, changes
            commit, changes = item.decode("ascii").strip(), []
            append = changes.append
        i += 1
    if commit is not None:
        yield commit, changes
