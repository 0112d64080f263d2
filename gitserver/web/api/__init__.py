"""The JSON API under /api/v1, in GitHub's shapes so GitHub clients work against it.

Sync endpoints (Starlette runs them in a thread pool), because peewee is synchronous. One module
per resource; `common` holds the shapes, what endpoints declare they need of the requester, and
the one JSON error renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from gitserver.web.api import commits, files, lint, openapi, orgs, users
from gitserver.web.api.common import api_error_handler, not_found, server_error


def create_api(state: State, middleware: Sequence[Middleware]) -> Starlette:
    """The API as its own Starlette app, so its errors are JSON (even one of `middleware`, like
    authentication with the database down), sharing the main app's state."""
    handlers: dict[Any, Any] = {HTTPException: api_error_handler, 500: server_error}
    every = [*commits.routes, *users.routes, *orgs.routes, *files.routes, *lint.routes,
             *openapi.routes,
             Route("/{rest:path}", not_found)]
    api = Starlette(routes=every, exception_handlers=handlers, middleware=middleware)
    api.state = state
    return api
