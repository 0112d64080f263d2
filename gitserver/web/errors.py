"""The one error renderer of the pages: every `HTTPException` of the app becomes the error page
(`templates/web/error.html`) for a browser, or one line of plain text for git and scripts.

Handlers raise `HTTPException(404, "what is missing")`, or a `PageError` when the page should say
more: its own title, what to do next (`hint`) and where to go (`links`). A `PageError` is always
rendered as HTML: it answers a page or a form, which only a browser shows. The API has its own
renderer (`api.common`), for JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gitserver.web.templating import render

Links = Sequence[tuple[str, str]]  # (label, href)
HOME: Links = (("Home", "/"),)
TITLES = {400: "Bad request", 401: "Sign in required", 403: "Not allowed",
          404: "Page not found", 405: "Method not allowed", 429: "Too many attempts"}
GENERIC_DETAILS = {
    404: "There is nothing at this address. Check the link, or sign in if it is yours.",
    405: "This address does not accept that kind of request. Use the page's links and forms.",
}


class PageError(HTTPException):
    """A page's own refusal: `detail` says what went wrong, `hint` what to do, `links` where."""

    # pylint: disable-next=too-many-arguments  # keyword-only, one per part of the page
    def __init__(self, status_code: int, detail: str, *, title: str = "", hint: str = "",
                 links: Links = HOME, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, detail, headers=headers)
        self.title = title or TITLES.get(status_code, "Error")
        self.hint = hint
        self.links = links


# pylint: disable-next=too-many-arguments  # keyword-only, one per part of the page
def error_page(request: Request, status_code: int, *, title: str, message: str,
               hint: str = "", links: Links = HOME, anonymous: bool = False) -> Response:
    """The error page; `anonymous` renders it as for a visitor nobody knows."""
    context = {"title": title, "message": message, "hint": hint, "links": links,
               "status_code": status_code}
    if anonymous:  # the 500 page: it must render with the database down
        context["current_user"] = None
    return render(request, "error.html", context, status_code=status_code)


async def http_error(request: Request, exc: Exception) -> Response:
    """Any HTTPException: the error page for browsers, one line of text for git and scripts."""
    assert isinstance(exc, HTTPException)
    browser = "text/html" in request.headers.get("accept", "")
    if not isinstance(exc, PageError) and (not browser or exc.status_code < 400):
        return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code,
                                 headers=exc.headers)
    detail = exc.detail
    if not detail or detail == HTTPStatus(exc.status_code).phrase:
        detail = GENERIC_DETAILS.get(exc.status_code, "The request could not be answered.")
    page = exc if isinstance(exc, PageError) else PageError(exc.status_code, detail)
    response = await run_in_threadpool(error_page, request, exc.status_code, title=page.title,
                                       message=detail, hint=page.hint, links=page.links)
    for name, value in (exc.headers or {}).items():  # e.g. WWW-Authenticate on a 401
        response.headers[name] = value
    return response


def server_error(request: Request, _exc: Exception) -> Response:
    """Any unhandled error: a 500 page that needs no database (it may be down)."""
    return error_page(request, 500, title="Something went wrong",
                      message="The server failed to answer this request.",
                      hint="Try again in a moment; tell the administrator if it keeps happening.",
                      anonymous=True)


def install(app: Starlette) -> None:
    """Render every error of the app's pages (and git's, as text) here."""
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(500, server_error)
