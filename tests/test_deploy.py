"""The deployment files speak the contract: every GITSERVER_* name in docker-compose.yml and
the Dockerfile is a real setting with a valid value, and the compose file is well formed."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gitserver.core.config import load_settings

from .support import ROOT

_DEFAULT_RE = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_has_the_services_and_healthchecks() -> None:
    services = compose()["services"]
    assert {"web", "worker", "postgres", "redis", "mailpit"} <= set(services)
    for name in ("web", "worker", "postgres", "redis", "mailpit"):
        assert "healthcheck" in services[name], name
    assert services["worker"]["command"] == ["worker"]
    assert services["web"]["command"] == ["serve"]


def test_compose_worker_has_no_repositories_and_reaches_the_web_node(tmp_path: Path) -> None:
    services = compose()["services"]
    assert services["web"]["volumes"] == ["repos:/data"]
    assert "volumes" not in services["worker"]
    env = {k: _DEFAULT_RE.sub(r"\1", str(v)) for k, v in services["worker"]["environment"].items()}
    env["GITSERVER_STORAGE_DATA_DIR"] = str(tmp_path)
    assert load_settings(environ=env).queue.web_url == "http://web:8000"
    assert "GITSERVER_QUEUE_WEB_URL" not in services["web"]["environment"]


def test_compose_environment_is_valid_settings(tmp_path: Path) -> None:
    for name in ("web", "worker"):
        env = {k: _DEFAULT_RE.sub(r"\1", str(v))
               for k, v in compose()["services"][name]["environment"].items()}
        env["GITSERVER_STORAGE_DATA_DIR"] = str(tmp_path)
        settings = load_settings(environ=env)  # raises ConfigError on an unknown name
        assert settings.database_url.startswith("postgresql://")
        assert settings.queue_url.startswith("redis://")
        assert settings.mail.backend == "smtp" and settings.mail.smtp_host == "mailpit"
        assert settings.queue.embedded is False
        assert settings.checker.push_wait_s == 3


def test_dockerfile_environment_is_valid_settings(tmp_path: Path) -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    env = dict(re.findall(r"(GITSERVER_[A-Z_]+)=(\S+)", text))
    assert env, "the Dockerfile sets no GITSERVER_* variable"
    env["GITSERVER_STORAGE_DATA_DIR"] = str(tmp_path)
    load_settings(environ=env)
    assert "USER gitserver" in text


def compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose` (Debian's package), if either works."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_compose_config_validates_where_docker_compose_exists() -> None:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed here")
    env = dict(os.environ, GITSERVER_SECRET_KEY="k" * 64)  # compose has no default for it
    result = subprocess.run([*command, "config", "--quiet"], cwd=ROOT, capture_output=True,
                            text=True, check=False, env=env)
    assert result.returncode == 0, result.stderr
