"""Security: no known or guessable session key, in compose or at `serve` (issue 14, finding 2);
a shared data dir is warned about at start (finding 5)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from gitserver.core.config import secret_key_problem

from .support import GITSERVER, ROOT, server_env, start_server

OLD_COMPOSE_DEFAULT = "change-me-to-a-long-random-string"


def serve_once(tmp_path: Path, key: str) -> subprocess.CompletedProcess[str]:
    env, _ = server_env(tmp_path / "data", {"GITSERVER_SERVER_SECRET_KEY": key,
                                            "GITSERVER_SERVER_PORT": "1"}, backend="embedded")
    return subprocess.run([GITSERVER, "serve"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("key", [OLD_COMPOSE_DEFAULT, "short-key", "a" * 80,
                                 "0123456789abcdef0123"])
def test_serve_refuses_a_known_or_short_key_with_one_line(tmp_path: Path, key: str) -> None:
    result = serve_once(tmp_path, key)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "secret_key" in lines[0] and "secrets.token_urlsafe(48)" in lines[0]
    assert key not in lines[0]  # never echo a secret


def test_random_keys_of_32_bytes_pass() -> None:
    for key in ("9b1e0c47d2a35f86e7c9b20a4d13f58e6a7b0c92d4e1f3a85b6c7d09e2f1a4b3",
                "mP2x-Q8vT_k9Lr4Zs7Wn1Yb6Hc3Jd5Fg0Ae2Ui8Oo4Ek",
                "kZ0r_6Q1wXfN3pV8sT2yL5mB9cH4jD7gA0eU1iO6uR3tY8nM2bV5cX7zQ1wE9rT4"):
        assert secret_key_problem(key) is None, key


def test_compose_has_no_default_secret_key() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert OLD_COMPOSE_DEFAULT not in text
    env = yaml.safe_load(text)["services"]["web"]["environment"]
    assert env["GITSERVER_SERVER_SECRET_KEY"].startswith("${GITSERVER_SECRET_KEY:?")


def test_serve_warns_when_the_data_dir_is_open_to_others(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    server = start_server(tmp_path)
    try:
        assert "open to other accounts (mode 755)" in server.log()
    finally:
        server.stop()
