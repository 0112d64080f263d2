"""The `gitserver` command: --version, --help, `user add` and `token create`, run as users run it.

Errors must be one line on stderr and exit code 1; success must leave an account or token that
the running server accepts.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from gitserver import __version__

from .support import GITSERVER, PASSWORD, Server, assert_one_line_error


def run_fresh(tmp_path: Path, *args: str, input_text: str = "") -> subprocess.CompletedProcess[str]:
    """Run gitserver with a data dir of its own (SQLite), no config file, no server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITSERVER_")}
    env["GITSERVER_STORAGE_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([GITSERVER, *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, input=input_text, timeout=60, check=False)


def git_auth_status(server: Server, user: str, password: str) -> int:
    """401 for credentials the server refuses; 404 (a repo that does not exist) otherwise."""
    return httpx.get(server.url(f"{user}/nothing-here.git/info/refs?service=git-upload-pack"),
                     auth=(user, password), timeout=30).status_code


def test_cli_version(tmp_path: Path) -> None:
    result = run_fresh(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gitserver {__version__}"
    assert not (tmp_path / "data").exists()


def test_cli_help_lists_commands(tmp_path: Path) -> None:
    result = run_fresh(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("serve", "worker", "user", "token"):
        assert command in result.stdout


def test_cli_unknown_command_fails(tmp_path: Path) -> None:
    result = run_fresh(tmp_path, "frobnicate")
    assert result.returncode != 0
    assert "frobnicate" in result.stderr


def test_cli_user_add_creates_active_user(server: Server) -> None:
    result = server.cli("user", "add", "dave", "Dave@Example.com",
                        input_text="first-line-password\nsecond line is ignored\n")
    assert result.returncode == 0, result.stderr
    assert "dave" in result.stdout
    assert result.stderr == ""
    assert git_auth_status(server, "dave", "first-line-password") == 404
    assert git_auth_status(server, "dave", "second line is ignored") == 401


@pytest.mark.parametrize("username", ["Bad_Name", "-dash", "a" * 40])
def test_cli_user_add_bad_username(server: Server, username: str) -> None:
    # `--`: a name starting with '-' reaches the validation instead of argparse's option parsing
    result = server.cli("user", "add", "--", username, "someone@example.com",
                        input_text=PASSWORD + "\n")
    assert_one_line_error(result, "gitserver:", "username")


def test_cli_user_add_bad_email(server: Server) -> None:
    result = server.cli("user", "add", "erin", "not-an-address", input_text=PASSWORD + "\n")
    assert_one_line_error(result, "not-an-address")


def test_cli_user_add_short_password(server: Server) -> None:
    result = server.cli("user", "add", "frank", "frank@example.com", input_text="1234567\n")
    assert_one_line_error(result, "password", "8")
    assert git_auth_status(server, "frank", "1234567") == 401


def test_cli_user_add_duplicate_username(server: Server) -> None:
    result = server.cli("user", "add", "alice", "other-alice@example.com",
                        input_text=PASSWORD + "\n")
    assert_one_line_error(result, "alice", "taken")
    # the existing account is untouched
    assert git_auth_status(server, "alice", PASSWORD) == 404


def test_cli_user_add_duplicate_email(server: Server) -> None:
    result = server.cli("user", "add", "gina", "ALICE@example.com", input_text=PASSWORD + "\n")
    assert_one_line_error(result, "ALICE@example.com", "exists")
    assert git_auth_status(server, "gina", PASSWORD) == 401


def test_cli_user_add_error_on_fresh_data_dir_is_one_line(tmp_path: Path) -> None:
    # The first command on a new data dir creates the schema; that must not add noise to stderr.
    result = run_fresh(tmp_path, "user", "add", "Bad_Name", "x@example.com",
                       input_text=PASSWORD + "\n")
    assert_one_line_error(result, "username")


def test_cli_token_create_prints_a_new_token_once(server: Server) -> None:
    first = server.cli("token", "create", "bob", "--name", "ci")
    second = server.cli("token", "create", "bob")
    assert first.returncode == 0 and second.returncode == 0
    tokens = [first.stdout.strip(), second.stdout.strip()]
    assert all(t.startswith("gsp_") and len(t) >= 30 for t in tokens)
    assert tokens[0] != tokens[1]
    assert first.stdout.count("gsp_") == 1
    assert git_auth_status(server, "bob", tokens[0]) == 404
    assert git_auth_status(server, "bob", tokens[1]) == 404


def test_cli_token_create_unknown_user(server: Server) -> None:
    result = server.cli("token", "create", "nobody")
    assert_one_line_error(result, "nobody")
    assert "gsp_" not in result.stdout
