"""Configuration as `gitserver serve` sees it: defaults <- config.toml <- environment <- flags.

Bad configuration must stop `serve` at once with exit code 1 and one clear line; good
configuration is checked by where the started server actually listens and keeps its data.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .support import GITSERVER, assert_one_line_error, free_port

UVICORN_RUNNING = re.compile(r"Uvicorn running on http://[\d.]+:(\d+)")


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITSERVER_")}
    env.update(settings)
    return env


def run_serve(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GITSERVER, "serve", *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture(name="serve")
def fixture_serve(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Start `gitserver serve` in tmp_path; returns the port it listens on. Stops it after."""
    procs: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str], *args: str) -> int:
        # outlives this call: stopped (and its pipe closed) when the test is done
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [GITSERVER, "serve", *args], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        seen = []
        assert proc.stdout is not None
        for line in proc.stdout:  # ends when the process exits
            seen.append(line)
            match = UVICORN_RUNNING.search(line)
            if match:
                port = int(match.group(1))
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code \
                    == 200
                return port
        raise AssertionError("gitserver serve did not start:\n" + "".join(seen))

    yield start
    for proc in procs:
        proc.terminate()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("gitserver serve did not stop within 30 s of SIGTERM") from None
        finally:
            assert proc.stdout is not None
            rest = proc.stdout.read()
            proc.stdout.close()
        # The contract: serve stops cleanly on SIGTERM. uvicorn finishes its shutdown (the app's
        # lifespan end included) and then re-raises the signal, so -SIGTERM is a clean exit too.
        assert code in (0, -signal.SIGTERM), f"exit code {code} on SIGTERM:\n{rest}"
        assert "Application shutdown complete" in rest, rest
        assert "Traceback" not in rest, rest


# -- bad configuration -------------------------------------------------------------------------

@pytest.mark.parametrize("toml,words", [
    ("[server]\nportt = 9000\n", ("portt", "unknown")),
    ("[limits]\nmax_file_bytes = 100\nmax_files = 3\n", ("max_files",)),
    ("[serverr]\nport = 9000\n", ("serverr",)),
    ("[server]\nport = \"eighty\"\n", ("server.port", "eighty")),
    ("[checker]\nfail_under = 11\n", ("fail_under",)),
    ("[server\nport = 1\n", ("config.toml",)),
])
def test_config_bad_file_stops_serve_with_one_line(tmp_path: Path, toml: str,
                                                   words: tuple[str, ...]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    result = run_serve(tmp_path, clean_env(GITSERVER_CONFIG=str(path),
                                           GITSERVER_STORAGE_DATA_DIR=str(tmp_path / "data")))
    assert_one_line_error(result, *words)


@pytest.mark.parametrize("name,value,words", [
    ("GITSERVER_SERVER_PORT", "eighty", ("server.port", "eighty")),
    ("GITSERVER_SERVER_PORT", "70000", ("server.port",)),
    ("GITSERVER_LIMITS_MAX_FILE_BYTES", "0", ("limits.max_file_bytes",)),
    ("GITSERVER_QUEUE_EMBEDDED", "maybe", ("queue.embedded", "maybe")),
    ("GITSERVER_MAIL_BACKEND", "pigeon", ("mail.backend", "pigeon")),
    ("GITSERVER_DATABASE_URL", "mysql://db/x", ("database.url",)),
    ("GITSERVER_SERVER_PROT", "9000", ("prot",)),
    ("GITSERVER_NOSUCH_KEY", "1", ("GITSERVER_NOSUCH_KEY",)),
])
def test_config_bad_environment_stops_serve_with_one_line(tmp_path: Path, name: str, value: str,
                                                          words: tuple[str, ...]) -> None:
    env = clean_env(GITSERVER_STORAGE_DATA_DIR=str(tmp_path / "data"))
    env[name] = value
    assert_one_line_error(run_serve(tmp_path, env), *words)


def test_config_missing_file_stops_serve(tmp_path: Path) -> None:
    result = run_serve(tmp_path, clean_env(GITSERVER_CONFIG=str(tmp_path / "absent.toml")))
    assert_one_line_error(result, "absent.toml")


# -- precedence --------------------------------------------------------------------------------

def test_config_file_in_working_directory_is_read(tmp_path: Path,
                                                  serve: Callable[..., int]) -> None:
    port = free_port()
    (tmp_path / "config.toml").write_text(
        f"[server]\nport = {port}\n[storage]\ndata_dir = \"from-file\"\n", encoding="utf-8")
    assert serve(clean_env()) == port
    assert (tmp_path / "from-file" / "secret_key").is_file()


def test_config_environment_overrides_file(tmp_path: Path, serve: Callable[..., int]) -> None:
    file_port, env_port = free_port(), free_port()
    path = tmp_path / "settings.toml"
    path.write_text(f"[server]\nport = {file_port}\n[storage]\ndata_dir = \"file-data\"\n",
                    encoding="utf-8")
    assert serve(clean_env(GITSERVER_CONFIG=str(path),
                           GITSERVER_SERVER_PORT=str(env_port))) == env_port
    # where the environment says nothing, the file still counts
    assert (tmp_path / "file-data" / "secret_key").is_file()


def test_config_port_flag_wins(tmp_path: Path, serve: Callable[..., int]) -> None:
    file_port, env_port, flag_port = free_port(), free_port(), free_port()
    path = tmp_path / "settings.toml"
    path.write_text(f"[server]\nport = {file_port}\n", encoding="utf-8")
    env = clean_env(GITSERVER_CONFIG=str(path), GITSERVER_SERVER_PORT=str(env_port),
                    GITSERVER_STORAGE_DATA_DIR=str(tmp_path / "data"))
    assert serve(env, "--port", str(flag_port)) == flag_port
