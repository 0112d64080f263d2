"""Sandboxed, warm pylint: one long-lived lint process per LintRunner, one file at a time.

The lint process (`checker/lint_child.py`) imports pylint once and keeps astroid's cache of
stdlib modules warm, so a small file takes tens of milliseconds instead of pylint's
start-up of half a second. It runs with an empty environment, a private HOME and
PYLINTHOME, our own rcfile and rlimits; this module enforces the timeout (of CPU time, with a
wall-clock cap: a busy machine must not turn a slow-to-schedule check into a timeout), turns
crashes into `error` results and starts a fresh process for the next file.

Files of one tree (`check_files(..., tree_id=...)`, one or more calls in a row) share what the
lint process learnt of the tree, as one pylint run over it would: a tree's modules are built
once, not for every file that imports them, and a tree that hides an installed package (a push
of pylint's own sources) drops astroid's copy of that package once, not per file. Each file's
result is still what a check of that file alone gives. The lint process is a fork server
(`lint_child.ForkServer`): each tree is checked in a fork of it that exits when the tree ends,
with whatever the tree built. Only between trees is a lint process recycled, when it has grown
past its warm size (`recycle_growth_mb`: never, unless something leaks in it) or served
`recycle_after` checks.

Scoring and states follow `gitserver.core.states`: pylint's evaluation of the file's own
counts, and `success` when it reaches `fail_under` without an error or fatal message. A file
that does not parse scores 0.0 with `syntax-error`, state `failure` (the user's file is at
fault, not the checker). Each result carries pylint's counts (statements, messages by type), so
that a commit's score can be pylint's global evaluation over its files.

With `warm=True` each lint process warms up while it waits for requests: it checks small modules
using the standard library that pushed code commonly imports, one at a time, a request first
whenever one arrives. astroid's cache of those modules then makes the first checks after a start
(or a recycle) as quick as the hundredth.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import distributions, version
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any

from gitserver.core.states import LintCounts, file_score, file_state

from .lint_user import lint_user

logger = logging.getLogger(__name__)

RCFILE = Path(__file__).with_name("pylintrc")
CHILD_SCRIPT = Path(__file__).with_name("lint_child.py")
# Bump when a change here or in lint_child.py changes what a check yields for the same
# file, so that stored results are not reused across the change.
# 3: results carry pylint's counts, and are reused by result key (checker.deps), not by blob.
RESULT_VERSION = 3
# Loading pylint takes about half a second; allow for a loaded machine.
START_TIMEOUT_S = 60.0
# A check's timeout is of CPU time; a starved lint process gets at most this many times as long
# in wall time (`_Child.receive`).
WALL_CAP_FACTOR = 4
# Also in lint_child.py, which removes its folder itself if the parent dies first.
PRIVATE_DIR_PREFIX = "gitserver-lint-"
# pylint accepts message symbols and ids, checker names and category letters here.
DISABLE_RE = re.compile(r"[A-Za-z0-9_-]+")
MESSAGE_TYPES = ("convention", "refactor", "warning", "error", "fatal", "info")
# A lint process that, between trees, holds this much more than when it was warm is replaced.
# Its trees' memory goes with their tree processes, so only a leak in the fork server itself
# would make it grow.
RECYCLE_GROWTH_MB = 24


class LintSetupError(Exception):
    """The lint process could not start (bad `checker.disable`, broken install)."""


@dataclass(frozen=True)
class LintMessage:  # pylint: disable=too-many-instance-attributes  # the API's message shape
    """One pylint message, with the fields the checks API shows."""

    line: int
    column: int
    end_line: int | None
    end_column: int | None
    type: str  # convention | refactor | warning | error | fatal | info
    symbol: str  # e.g. "undefined-variable"
    message_id: str  # e.g. "E0602"
    message: str


@dataclass(frozen=True)
class FileResult:
    """The check of one file."""

    path: str  # as given: relative, posix
    state: str  # success | failure | error
    score: float | None  # None for error
    messages: tuple[LintMessage, ...]
    duration_ms: int
    error: str | None = None  # why state == "error", written for the user
    counts: LintCounts | None = None  # None for error


def settings_fingerprint(disable: Sequence[str], fail_under: float, timeout_s: float = 60) -> str:
    """What the checker's settings and installation contribute to every result key."""
    payload = {
        "rcfile": RCFILE.read_text(encoding="utf-8"),
        "disable": sorted(set(disable)),
        "fail_under": float(fail_under),
        # A timeout is a result too (`error`), and reused like one.
        "timeout_s": float(timeout_s),
        "pylint": version("pylint"),
        "astroid": version("astroid"),
        # The stdlib that astroid infers against, and which messages exist, follow Python.
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        # So do imports of installed packages (`import requests` is inferred into the
        # installed copy): installing or upgrading one changes every key.
        "installed": installed_distributions(),
        "result_version": RESULT_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def installed_distributions() -> list[str]:
    """`name==version` of every installed distribution, sorted."""
    return sorted({f"{dist.metadata['Name']}=={dist.version}"
                   for dist in distributions() if dist.metadata["Name"]})


def _process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_left(pid: int | None, before: float | None, timeout_s: float) -> float:
    """CPU seconds the process may still use of `timeout_s` since `before`; 0 when unknown."""
    if pid is None or before is None:
        return 0.0
    now = _process_cpu_s(pid)
    return 0.0 if now is None else max(0.0, timeout_s - (now - before))


class _ChildGone(Exception):
    """The lint process exited or stopped answering; str(exc) is the user-facing reason."""


class _Child:  # pylint: disable=too-many-instance-attributes  # a process and its bookkeeping
    """One lint process with its private folder (HOME, PYLINTHOME, XDG dirs, cwd)."""

    def __init__(self, disable: Sequence[str], memory_mb: int,
                 options: Sequence[str] = ()) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=PRIVATE_DIR_PREFIX))
        self.checks = 0
        self.tree_pid: int | None = None  # the tree process checking the last file
        self.tree_files = 0  # files of the current tree it has checked (and learnt from)
        self.ready = False  # its hello line was read
        self.timeout_s = 0.0  # of the request under way, for the reasons given to users
        self._buffer = b""
        env = self._environment()
        self._stderr = (self.folder / "stderr.log").open("wb")
        command = [sys.executable, "-I", "-X", "utf8", str(CHILD_SCRIPT),
                   "--rcfile", str(RCFILE), "--disable", ",".join(disable),
                   "--memory-mb", str(memory_mb), "--private-dir", str(self.folder),
                   *options]
        user = lint_user()
        if user is not None:
            user.own(self.folder)
        try:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                env=env, cwd=self.folder / "work", close_fds=True, start_new_session=True,
                # switched in the child before the interpreter runs
                user=user.uid if user else None, group=user.gid if user else None,
                extra_groups=[] if user else None)
        except OSError:
            self._stderr.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    @property
    def _stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None  # Popen(stdin=PIPE)
        return self.process.stdin

    @property
    def _stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None  # Popen(stdout=PIPE)
        return self.process.stdout

    def _environment(self) -> dict[str, str]:
        """Built from nothing, so no variable of the server (and no secret) reaches pylint."""
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        for name, sub in (("HOME", "home"), ("PYLINTHOME", "pylint"), ("TMPDIR", "tmp"),
                          ("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config"),
                          ("XDG_DATA_HOME", "data"), ("", "work")):
            (self.folder / sub).mkdir(mode=0o700)
            if name:
                env[name] = str(self.folder / sub)
        return env

    def wait_ready(self) -> None:
        """Wait for the child's hello line: pylint imported and our rcfile accepted."""
        self.ready = True  # or failed for good: the caller closes it
        try:
            hello = self.receive(START_TIMEOUT_S)
        except _ChildGone as exc:
            raise LintSetupError(f"the lint process did not start: {exc}; "
                                 f"{self.stderr_tail()}") from None
        if not hello.get("ready"):
            raise LintSetupError(f"the lint process did not start: {hello.get('error')}")

    def send(self, request: Mapping[str, Any]) -> None:
        """Write one request line; the child answers it with one line."""
        self.timeout_s = float(request.get("cpu_s", 0))
        try:
            self._stdin.write(json.dumps(request).encode() + b"\n")
            self._stdin.flush()
        except (BrokenPipeError, ValueError):  # ValueError: closed meanwhile (shutdown)
            raise _ChildGone(self._exit_reason()) from None

    def receive(self, timeout_s: float, cpu_of: int | None = None) -> dict[str, Any]:
        """The next reply line, waiting at most timeout_s of wall time.

        With `cpu_of` (the tree process checking a file), timeout_s is of that process's CPU
        time: past it in wall time, the wait goes on while the process has used less CPU than
        that since the wait began, because a busy machine gave the CPU to pushes and pages
        first (the lint processes run nicer than they); the process's own RLIMIT_CPU ends a
        file that really takes that long. So a file's verdict does not depend on the load at
        the time, up to WALL_CAP_FACTOR times timeout_s of wall time.
        """
        started = time.monotonic()
        deadline = started + timeout_s
        cpu_before = _process_cpu_s(cpu_of) if cpu_of is not None else None
        fd = self._stdout.fileno()
        # poll, not select: a busy server's descriptors may be numbered above 1024.
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                starved = _cpu_left(cpu_of, cpu_before, timeout_s)
                if starved > 0 and time.monotonic() - started < WALL_CAP_FACTOR * timeout_s:
                    deadline = time.monotonic() + max(starved, 1.0)
                    continue
                self.kill()
                raise _ChildGone(_timed_out(timeout_s))
            if not poller.poll(math.ceil(remaining * 1000)):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise _ChildGone(self._exit_reason())
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _exit_reason(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return "pylint stopped answering"
        if code == -signal.SIGXCPU:
            return _timed_out(self.timeout_s)
        if code == -signal.SIGKILL:
            return "pylint was killed (out of memory?)"
        if code < 0:
            return f"pylint crashed with signal {signal.Signals(-code).name}"
        return f"pylint exited unexpectedly (code {code})"

    def stderr_tail(self, limit: int = 2000) -> str:
        """The end of what the child wrote to fd 2 (C-level errors), for error reports."""
        try:
            text = (self.folder / "stderr.log").read_bytes()[-limit:]
        except OSError:
            return ""
        return text.decode("utf-8", "replace").strip()

    def kill(self) -> None:
        """Stop the child and its tree process at once (timeout, crash); close() still cleans
        up after it."""
        if self.process.poll() is None:
            try:  # its own process group (start_new_session): the tree process goes with it
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Ask the process to finish (end of its input), then clean up after it."""
        try:
            self._stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
        self._stdout.close()
        self._stderr.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class LintRunner:  # pylint: disable=too-many-instance-attributes  # one per setting
    """Checks files with the server's pylint settings in a sandboxed, warm process.

    Not thread-safe: give each worker thread its own runner. Use as a context manager,
    or call close(), so the lint process and its private folder go away.
    """

    # All keyword-only: the checker settings plus the process limits.
    def __init__(self, *, disable: Sequence[str] = (), fail_under: float = 8.0,  # pylint: disable=too-many-arguments
                 timeout_s: float = 60, memory_mb: int = 1024, recycle_after: int = 500,
                 max_rss_mb: int | None = None, recycle_growth_mb: int = RECYCLE_GROWTH_MB,
                 warm: bool = False, warm_lock: str = "") -> None:
        for name in disable:
            if not DISABLE_RE.fullmatch(name):
                raise ValueError(f"checker.disable: {name!r} is not a pylint message name")
        if timeout_s <= 0 or memory_mb < 128 or recycle_after < 1 or recycle_growth_mb < 0:
            raise ValueError("timeout_s must be > 0, memory_mb >= 128, recycle_after >= 1, "
                             "recycle_growth_mb >= 0")
        self.disable = tuple(disable)
        self.fail_under = fail_under
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        # Between trees, a process is replaced after this many checks, or when it holds this much
        # more than when it was warm.
        self.recycle_after = recycle_after
        self.recycle_growth_mb = recycle_growth_mb
        # Well under the address-space limit: past it, the process forgets the tree under way
        # after the file (the next file learns it again), not waiting for the tree to end.
        self.max_rss_mb = max_rss_mb if max_rss_mb is not None else memory_mb // 2
        self.warm = warm
        # Shared by the runners of one worker: their processes warm up only while none of
        # them is checking a file (see lint_child.WarmUp).
        self.warm_lock = warm_lock
        self._child: _Child | None = None
        self._tree: tuple[str, Path] | None = None  # (token, root) the lint process knows

    def __enter__(self) -> LintRunner:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the lint process and remove its private folder; a later check starts anew."""
        if self._child is not None:
            self._child.close()
            self._child = None

    @property
    def child_pid(self) -> int | None:
        """The process id of the lint process (the fork server) while one is running."""
        return self._child.process.pid if self._child is not None else None

    @property
    def tree_pid(self) -> int | None:
        """The process id of the tree process that checked the last file (it exits when its
        tree ends)."""
        return self._child.tree_pid if self._child is not None else None

    def check_files(self, root: Path, paths: Sequence[str],
                    tree_id: str | None = None) -> Iterator[FileResult]:
        """Check `paths` (relative, posix) of the tree materialised under `root` (which the
        lint user must be able to read: see `lint_user.share_tree`).

        Yields one result per path, in order, as each finishes. Raises ValueError at once
        if a path is not a regular .py file inside root.

        `tree_id` names this materialisation of the tree (say, the commit's sha and a unique id
        per folder made; never the folder alone, which a later tree may reuse). Calls with the
        same tree_id and root share what the lint process learnt of the tree, as one pylint
        run over it would, with the same results as checks of each file alone; a call with
        another tree (or none), or `end_tree()`, makes it forget. Without a tree_id the process
        forgets the tree after the call.
        """
        root = Path(root).resolve(strict=True)
        relpaths = [_checked_path(root, path) for path in paths]
        return self._check_tree(root, relpaths, tree_id)

    def end_tree(self) -> None:
        """Make the lint process forget the tree it knows and give its memory back; replace a
        process that then still holds much more than when it was warm. Call it when done with
        a tree (before its folder goes), so that the memory does not wait for the next tree."""
        self._tree = None
        child = self._child
        if child is None or child.tree_files == 0:
            return
        child.tree_files = 0
        try:
            child.send({"end": True})
            reply = child.receive(START_TIMEOUT_S)
        except _ChildGone as exc:
            logger.warning("the lint process was lost between trees (%s); starting afresh", exc)
            self.close()
            return
        # base_rss_kb: what the process needs knowing no tree, once warm.
        grown_kb = reply["rss_kb"] - reply["base_rss_kb"]
        if child.checks >= self.recycle_after or grown_kb > self.recycle_growth_mb * 1024:
            logger.info("recycling the lint process after %d checks (RSS %d MiB, %d MiB over "
                        "its warm size)", child.checks, reply["rss_kb"] // 1024, grown_kb // 1024)
            self.close()
            if self.warm:
                # Started now, so that it warms up while the caller is busy elsewhere.
                try:
                    self._child = self._start_child()
                except OSError:
                    logger.exception("could not start a lint process; the next check tries again")

    def _check_tree(self, root: Path, relpaths: list[str],
                    tree_id: str | None) -> Iterator[FileResult]:
        # Without a tree_id, a token of this call alone; "tree:" keeps ours apart from the
        # lint process's own (its warm-up's).
        tree = (f"call:{uuid.uuid4().hex}" if tree_id is None else f"tree:{tree_id}", root)
        for relpath in relpaths:
            # Checked per file: the caller may check another tree while this one waits.
            if self._tree != tree:
                self.end_tree()  # a tree boundary: the only place a process is recycled
                self._tree = tree
            yield self._check_one(root, relpath, tree[0])
        if tree_id is None and self._tree == tree:
            self.end_tree()

    def _check_one(self, root: Path, relpath: str, token: str) -> FileResult:
        child = self._running_child()
        request = {"root": str(root), "path": relpath, "cpu_s": self.timeout_s, "tree": token}
        try:
            child.send(request)
            # A warming process first finishes its step (well under a second, mostly): the
            # file's time starts when the process starts on it.
            child.tree_pid = child.receive(START_TIMEOUT_S).get("pid")
        except _ChildGone:
            # Lost while warming up, before the file was even read: no fault of the file's.
            logger.warning("the lint process was lost while warming up; starting afresh")
            self.close()
            self.warm = False
            child = self._running_child()
            try:
                child.send(request)
                child.tree_pid = child.receive(START_TIMEOUT_S).get("pid")
            except _ChildGone as exc:
                return self._failed(relpath, str(exc), time.monotonic())
        started = time.monotonic()
        try:
            # Of the tree process's CPU time, with a wall-clock cap (receive); the child's own
            # RLIMIT_CPU (whole seconds) ends a file that really takes that long.
            reply = child.receive(self.timeout_s, cpu_of=child.tree_pid)
        except _ChildGone as exc:
            return self._failed(relpath, str(exc), started)
        child.checks += 1
        learnt = child.tree_files
        child.tree_files += 1
        if not reply["ok"] and reply["kind"] == "memory" and learnt:
            # What the process kept of the tree's other files may be what filled its memory:
            # the file gets the verdict of a fresh process, which knows nothing of them.
            logger.info("lint of %s ran out of memory after %d files of its tree; again in a "
                        "fresh process", relpath, learnt)
            self.close()
            return self._check_one(root, relpath, token)
        if not reply["ok"]:
            return self._failed(relpath, _crash_reason(reply), started)
        if reply["rss_kb"] > self.max_rss_mb * 1024:
            logger.info("the lint process forgets its tree at %d MiB", reply["rss_kb"] // 1024)
            tree = self._tree
            self.end_tree()  # the next file of the tree learns it again
            self._tree = tree
        return self._result(relpath, reply, started)

    def _running_child(self) -> _Child:
        if self._child is None:
            self._child = self._start_child()
        child = self._child
        if not child.ready:
            try:
                child.wait_ready()
            except LintSetupError:
                child.kill()
                child.close()
                self._child = None
                raise
        return child

    def _start_child(self) -> _Child:
        """A new lint process, not yet waited for (it imports pylint meanwhile)."""
        return _Child(self.disable, self.memory_mb,
                      ["--warm", "--warm-lock", self.warm_lock] if self.warm else [])

    def _failed(self, relpath: str, reason: str, started: float) -> FileResult:
        if self._child is not None:
            self._child.kill()
            # C-level trouble (a segfault, a fatal error) is only on the child's fd 2.
            logger.warning("lint of %s failed: %s; lint process stderr: %s", relpath, reason,
                           self._child.stderr_tail() or "(empty)")
            self.close()
        return FileResult(path=relpath, state="error", score=None, messages=(),
                          duration_ms=_elapsed_ms(started), error=reason)

    def _result(self, relpath: str, reply: Mapping[str, Any], started: float) -> FileResult:
        counts = LintCounts.of(reply["counts"], reply["statement"])
        score = file_score(reply["counts"], reply["statement"])
        messages = sorted((LintMessage(**message) for message in reply["messages"]),
                          key=lambda m: (m.line, m.column, m.message_id))
        return FileResult(path=relpath, state=file_state(score, counts, self.fail_under),
                          score=score, messages=tuple(messages),
                          duration_ms=_elapsed_ms(started), counts=counts)


def _timed_out(timeout_s: float) -> str:
    return f"pylint timed out after {timeout_s:g} s on this file"


def _crash_reason(reply: Mapping[str, Any]) -> str:
    if reply["kind"] == "memory":
        return "pylint ran out of memory on this file"
    if reply["kind"] == "recursion":
        return f"pylint crashed: {reply['detail']} (the code nests too deeply for pylint)"
    return f"pylint crashed: {reply['detail']}"


def _checked_path(root: Path, path: str) -> str:
    """The path as posix text, if it names a regular .py file in root without symlinks."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("", ".", "..") for p in pure.parts) \
            or pure.suffix != ".py":
        raise ValueError(f"{path!r}: not a relative path to a .py file")
    current = root
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            raise ValueError(f"{path!r}: {part} is a symlink")
    if not current.is_file():
        raise ValueError(f"{path!r}: no such file under {root}")
    return pure.as_posix()


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
