"""create_app(settings) -> the Starlette application: git over HTTP, API and pages."""

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

from checker.queue import create_huey
from hooks.service import HookService

from . import accounts_web, pages
from .api import create_api
from .auth import Authenticator
from .config import Settings
from .git_http import GitHttp
from .metrics import build_registry, metrics_endpoint
from .models import database, init_db
from .schema import migrate

logger = logging.getLogger(__name__)


def healthz(_request: Request) -> Response:
    """200 when the database answers (a plain sync endpoint: Starlette runs it in a thread)."""
    database.execute_sql("SELECT 1")
    return PlainTextResponse("ok\n")


def create_app(settings: Settings, embedded_workers: bool = False) -> Starlette:
    """Git smart HTTP, API and pages; migrates the database; `embedded_workers` runs workers."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    init_db(settings.database_url)
    migrate()
    hooks = HookService(settings)
    git = GitHttp(settings, hooks.env())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await hooks.start()
        workers = None
        if embedded_workers:
            from checker.consumer import Workers  # pylint: disable=import-outside-toplevel
            workers = Workers(settings)
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
        Route("/metrics", metrics_endpoint(build_registry(create_huey(settings).pending_count))),
        Mount("/api/v1", app=create_api(state)),
        *accounts_web.routes,
        Route("/{owner}/{repo}/info/refs", git.info_refs),
        Route("/{owner}/{repo}/git-upload-pack", git.upload_pack, methods=["POST"]),
        Route("/{owner}/{repo}/git-receive-pack", git.receive_pack, methods=["POST"]),
        *pages.routes,
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state = state
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings.server.secret_key)
    accounts_web.install(app, settings)
    return app
