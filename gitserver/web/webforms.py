"""Plumbing of HTML pages with forms: one endpoint per page, CSRF-checked POSTs, safe redirects.

`page(get, post)` makes a Starlette endpoint from two *sync* functions: GET runs `get(request)`
in a thread; POST reads the form (`await request.form()`), checks its CSRF token (a mismatch
raises `sessions.CsrfError`, which the app renders as a 403 page) and runs
`post(request, form)` in a thread. Sync, because peewee and argon2 block.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gitserver.web import sessions

SyncPage = Callable[[Request], Response]
SyncForm = Callable[[Request, FormData], Response]
MAX_FIELD = 2048


def page(get: SyncPage, post: SyncForm | None = None,
         max_fields: int = 50) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for a page: `get` for GET, `post` for a CSRF-checked POST."""
    async def endpoint(request: Request) -> Response:
        if request.method != "POST" or post is None:
            return await run_in_threadpool(get, request)
        async with request.form(max_files=0, max_fields=max_fields) as form:
            sessions.check_csrf(request, form)
            return await run_in_threadpool(post, request, form)
    return endpoint


def field(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    """A text field of the form, "" when missing, cut at `limit` characters."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def client_address(request: Request) -> str:
    """The peer address of the connection (what uvicorn reports as the client)."""
    return request.client.host if request.client else ""


def redirect(request: Request, url: str) -> Response:
    """303 See Other (the browser follows with GET), with the session cookie if it changed."""
    return sessions.save(request, RedirectResponse(url, status_code=303))


def safe_next(target: str) -> str:
    """`target` if it is a path on this site, else "" (no open redirect to another host)."""
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 or c == "\\" for c in target):
        return ""
    return target


def login_url(next_path: str) -> str:
    """The sign-in page, coming back to `next_path` afterwards."""
    return "/login?next=" + quote(next_path, safe="/")
