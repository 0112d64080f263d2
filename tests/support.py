"""Test support: a real `gitserver serve` process on a free port, the real `git` CLI, services.

Backends: GITSERVER_TEST_DATABASE_URL (a PostgreSQL server URL; each server gets a fresh
database on it) and GITSERVER_TEST_QUEUE_URL (a Redis URL) switch the whole suite to the scale-out
path. GITSERVER_TEST_REQUIRE_SERVICES=1 turns "PostgreSQL/Redis unreachable" skips into failures.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
GITSERVER = str(Path(sys.executable).parent / "gitserver")
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
PASSWORD = "correct-horse-battery"


def require_services() -> bool:
    return os.environ.get("GITSERVER_TEST_REQUIRE_SERVICES", "") not in ("", "0")


def skip_or_fail(reason: str) -> None:
    if require_services():
        pytest.fail(f"{reason} (GITSERVER_TEST_REQUIRE_SERVICES is set, so this is a failure)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_url() -> str:
    return os.environ.get("GITSERVER_TEST_DATABASE_URL") or PG_DEFAULT


def redis_url() -> str:
    return os.environ.get("GITSERVER_TEST_QUEUE_URL") or REDIS_DEFAULT


def postgres_reachable(url: str) -> bool:
    import psycopg2  # pylint: disable=import-outside-toplevel
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


def redis_reachable(url: str) -> bool:
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
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    if files:
        commit_files(path, files, message)
    return path


def commit_files(path: Path, files: dict[str, str | bytes], message: str) -> str:
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

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, user: str | None = None, password: str | None = None) -> str:
        if user is None:
            return f"{self.base_url}/{path.lstrip('/')}"
        return f"http://{user}:{password or PASSWORD}@127.0.0.1:{self.port}/{path.lstrip('/')}"

    def cli(self, *args: str, input_text: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([GITSERVER, *args], env=self.env, capture_output=True, text=True,
                              input=input_text, timeout=60, check=False)

    def add_user(self, username: str, password: str = PASSWORD,
                 email: str | None = None) -> None:
        result = self.cli("user", "add", username, email or f"{username}@example.com",
                          input_text=password + "\n")
        assert result.returncode == 0, result.stderr

    def create_token(self, username: str, name: str = "test") -> str:
        result = self.cli("token", "create", username, "--name", name)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def start(self) -> Server:
        self.env["GITSERVER_SERVER_PORT"] = str(self.port)
        log = (self.data_dir.parent / f"serve-{self.port}.log").open("wb")
        self.proc = subprocess.Popen([GITSERVER, "serve"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=self.data_dir.parent)
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
        path = self.data_dir.parent / f"serve-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
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
    data_dir = tmp / "data"
    env, cleanup = server_env(data_dir, extra, backend)
    server = Server(data_dir=data_dir, env=env, cleanup=cleanup)
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise
