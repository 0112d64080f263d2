"""The `gitserver` command: serve, worker, user add, token create, org. Sets up logging."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence

from gitserver import __version__, cli_orgs
from gitserver.core.accounts import AccountError, create_user
from gitserver.core.auth import create_token
from gitserver.core.config import ConfigError, Settings, load_settings
from gitserver.core.models import User, init_db
from gitserver.core.orgs import OrgError
from gitserver.core.schema import migrate
from gitserver.runtime import run_repo_worker, run_worker, serve

logger = logging.getLogger("gitserver")


class CliError(Exception):
    """Shown as one line on stderr; exit code 1."""


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (`server.log_format = "json"`), for log collectors."""
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Send every logger to stderr, as text or as JSON lines per `server.log_format`."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.server.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise CliError("the passwords differ; run the command again")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> None:
    """`gitserver user add`: create an active user; the password comes from stdin."""
    init_db(settings.database_url)
    migrate()
    try:
        user = create_user(args.username, args.email, _read_password(), active=True)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"created user {user.username} <{user.email}>")


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> None:
    """`gitserver token create`: print a new access token of an existing user."""
    init_db(settings.database_url)
    migrate()
    user = User.get_or_none((User.username == args.username.lower()) & ~User.is_org)
    if user is None:
        raise CliError(f"no user named {args.username!r}; create it with `gitserver user add`")
    print(create_token(user, args.name))


def cmd_serve(settings: Settings, _args: argparse.Namespace) -> None:
    """`gitserver serve`: the web and git server (with the workers when embedded)."""
    serve(settings)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    """`gitserver worker`: the check and mail workers alone (`--repo-queue`: the web node's
    repo queue, which `serve` starts by itself)."""
    if args.repo_queue:
        run_repo_worker(settings)
    else:
        run_worker(settings)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each command's `func` default runs it."""
    parser = argparse.ArgumentParser(
        prog="gitserver", description="A git push service that checks Python code with pylint.")
    parser.add_argument("--version", action="version", version=f"gitserver {__version__}")
    parser.add_argument("--config", help="path of config.toml (default: $GITSERVER_CONFIG, "
                        "else ./config.toml if present)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cmd = sub.add_parser("serve", help="web + git over HTTP (+ workers when embedded)")
    serve_cmd.add_argument("--host")
    serve_cmd.add_argument("--port", type=int)
    serve_cmd.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run the check and mail workers alone")
    worker.add_argument("--repo-queue", action="store_true",
                        help="consume the repo queue instead (work that reads the repositories; "
                             "`serve` runs one itself, on the web node)")
    worker.set_defaults(func=cmd_worker)
    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION")
    add = user.add_parser("add", help="add an active user; password from stdin's first line")
    add.add_argument("username")
    add.add_argument("email")
    add.set_defaults(func=cmd_user_add)
    token = sub.add_parser("token", help="manage access tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION")
    create = token.add_parser("create", help="print a new access token once")
    create.add_argument("username")
    create.add_argument("--name", default="cli")
    create.set_defaults(func=cmd_token_create)
    cli_orgs.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (1, with one line on stderr, on errors)."""
    # Repos, databases, mail and keys are nobody else's business: everything we (and the git
    # and lint processes we start) create is for this account only.
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    overrides: dict[str, dict[str, object]] = {}
    if getattr(args, "host", None):
        overrides.setdefault("server", {})["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides.setdefault("server", {})["port"] = args.port
    try:
        settings = load_settings(args.config, overrides=overrides)
        # Only the long-running commands log progress; the others keep stderr for errors.
        setup_logging(settings, logging.INFO if args.command in ("serve", "worker")
                      else logging.WARNING)
        args.func(settings, args)
    except (ConfigError, CliError, OrgError) as exc:
        print(f"gitserver: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
