"""Credentials -> User: argon2 passwords, hashed access tokens, HTTP Basic auth.

argon2-cffi does the password hashing (memory-hard, maintained, with `needs_rehash`); tokens are
random with 192 bits, so a plain SHA-256 of them is enough to store and to look them up by.
Successful Basic-auth checks are remembered for a minute under a keyed hash of the credentials,
because git sends them with every request of a push and argon2 is deliberately slow.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gitserver.core.models import Token, User, utcnow
from gitserver.core.throttle import Throttle

TOKEN_PREFIX = "gsp_"
_hasher = PasswordHasher()
# Verified against when the username is unknown, so a miss costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
_CACHE_TTL_S = 60.0
# Each argon2 hash or check takes 64 MiB: a few at a time, so a burst of sign-ins or
# registrations queues up instead of taking gigabytes.
ARGON2_AT_ONCE = 4
# How much nicer than the process its argon2 threads run (Linux, where niceness is per thread).
ARGON2_NICER = 5


def _nicer_thread() -> None:
    """Lower this argon2 thread's CPU priority (never raised again: the thread only hashes).

    argon2 is ~0.2 s of CPU per check. At a deadline, thirty pushes sign in at once: four
    checks at the process's own priority took both CPUs of a small machine from the pushes
    already signed in (their git, hooks and recording), so every push of the burst ended late.
    A little nicer, the checks take the CPU time that is left, which on an idle machine is all
    of it: a sign-in alone is as fast as before.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            thread = threading.get_native_id()
            niceness = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + ARGON2_NICER))


_argon2_threads = ThreadPoolExecutor(max_workers=ARGON2_AT_ONCE, thread_name_prefix="argon2",
                                     initializer=_nicer_thread)


def hash_password(password: str) -> str:
    """The argon2 hash to store for `password`."""
    return _argon2_threads.submit(_hasher.hash, password).result()


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored hash; False for a malformed hash too."""
    try:
        return _argon2_threads.submit(_hasher.verify, password_hash, password).result()
    except (VerificationError, InvalidHashError):
        return False


def check_password(user: User | None, password: str) -> bool:
    """Whether `password` is the user's; costs the same argon2 work when there is no user."""
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return False
    return verify_password(user.password_hash, password)


def new_token() -> tuple[str, str]:
    """Return (token shown once to the user, hash stored in the database)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest a token is stored and looked up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User, name: str) -> str:
    """Store a new token of `user` called `name`; return the token, shown only this once."""
    token, digest = new_token()
    Token.create(user=user, name=name, token_hash=digest)
    return token


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """The (username, password) of an `Authorization: Basic` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class Authenticator:
    """Checks username + password-or-token; remembers recent successes for a minute.

    With a `throttle`, failures are counted per account and client address, and a throttled
    attempt raises `throttle.Throttled` before any password is tried.
    """

    def __init__(self, secret_key: str, throttle: Throttle | None = None) -> None:
        self._key = hashlib.sha256(("auth-cache:" + secret_key).encode()).digest()
        self._cache: dict[bytes, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self.throttle = throttle

    def _cache_key(self, username: str, password: str) -> bytes:
        return hmac.new(self._key, f"{username}\0{password}".encode(), "sha256").digest()

    def authenticate(self, username: str, password: str, address: str = "") -> User | None:
        """The active user these credentials belong to, or None; `address`: the client's."""
        key = self._cache_key(username, password)
        with self._lock:
            hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            user = User.get_or_none(User.id == hit[1])
            if user is not None and user.is_active:
                return user
        # Tokens first, and never throttled: a right one works whatever others guess.
        user = self._token_user(username, password)
        if user is not None:
            self._remember(key, user)
            return user
        if self.throttle is not None:
            self.throttle.check(username, address)
        user = self._password_user(username, password)
        if self.throttle is not None:
            if user is None:
                self.throttle.failed(username, address)
            else:
                self.throttle.succeeded(username, address)
        if user is not None:
            self._remember(key, user)
        return user

    def _remember(self, key: bytes, user: User) -> None:
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + _CACHE_TTL_S, user.id)

    def forget(self) -> None:
        """Drop remembered successes (after a password change or token revocation)."""
        with self._lock:
            self._cache.clear()

    @staticmethod
    def _token_user(username: str, password: str) -> User | None:
        """The active user whose token `password` is, or None (a cheap hash lookup)."""
        if not password.startswith(TOKEN_PREFIX):
            return None
        token = Token.get_or_none(Token.token_hash == token_hash(password))
        user = User.get_or_none(User.username == username.lower()) if token else None
        # compare_digest: the user id match must not leak timing about other accounts
        if token is None or user is None or not hmac.compare_digest(str(token.user_id),
                                                                    str(user.id)):
            return None
        Token.update(last_used_at=utcnow()).where(Token.id == token.id).execute()
        return user if user.is_active else None

    @staticmethod
    def _password_user(username: str, password: str) -> User | None:
        user = User.get_or_none(User.username == username.lower())
        if not check_password(user, password):
            return None
        return user if user is not None and user.is_active else None
