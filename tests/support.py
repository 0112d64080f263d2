"""Test support: a real `gitserver serve` process on a free port, the real `git` CLI, services.

Backends: GITSERVER_TEST_DATABASE_URL (a PostgreSQL server URL; each server gets a fresh
database on it) and GITSERVER_TEST_QUEUE_URL (a Redis URL) switch the whole suite to the scale-out
path. GITSERVER_TEST_REQUIRE_SERVICES=1 turns "PostgreSQL/Redis unreachable" skips into failures.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from gitserver.core.models import init_db

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
GITSERVER = str(Path(sys.executable).parent / "gitserver")
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
PASSWORD = "correct-horse-battery"
DEADLINE_S = 90.0  # generous: the 2-core test machine is often busy with other suites
POLL_S = 0.1


def require_services() -> bool:
    """Whether an unreachable PostgreSQL or Redis fails the test instead of skipping it."""
    return os.environ.get("GITSERVER_TEST_REQUIRE_SERVICES", "") not in ("", "0")


def skip_or_fail(reason: str) -> None:
    """Skip the test for `reason`, or fail it when services are required."""
    if require_services():
        pytest.fail(f"{reason} (GITSERVER_TEST_REQUIRE_SERVICES is set, so this is a failure)")
    pytest.skip(reason)


def free_port() -> int:
    """A port nobody listens on right now (the server binds it itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_url() -> str:
    """The PostgreSQL server the scale-out tests create their databases on."""
    return os.environ.get("GITSERVER_TEST_DATABASE_URL") or PG_DEFAULT


def redis_url() -> str:
    """The Redis the scale-out tests queue on."""
    return os.environ.get("GITSERVER_TEST_QUEUE_URL") or REDIS_DEFAULT


def postgres_reachable(url: str) -> bool:
    """Whether PostgreSQL answers at `url` within 3 seconds."""
    import psycopg2  # pylint: disable=import-outside-toplevel
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


def redis_reachable(url: str) -> bool:
    """Whether Redis answers at `url` within 3 seconds."""
    import redis  # pylint: disable=import-outside-toplevel
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=3).ping())
    except redis.RedisError:
        return False


def fresh_postgres_database(server_url: str) -> tuple[str, str]:
    """Create an empty database on the server; return (its URL, its name)."""
    import psycopg2  # pylint: disable=import-outside-toplevel
    if not postgres_reachable(server_url):
        skip_or_fail(f"PostgreSQL is not reachable at {server_url}")
    name = f"gitserver_test_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(server_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_postgres_database(server_url: str, name: str) -> None:
    """Drop the test database, even while connections to it remain."""
    import psycopg2  # pylint: disable=import-outside-toplevel
    conn = psycopg2.connect(server_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def git(cwd: Path, *args: str, check: bool = True, timeout: float = 120,
        input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real git CLI as a user would, isolated from the machine's git config."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="Test User",
               GIT_AUTHOR_EMAIL="test@example.com", GIT_COMMITTER_NAME="Test User",
               GIT_COMMITTER_EMAIL="test@example.com", LC_ALL="C")
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, input=input_text, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def make_work_repo(path: Path, files: dict[str, str] | None = None,
                   message: str = "first") -> Path:
    """A new work repo on branch main, with one commit of `files` if given."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    if files:
        commit_files(path, files, message)
    return path


def commit_files(path: Path, files: dict[str, str | bytes], message: str) -> str:
    """Write `files` (text or bytes), commit them all; return the new commit's sha."""
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD").stdout.strip()


@dataclass
class Server:
    """One `gitserver serve` process with its own data dir (and database)."""
    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    cleanup: list = field(default_factory=list)
    command: list[str] = field(default_factory=lambda: [GITSERVER])  # how to run `gitserver`

    @property
    def base_url(self) -> str:
        """Where the server listens, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        """The server's database: the URL its environment names, else its SQLite file."""
        return self.env.get("GITSERVER_DATABASE_URL") or \
            f"sqlite:///{self.data_dir / 'gitserver.db'}"

    def url(self, path: str, user: str | None = None, password: str | None = None) -> str:
        """An absolute URL of the server, with `user` and password in it when given."""
        if user is None:
            return f"{self.base_url}/{path.lstrip('/')}"
        return f"http://{user}:{password or PASSWORD}@127.0.0.1:{self.port}/{path.lstrip('/')}"

    def cli(self, *args: str, input_text: str = "") -> subprocess.CompletedProcess[str]:
        """Run the `gitserver` command with the server's environment."""
        return subprocess.run([*self.command, *args], env=self.env, capture_output=True, text=True,
                              input=input_text, timeout=60, check=False)

    def add_user(self, username: str, password: str = PASSWORD,
                 email: str | None = None) -> None:
        """Add an active user with the CLI, as an operator would."""
        result = self.cli("user", "add", username, email or f"{username}@example.com",
                          input_text=password + "\n")
        assert result.returncode == 0, result.stderr

    def create_token(self, username: str, name: str = "test") -> str:
        """A new access token of `username`, made with the CLI."""
        result = self.cli("token", "create", username, "--name", name)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def start(self) -> Server:
        """Start `gitserver serve` and wait until /healthz answers; fail with its log if not."""
        self.env["GITSERVER_SERVER_PORT"] = str(self.port)
        with (self.data_dir.parent / f"serve-{self.port}.log").open("wb") as log:
            # Not a `with`: the server runs until stop().
            self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [*self.command, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.data_dir.parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gitserver serve exited:\n{self.log()}")
            try:
                if httpx.get(self.url("healthz"), timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"gitserver serve did not answer /healthz:\n{self.log()}")

    def log(self) -> str:
        """What the server wrote to stdout and stderr so far."""
        path = self.data_dir.parent / f"serve-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 30 s) and run the cleanups."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for action in reversed(self.cleanup):
            action()


def server_env(data_dir: Path, extra: dict[str, str] | None = None,
               backend: str | None = None) -> tuple[dict[str, str], list]:
    """Environment for a server; backend 'scaleout' = PostgreSQL + Redis, 'embedded' = SQLite.

    With backend None the suite-wide choice applies: scale-out when GITSERVER_TEST_DATABASE_URL
    is set, else embedded.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITSERVER_")}
    env.update({"GITSERVER_STORAGE_DATA_DIR": str(data_dir), "GITSERVER_MAIL_BACKEND": "file",
                "GITSERVER_CHECKER_PUSH_WAIT_S": "3"})
    cleanup = []
    if backend is None:
        backend = "scaleout" if os.environ.get("GITSERVER_TEST_DATABASE_URL") else "embedded"
    if backend == "scaleout":
        db_url, name = fresh_postgres_database(postgres_url())
        cleanup.append(lambda: drop_postgres_database(postgres_url(), name))
        queue = redis_url()
        if not redis_reachable(queue):
            skip_or_fail(f"Redis is not reachable at {queue}")
        env["GITSERVER_DATABASE_URL"] = db_url
        env["GITSERVER_QUEUE_URL"] = queue
    env.update(extra or {})
    return env, cleanup


def start_server(tmp: Path, extra: dict[str, str] | None = None,
                 backend: str | None = None) -> Server:
    """A started server with its data in `tmp`; stopped again if it fails to start."""
    data_dir = tmp / "data"
    env, cleanup = server_env(data_dir, extra, backend)
    server = Server(data_dir=data_dir, env=env, cleanup=cleanup)
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


# -- reading the server's answers --------------------------------------------------------------

def wait_until(what: str, probe: Callable[[], T], deadline_s: float = DEADLINE_S,
               poll_s: float = POLL_S) -> T:
    """Poll `probe` until it returns something true; fail after the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}")
        time.sleep(poll_s)


def api(server: Server, path: str, user: str | None = "alice", password: str = PASSWORD,
        **params: Any) -> httpx.Response:
    """GET /api/v1/<path> as `user` (None: anonymous) with `params` as the query string."""
    auth = (user, password) if user is not None else None
    return httpx.get(server.url(f"api/v1/{path.lstrip('/')}"), auth=auth, params=params,
                     timeout=30)


def checks_of(server: Server, repo: str, sha: str) -> dict[str, Any] | None:
    """The commit's /checks; None until the server has recorded the commit.

    With push_wait_s = 0 the push is answered first and recorded right after, so a commit
    may be unknown to the API for a moment after `git push` returned.
    """
    resp = api(server, f"repos/alice/{repo}/commits/{sha}/checks")
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    return resp.json()


def by_path(checks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """path -> file of a /checks body; a path listed twice fails the test."""
    files = checks["files"]
    assert len({f["path"] for f in files}) == len(files), "a file of one commit has two checks"
    return {f["path"]: f for f in files}


def maildir_messages(server: Server) -> list[EmailMessage]:
    """Every mail in the server's Maildir (the file mail backend), oldest first."""
    found = []
    for folder in ("new", "cur"):
        for path in sorted((server.data_dir / "mail" / folder).glob("*")):
            message = message_from_bytes(path.read_bytes(), policy=default_policy)
            assert isinstance(message, EmailMessage)
            found.append((path.stat().st_mtime_ns, message))
    return [message for _, message in sorted(found, key=lambda pair: pair[0])]


def report_mails(server: Server, repo: str) -> list[EmailMessage]:
    """The report mails about alice/<repo>, oldest first."""
    return [m for m in maildir_messages(server) if str(m["Subject"]).startswith(f"[alice/{repo}]")]


def report_subjects(server: Server, repo: str) -> list[str]:
    """The subjects of the report mails about alice/<repo>, oldest first."""
    return [str(m["Subject"]) for m in report_mails(server, repo)]


@contextlib.contextmanager
def server_db(server: Server) -> Iterator[Any]:
    """The server's own database, bound in this process for reading (or a direct update)."""
    db = init_db(server.database_url)
    try:
        with db.connection_context():
            yield db
    finally:
        if hasattr(db, "close_all"):
            db.close_all()  # pooled PostgreSQL: leave no idle connection to the test database


# -- what to push ------------------------------------------------------------------------------

def slow_source(statements: int, tag: int | None = None) -> str:
    """Valid, clean code whose lint time grows with the square of `statements`.

    Each `X = X + i` makes astroid infer X through every earlier assignment: measured with
    `pylint --rcfile checker/pylintrc`, 600 lines take ~2 s, 1200 lines ~6 s, 2500 lines far
    more than a minute of CPU. A `tag` makes the blob differ from another of the same length.
    """
    title = "Slow to lint." if tag is None else f"Slow to lint ({tag})."
    return f'"""{title}"""\nX = 1\n' + "".join(f"X = X + {i}\n" for i in range(statements))


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """The command failed with exit code 1 and one line on stderr holding every word."""
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.stderr


STARTED = b"Huey consumer started"


@contextlib.contextmanager
def workers(server: Server, *logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One `gitserver worker` process per log, all consuming once this returns; stopped after."""
    procs = []
    try:
        for log in logs:
            with log.open("wb") as out:
                procs.append(subprocess.Popen([GITSERVER, "worker"], env=server.env,
                                              stdout=out, stderr=subprocess.STDOUT))
        for proc, log in zip(procs, logs, strict=True):
            wait_until("a worker to start", lambda proc=proc, log=log: proc.poll() is not None
                       or STARTED in log.read_bytes(), deadline_s=60)
            assert proc.poll() is None, log.read_text(errors="replace")
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
