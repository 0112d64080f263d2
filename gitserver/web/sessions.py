"""Web sessions: a signed cookie holding the user id, the session's key and the CSRF secret.

The cookie is signed (itsdangerous, keyed by `server.secret_key`), not encrypted: it holds no
secret the browser may not see. Each signed-in browser has a `WebSession` row, found by the
SHA-256 of the 256-bit key in its cookie: the session is valid while that row exists and the
user is active. Signing out deletes this browser's row only; "sign out everywhere", a password
change or reset delete the others too (a stolen cookie dies with its row).

CSRF: every session, signed in or not, carries a random secret; forms embed it and the one
POST path of the pages (`webforms.PageRoute`) compares the posted value with the cookie's. A
cross-site page can neither read the cookie nor forge its signature, and SameSite=Lax keeps the
browser from sending it on cross-site POSTs in the first place.
"""

# peewee gives every model its `id` primary key when the class is made; pylint cannot see it.
# pylint: disable=no-member

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from gitserver.core.auth import token_hash
from gitserver.core.models import User, WebSession, utcnow

COOKIE_NAME = "gitserver_session"
MAX_AGE_S = 14 * 24 * 3600
CSRF_FIELD = "csrf_token"
_STATE_KEY = "gitserver_session"


@dataclass
class Session:
    """What one browser's cookie says: who is signed in, and its CSRF secret."""
    user_id: int | None = None
    key: str = ""  # names this browser's WebSession row when signed in
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    flashes: list[tuple[str, str]] = field(default_factory=list)
    dirty: bool = False

    def payload(self) -> dict[str, Any]:
        """What the cookie holds: user id, session key, CSRF secret, flashes."""
        return {"u": self.user_id, "k": self.key, "c": self.csrf, "f": self.flashes}


class SessionStore:
    """Signs and reads the session cookie; one per app, at `app.state.sessions`."""

    def __init__(self, secret_key: str, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="gitserver.session")
        self.secure = secure

    def load(self, raw: str | None) -> Session:
        """The session in a cookie value; a fresh anonymous one if it is missing or forged."""
        if not raw:
            return Session(dirty=True)
        try:
            data = self._serializer.loads(raw, max_age=MAX_AGE_S)
            user_id = data["u"]
            return Session(user_id=int(user_id) if user_id is not None else None,
                           key=str(data.get("k") or ""), csrf=str(data["c"]),
                           flashes=[(str(c), str(t)) for c, t in data.get("f", [])])
        except (BadSignature, KeyError, TypeError, ValueError):
            return Session(dirty=True)

    def dump(self, session: Session) -> str:
        """The signed cookie value of a session."""
        return self._serializer.dumps(session.payload())

    def write(self, response: Response, session: Session) -> None:
        """Set the session cookie on a response (HttpOnly, SameSite=Lax, Secure on https)."""
        response.set_cookie(COOKIE_NAME, self.dump(session), max_age=MAX_AGE_S, path="/",
                            httponly=True, samesite="lax", secure=self.secure)


def _store(conn: HTTPConnection) -> SessionStore:
    store: SessionStore = conn.app.state.sessions
    return store


def get_session(conn: HTTPConnection) -> Session:
    """This request's session, read from the cookie once (a fresh anonymous one if none)."""
    session: Session | None = conn.scope.setdefault("state", {}).get(_STATE_KEY)
    if session is None:
        session = _store(conn).load(conn.cookies.get(COOKIE_NAME))
        conn.scope["state"][_STATE_KEY] = session
    return session


def save(request: Request, response: Response) -> Response:
    """Send the session cookie with `response` if this request changed the session."""
    session = get_session(request)
    if session.dirty:
        _store(request).write(response, session)
        session.dirty = False
    return response


def _row(session: Session) -> WebSession | None:
    if session.user_id is None or not session.key:
        return None
    row: WebSession | None = WebSession.get_or_none(
        (WebSession.key_hash == token_hash(session.key)) & (WebSession.user == session.user_id))
    if row is None or row.created_at <= utcnow() - dt.timedelta(seconds=MAX_AGE_S):
        return None
    return row


def session_account(conn: HTTPConnection) -> User | None:
    """The active user this browser's session belongs to, or None; `auth.CredentialsBackend`
    asks once per request. A session that no longer holds (signed out here or everywhere,
    password changed, account gone or inactive) is forgotten here too.

    Blocking (peewee): the backend calls it in a thread.
    """
    session = get_session(conn)
    if session.user_id is None:
        return None
    found = User.get_or_none(User.id == session.user_id) if _row(session) else None
    if found is not None and found.is_active:
        return found
    session.user_id, session.key, session.dirty = None, "", True
    return None


def sign_in(request: Request, user: User) -> None:
    """Make this browser's session belong to `user`: a new session row and key, a fresh CSRF
    secret (a key planted before sign-in is worth nothing after it)."""
    old = get_session(request)
    _delete(old)
    key = secrets.token_urlsafe(32)
    _delete_where((WebSession.user == user.id) & (
        WebSession.created_at <= utcnow() - dt.timedelta(seconds=MAX_AGE_S)))
    WebSession.create(user=user.id, key_hash=token_hash(key))
    request.scope["state"][_STATE_KEY] = Session(user_id=user.id, key=key, flashes=old.flashes,
                                                 dirty=True)


def _delete_where(condition: Any) -> int:
    """Delete the session rows matching `condition`; how many."""
    # pylint cannot tell peewee's classmethod delete() from an instance method
    return int(WebSession.delete().where(condition).execute())  # pylint: disable=no-value-for-parameter


def _delete(session: Session) -> None:
    if session.key:
        _delete_where(WebSession.key_hash == token_hash(session.key))


def sign_out(request: Request) -> None:
    """End this browser's session only; it keeps an anonymous session (and its flashes)."""
    session = get_session(request)
    _delete(session)
    request.scope["state"][_STATE_KEY] = Session(flashes=session.flashes, dirty=True)


def end_sessions(user_id: int, keep: Request | None = None) -> int:
    """End every session of the user, but the one of `keep`'s browser; how many ended."""
    condition = WebSession.user == user_id
    current = get_session(keep) if keep is not None else None
    if current is not None and current.key:
        condition &= WebSession.key_hash != token_hash(current.key)
    return _delete_where(condition)


def csrf_token(request: Request) -> str:
    """The token every form of this session must send back (`{{ csrf_input() }}`)."""
    return get_session(request).csrf


def flash(request: Request, text: str, category: str = "info") -> None:
    """A message shown once on the next page rendered (category: a Bootstrap alert colour)."""
    session = get_session(request)
    session.flashes.append((category, text))
    session.dirty = True


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    """The flashed messages, removed from the session (a page shows them once)."""
    session = get_session(request)
    flashes, session.flashes = session.flashes, []
    if flashes:
        session.dirty = True
    return flashes
