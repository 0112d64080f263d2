"""The JSON API under /api/v1, in GitHub's shapes so GitHub clients work against it.

Sync endpoints (Starlette runs them in a thread pool), because peewee is synchronous. One module
per resource; `common` holds the shapes, what endpoints declare they need of the requester, and
the one JSON error renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders, State
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gitserver.web.api import commits, files, lint, openapi, orgs, users
from gitserver.web.api.common import api_error_handler, not_found, server_error
from gitserver.web.sessions import COOKIE_NAME


class PrivateAnswers:  # pylint: disable=too-few-public-methods  # an ASGI middleware
    """`nosniff` on every answer; `Cache-Control: private, no-store` on every answer to a request
    that carried credentials (only those can see private repositories), so no shared cache or
    browser history keeps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = HTTPConnection(scope)
        private = "authorization" in request.headers or COOKIE_NAME in request.cookies

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if private:
                    headers["Cache-Control"] = "private, no-store"
            await send(message)
        await self.app(scope, receive, send_with_headers)


def create_api(state: State, middleware: Sequence[Middleware]) -> Starlette:
    """The API as its own Starlette app, so its errors are JSON (even one of `middleware`, like
    authentication with the database down), sharing the main app's state."""
    handlers: dict[Any, Any] = {HTTPException: api_error_handler, 500: server_error}
    every = [*commits.routes, *users.routes, *orgs.routes, *files.routes, *lint.routes,
             *openapi.routes,
             Route("/{rest:path}", not_found)]
    api = Starlette(routes=every, exception_handlers=handlers,
                    middleware=[Middleware(PrivateAnswers), *middleware])
    api.state = state
    return api
