"""Settings: defaults <- config.toml <- GITSERVER_<SECTION>_<KEY> environment.

Built once at start by `load_settings()` and passed down. This is the only module that
reads `os.environ`. Unknown keys and bad values raise `ConfigError` with one clear line.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "GITSERVER_"
# Handed to hook processes that git spawns, so they use exactly the settings of the server
# that started them (including --host/--port given on the command line).
SETTINGS_ENV = "GITSERVER_SETTINGS_JSON"


class ConfigError(Exception):
    """A configuration value is missing, unknown or malformed; str(exc) is one line."""


@dataclass(frozen=True)
class ServerSettings:
    """[server]: where to listen, the public base URL, the signing key, the log format."""
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""  # empty: derived from host and port
    secret_key: str = field(default="", repr=False)
    log_format: str = "text"
    # /metrics answers loopback clients, and others sending `Authorization: Bearer <this>`
    metrics_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class StorageSettings:
    """[storage]: the data folder; the repositories live in its `repos` folder."""
    data_dir: Path = Path("./data")


@dataclass(frozen=True)
class DatabaseSettings:
    """[database]: the database URL; empty means SQLite in the data folder."""
    url: str = ""


@dataclass(frozen=True)
class QueueSettings:
    """[queue]: the Huey URL (empty: SQLite in the data folder), embedded workers, threads, and
    where a worker on another host fetches the trees it lints."""
    url: str = ""
    embedded: bool = True
    workers: int = 2
    # The web node's URL as workers reach it (e.g. http://web:8000): `gitserver worker` then
    # fetches each commit's .py files from it. Empty: read the repositories in the data dir.
    web_url: str = ""


@dataclass(frozen=True)
class CheckerSettings:
    """[checker]: pylint's pass mark, time limit and disabled messages; push limits and wait."""
    fail_under: float = 8.0
    timeout_s: int = 60
    max_commits_per_push: int = 100
    disable: tuple[str, ...] = ()
    push_wait_s: float = 3.0
    # Lint seconds a push's commits behind its tips get before their rest waits for an idle queue.
    history_cpu_s: int = 300


@dataclass(frozen=True)
class MailSettings:
    """[mail]: the report mail backend (file or smtp) and the SMTP connection."""
    backend: str = "file"
    from_addr: str = "gitserver@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False


@dataclass(frozen=True)
class LimitsSettings:
    """[limits]: the largest file and the largest push accepted, in bytes."""
    max_file_bytes: int = 1048576
    max_push_bytes: int = 104857600


@dataclass(frozen=True)
class Settings:
    """Every setting, one section per config.toml table; built by `load_settings()`."""
    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    checker: CheckerSettings = field(default_factory=CheckerSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)

    @property
    def data_dir(self) -> Path:
        """Shortcut for `storage.data_dir`."""
        return self.storage.data_dir

    @property
    def repos_dir(self) -> Path:
        """Where the bare repositories live: `<data_dir>/repos/<owner>/<name>.git`."""
        return self.storage.data_dir / "repos"

    @property
    def database_url(self) -> str:
        """`database.url`, or SQLite in the data folder when it is empty."""
        return self.database.url or f"sqlite:///{self.data_dir / 'gitserver.db'}"

    @property
    def queue_url(self) -> str:
        """`queue.url`, or SQLite in the data folder when it is empty."""
        return self.queue.url or f"sqlite:///{self.data_dir / 'queue.db'}"

    def to_json(self) -> str:
        """The settings as JSON, for the hook processes (read back by `settings_from_json`)."""
        return json.dumps(dataclasses.asdict(self), default=str)


# Config-file / environment key -> dataclass field, where they differ.
_KEY_ALIASES = {("mail", "from"): "from_addr"}
_CHOICES = {
    ("server", "log_format"): ("text", "json"),
    ("mail", "backend"): ("file", "smtp", "console"),
}


_SECTIONS: dict[str, type] = {
    "server": ServerSettings, "storage": StorageSettings, "database": DatabaseSettings,
    "queue": QueueSettings, "checker": CheckerSettings, "mail": MailSettings,
    "limits": LimitsSettings,
}


def _field_types(section: str) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(_SECTIONS[section])}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def _to_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(value)
    return tuple(value)


def _to_str(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(value)
    return str(value)


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "bool": _to_bool, "int": _to_int, "float": _to_float, "Path": lambda v: Path(_to_str(v)),
    "tuple[str, ...]": _to_tuple, "str": _to_str,
}


def _coerce(section: str, key: str, type_name: str, value: Any) -> Any:
    try:
        return _COERCERS[type_name](value)
    except (TypeError, ValueError):
        raise ConfigError(f"config: {section}.{key} = {value!r} is not a valid "
                          f"{type_name.replace('tuple[str, ...]', 'list of strings')}") from None


def _merge(values: dict[str, dict[str, Any]], source: Mapping[str, Any], origin: str) -> None:
    for section, entries in source.items():
        if section not in values:
            raise ConfigError(f"{origin}: unknown section [{section}]; known: {', '.join(values)}")
        if not isinstance(entries, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table of keys")
        types = _field_types(section)
        for key, value in entries.items():
            name = _KEY_ALIASES.get((section, key), key)
            if name not in types:
                raise ConfigError(f"{origin}: unknown key {section}.{key}")
            values[section][name] = _coerce(section, key, str(types[name]), value)


def _from_env(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    sections = sorted(_SECTIONS, key=len, reverse=True)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in (SETTINGS_ENV, "GITSERVER_CONFIG"):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        if rest.startswith("test_"):
            continue  # GITSERVER_TEST_* belongs to the test suite, not the service
        for section in sections:
            if rest.startswith(section + "_"):
                found.setdefault(section, {})[rest[len(section) + 1:]] = value
                break
        else:
            raise ConfigError(f"environment: {name} names no config section")
    return found


def _validate(values: dict[str, dict[str, Any]]) -> None:
    for (section, key), choices in _CHOICES.items():
        if values[section][key] not in choices:
            raise ConfigError(f"config: {section}.{key} = {values[section][key]!r}; "
                              f"choose one of {', '.join(choices)}")
    port = values["server"]["port"]
    if not 0 <= port <= 65535:
        raise ConfigError(f"config: server.port = {port} is outside 0..65535")
    if values["server"]["base_url"] and \
            urlsplit(values["server"]["base_url"]).scheme not in ("http", "https"):
        raise ConfigError("config: server.base_url must start with http:// or https://")
    for section, key in (("queue", "workers"), ("checker", "timeout_s"),
                         ("checker", "max_commits_per_push"), ("checker", "history_cpu_s"),
                         ("limits", "max_file_bytes"),
                         ("limits", "max_push_bytes")):
        if values[section][key] < 1:
            raise ConfigError(f"config: {section}.{key} must be at least 1")
    if not 0 <= values["checker"]["fail_under"] <= 10:
        raise ConfigError("config: checker.fail_under must be between 0 and 10")
    if values["checker"]["push_wait_s"] < 0:
        raise ConfigError("config: checker.push_wait_s must be 0 (no wait) or more")
    db_scheme = urlsplit(values["database"]["url"]).scheme
    if values["database"]["url"] and db_scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError("config: database.url must be sqlite:///path or postgresql://...")
    queue_scheme = urlsplit(values["queue"]["url"]).scheme
    if values["queue"]["url"] and queue_scheme not in ("sqlite", "redis"):
        raise ConfigError("config: queue.url must be sqlite:///path or redis://host:port/db")
    if values["queue"]["web_url"]:
        _check_web_url(values["queue"]["web_url"])


def _check_web_url(url: str) -> None:
    """queue.web_url: an http(s) URL of a host, with no credentials, query or fragment."""
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    extras = parts.username is not None or parts.query or parts.fragment
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or extras:
        raise ConfigError(f"config: queue.web_url = {url!r} must be the web node's address as "
                          "workers reach it, like http://web:8000 (no user, query or fragment), "
                          "or empty to read the repositories in the data dir")


def _secret_key(data_dir: Path) -> str:
    """Generate the secret key once and keep it in the data dir (mode 0600)."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


# Keys that were ever shipped or shown as examples: whoever has read them can forge sessions.
KNOWN_KEYS = frozenset({"change-me-to-a-long-random-string", "change-me", "secret", "changeme"})
MIN_KEY_BITS = 256
MAKE_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def _estimated_bits(key: str) -> float:
    """A generous guess of the key's entropy: its length times the bits of the alphabet its
    characters come from; a key of very few distinct characters counts as none."""
    if len(set(key)) < 10:
        return 0.0
    if all(c in string.hexdigits for c in key):
        alphabet = 16
    else:
        alphabet = sum(size for chars, size in ((string.ascii_lowercase, 26),
                                                (string.ascii_uppercase, 26),
                                                (string.digits, 10))
                       if any(c in chars for c in key))
        alphabet += 33 if any(not c.isalnum() for c in key) else 0
    return len(key) * math.log2(alphabet)


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign sessions (a known or guessable key), or None when it may."""
    if key.strip().lower() in KNOWN_KEYS:
        reason = "server.secret_key is a published example, so anyone can forge sign-ins"
    elif _estimated_bits(key) < MIN_KEY_BITS:
        reason = (f"server.secret_key is too short or too simple (under {MIN_KEY_BITS // 8} "
                  "random bytes)")
    else:
        return None
    return (f"{reason}; make one with `{MAKE_KEY}` and set it as GITSERVER_SERVER_SECRET_KEY, "
            "or remove it to have one generated into the data dir")


def _build(values: dict[str, dict[str, Any]]) -> Settings:
    return Settings(**{name: cls(**values[name]) for name, cls in _SECTIONS.items()})


def load_settings(config_path: str | Path | None = None,
                  environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Settings:
    """Build the one Settings object; `overrides` are command-line flags (highest)."""
    environ = os.environ if environ is None else environ
    if SETTINGS_ENV in environ:
        return settings_from_json(environ[SETTINGS_ENV])
    values = {name: dataclasses.asdict(cls()) for name, cls in _SECTIONS.items()}
    path = Path(config_path) if config_path else (
        Path(environ["GITSERVER_CONFIG"]) if environ.get("GITSERVER_CONFIG") else None)
    if path is None and Path("config.toml").is_file():
        path = Path("config.toml")
    if path is not None:
        try:
            with path.open("rb") as handle:
                _merge(values, tomllib.load(handle), str(path))
        except FileNotFoundError:
            raise ConfigError(f"config: {path} does not exist; set GITSERVER_CONFIG "
                              "to an existing file or unset it") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _merge(values, _from_env(environ), "environment")
    if overrides:
        _merge(values, overrides, "command line")
    _validate(values)
    data_dir = values["storage"]["data_dir"].expanduser().resolve()
    values["storage"]["data_dir"] = data_dir
    if not values["server"]["secret_key"]:
        values["server"]["secret_key"] = _secret_key(data_dir)
    if not values["server"]["base_url"]:
        host = values["server"]["host"]
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        values["server"]["base_url"] = f"http://{host}:{values['server']['port']}"
    values["server"]["base_url"] = values["server"]["base_url"].rstrip("/")
    return _build(values)


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment of a `gitserver` process we start ourselves: ours without GITSERVER_*
    names, and exactly our settings (read back by `load_settings`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env[SETTINGS_ENV] = settings.to_json()
    return env


def settings_from_json(text: str) -> Settings:
    """The Settings that `Settings.to_json()` wrote, each value coerced to its field's type."""
    raw = json.loads(text)
    values: dict[str, dict[str, Any]] = {}
    for section, entries in raw.items():
        types = _field_types(section)
        values[section] = {k: _coerce(section, k, str(types[k]), v) for k, v in entries.items()}
    return _build(values)
