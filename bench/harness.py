"""What the check benchmarks share: a `gitserver serve` (and `gitserver worker`) in a temporary
data dir, a work repo that commits and pushes, the checks API polled until a commit is final,
PostgreSQL databases made and dropped for one run, and the report's PASS/FAIL lines.

Process handling (git, free ports, /proc memory) comes from bench.bench_push_clone.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.bench_push_clone import (
    GIT_ENV,
    BenchError,
    find_gitserver,
    free_port,
    git,
    is_acceptable,
    log_tail,
    process_memory,
    process_tree,
    stop,
    wait_healthy,
)

USER, PASSWORD = "alice", "bench-password"
POLL_S = 0.01
# A poll of a 300-file commit's /checks takes ~80 ms of the server's CPU: polled every 10 ms, the
# bench took one of the 2 CPUs from the workers it measured (found with py-spy on bench_workers).
POLL_SHARE = 10
MAX_POLL_S = 1.0
FINAL_TIMEOUT_S = 600.0
PUSH_TIMEOUT_S = 300
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
SITE_PACKAGES = Path(__file__).resolve().parent.parent / ".venv/lib/python3.11/site-packages"
RCFILE = Path(__file__).resolve().parent.parent / "checker/pylintrc"
MB = 1_000_000

__all__ = ["MB", "BenchError", "git", "log_tail", "process_memory", "process_tree"]


# --- servers ---------------------------------------------------------------------------

def gitserver_exe() -> Path:
    """The `gitserver` console script next to this Python; BenchError if not installed."""
    found = find_gitserver(None)
    if found is None:
        raise BenchError("no gitserver console script next to this Python (pip install -e .)")
    return found


def service_environ(data_dir: Path, port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """A clean environment for the service: no GITSERVER_* of the caller leaks in."""
    env = {name: value for name, value in GIT_ENV.items() if not name.startswith("GITSERVER_")}
    env.update({"GITSERVER_STORAGE_DATA_DIR": str(data_dir), "GITSERVER_SERVER_PORT": str(port),
                "GITSERVER_MAIL_BACKEND": "file"})
    env.update(extra)
    return env


@dataclass
class Server:
    """One `gitserver serve` with its own data dir and port, plus any `gitserver worker`s."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _connection: http.client.HTTPConnection | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment of this server's processes."""
        return service_environ(self.root / "data", self.port, self.extra_env)

    @property
    def log(self) -> Path:
        """Where serve's output goes."""
        return self.root / "serve.log"

    def start(self) -> Server:
        """Start serve, add the bench user, wait for /healthz."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        subprocess.run([str(gitserver_exe()), "user", "add", USER, f"{USER}@example.com"],
                       input=f"{PASSWORD}\n".encode(), env=self.env, check=True,
                       capture_output=True, timeout=60)
        with self.log.open("ab") as log:
            # --port also on the command line: other sessions on this machine have been seen
            # stopping every `gitserver serve` with `pkill -f 'gitserver serve$'`.
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with  # stop()
                [str(gitserver_exe()), "serve", "--port", str(self.port)], env=self.env,
                stdout=log, stderr=log)
        wait_healthy(f"http://127.0.0.1:{self.port}/healthz", self.process, self.log)
        return self

    def start_workers(self, count: int, threads: int = 1) -> None:
        """Start `count` x `gitserver worker`, each with `threads` worker threads."""
        env = dict(self.env, GITSERVER_QUEUE_WORKERS=str(threads))
        for number in range(count):
            with (self.root / f"worker-{number}.log").open("ab") as log:
                self.workers.append(subprocess.Popen(  # pylint: disable=consider-using-with
                    [str(gitserver_exe()), "worker"], env=env, stdout=log, stderr=log))

    def stop(self) -> None:
        """Stop the workers, then the server (SIGTERM, SIGKILL after 10 s)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        leftovers = self.service_pids()
        for worker in self.workers:
            stop(worker)
        self.workers.clear()
        if self.process is not None:
            stop(self.process)
            self.process = None
        # A server killed after its grace period leaves its lint processes behind, orphaned
        # (parent 1); a live parent would mean the pid now belongs to someone else.
        for pid in leftovers:
            if _is_lint_child(pid) and _parent(pid) == 1:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def repo_url(self, repo: str) -> str:
        """The push URL of the bench user's repo, credentials included."""
        return f"http://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{USER}/{repo}.git"

    def get_json(self, path: str) -> tuple[int, Any]:
        """GET /api/v1{path} on a kept-alive connection; (status, parsed body)."""
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        for attempt in (1, 2):  # the server may have closed an idle keep-alive connection
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self._connection.request("GET", f"/api/v1{path}", headers=headers)
                response = self._connection.getresponse()
                body = response.read()
                return response.status, json.loads(body) if body else None
            except (http.client.HTTPException, OSError) as exc:
                self._connection.close()
                self._connection = None
                if attempt == 2:
                    self.ensure_running()
                    raise BenchError(f"GET /api/v1{path}: {exc}") from None
        raise AssertionError("unreachable")

    def ensure_running(self) -> None:
        """BenchError if the server has exited (e.g. a signal from outside the bench)."""
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise BenchError(f"gitserver serve is not running (exit code {code}); if it is "
                             f"negative, another process sent it that signal{log_tail(self.log)}")

    def checks(self, repo: str, sha: str) -> dict[str, Any] | None:
        """The commit's /checks document, or None while the server does not know the commit."""
        status, body = self.get_json(f"/repos/{USER}/{repo}/commits/{sha}/checks")
        if status == 404:
            return None
        if status != 200:
            raise BenchError(f"/checks of {repo}@{sha[:7]} answered {status}: {body}")
        return body if isinstance(body, dict) else None

    def wait_final(self, repo: str, sha: str, timeout_s: float = FINAL_TIMEOUT_S,
                   poll_s: float = POLL_S) -> dict[str, Any]:
        """Poll /checks until no file of the commit is pending: every poll_s, or, for a big
        commit, POLL_SHARE times as long as the server took to answer (at most MAX_POLL_S), so
        that the bench's own polling takes a small share of the CPUs it measures."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            asked = time.monotonic()
            body = self.checks(repo, sha)
            took = time.monotonic() - asked
            # Not body["state"]: a combined `failure` comes as soon as one file fails.
            if body is not None and body["files"] and all(
                    f["state"] != "pending" for f in body["files"]):
                return body
            time.sleep(max(poll_s, min(MAX_POLL_S, took * POLL_SHARE)))
        raise BenchError(f"{repo}@{sha[:7]} still pending after {timeout_s:.0f} s"
                         f"{log_tail(self.log)}")

    def service_pids(self) -> list[int]:
        """The server and workers with their lint children; no git or hook that happens to run."""
        roots = [p.pid for p in (self.process, *self.workers) if p is not None]
        children = [pid for root in roots for pid in process_tree(root) if pid not in roots]
        return roots + [pid for pid in children if _is_lint_child(pid)]


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _is_lint_child(pid: int) -> bool:
    try:
        return b"lint_child.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False  # exited while we looked


def cpu_seconds(pid: int, waited: bool = False) -> float:
    """User + system CPU seconds of one process so far (`waited`: of the children it has
    waited for instead: git, hooks, replaced lint processes); 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    first = 13 if waited else 11  # cutime, cstime; else utime, stime
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def lint_cpu(pid: int) -> float:
    """CPU seconds of a live lint process and of the tree processes it forked and reaped."""
    return cpu_seconds(pid) + cpu_seconds(pid, waited=True)


def service_cpu(server: Server) -> float:
    """CPU seconds used so far by the server, its workers and their live lint processes (with
    the tree processes these reaped)."""
    roots = {p.pid for p in (server.process, *server.workers) if p is not None}
    return sum(cpu_seconds(pid) if pid in roots else lint_cpu(pid)
               for pid in server.service_pids())


def process_pss(pid: int) -> int:
    """Proportional set size of one process in bytes (pages shared with other processes, as a
    fork server's with its tree processes, split between them); zero if it is gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def service_pss(server: Server) -> int:
    """Summed PSS of the server process and its lint processes, in bytes: what they take
    together, each shared page once."""
    return sum(process_pss(pid) for pid in server.service_pids())


def service_rss(server: Server) -> int:
    """Summed VmRSS of the server process and its lint children, in bytes."""
    return sum(process_memory(pid).rss for pid in server.service_pids())


# --- work repos ------------------------------------------------------------------------

class WorkRepo:
    """A local work tree that commits and pushes to one repo of the server."""

    def __init__(self, path: Path, server: Server, name: str) -> None:
        self.path = path
        self.server = server
        self.name = name
        self.output = ""
        git("init", "-q", "-b", "main", str(path))

    def write(self, relative: str, data: bytes) -> None:
        """Write a file of the work tree (not yet committed)."""
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def commit(self, message: str) -> str:
        """Commit everything in the work tree; the new sha."""
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path).strip()

    def push(self) -> float:
        """`git push` main; the wall seconds it took. Its `remote:` lines go to self.output."""
        start = time.perf_counter()
        try:
            result = subprocess.run(["git", "push", "-q", self.server.repo_url(self.name), "main"],
                                    cwd=self.path, env=GIT_ENV, capture_output=True,
                                    timeout=PUSH_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise BenchError(f"git push hung for {PUSH_TIMEOUT_S} s"
                             f"{log_tail(self.server.log)}") from None
        seconds = time.perf_counter() - start
        self.output = result.stderr.decode(errors="replace")
        if result.returncode != 0:
            self.server.ensure_running()
            raise BenchError(f"git push failed: {self.output[-800:]}{log_tail(self.server.log)}")
        return seconds


def small_module(tag: str) -> bytes:
    """A small, clean module; `tag` makes its blob unique, so no stored result is reused."""
    return (f'"""Small module {tag}."""\n\nimport os\n\n\n'
            f'def home() -> str:\n    """The home folder."""\n'
            f'    return os.environ.get("HOME", "")\n').encode()


def corpus(package: str, limit: int | None = None) -> list[Path]:
    """The .py files of an installed package, relative to site-packages, in a stable order."""
    top = SITE_PACKAGES / package
    files = sorted(p.relative_to(SITE_PACKAGES) for p in top.rglob("*.py")
                   if p.is_file() and not p.is_symlink() and is_acceptable(p))
    if not files:
        raise BenchError(f"no .py files under {top}")
    return files[:limit]


def copy_tree(files: Iterable[Path], dest: Path, tag: str = "", top: str = "") -> None:
    """Copy files (relative to site-packages) under dest; a non-empty tag is appended to each
    as a comment, so every file becomes a new blob; a non-empty top renames the top folder."""
    for relative in files:
        target = dest / (Path(top, *relative.parts[1:]) if top else relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SITE_PACKAGES / relative, target)
        if tag:
            with target.open("ab") as handle:
                handle.write(f"\n# bench {tag}\n".encode())


def bare_pylint_seconds(src: Path, targets: list[str], jobs: int = 1) -> tuple[float, float]:
    """Wall and CPU seconds of one cold `pylint -jN --rcfile checker/pylintrc targets...`."""
    pylint = Path(sys.executable).with_name("pylint")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([str(pylint), f"-j{jobs}", "--rcfile", str(RCFILE), *targets],
                            cwd=src,
                            capture_output=True, check=False, timeout=900,
                            env=dict(os.environ, PYLINTHOME=str(src.parent / "pylint-home")))
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if result.returncode & 1 or result.returncode >= 32:  # fatal message or usage error
        raise BenchError(f"bare pylint failed ({result.returncode}): "
                         f"{result.stdout.decode(errors='replace')[-500:]}")
    return seconds, cpu


# --- scale-out backends ------------------------------------------------------------------

def redis_reachable() -> str | None:
    """None if Redis answers at REDIS_URL, else why not."""
    import redis  # pylint: disable=import-outside-toplevel

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} unreachable: {exc}"
    return None


def create_database() -> str:
    """A fresh PostgreSQL database for one run; its URL. BenchError if Postgres is down."""
    import psycopg2  # pylint: disable=import-outside-toplevel

    name = f"gitserver_bench_{uuid.uuid4().hex[:10]}"
    try:
        connection = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    except psycopg2.Error as exc:
        raise BenchError(f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {exc}") from None
    connection.autocommit = True  # CREATE DATABASE refuses to run in a transaction
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")  # name is ours: hex only
    connection.close()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    """Drop a database made by create_database(), even with connections left open."""
    import psycopg2  # pylint: disable=import-outside-toplevel

    name = url.rsplit("/", 1)[1]
    connection = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    connection.close()


# --- report ----------------------------------------------------------------------------

def median(values: Iterable[float]) -> float:
    """The median of a non-empty iterable."""
    return statistics.median(list(values))


def passed(ok: bool) -> str:
    """The verdict word of a report line."""
    return "PASS" if ok else "FAIL"


def loadavg() -> str:
    """The 1-minute load average: other work on the 2 CPUs skews every figure."""
    return Path("/proc/loadavg").read_text(encoding="ascii").split()[0]


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `with Server(...)` blocks stop what they started."""
    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
