"""Push and clone times of gitserver next to git's own git-http-backend, plus push memory.

Builds two work repos in a temporary directory:
- corpus: the .py files of installed packages (real code nobody here wrote), in 5 commits;
- big: 150 generated .py files of poorly compressible text (103.5 MB), for the memory target.
Then times `git push` (fresh empty repo per run) and `git clone --bare` with the real git
CLI over file://, over git-http-backend behind a small CGI host (bench/cgi_host.py), and
over `gitserver serve`, and samples the peak RSS of each server's process tree while the
big case is pushed. Prints a table with ratios and PASS/FAIL against the targets.

Run from the repository root: .venv/bin/python -m bench.bench_push_clone [--runs 3]
Exit status is 0 whatever the verdicts (it is a report); non-zero only if something broke.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Self

PACKAGES = (
    "pylint", "astroid", "dulwich", "starlette", "uvicorn", "huey", "jinja2", "pygments",
    "_pytest", "httpx", "httpcore", "anyio", "pip", "peewee.py", "playhouse", "isort",
    "click", "aiosmtpd", "prometheus_client",
)
CORPUS_COMMITS = 5
HISTORY_PACKAGES = ("pylint", "astroid")
HISTORY_COMMITS = 3000
BIG_FILES = 150
# 150 x 690 kB stays under limits.max_push_bytes (100 MiB) even if that counted file bytes.
BIG_FILE_BYTES = 690_000
MAX_FILE_BYTES = 1_048_576  # the server's per-file limit
PUSH_RATIO_TARGET = 1.5
CLONE_RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 100.0
SAMPLE_INTERVAL_S = 0.02
GIT_TIMEOUT_S = 120  # a hung server must not hang the bench
USER, PASSWORD = "alice", "password"
CGI_HOST = Path(__file__).with_name("cgi_host.py")
MB = 1_000_000


class BenchError(Exception):
    """Something the benchmark needs failed; str(exc) says what."""


@dataclass
class Case:
    """A work repo to push: its name in the table, where it is, and how big."""

    name: str
    work: Path
    files: int
    size: int
    pack: int
    commits: int = 0

    @property
    def tip(self) -> str:
        """The sha of main, which every push and clone must carry."""
        return git("rev-parse", "main", cwd=self.work).strip()


@dataclass
class Remote:
    """One way to reach a server: a factory of fresh empty push targets, and its process."""

    label: str
    new_repo_url: Callable[[str], str]
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None  # the server's output, quoted when something fails
    pushed: dict[str, str] = field(default_factory=dict)  # case name -> URL of its last push
    # Waits, untimed, until the server is idle again after a push (gitserver's repo queue
    # schedules the push's checks right after it; the next timed push should not meet that).
    settle: Callable[[], None] = lambda: None


@dataclass
class Results:
    """Median seconds by (action, case name, remote label); memory (idle, peak) by label."""

    seconds: dict[tuple[str, str, str], float] = field(default_factory=dict)
    memory: dict[str, tuple[Memory, Memory]] = field(default_factory=dict)
    repo_worker: Memory | None = None  # gitserver's repo queue worker after every push


# --- git -------------------------------------------------------------------------------

def git_environ() -> dict[str, str]:
    """The environment of every git (and server) process: no user config, no prompts."""
    env = dict(os.environ)
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "alice@example.com",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "alice@example.com",
    })
    return env


GIT_ENV = git_environ()


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git; return its stdout; BenchError with its stderr if it fails or hangs."""
    # A session of its own, so a hung push can be killed with its remote helper and pack-objects.
    with subprocess.Popen(["git", *args], cwd=cwd, env=GIT_ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=GIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise BenchError(f"git {' '.join(args[:2])} hung for {GIT_TIMEOUT_S} s") from None
    if process.returncode != 0:
        text = stderr.decode(errors="replace").strip()[-800:]
        raise BenchError(f"git {' '.join(args[:2])} failed: {text}")
    return stdout.decode(errors="replace")


def timed_git(*args: str, cwd: Path | None = None) -> float:
    """Run git; return the wall-clock seconds it took."""
    start = time.perf_counter()
    git(*args, cwd=cwd)
    return time.perf_counter() - start


def pack_bytes(repo: Path) -> int:
    """Size of the packs of a (non-bare or bare) repo."""
    return sum(path.stat().st_size for path in repo.glob("**/objects/pack/*.pack"))


# --- corpora ---------------------------------------------------------------------------

def is_acceptable(path: Path) -> bool:
    """Would the server's push policy take this file (size, UTF-8, no NUL)?"""
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES or b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def corpus_files(site_packages: Path) -> list[Path]:
    """The .py files of PACKAGES, relative to site_packages, in a stable order."""
    found: list[Path] = []
    for name in PACKAGES:
        top = site_packages / name
        candidates = [top] if top.is_file() else sorted(top.rglob("*.py"))
        found += [p.relative_to(site_packages) for p in candidates
                  if p.is_file() and not p.is_symlink() and is_acceptable(p)]
    if not found:
        raise BenchError(f"no .py files of {', '.join(PACKAGES)} in {site_packages}")
    return found


def build_corpus(work: Path, site_packages: Path) -> Case:
    """Commit the corpus into work in CORPUS_COMMITS commits."""
    files = corpus_files(site_packages)
    git("init", "-q", "-b", "main", str(work))
    size = 0
    for number in range(CORPUS_COMMITS):
        for relative in files[number::CORPUS_COMMITS]:
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site_packages / relative, target)
            size += target.stat().st_size
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", f"corpus part {number + 1} of {CORPUS_COMMITS}", cwd=work)
    git("repack", "-adq", cwd=work)  # pushes then reuse packed data, as from a real clone
    return Case("corpus", work, len(files), size, pack_bytes(work))


def build_history(work: Path, site_packages: Path, commits: int) -> Case:
    """A long history from real files, made with `git fast-import`: the first commit adds the
    .py files of HISTORY_PACKAGES, each later commit changes one of them (a comment appended)."""
    files = [f for f in corpus_files(site_packages)
             if f.parts[0] in HISTORY_PACKAGES]
    git("init", "-q", "-b", "main", str(work))
    stream = bytearray()
    size, stamp = 0, 1_700_000_000

    def header(number: int, message: str) -> None:
        text = message.encode()
        stream.extend(b"commit refs/heads/main\n"
                      b"committer Bench <bench@example.com> %d +0000\n" % (stamp + number)
                      + b"data %d\n%b\n" % (len(text), text))

    header(0, "add the sources")
    contents = {}
    for relative in files:
        data = (site_packages / relative).read_bytes()
        contents[relative] = data
        size += len(data)
        stream.extend(b"M 100644 inline %b\ndata %d\n%b\n"
                      % (relative.as_posix().encode(), len(data), data))
    for number in range(1, commits):
        relative = files[(number * 7919) % len(files)]
        contents[relative] += b"# edit %d\n" % number
        data = contents[relative]
        header(number, f"edit {relative.name} ({number})")
        stream.extend(b"M 100644 inline %b\ndata %d\n%b\n"
                      % (relative.as_posix().encode(), len(data), data))
    subprocess.run(["git", "fast-import", "--quiet"], input=bytes(stream), cwd=work,
                   env=GIT_ENV, check=True, capture_output=True, timeout=GIT_TIMEOUT_S)
    git("repack", "-adq", cwd=work)
    return Case("history", work, len(files), size, pack_bytes(work), commits)


def generated_module(rng: random.Random, size: int) -> bytes:
    """Valid Python, valid UTF-8, poorly compressible: string constants of random text."""
    # Printable ASCII without quote and backslash: ~6.5 bits per byte, deflate gains ~20%.
    alphabet = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    lines = [b'"""Generated data module for the push benchmark."""\n']
    written, number = len(lines[0]), 0
    while written < size:
        line = b'D%05d = "%b"\n' % (number, rng.randbytes(88).translate(table))
        lines.append(line)
        written += len(line)
        number += 1
    return b"".join(lines)


def build_big(work: Path) -> Case:
    """One commit of BIG_FILES generated modules."""
    git("init", "-q", "-b", "main", str(work))
    rng = random.Random(1234)
    size = 0
    for number in range(BIG_FILES):
        path = work / "data" / f"module_{number:03d}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(generated_module(rng, BIG_FILE_BYTES))
        size += path.stat().st_size
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "generated data modules", cwd=work)
    git("repack", "-adq", cwd=work)
    return Case("big", work, BIG_FILES, size, pack_bytes(work))


# --- process memory --------------------------------------------------------------------

def process_tree(root: int, skip: bytes = b"") -> list[int]:
    """root and all its descendants, from /proc; without the subtrees of processes whose
    command line holds `skip`, if given."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue  # exited while we looked
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if skip and pid != root and skip in _cmdline(pid):
            continue
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# The repo queue's worker, which `serve` starts next to itself: it schedules checks after a
# push (a worker's job, which the bench's measure of receiving a push leaves out, as it leaves
# out the check workers); its own peak is reported on a line of its own.
REPO_WORKER = b"--repo-queue"


class Memory(NamedTuple):
    """Resident memory in bytes: all of it (VmRSS), and the private heap part (RssAnon)."""

    rss: int
    anon: int

    def peak(self, other: Memory) -> Memory:
        """The larger of each figure."""
        return Memory(max(self.rss, other.rss), max(self.anon, other.anon))


def process_memory(pid: int) -> Memory:
    """VmRSS and RssAnon of one process; zero if it is gone or a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return Memory(0, 0)
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kib(name: str) -> int:
        return int(fields[name].split()[0]) * 1024 if name in fields else 0
    return Memory(kib("VmRSS"), kib("RssAnon"))


def tree_memory(root: int) -> Memory:
    """Summed memory of root and its descendants (uvicorn, git, hooks) at this moment, the
    repo queue's worker left out."""
    each = [process_memory(pid) for pid in process_tree(root, skip=REPO_WORKER)]
    return Memory(sum(m.rss for m in each), sum(m.anon for m in each))


class PeakSampler:
    """Samples the memory of a process tree every SAMPLE_INTERVAL_S in a thread; keeps peaks."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak = Memory(0, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = self.peak.peak(tree_memory(self.root))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = self.peak.peak(tree_memory(self.root))
            self._stop.wait(SAMPLE_INTERVAL_S)


# --- servers ---------------------------------------------------------------------------

def free_port() -> int:
    """A loopback port free right now: the port must be known before `gitserver serve` starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def file_remote(root: Path) -> Remote:
    """Reference: git talking to a local git over file://, no HTTP at all."""
    def new_repo_url(name: str) -> str:
        git("init", "-q", "--bare", "-b", "main", str(root / f"{name}.git"))
        return (root / f"{name}.git").as_uri()
    return Remote("file://", new_repo_url)


def cgi_remote(root: Path, log: Path) -> Remote:
    """Start bench/cgi_host.py on a free port; it prints the port as its first line."""
    root.mkdir(parents=True)
    with log.open("wb") as errors:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped in main
            [sys.executable, str(CGI_HOST), "--root", str(root)],
            stdout=subprocess.PIPE, stderr=errors, env=GIT_ENV)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        stop(process)
        raise BenchError(f"CGI host did not start: {log.read_text()[-800:]}")
    base = f"http://bench:secret@127.0.0.1:{int(line)}"

    def new_repo_url(name: str) -> str:
        git("init", "-q", "--bare", "-b", "main", str(root / f"{name}.git"))
        git("config", "http.receivepack", "true", cwd=root / f"{name}.git")
        return f"{base}/{name}.git"
    return Remote("git-http-backend", new_repo_url, process, log)


def gitserver_environ(data_dir: Path) -> dict[str, str]:
    """The environment of `gitserver serve` and `gitserver user add`."""
    env = dict(GIT_ENV)
    env.update({
        "GITSERVER_STORAGE_DATA_DIR": str(data_dir),
        "GITSERVER_CHECKER_PUSH_WAIT_S": "0",
        # No embedded pylint workers: they would compete for the CPUs during the timings.
        "GITSERVER_QUEUE_EMBEDDED": "false",
    })
    return env


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll /healthz until 200; BenchError if the server dies or takes over 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gitserver exited with {process.returncode}: "
                             f"{log.read_text(errors='replace')[-800:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        time.sleep(0.05)
    stop(process)
    raise BenchError(f"gitserver did not answer {url} within 60 s")


def gitserver_remote(exe: Path, data_dir: Path, log: Path) -> Remote:
    """Start `gitserver serve` on a free port, wait for /healthz, add the pushing user."""
    env, port = gitserver_environ(data_dir), free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped in main
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT, env=env, cwd=data_dir.parent)
    wait_healthy(f"http://127.0.0.1:{port}/healthz", process, log)
    added = subprocess.run(
        [str(exe), "user", "add", USER, f"{USER}@example.com"], input=f"{PASSWORD}\n",
        env=env, cwd=data_dir.parent, capture_output=True, text=True, check=False)
    # An access token, as git on GitHub takes no password: a password is checked with argon2,
    # whose 64 MiB (RFC 9106's low-memory setting) would count once a minute per account
    # (the auth cache's lifetime) in the server's memory, whatever the push.
    token = subprocess.run(
        [str(exe), "token", "create", USER, "--name", "bench"], env=env, cwd=data_dir.parent,
        capture_output=True, text=True, check=False)
    if added.returncode != 0 or token.returncode != 0:
        stop(process)
        raise BenchError(f"gitserver user add / token create failed: "
                         f"{added.stderr.strip()} {token.stderr.strip()}")
    base = f"http://{USER}:{token.stdout.strip()}@127.0.0.1:{port}"
    # Push-to-create: the URL of a repo that does not exist yet is a fresh empty target.
    return Remote("gitserver", lambda name: f"{base}/{USER}/{name}.git", process, log,
                  settle=lambda: wait_scheduled(data_dir / "gitserver.db"))


def wait_scheduled(database: Path, timeout_s: float = 600.0) -> None:
    """Until every push is recorded and its checks scheduled (the repo queue is idle)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True,
                                                timeout=30)) as db:
            left = db.execute("SELECT COUNT(*) FROM push WHERE history_at IS NULL").fetchone()
        if not left[0]:
            return
        time.sleep(0.1)
    raise BenchError(f"pushes still unscheduled after {timeout_s:.0f} s")


def find_gitserver(given: Path | None) -> Path | None:
    """The console script: given, or next to this Python (the venv's bin)."""
    if given is not None:
        return given
    found = shutil.which("gitserver", path=str(Path(sys.executable).parent))
    return Path(found) if found else None


def log_tail(log: Path | None) -> str:
    """The last lines of a server's log, to show with an error."""
    if log is None or not log.exists():
        return ""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
    return f"\n--- last lines of {log.name} ---\n" + "\n".join(lines)


# --- measurements ----------------------------------------------------------------------

def push_once(remote: Remote, case: Case, number: int) -> float:
    """Push case into a fresh empty repo; return the seconds it took."""
    url = remote.new_repo_url(f"{case.name}-{number + 1}")
    try:
        seconds = timed_git("push", "--quiet", url, "main", cwd=case.work)
    except BenchError as exc:
        raise BenchError(f"{remote.label}: {exc}{log_tail(remote.log)}") from None
    remote.pushed[case.name] = url
    remote.settle()
    return seconds


def clone_once(remote: Remote, case: Case, scratch: Path) -> float:
    """`git clone --bare` the repo last pushed for case; check it; return the seconds."""
    target = scratch / "clone.git"
    try:
        seconds = timed_git("clone", "--quiet", "--bare", remote.pushed[case.name], str(target))
    except BenchError as exc:
        raise BenchError(f"{remote.label}: {exc}{log_tail(remote.log)}") from None
    cloned = git("rev-parse", "main", cwd=target).strip()
    if cloned != case.tip:
        raise BenchError(f"{remote.label}: the clone has main at {cloned}, "
                         f"the push had {case.tip}")
    shutil.rmtree(target)
    return seconds


def interleaved(remotes: list[Remote], runs: int,
                one_run: Callable[[Remote, int], float]) -> dict[str, float]:
    """Median seconds per remote; the remotes take turns, so load from elsewhere hits all."""
    times: dict[str, list[float]] = {remote.label: [] for remote in remotes}
    for number in range(runs):
        for remote in remotes:
            times[remote.label].append(one_run(remote, number))
    return {label: statistics.median(values) for label, values in times.items()}


def measure_big_push(remote: Remote, case: Case, results: Results) -> None:
    """One push of the big case, sampling the server's process tree if it has one."""
    key = ("push", case.name, remote.label)
    if remote.process is None:
        results.seconds[key] = push_once(remote, case, 0)
        return
    idle = tree_memory(remote.process.pid)
    with PeakSampler(remote.process.pid) as sampler:
        results.seconds[key] = push_once(remote, case, 0)
    results.memory[remote.label] = (idle, sampler.peak)
    workers = [pid for pid in process_tree(remote.process.pid) if REPO_WORKER in _cmdline(pid)]
    results.repo_worker = Memory(sum(process_memory(pid).rss for pid in workers),
                                 sum(process_memory(pid).anon for pid in workers))


def measure_all(remotes: list[Remote], cases: dict[str, Case], scratch: Path, runs: int,
                results: Results) -> None:
    """Corpus pushes, then corpus clones, then the big push, for every remote."""
    corpus = cases["corpus"]
    pushes = interleaved(remotes, runs, lambda remote, number: push_once(remote, corpus, number))
    clones = interleaved(remotes, runs, lambda remote, _: clone_once(remote, corpus, scratch))
    for label, seconds in pushes.items():
        results.seconds[("push", corpus.name, label)] = seconds
    for label, seconds in clones.items():
        results.seconds[("clone", corpus.name, label)] = seconds
    if "history" in cases:
        history = cases["history"]
        pushes = interleaved(remotes, max(1, min(runs, 3)),
                             lambda remote, number: push_once(remote, history, number))
        for label, seconds in pushes.items():
            results.seconds[("push", history.name, label)] = seconds
    for remote in remotes:
        measure_big_push(remote, cases["big"], results)


# --- report ----------------------------------------------------------------------------

TIMING_ROWS = (("push", "corpus", PUSH_RATIO_TARGET), ("clone", "corpus", CLONE_RATIO_TARGET),
               ("push", "history", PUSH_RATIO_TARGET), ("push", "big", None))


def seconds_text(seconds: float | None) -> str:
    """Seconds for the table; n/a when that remote was not measured."""
    return f"{seconds:6.2f} s" if seconds is not None else "   n/a  "


def verdict(base: float | None, ours: float | None, target: float | None) -> str:
    """The ratio gitserver / git-http-backend, and PASS or FAIL when there is a target."""
    if base is None or ours is None:
        return "ratio n/a"
    ratio = ours / base
    if target is None:
        return f"ratio {ratio:4.2f}  (no target)"
    return f"ratio {ratio:4.2f}  target <={target}  {'PASS' if ratio <= target else 'FAIL'}"


def timing_lines(results: Results, cases: dict[str, Case]) -> list[str]:
    """Two lines per row: gitserver against git-http-backend, then file:// for reference."""
    lines = []
    for action, case, target in TIMING_ROWS:
        if case not in cases:
            continue
        base, ours, local = (results.seconds.get((action, case, label))
                             for label in ("git-http-backend", "gitserver", "file://"))
        name = f"{action:<5} {case:<6} {cases[case].size / MB:5.1f} MB"
        lines.append(f"{name}  git-http-backend {seconds_text(base)}  "
                     f"gitserver {seconds_text(ours)}  {verdict(base, ours, target)}")
        lines.append(f"{'':<{len(name)}}  file://          {seconds_text(local)}  (reference)")
    return lines


def memory_lines(results: Results, big: Case) -> list[str]:
    """Peak memory of each server's process tree during the big push; gitserver has a target."""
    what = f"{big.size / MB:.0f} MB push (pack {big.pack / MB:.0f} MB)"
    lines = []
    for label in ("gitserver", "git-http-backend"):
        if label not in results.memory:
            lines.append(f"memory: {what}, {label} not run")
            continue
        idle, peak = results.memory[label]
        text = (f"memory: {what}, {label} tree peak RSS {peak.rss / MB:.0f} MB "
                f"(anon {peak.anon / MB:.0f} MB; idle {idle.rss / MB:.0f} MB)")
        if label == "gitserver":
            # The target is the private part: file pages (the pack git mmaps, shared
            # libraries) are the kernel's to drop and are counted in RSS too.
            passed = "PASS" if peak.anon <= MEMORY_TARGET_MB * MB else "FAIL"
            text += f"  target anon <={MEMORY_TARGET_MB:.0f} MB  {passed}"
        lines.append(text)
    if results.repo_worker is not None:
        lines.append("        gitserver's repo queue worker (schedules the checks; left out "
                     f"above) after all pushes: RSS {results.repo_worker.rss / MB:.0f} MB "
                     f"(anon {results.repo_worker.anon / MB:.0f} MB)")
    lines.append("        RSS = VmRSS summed over the tree, sampled every "
                 f"{SAMPLE_INTERVAL_S * 1000:.0f} ms; it counts file pages too")
    lines.append("        (mmapped packs, shared libraries); anon = RssAnon, the private heap part")
    return lines


def print_report(results: Results, cases: dict[str, Case], runs: int) -> None:
    """The whole report on stdout: what was measured, then the table."""
    corpus, big = cases["corpus"], cases["big"]
    print(f"corpus: {corpus.files} .py files of {', '.join(PACKAGES)}: "
          f"{corpus.size / MB:.1f} MB in {CORPUS_COMMITS} commits, pack {corpus.pack / MB:.1f} MB")
    if "history" in cases:
        history = cases["history"]
        print(f"history: {history.files} .py files of {', '.join(HISTORY_PACKAGES)} "
              f"({history.size / MB:.1f} MB), then one changed file per commit: "
              f"{history.commits} commits, pack {history.pack / MB:.1f} MB; "
              f"median of {max(1, min(runs, 3))} pushes")
    print(f"big: {big.files} generated .py files: {big.size / MB:.1f} MB in 1 commit, "
          f"pack {big.pack / MB:.1f} MB")
    print(f"corpus push and clone: median of {runs} runs; big push: 1 run; fresh empty repo "
          "per push; clone is `git clone --bare`; MB = 10^6 bytes")
    if "gitserver" in results.memory:
        print("gitserver ran with queue.embedded=false and checker.push_wait_s=0: "
              "no pylint workers competed for the 2 CPUs")
    for line in timing_lines(results, cases) + memory_lines(results, big):
        print(line)


# --- main ------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per corpus timing (median)")
    parser.add_argument("--gitserver", type=Path, help="the gitserver console script "
                        "(default: next to this Python)")
    parser.add_argument("--baseline-only", action="store_true",
                        help="measure file:// and git-http-backend only")
    parser.add_argument("--history-commits", type=int, default=HISTORY_COMMITS,
                        help="commits of the long-history case (0 leaves it out)")
    parser.add_argument("--site-packages", type=Path,
                        default=Path(sysconfig.get_paths()["purelib"]))
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def run_bench(args: argparse.Namespace, tmp: Path) -> None:
    """Build the cases, start the servers, measure, stop the servers, print the report."""
    exe = None if args.baseline_only else find_gitserver(args.gitserver)
    if not args.baseline_only and exe is None:
        raise BenchError("no gitserver console script next to this Python "
                         "(pip install -e . first, or --gitserver PATH, or --baseline-only)")
    cases = {"corpus": build_corpus(tmp / "work-corpus", args.site_packages),
             "big": build_big(tmp / "work-big")}
    if args.history_commits > 0:
        cases["history"] = build_history(tmp / "work-history", args.site_packages,
                                         args.history_commits)
    results = Results()
    remotes = [file_remote(tmp / "file-root"),
               cgi_remote(tmp / "cgi-root", tmp / "cgi-host.log")]
    try:
        if exe is not None:
            (tmp / "gitserver-data").mkdir()
            remotes.append(gitserver_remote(exe, tmp / "gitserver-data", tmp / "gitserver.log"))
        measure_all(remotes, cases, tmp, args.runs, results)
    finally:
        for remote in remotes:
            if remote.process is not None:
                stop(remote.process)
    print_report(results, cases, args.runs)


def main(argv: list[str] | None = None) -> int:
    """Run the bench in a temporary directory; 1 (and one line) if it broke."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-push-clone-") as tmp:
        try:
            run_bench(args, Path(tmp))
        except BenchError as exc:
            print(f"bench_push_clone: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
