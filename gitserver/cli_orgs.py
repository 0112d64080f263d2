"""`gitserver org create|add|remove|assignment`: organizations (courses) from the command line.

Errors are `core.orgs.OrgError`; `cli.main` prints them as one line and exits with 1.
"""

from __future__ import annotations

import argparse
from typing import Any

from gitserver.core.config import Settings
from gitserver.core.models import init_db
from gitserver.core.orgs import (
    add_member,
    check_role,
    create_org,
    format_due,
    parse_due,
    remove_member,
    require_org,
    set_assignment,
)
from gitserver.core.schema import migrate


def _open(settings: Settings) -> None:
    init_db(settings.database_url)
    migrate()


def cmd_create(settings: Settings, args: argparse.Namespace) -> None:
    """`org create ORG --staff USER`."""
    _open(settings)
    org = create_org(args.org, args.staff)
    print(f"created organization {org.username} with staff {args.staff.lower()}")


def cmd_add(settings: Settings, args: argparse.Namespace) -> None:
    """`org add ORG USER --role staff|student`: add a member or change their role."""
    check_role(args.role)
    _open(settings)
    org = require_org(args.org)
    user, new = add_member(org, args.user, args.role)
    verb = "added" if new else "made"
    print(f"{verb} {user.username} {args.role} of {org.username}")


def cmd_remove(settings: Settings, args: argparse.Namespace) -> None:
    """`org remove ORG USER`."""
    _open(settings)
    org = require_org(args.org)
    user = remove_member(org, args.user)
    print(f"removed {user.username} from {org.username}")


def cmd_assignment(settings: Settings, args: argparse.Namespace) -> None:
    """`org assignment ORG NAME [--due TIME]`: create an assignment or set its due time."""
    due = parse_due(args.due or "")
    _open(settings)
    org = require_org(args.org)
    assignment, new = set_assignment(org, args.name, due)
    print(f"{'created' if new else 'updated'} assignment {assignment.name} of {org.username} "
          f"({format_due(due)}); students push to {org.username}/{assignment.name}-USERNAME")


def add_commands(sub: Any) -> None:
    """Add `org` and its actions to the top-level subparsers `sub`."""
    org = sub.add_parser("org", help="manage organizations (courses)").add_subparsers(
        dest="org_command", required=True, metavar="ACTION")
    create = org.add_parser("create", help="create an organization with its first staff member")
    create.add_argument("org")
    create.add_argument("--staff", required=True, metavar="USER")
    create.set_defaults(func=cmd_create)
    add = org.add_parser("add", help="add a member, or change a member's role")
    add.add_argument("org")
    add.add_argument("user")
    # Checked by core.orgs, not argparse `choices`: a bad role is one line, exit code 1.
    add.add_argument("--role", required=True, metavar="staff|student")
    add.set_defaults(func=cmd_add)
    remove = org.add_parser("remove", help="remove a member")
    remove.add_argument("org")
    remove.add_argument("user")
    remove.set_defaults(func=cmd_remove)
    assignment = org.add_parser("assignment", help="create an assignment or set its due time")
    assignment.add_argument("org")
    assignment.add_argument("name")
    assignment.add_argument("--due", metavar="TIME",
                            help="ISO 8601, e.g. 2026-12-01T23:59:00Z; pushes after it are late")
    assignment.set_defaults(func=cmd_assignment)
