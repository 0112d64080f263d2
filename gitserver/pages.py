"""Repository pages: user, repo, commits, commit status page, blob, badge, upload. Being built."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
