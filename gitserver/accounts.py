"""Creating accounts: validation of username, email and password, in one transaction."""

from __future__ import annotations

import re

from peewee import IntegrityError

from .auth import hash_password
from .models import User, database
from .repos import USERNAME_RE

EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 8


class AccountError(ValueError):
    """Input that cannot make an account; str(exc) tells the user what to change."""


def validate_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise AccountError(f"username {username!r} is not allowed: use 1-39 lowercase letters, "
                           "digits or '-', starting with a letter or digit")
    return username


def validate_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise AccountError(f"{email!r} does not look like an email address (name@example.org)")
    return email


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def create_user(username: str, email: str, password: str, *, active: bool) -> User:
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
