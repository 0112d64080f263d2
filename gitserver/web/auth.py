"""Who is asking: the one authentication path, and the one adapter to the access verdict.

`CredentialsBackend` runs in Starlette's `AuthenticationMiddleware`, once per request: HTTP Basic
credentials (through `core.auth.Authenticator` and its throttle) if the request carries an
`Authorization` header, else the session cookie of the pages. It sets `request.user` to a
`Visitor` and `request.auth.scopes` to `authenticated` plus how (`basic` or `session`). It never
refuses a request itself: wrong or throttled credentials are facts about the visitor, and each
endpoint decides what they mean for it (an `<img>` badge, a git fetch and a settings page answer
them differently).

`repo_access()` turns `request.user` and the URL's `{owner}`/`{repo}` into the verdict of
`core.access.decide`; git, the pages and the API each render its refusal their own way (see
`git_http`, `page_access` and `api.common`).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from gitserver.core.access import Access, decide
from gitserver.core.auth import Authenticator, parse_basic
from gitserver.core.models import User
from gitserver.core.throttle import Throttled
from gitserver.web import sessions

REALM = 'Basic realm="gitserver"'
AUTHENTICATED = "authenticated"
BASIC = "basic"
SESSION = "session"


@dataclass(frozen=True)
class Visitor(BaseUser):
    """`request.user`: the account the request speaks for, if any, and how it said so."""
    account: User | None = None
    given: bool = False  # an Authorization header came: no answer may treat it as anonymous
    via: str = ""  # BASIC or SESSION when `account` is set
    retry_after: int = 0  # > 0: too many failed sign-ins; the credentials were not tried

    @property
    def is_authenticated(self) -> bool:
        return self.account is not None

    @property
    def display_name(self) -> str:
        return self.account.username if self.account is not None else ""

    @property
    def identity(self) -> str:
        return str(self.account.id) if self.account is not None else ""

    @property
    def throttled(self) -> bool:
        """Too many failed sign-ins from this account and address: answer 429."""
        return self.retry_after > 0

    @property
    def bad_credentials(self) -> bool:
        """Credentials came and were wrong (or the account is inactive): answer 401."""
        return self.given and self.account is None and not self.throttled

    @property
    def session_user(self) -> User | None:
        """The user signed in on this browser's session (not by Basic credentials)."""
        return self.account if self.via == SESSION else None

    @property
    def scopes(self) -> list[str]:
        """What `request.auth.scopes` holds for this visitor."""
        return [AUTHENTICATED, self.via] if self.account is not None else []


ANONYMOUS = Visitor()


class CredentialsBackend(AuthenticationBackend):
    """Basic credentials, else the session cookie; see the module's docstring."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        if not conn.headers.get("authorization") and sessions.COOKIE_NAME not in conn.cookies:
            return AuthCredentials(), ANONYMOUS  # nothing to look up: no thread, no query
        # argon2 and peewee block: off the event loop
        visitor = await run_in_threadpool(self.visitor, conn)
        return AuthCredentials(visitor.scopes), visitor

    def visitor(self, conn: HTTPConnection) -> Visitor:
        """Who `conn` speaks for (blocking: it may hash a password and query the database)."""
        header = conn.headers.get("authorization")
        if not header:
            account = sessions.session_account(conn)
            return Visitor(account, via=SESSION) if account is not None else ANONYMOUS
        credentials = parse_basic(header)
        if credentials is None:  # "Bearer ...", bad base64: sent, so not anonymous
            return Visitor(given=True)
        address = conn.client.host if conn.client else ""
        try:
            account = self.authenticator.authenticate(*credentials, address)
        except Throttled as exc:
            return Visitor(given=True, retry_after=exc.retry_after)
        return Visitor(account, given=True, via=BASIC if account is not None else "")


def visitor_of(conn: HTTPConnection) -> Visitor:
    """`request.user`, typed; anonymous on the few routes that skip authentication (static
    files, /healthz, /metrics: see `app.create_app`)."""
    user = conn.scope.get("user", ANONYMOUS)
    assert isinstance(user, Visitor), f"request.user is a {type(user).__name__}, not a Visitor"
    return user


def repo_access(conn: HTTPConnection, write: bool) -> Access:
    """The verdict on the URL's `{owner}/{repo}` for this visitor, reading (or writing).

    Blocking (it queries the database). A throttled visitor gets a 429 verdict whose `reason`
    is git's wording; pages and the API word theirs from `retry_after`.
    """
    visitor = visitor_of(conn)
    owner, name = conn.path_params["owner"], conn.path_params["repo"]
    if visitor.throttled:
        return Access(owner, name, retry_after=visitor.retry_after).refuse(
            429, f"Too many failed sign-in attempts. Wait {visitor.retry_after} seconds, then "
                 "try again with the right password or token.")
    return decide(visitor.account, visitor.given, owner, name, write)
