"""create_app(...) -> the Starlette application: git over HTTP, API and pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from checker.consumer import Workers
from checker.tasks import Tasks
from gitserver.core.auth import Authenticator
from gitserver.core.config import Settings
from gitserver.core.models import database
from gitserver.web import accounts_web, pages
from gitserver.web.api import create_api
from gitserver.web.git_http import GitHttp
from gitserver.web.metrics import build_registry, metrics_endpoint
from hooks.service import HookService

logger = logging.getLogger(__name__)


def healthz(_request: Request) -> Response:
    """200 when the database answers (a plain sync endpoint: Starlette runs it in a thread)."""
    database.execute_sql("SELECT 1")
    return PlainTextResponse("ok\n")


def create_app(settings: Settings, tasks: Tasks, hooks: HookService,
               workers: Workers | None = None) -> Starlette:
    """Git smart HTTP, API and pages on an opened database; runs `hooks` and `workers`."""
    git = GitHttp(settings, hooks.env())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await hooks.start()
        if workers is not None:
            workers.start()
        try:
            yield
        finally:
            await hooks.stop()
            if workers is not None:
                await asyncio.to_thread(workers.stop)
            if not database.is_closed():
                database.close()

    state = State()
    routes = [
        Route("/healthz", healthz),
        Route("/metrics", metrics_endpoint(build_registry(tasks.huey.pending_count))),
        Mount("/api/v1", app=create_api(state)),
        Route("/static/css/states.css", pages.states_stylesheet),
        *accounts_web.routes,
        Route("/{owner}/{repo}/info/refs", git.info_refs),
        Route("/{owner}/{repo}/git-upload-pack", git.upload_pack, methods=["POST"]),
        Route("/{owner}/{repo}/git-receive-pack", git.receive_pack, methods=["POST"]),
        *pages.routes,
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state = state
    app.state.settings = settings
    app.state.tasks = tasks
    app.state.authenticator = Authenticator(settings.server.secret_key)
    accounts_web.install(app, settings)
    return app
