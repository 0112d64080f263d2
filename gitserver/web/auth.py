"""Who is asking: credentials of a request (Basic auth, then the session) and its access verdict.

The verdict itself is `gitserver.core.access.decide`; this module only finds the user of a
request and renders a refusal as git's plain text.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gitserver.core.access import Access, decide
from gitserver.core.auth import parse_basic
from gitserver.core.models import User
from gitserver.core.throttle import Throttled

REALM = 'Basic realm="gitserver"'


def refusal(access: Access) -> Response | None:
    """The plain-text refusal git clients get, or None when allowed."""
    if access.allowed:
        return None
    headers = {"WWW-Authenticate": REALM} if access.status == 401 else None
    if access.status == 429:
        headers = {"Retry-After": str(access.retry_after)}
    return PlainTextResponse(access.reason + "\n", status_code=access.status, headers=headers)


def request_user(request: Request) -> tuple[User | None, bool]:
    """(user, credentials_given): Basic auth first, then the session cookie of the pages."""
    credentials = parse_basic(request.headers.get("authorization"))
    if credentials is not None:
        # raises throttle.Throttled after too many failures: 429, see _resolve()
        address = request.client.host if request.client else ""
        return request.app.state.authenticator.authenticate(*credentials, address), True
    if request.headers.get("authorization"):
        return None, True
    session_user = getattr(request.app.state, "session_user", None)
    if session_user is not None:
        return session_user(request), False
    return None, False


def _resolve(request: Request, write: bool) -> Access:
    try:
        user, given = request_user(request)
    except Throttled as exc:
        access = Access(request.path_params["owner"], request.path_params["repo"],
                        retry_after=exc.retry_after)
        return access.refuse(429, f"Too many failed sign-in attempts. Wait {exc.retry_after} "
                                  "seconds, then try again with the right password or token.")
    return decide(user, given, request.path_params["owner"], request.path_params["repo"], write)


async def resolve_access(request: Request, write: bool) -> Access:
    """The verdict for this request, decided in a worker thread (it queries the database)."""
    return await asyncio.to_thread(_resolve, request, write)


def resolve_access_sync(request: Request, write: bool = False) -> Access:
    """For sync endpoints, which Starlette already runs in a worker thread."""
    return _resolve(request, write)
