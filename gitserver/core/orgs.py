"""Organizations (courses): accounts that own repos, their members (`staff` or `student`) and
their assignments. No HTTP here: the CLI, `web.orgs_web` and `core.access` call these.

An organization is a `User` row with `is_org` set, so it shares the owner namespace with users
(a name is taken by one or the other, never both) and owns repos like a user does. Nobody signs
in as it: its password hash is not a hash and it is never active.

A student's repo of assignment `hw1` is `{org}/hw1-{username}`; they may create it by pushing.
"""

# peewee gives every model its `id` primary key when the class is made; pylint cannot see it.
# pylint: disable=no-member

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from peewee import IntegrityError

from gitserver.core.accounts import RESERVED_USERNAMES
from gitserver.core.models import Assignment, Membership, Organization, Repo, User, database, utcnow
from gitserver.core.repos import USERNAME_RE

STAFF = "staff"
STUDENT = "student"
ROLES = (STAFF, STUDENT)
ASSIGNMENT_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,49}")
# Not an argon2 hash: every password check against it fails.
NO_PASSWORD = "!organization"


class OrgError(ValueError):
    """A request about organizations that cannot be done; str(exc) says what to change."""


@dataclass(frozen=True)
class OrgGrant:
    """What a member may do with one repo of an organization."""
    org: User  # the organization's account, the repo's owner
    role: str
    full: bool  # may read, push and create the repo (staff; a student on their own repo)


# -- look-ups -----------------------------------------------------------------------------------

def get_org(name: str) -> User | None:
    """The organization's account called `name` (any case), or None."""
    return User.get_or_none((User.username == name.lower()) & User.is_org)


def require_org(name: str) -> User:
    """The organization called `name`, or OrgError saying there is none."""
    org = get_org(name)
    if org is None:
        raise OrgError(f"no organization named {name!r}; create it with "
                       "`gitserver org create NAME --staff USER`")
    return org


def settings_of(org: User) -> Organization:
    """The organization's settings row (made when missing)."""
    row, _ = Organization.get_or_create(account=org)
    return row


def role_of(org: User, user: User | None) -> str | None:
    """`staff`, `student` or None (not a member, or nobody signed in)."""
    if user is None:
        return None
    member = Membership.get_or_none((Membership.org == org) & (Membership.user == user))
    return member.role if member is not None else None


def members(org: User) -> list[Membership]:
    """The members with their users joined: staff first, then students, by username."""
    return list(Membership.select(Membership, User)
                .join(User, on=Membership.user == User.id)
                .where(Membership.org == org)
                .order_by(Membership.role, User.username))


def assignments(org: User) -> list[Assignment]:
    """The organization's assignments, by name."""
    return list(Assignment.select().where(Assignment.org == org).order_by(Assignment.name))


def student_repo_name(assignment: str, username: str) -> str:
    """The repo a student pushes an assignment to."""
    return f"{assignment}-{username}"


def grant(owner: str, repo_name: str, user: User) -> OrgGrant | None:
    """What `user` may do with `owner/repo_name` as a member of the organization `owner`;
    None when `owner` is no organization or `user` no member of it."""
    org_user = User.alias()
    member = (Membership.select(Membership, org_user)
              .join(org_user, on=Membership.org == org_user.id)
              .where((org_user.username == owner.lower()) & org_user.is_org
                     & (Membership.user == user)).first())
    if member is None:
        return None
    if member.role == STAFF:
        return OrgGrant(member.org, STAFF, full=True)
    return OrgGrant(member.org, member.role,
                    full=claimants(member.org_id, repo_name) == {user.username})


def claimants(org_id: int, repo_name: str) -> set[str]:
    """The students whose `{assignment}-{username}` the repo name is.

    Names may hold '-' on both sides, so `hw1-bob-x` could be bob-x's `hw1` or x's `hw1-bob`:
    a name more than one student could claim belongs to none of them (staff still reach it).
    """
    name = repo_name.lower()
    splits = [(name[:i], name[i + 1:]) for i, char in enumerate(name)
              if char == "-" and 0 < i < len(name) - 1]
    if not splits:
        return set()
    known = {a.name for a in Assignment.select(Assignment.name).where(
        (Assignment.org == org_id) & Assignment.name.in_([a for a, _ in splits])).iterator()}
    wanted = [u for a, u in splits if a in known]
    if not wanted:
        return set()
    return {m.user.username for m in Membership.select(Membership, User)
            .join(User, on=Membership.user == User.id)
            .where((Membership.org == org_id) & (Membership.role == STUDENT)
                   & User.username.in_(wanted)).iterator()}


def push_is_late(repo: Repo, now: dt.datetime | None = None) -> bool:
    """Whether a push to `repo` now comes after the due time of the assignment it is of."""
    name = repo.name.lower()
    prefixes = [name[:i] for i, char in enumerate(name) if char == "-" and i > 0]
    if not prefixes:
        return False
    return Assignment.select().where(
        (Assignment.org == repo.owner_id) & Assignment.name.in_(prefixes)
        & Assignment.due_at.is_null(False) & (Assignment.due_at < (now or utcnow()))).exists()


# -- changes ------------------------------------------------------------------------------------

def _user(username: str) -> User:
    user = User.get_or_none((User.username == username.lower()) & ~User.is_org)
    if user is None:
        raise OrgError(f"no user named {username!r}; create the account first "
                       "(`gitserver user add` or /register)")
    return user


def create_org(name: str, staff: str) -> User:
    """Make the organization `name` with `staff` as its first staff member."""
    name = name.strip().lower()
    if not USERNAME_RE.fullmatch(name):
        raise OrgError(f"organization name {name!r} is not allowed: use 1-39 lowercase letters, "
                       "digits or '-', starting with a letter or digit")
    if name in RESERVED_USERNAMES:
        raise OrgError(f"the name {name!r} is reserved for the site; choose another")
    first = _user(staff)
    try:
        with database.atomic():
            if User.select().where(User.username == name).exists():
                raise OrgError(f"the name {name!r} is taken by a user or an organization; "
                               "choose another")
            # The address has no dot after the @: no one can register it, nothing is sent to it.
            org = User.create(username=name, email=f"{name}@organization",
                              password_hash=NO_PASSWORD, is_active=False, is_org=True)
            Organization.create(account=org)
            Membership.create(org=org, user=first, role=STAFF)
    except IntegrityError:
        raise OrgError(f"the name {name!r} is taken by a user or an organization; "
                       "choose another") from None
    return org


def check_role(role: str) -> str:
    """The role if it is one, else OrgError naming those that exist."""
    if role not in ROLES:
        raise OrgError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def add_member(org: User, username: str, role: str) -> tuple[User, bool]:
    """Make `username` a member with `role` (or change their role); (user, True if new)."""
    check_role(role)
    user = _user(username)
    with database.atomic():
        member = Membership.get_or_none((Membership.org == org) & (Membership.user == user))
        if member is None:
            Membership.create(org=org, user=user, role=role)
            return user, True
        if member.role == STAFF and role != STAFF:
            _keep_one_staff(org, user)
        Membership.update(role=role).where(Membership.id == member.id).execute()
    return user, False


def _keep_one_staff(org: User, leaving: User) -> None:
    others = Membership.select().where((Membership.org == org) & (Membership.role == STAFF)
                                       & (Membership.user != leaving)).exists()
    if not others:
        raise OrgError(f"{leaving.username} is the last staff member of {org.username}; "
                       "add another staff member first")


def remove_member(org: User, username: str) -> User:
    """Take `username` out of the organization (their repos stay, owned by it)."""
    user = _user(username)
    with database.atomic():
        member = Membership.get_or_none((Membership.org == org) & (Membership.user == user))
        if member is None:
            raise OrgError(f"{user.username} is not a member of {org.username}")
        if member.role == STAFF:
            _keep_one_staff(org, user)
        member.delete_instance()
    return user


def parse_due(text: str) -> dt.datetime | None:
    """An ISO 8601 due time (`2026-12-01T23:59:00Z`; no zone means UTC) as naive UTC; "" and
    "none" mean no due time."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise OrgError(f"due time {text!r} is not a date and time: use ISO 8601 like "
                       "2026-12-01T23:59:00Z") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def set_assignment(org: User, name: str, due: dt.datetime | None) -> tuple[Assignment, bool]:
    """Create the assignment `name`, or set its due time; (assignment, True if new)."""
    name = name.strip().lower()
    if not ASSIGNMENT_RE.fullmatch(name):
        raise OrgError(f"assignment name {name!r} is not allowed: use 1-50 lowercase letters, "
                       "digits, '.', '_' or '-', starting with a letter or digit")
    try:
        with database.atomic():
            found = Assignment.get_or_none((Assignment.org == org) & (Assignment.name == name))
            if found is None:
                return Assignment.create(org=org, name=name, due_at=due), True
            Assignment.update(due_at=due).where(Assignment.id == found.id).execute()
            found.due_at = due
            return found, False
    except IntegrityError:  # created by a concurrent request a moment ago
        found = Assignment.get((Assignment.org == org) & (Assignment.name == name))
        Assignment.update(due_at=due).where(Assignment.id == found.id).execute()
        return found, False


def set_digest(org: User, daily: bool) -> None:
    """Turn the staff's daily digest mail on or off."""
    settings_of(org)
    Organization.update(digest=daily).where(Organization.account == org).execute()


def format_due(due: dt.datetime | None) -> str:
    """A due time as the CLI and pages print it."""
    return due.strftime("%Y-%m-%dT%H:%M:%SZ") if due is not None else "no due time"
