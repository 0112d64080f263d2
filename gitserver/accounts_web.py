"""Account pages: register, activate, login, logout, settings (tokens). Being built."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from .config import Settings

routes: list[BaseRoute] = []


def install(app: Starlette, settings: Settings) -> None:
    """Add what the account pages need to the app (middleware, app.state.session_user)."""
    del app, settings
