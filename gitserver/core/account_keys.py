"""Mailed keys that change an account: a password reset and a new address to confirm.

Each key has 256 random bits, is stored as its SHA-256 only, works once and until it expires
(a reset for an hour, an address confirmation for a day). A user has one live key of each kind:
a new one replaces the older. No HTTP here: `recovery_web` turns these into pages and mails.
"""

# peewee gives every model its `id` primary key when the class is made; pylint cannot see it.
# pylint: disable=no-member

from __future__ import annotations

import datetime as dt
import enum
import secrets

from gitserver.core.accounts import AccountError, validate_email, validate_password
from gitserver.core.auth import hash_password, token_hash
from gitserver.core.models import AccountKey, User, database, utcnow

RESET = "reset"
EMAIL = "email"
VALID = {RESET: dt.timedelta(hours=1), EMAIL: dt.timedelta(hours=24)}
MAX_KEY = 200  # a real key has 43 characters; a longer one is not looked up at all


class KeyState(enum.Enum):
    """What a followed link found."""
    LIVE = "live"
    INVALID = "invalid"   # no such key: mistyped, cut off, or never ours
    USED = "used"         # followed before
    EXPIRED = "expired"   # too old, or replaced by a newer key


class KeyProblem(AccountError):
    """The key cannot be used; `state` says why."""

    def __init__(self, state: KeyState) -> None:
        super().__init__(f"the link is {state.value}")
        self.state = state


def _expire_live(user: User, purpose: str, now: dt.datetime) -> None:
    AccountKey.update(expires_at=now).where(
        (AccountKey.user == user) & (AccountKey.purpose == purpose)
        & AccountKey.used_at.is_null() & (AccountKey.expires_at > now)).execute()


def issue(user: User, purpose: str, new_email: str = "") -> str:
    """A fresh key of `purpose` for the user; any older live one of that purpose stops working."""
    now = utcnow()
    key = secrets.token_urlsafe(32)
    with database.atomic():
        _expire_live(user, purpose, now)
        AccountKey.create(user=user, purpose=purpose, key_hash=token_hash(key),
                          new_email=new_email, created_at=now, expires_at=now + VALID[purpose])
    return key


def look_up(key: str, purpose: str) -> AccountKey:
    """The live key row of `purpose`; KeyProblem if it is unknown, used or expired."""
    row = None
    if key and len(key) <= MAX_KEY:
        row = AccountKey.get_or_none((AccountKey.key_hash == token_hash(key))
                                     & (AccountKey.purpose == purpose))
    if row is None:
        raise KeyProblem(KeyState.INVALID)
    if row.used_at is not None:
        raise KeyProblem(KeyState.USED)
    if row.expires_at <= utcnow():
        raise KeyProblem(KeyState.EXPIRED)
    return row


def _claim(row: AccountKey) -> None:
    """Mark the key used; the used_at condition keeps it single use under concurrent clicks."""
    claimed = AccountKey.update(used_at=utcnow()).where(
        (AccountKey.id == row.id) & AccountKey.used_at.is_null()).execute()
    if not claimed:
        raise KeyProblem(KeyState.USED)


def request_reset(email: str) -> tuple[User, str] | None:
    """The account using `email` and a new reset key for it, or None when no account does."""
    user = User.get_or_none(User.email == email.strip().lower())
    if user is None:
        return None
    return user, issue(user, RESET)


def reset_password(key: str, new_password: str) -> User:
    """Set a new password with a reset key (used up by it); the caller ends the sessions."""
    validate_password(new_password)
    password_hash = hash_password(new_password)
    with database.atomic():
        row = look_up(key, RESET)
        _claim(row)
        User.update(password_hash=password_hash).where(User.id == row.user_id).execute()
    user: User = User.get_by_id(row.user_id)
    return user


def request_email_change(user: User, new_email: str) -> tuple[str, str]:
    """(the new address, a key to confirm it); AccountError for an address no account can have.

    Whether another account uses the address is told only on confirming, to the owner of the
    new mailbox: this form must not tell a signed-in user which addresses are registered.
    """
    email = validate_email(new_email).lower()
    if email == user.email:
        raise AccountError(f"{email} is your address already")
    return email, issue(user, EMAIL, new_email=email)


def confirm_email_change(key: str) -> tuple[User, str]:
    """Apply the address a confirmation key carries; (the user, the old address).

    AccountError when another account took the address meanwhile. Live reset keys die with the
    old address: they were mailed there.
    """
    with database.atomic():
        row = look_up(key, EMAIL)
        user = row.user
        if User.select().where((User.email == row.new_email) & (User.id != user.id)).exists():
            raise AccountError(f"{row.new_email} belongs to another account now, so your "
                               f"address stays {user.email}")
        _claim(row)
        old = user.email
        User.update(email=row.new_email).where(User.id == user.id).execute()
        _expire_live(user, RESET, utcnow())
        user.email = row.new_email
    return user, old
