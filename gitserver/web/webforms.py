"""Plumbing of HTML pages with forms: the one route class of pages, CSRF-checked POSTs, safe
redirects.

`PageRoute(path, get=..., post=...)` is how every page is routed. GET runs `get(request)`; POST
first refuses a browser without a session cookie (it cannot hold a CSRF token) and runs the
route's `guard` (who may post here), both before any of the body is read; then it reads the form
within its `FormLimits` (the body counted, 413 past `max_body`), checks its CSRF token (a
mismatch raises `CsrfError`, a 403 error page) and only then runs `post(request, form)`: a form
handler cannot forget the check, because no other route of the pages reads a form. Both run in
a thread: peewee, argon2 and dulwich block.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gitserver.web import sessions
from gitserver.web.bodies import limited
from gitserver.web.errors import PageError

SyncPage = Callable[[Request], Response]
SyncForm = Callable[[Request, FormData], Response]
MAX_FIELD = 2048


@dataclass(frozen=True)
class FormLimits:
    """What one POST's form may hold; past a limit Starlette answers 400 before parsing on."""
    max_files: int = 0
    max_fields: int = 50
    max_part_size: int = 1024 * 1024  # of each field that is not a file
    max_body: int = 64 * 1024  # the whole body, however it is sent


SMALL_FORM = FormLimits()
# Forms of a few fields, one of them a text of up to a MiB (no file parts).
STARLETTE_FORM = FormLimits(max_fields=1000, max_body=2 * 1024 * 1024)
Limits = FormLimits | Callable[[Request], FormLimits]
Guard = Callable[[Request], None]


class CsrfError(PageError):
    """A POSTed form without the CSRF token of this browser's session."""

    def __init__(self) -> None:
        super().__init__(
            403, "The form was sent without this browser's security token, so it was not "
                 "accepted.", title="This form has expired",
            hint="Go back, reload the page and send the form again. If it keeps happening, check "
                 "that your browser accepts cookies from this site.")


def check_csrf(request: Request, form: FormData) -> None:
    """Raise CsrfError unless the form carries this session's CSRF token."""
    sent = form.get(sessions.CSRF_FIELD)
    session = sessions.get_session(request)
    # A session made up on this very request has a secret no earlier page can have shown.
    if not isinstance(sent, str) or request.cookies.get(sessions.COOKIE_NAME) is None or \
            not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfError()


def page_endpoint(get: SyncPage | None, post: SyncForm | None, limits: Limits = SMALL_FORM,
                  guard: Guard | None = None) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a PageRoute: `get` for GET and HEAD, `post` for a CSRF-checked POST."""
    async def endpoint(request: Request) -> Response:
        if request.method != "POST":
            assert get is not None  # the route allows no other method
            return await run_in_threadpool(get, request)
        assert post is not None
        if sessions.COOKIE_NAME not in request.cookies:
            raise CsrfError()  # no session, no token: nothing in the body can make it valid
        if guard is not None:
            await run_in_threadpool(guard, request)
        chosen = limits if isinstance(limits, FormLimits) else limits(request)
        async with limited(request, chosen.max_body).form(
                max_files=chosen.max_files, max_fields=chosen.max_fields,
                max_part_size=chosen.max_part_size) as form:
            check_csrf(request, form)
            return await run_in_threadpool(post, request, form)
    return endpoint


class PageRoute(Route):
    """A page: `get` answers GET (and HEAD), `post` a form POSTed to the same address.

    `limits`: the form's limits, or a function of the request returning them (it may raise an
    HTTPException, e.g. 413, before anything of the body is read). `guard`: raises the page's
    refusal (sign in, 404, 403) for a visitor who may not post here, before the body is read.
    """

    def __init__(self, path: str, get: SyncPage | None = None, post: SyncForm | None = None,
                 *, limits: Limits = SMALL_FORM, guard: Guard | None = None) -> None:
        methods = (["GET"] if get is not None else []) + (["POST"] if post is not None else [])
        assert methods, f"{path}: a page answers GET, POST or both"
        super().__init__(path, page_endpoint(get, post, limits, guard), methods=methods)
        self.form_handler = post


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
