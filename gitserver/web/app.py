"""create_app(...) -> the Starlette application: git over HTTP, API and pages.

One authentication path: `AuthenticationMiddleware` with `auth.CredentialsBackend` sets
`request.user` for git, the API and the pages. Static files, /healthz and /metrics skip it: they
serve everyone alike, and a probe or a stylesheet should not cost a password check or a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from checker.consumer import Workers
from checker.tasks import Tasks
from gitserver.core import pylint_messages
from gitserver.core.auth import Authenticator
from gitserver.core.config import Settings
from gitserver.core.models import database
from gitserver.core.throttle import RateLimit, Throttle
from gitserver.web import (
    accounts_web,
    api_docs,
    diffs,
    downloads,
    errors,
    help_pages,
    home,
    org_dashboard_web,
    orgs_web,
    pages,
    unsubscribe,
    worker_trees,
)
from gitserver.web.api import create_api
from gitserver.web.auth import CredentialsBackend
from gitserver.web.git_http import GitHttp
from gitserver.web.metrics import build_registry, metrics_endpoint
from gitserver.web.sessions import SessionStore
from gitserver.web.templating import STATIC_DIR
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
        pylint_messages.start_loading()  # for /help/pylint and the repo lint settings
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
    state.settings = settings
    state.tasks = tasks
    # Failed sign-ins are counted together for git, the API and the /login form.
    state.throttle = Throttle()
    # /register: per client address, per mailbox; "address taken" mails per mailbox
    state.register_limits = (RateLimit(30, 3600), RateLimit(3, 3600))
    state.taken_mails = RateLimit(1, 86400)
    state.authenticator = Authenticator(settings.server.secret_key, state.throttle)
    state.sessions = SessionStore(settings.server.secret_key,
                                  secure=settings.server.base_url.startswith("https://"))
    authenticated = [Middleware(AuthenticationMiddleware,
                                backend=CredentialsBackend(state.authenticator))]
    routes = [
        Route("/healthz", healthz),
        Route("/metrics", metrics_endpoint(build_registry(tasks.huey.pending_count),
                                           settings.server.metrics_token)),
        Route("/static/css/states.css", pages.states_stylesheet),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        Mount("/api/v1", app=create_api(state, authenticated)),
        # Workers' own credential only: outside the middleware, no session or password opens it.
        *worker_trees.routes,
        Mount("", routes=[
            *accounts_web.routes,
            *home.routes,
            *api_docs.routes,
            *unsubscribe.routes,
            *help_pages.routes,
            Route("/{owner}/{repo}/info/refs", git.info_refs),
            Route("/{owner}/{repo}/git-upload-pack", git.upload_pack, methods=["POST"]),
            Route("/{owner}/{repo}/git-receive-pack", git.receive_pack, methods=["POST"]),
            *downloads.routes,
            *diffs.routes,
            *org_dashboard_web.routes,
            *orgs_web.routes,
            *pages.routes,
        ], middleware=authenticated),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state = state
    errors.install(app)
    return app
