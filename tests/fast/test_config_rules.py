"""Settings as `load_settings` builds them: defaults, precedence, coercion, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitserver.core.config import SETTINGS_ENV, ConfigError, load_settings, settings_from_json


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"GITSERVER_STORAGE_DATA_DIR": str(tmp_path / "data"), **extra}


def test_config_defaults_follow_the_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml here
    settings = load_settings(environ=_env(tmp_path))
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8000)
    assert settings.server.base_url == "http://127.0.0.1:8000"
    assert settings.checker.fail_under == 8.0
    assert settings.checker.timeout_s == 60
    assert settings.checker.max_commits_per_push == 100
    assert settings.checker.disable == ()
    assert settings.checker.push_wait_s == 3
    assert settings.queue.embedded is True
    assert settings.queue.workers == 2
    assert settings.limits.max_file_bytes == 1048576
    assert settings.limits.max_push_bytes == 104857600
    assert settings.database_url.startswith("sqlite")
    assert settings.queue_url.startswith("sqlite")


def test_config_secret_key_is_generated_once_and_private(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = load_settings(environ=_env(tmp_path)).server.secret_key
    again = load_settings(environ=_env(tmp_path)).server.secret_key
    assert first == again and len(first) >= 48
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o077 == 0


def test_config_precedence_file_then_environment_then_command_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "[server]\nport = 9001\nhost = \"0.0.0.0\"\n"
                            "[checker]\nfail_under = 7.5\n")
    env = _env(tmp_path, GITSERVER_SERVER_PORT="9002")
    assert load_settings(path, environ=env).server.port == 9002
    settings = load_settings(path, environ=env, overrides={"server": {"port": 9003}})
    assert settings.server.port == 9003
    assert settings.checker.fail_under == 7.5
    # a wildcard host still gives clickable links
    assert settings.server.base_url == "http://127.0.0.1:9003"


def test_config_base_url_loses_its_trailing_slash(tmp_path: Path) -> None:
    path = _write(tmp_path, "[server]\nbase_url = \"https://git.example.org/\"\n")
    assert load_settings(path, environ=_env(tmp_path)).server.base_url == \
        "https://git.example.org"


def test_config_environment_values_are_coerced(tmp_path: Path) -> None:
    env = _env(tmp_path, GITSERVER_QUEUE_EMBEDDED="false", GITSERVER_CHECKER_FAIL_UNDER="6.5",
               GITSERVER_CHECKER_DISABLE="missing-docstring, invalid-name")
    settings = load_settings(None, environ=env)
    assert settings.queue.embedded is False
    assert settings.checker.fail_under == 6.5
    assert settings.checker.disable == ("missing-docstring", "invalid-name")


@pytest.mark.parametrize("toml,words", [
    ("[server]\nportt = 9000\n", ("portt",)),
    ("[serverr]\nport = 9000\n", ("serverr",)),
    ("[server]\nport = \"eighty\"\n", ("server.port", "eighty")),
    ("[checker]\nfail_under = 11\n", ("fail_under",)),
    ("[server\nport = 1\n", ("config.toml",)),
])
def test_config_bad_file_is_one_clear_line(tmp_path: Path, toml: str,
                                           words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, toml), environ=_env(tmp_path))
    text = str(caught.value)
    assert "\n" not in text
    for word in words:
        assert word in text


@pytest.mark.parametrize("name,value,word", [
    ("GITSERVER_SERVER_PORT", "70000", "server.port"),
    ("GITSERVER_QUEUE_EMBEDDED", "maybe", "queue.embedded"),
    ("GITSERVER_MAIL_BACKEND", "pigeon", "mail.backend"),
    ("GITSERVER_DATABASE_URL", "mysql://db/x", "database.url"),
    ("GITSERVER_NOSUCH_KEY", "1", "GITSERVER_NOSUCH_KEY"),
])
def test_config_bad_environment_is_one_clear_line(tmp_path: Path, name: str, value: str,
                                                  word: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ=_env(tmp_path, **{name: value}))
    assert word in str(caught.value) and "\n" not in str(caught.value)


def test_config_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.toml"):
        load_settings(tmp_path / "absent.toml", environ=_env(tmp_path))


def test_config_round_trips_through_json_for_child_processes(tmp_path: Path) -> None:
    path = _write(tmp_path, "[checker]\ndisable = [\"invalid-name\"]\nfail_under = 9.0\n")
    settings = load_settings(path, environ=_env(tmp_path))
    again = settings_from_json(settings.to_json())
    assert again == settings
    assert load_settings(None, environ={SETTINGS_ENV: settings.to_json()}) == settings
