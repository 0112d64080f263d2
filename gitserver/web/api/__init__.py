"""The JSON API under /api/v1, in GitHub's shapes so GitHub clients work against it.

Sync endpoints (Starlette runs them in a thread pool), because peewee is synchronous. One module
per resource; `common` holds the shapes, the access helpers and the one JSON error renderer.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route

from gitserver.core.throttle import Throttled
from gitserver.web.api import commits, files, openapi, users
from gitserver.web.api.common import api_error_handler, not_found, server_error, throttled_error


def create_api(state: Any) -> Starlette:
    """The API as its own Starlette app, so its errors are JSON, sharing the main app's state."""
    handlers: dict[Any, Any] = {HTTPException: api_error_handler, Throttled: throttled_error,
                                500: server_error}
    every = [*commits.routes, *users.routes, *files.routes, *openapi.routes,
             Route("/{rest:path}", not_found)]
    api = Starlette(routes=every, exception_handlers=handlers)
    api.state = state
    return api
