"""Accounts: validation, sign-up with activation keys, tokens, preferences. Each change is one
database transaction. No HTTP here: `accounts_web` turns these into pages.
"""

# peewee gives every model its `id` primary key when the class is made; pylint cannot see it.
# pylint: disable=no-member

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import secrets
from dataclasses import dataclass

from peewee import IntegrityError

from gitserver.core.auth import hash_password, new_token
from gitserver.core.models import ActivationKey, Repo, Token, User, database, utcnow
from gitserver.core.repos import USERNAME_RE

EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is only a way to load us
ACTIVATION_VALID = dt.timedelta(hours=24)
# Report mails (CONTRACT "Accounts and mail"): every push; only when a branch's state changes
# or new messages appear; none.
MAIL_EVERY, MAIL_CHANGES, MAIL_NONE = "every", "changes", "none"
MAIL_REPORT_CHOICES = (MAIL_EVERY, MAIL_CHANGES, MAIL_NONE)
MAX_TOKEN_NAME = 100
# Top-level paths of the site: a user named like one would have no /{owner} page.
RESERVED_USERNAMES = frozenset({
    "activate", "admin", "api", "explore", "healthz", "help", "login", "logout", "metrics",
    "new", "orgs", "password", "register", "settings", "static", "unsubscribe", "user", "users",
})


class AccountError(ValueError):
    """Input that cannot make an account; str(exc) tells the user what to change."""


def validate_username(username: str) -> str:
    """The username if allowed, else AccountError saying what to change."""
    if not USERNAME_RE.fullmatch(username):
        raise AccountError(f"username {username!r} is not allowed: use 1-39 lowercase letters, "
                           "digits or '-', starting with a letter or digit")
    if username in RESERVED_USERNAMES:
        raise AccountError(f"the username {username!r} is reserved for the site; choose another")
    return username


def validate_email(email: str) -> str:
    """The address without surrounding blanks if plausible, else AccountError."""
    email = email.strip()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise AccountError(f"{email!r} does not look like an email address (name@example.org)")
    return email


def validate_password(password: str) -> str:
    """The password if long enough (and not absurdly long), else AccountError."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")
    return password


def registration_errors(username: str, email: str, password: str) -> dict[str, str]:
    """Every field's problem at once (field name -> what to change); empty when all is well."""
    errors = {}
    for name, check, value in (("username", validate_username, username.strip().lower()),
                               ("email", validate_email, email),
                               ("password", validate_password, password)):
        try:
            check(value)
        except AccountError as exc:
            errors[name] = str(exc)
    return errors


def create_user(username: str, email: str, password: str, *, active: bool) -> User:
    """Make an account at once (the CLI's `user add`); AccountError if taken."""
    validate_username(username)
    email = validate_email(email)
    validate_password(password)
    try:
        with database.atomic():
            if User.select().where(User.username == username).exists():
                raise AccountError(f"the username {username!r} is taken; choose another")
            if User.select().where(User.email == email.lower()).exists():
                raise AccountError(f"an account with {email} exists already")
            return User.create(username=username, email=email.lower(),
                               password_hash=hash_password(password), is_active=active)
    except IntegrityError:
        raise AccountError(f"the username {username!r} or the address {email} is taken") from None


# -- sign-up and activation -------------------------------------------------------------------

class Outcome(enum.Enum):
    """What /register found: a fresh account, or the address or name taken."""
    CREATED = "created"
    EMAIL_TAKEN = "email taken"
    USERNAME_TAKEN = "username taken"


@dataclass(frozen=True)
class Registration:
    """What /register did; the page says the same for every outcome, the mails differ."""
    outcome: Outcome
    username: str
    email: str
    key: str = ""  # the activation key, when CREATED
    owner: User | None = None  # the account that holds the address, when EMAIL_TAKEN


def register(username: str, email: str, password: str) -> Registration:
    """Make an inactive account with an activation key, or say which name or address is taken.

    Raises AccountError for input no account could have (the form shows it). A taken name or
    address is not an error: the caller must answer exactly as for a fresh one.
    """
    username = validate_username(username.strip().lower())
    email = validate_email(email).lower()
    validate_password(password)
    # Hashed before looking anything up: a taken name must cost the same time as a fresh one.
    password_hash = hash_password(password)
    try:
        with database.atomic():
            owner = User.get_or_none(User.email == email)
            if owner is not None:
                return Registration(Outcome.EMAIL_TAKEN, username, email, owner=owner)
            if User.select().where(User.username == username).exists():
                return Registration(Outcome.USERNAME_TAKEN, username, email)
            user = User.create(username=username, email=email, password_hash=password_hash,
                               is_active=False)
            return Registration(Outcome.CREATED, username, email, key=_new_key(user))
    except IntegrityError:  # a concurrent registration took the name or address first
        owner = User.get_or_none(User.email == email)
        if owner is not None:
            return Registration(Outcome.EMAIL_TAKEN, username, email, owner=owner)
        return Registration(Outcome.USERNAME_TAKEN, username, email)


def activation_key_hash(key: str) -> str:
    """What is stored of a key: its SHA-256 (the key has 256 random bits)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _new_key(user: User) -> str:
    """A fresh 256-bit key; any older live key of the user stops working (one live key)."""
    now = utcnow()
    ActivationKey.update(expires_at=now).where(
        (ActivationKey.user == user) & ActivationKey.used_at.is_null()
        & (ActivationKey.expires_at > now)).execute()
    key = secrets.token_urlsafe(32)
    ActivationKey.create(user=user, key_hash=activation_key_hash(key), created_at=now,
                         expires_at=now + ACTIVATION_VALID)
    return key


def new_activation_key(user: User) -> str:
    """Replace the user's live activation key with a new one (the resend button)."""
    with database.atomic():
        return _new_key(user)


def last_key_sent_at(user: User) -> dt.datetime | None:
    """When the user's newest activation key was made, or None."""
    row = ActivationKey.select(ActivationKey.created_at).where(
        ActivationKey.user == user).order_by(ActivationKey.created_at.desc()).first()
    return row.created_at if row is not None else None


class Activation(enum.Enum):
    """The result of following an activation link."""
    ACTIVATED = "activated"
    INVALID = "invalid"   # no such key: mistyped, cut off, or never ours
    USED = "used"         # clicked before
    EXPIRED = "expired"   # older than 24 h, or replaced by a newer key


def activate(key: str) -> tuple[Activation, User | None]:
    """Use an activation key once; the user comes back with every result but INVALID."""
    if not key or len(key) > 200:
        return Activation.INVALID, None
    with database.atomic():
        row = ActivationKey.get_or_none(ActivationKey.key_hash == activation_key_hash(key))
        if row is None:
            return Activation.INVALID, None
        user = row.user
        if row.used_at is not None:
            return Activation.USED, user
        now = utcnow()
        if row.expires_at <= now:
            return Activation.EXPIRED, user
        # The used_at condition makes the key single use even under two concurrent clicks.
        claimed = ActivationKey.update(used_at=now).where(
            (ActivationKey.id == row.id) & ActivationKey.used_at.is_null()).execute()
        if not claimed:
            return Activation.USED, user
        User.update(is_active=True).where(User.id == user.id).execute()
        user.is_active = True
        return Activation.ACTIVATED, user


# -- sign-in ------------------------------------------------------------------------------------

def find_login(login: str) -> User | None:
    """The user named `login`, or whose address it is."""
    login = login.strip().lower()
    if "@" in login:
        return User.get_or_none(User.email == login)
    return User.get_or_none(User.username == login)


def change_password(user: User, new_password: str) -> None:
    """Store a new password hash; the caller ends the user's other sessions."""
    validate_password(new_password)
    with database.atomic():
        User.update(password_hash=hash_password(new_password)).where(
            User.id == user.id).execute()


# -- tokens and preferences ---------------------------------------------------------------------

def issue_token(user: User, name: str) -> str:
    """Create an access token; the returned text is shown once and never stored."""
    name = " ".join(name.split())
    if not name:
        raise AccountError("give the token a name, e.g. the machine or script that uses it")
    if len(name) > MAX_TOKEN_NAME:
        raise AccountError(f"the token name must have at most {MAX_TOKEN_NAME} characters")
    token, digest = new_token()
    with database.atomic():
        Token.create(user=user, name=name, token_hash=digest)
    return token


def list_tokens(user: User) -> list[Token]:
    """The user's tokens, newest first."""
    return list(Token.select().where(Token.user == user).order_by(Token.created_at.desc(),
                                                                  Token.id.desc()))


def revoke_token(user: User, token_id: int) -> str | None:
    """Delete one of the user's tokens; its name, or None if the user has no such token."""
    with database.atomic():
        token = Token.get_or_none((Token.id == token_id) & (Token.user == user))
        if token is None:
            return None
        token.delete_instance()
        return token.name


def set_mail_reports(user: User, choice: str) -> None:
    """Which push reports the user gets by mail: every, changes or none."""
    if choice not in MAIL_REPORT_CHOICES:
        raise AccountError(f"choose one of: {', '.join(MAIL_REPORT_CHOICES)}")
    with database.atomic():
        User.update(mail_reports=choice).where(User.id == user.id).execute()


def remove_expired_registrations(now: dt.datetime | None = None) -> int:
    """Delete accounts never activated whose every activation key has expired, so their name
    and address are free again; return how many. An account with a token or a repository is
    never removed here (it was active once, and someone deactivated it on purpose)."""
    now = now or utcnow()
    live = ActivationKey.select(ActivationKey.user).where(ActivationKey.expires_at > now)
    expired = ActivationKey.select(ActivationKey.user).where(ActivationKey.expires_at <= now)
    stale = (User.select(User.id)
             .where(~User.is_active & User.id.in_(expired) & User.id.not_in(live)
                    & User.id.not_in(Token.select(Token.user))
                    & User.id.not_in(Repo.select(Repo.owner))))
    ids = [user.id for user in stale.iterator()]
    if ids:
        with database.atomic():
            # pylint: disable=no-value-for-parameter  # peewee's delete() is a classmethod
            ActivationKey.delete().where(ActivationKey.user.in_(ids)).execute()
            User.delete().where(User.id.in_(ids) & ~User.is_active).execute()
    return len(ids)
