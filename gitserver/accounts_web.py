"""Account pages: register, activate, login, logout, settings (tokens, report mails)."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from . import sessions
from .config import Settings
from .templating import STATIC_DIR, render_error

logger = logging.getLogger(__name__)

ERROR_TITLES = {400: "Bad request", 401: "Sign in required", 403: "Not allowed",
                404: "Page not found", 405: "Method not allowed", 429: "Too many attempts"}
GENERIC_DETAILS = {
    404: "There is nothing at this address. Check the link, or sign in if it is yours.",
    405: "This address does not accept that kind of request. Use the page's links and forms.",
}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def http_error(request: Request, exc: Exception) -> Response:
    """HTTPException from any page: an HTML page for browsers, plain text for git and scripts."""
    assert isinstance(exc, HTTPException)
    if not _wants_html(request) or exc.status_code < 400:
        return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code,
                                 headers=exc.headers)
    title = ERROR_TITLES.get(exc.status_code, "Error")
    detail = exc.detail
    if not detail or detail == HTTPStatus(exc.status_code).phrase:
        detail = GENERIC_DETAILS.get(exc.status_code, "The request could not be answered.")
    return await run_in_threadpool(render_error, request, exc.status_code, title, detail)


async def csrf_error(request: Request, _exc: Exception) -> Response:
    return await run_in_threadpool(
        render_error, request, 403, "This form has expired",
        "The form was sent without this browser's security token, so it was not accepted.",
        "Go back, reload the page and send the form again. If it keeps happening, check that "
        "your browser accepts cookies from this site.")


def server_error(request: Request, _exc: Exception) -> Response:
    # No database here: it may be what failed.
    return render_error(request, 500, "Something went wrong",
                        "The server failed to answer this request.",
                        "Try again in a moment; tell the administrator if it keeps happening.",
                        current_user=None)


routes: list[BaseRoute] = [
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
]


def install(app: Starlette, settings: Settings) -> None:
    """Add what the account pages need to the app (session store, error pages, session_user)."""
    app.state.sessions = sessions.SessionStore(
        settings.server.secret_key, secure=settings.server.base_url.startswith("https://"))
    app.state.session_user = sessions.current_user
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(sessions.CsrfError, csrf_error)
    app.add_exception_handler(500, server_error)

