"""`GET`/`PATCH /api/v1/repos/{owner}/{repo}/lint`: the repository's lint settings (owner only).

`{"disable": [...], "fail_under": 8.0, "gate": "all"}` (CONTRACT "Checks"). Anyone but the
owner gets 404, as for a repository they cannot see (a reader of a public repo included: the
settings are the owner's business). A PATCH re-checks the default branch's tip under the new
settings (`hooks.enqueue.recheck_tip`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitserver.core import lint_settings
from gitserver.core.models import Repo
from gitserver.core.pylint_messages import catalogue
from gitserver.web.api.common import REPO, ApiError, refusal
from gitserver.web.auth import repo_access
from hooks.enqueue import recheck_tip

MAX_BODY = 16 * 1024  # 200 symbols of ~40 characters fit well within


def owned_repo(request: Request) -> Repo:
    """The URL's repository if the requester owns it; else the API's refusal (404 for a
    signed-in user who is not the owner)."""
    access = repo_access(request, False)
    if not access.allowed or access.repo is None:
        raise refusal(access)
    if access.user is None:
        raise ApiError(401, "unauthorized", "Requires authentication: the lint settings are "
                       "the repository owner's.")
    if access.repo.owner_id != access.user.id:
        raise ApiError(404, "not_found", "Not Found")
    return access.repo


def _shape(request: Request, repo: Repo) -> dict[str, Any]:
    return lint_settings.of(repo).shape(request.app.state.settings.checker.fail_under)


def get_lint(request: Request) -> Response:
    """GET: the settings."""
    return JSONResponse(_shape(request, owned_repo(request)))


async def patch_lint(request: Request) -> Response:
    """PATCH: change the settings given (the others stay); re-check the tip."""
    # Auth and ownership before the body is read; then at most MAX_BODY bytes of it.
    repo = await run_in_threadpool(owned_repo, request)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, "too_large", f"the body is over {MAX_BODY} bytes")
    try:
        changes = json.loads(body or b"{}")
    except ValueError:
        raise ApiError(400, "invalid_json", "the body is not JSON: send an object such as "
                       '{"gate": "new"}') from None
    if not isinstance(changes, dict):
        raise ApiError(422, "invalid", 'send a JSON object such as {"gate": "new"}')
    return await run_in_threadpool(_save, request, repo, changes)


def _save(request: Request, repo: Repo, changes: dict[str, Any]) -> Response:
    try:
        change_settings(request, repo, changes)
    except lint_settings.LintSettingsError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    return JSONResponse(_shape(request, repo))


def change_settings(request: Request, repo: Repo, changes: dict[str, Any]) -> bool:
    """Validate and save; re-check the tip when anything changed (True). Shared with the
    settings page; raises LintSettingsError."""
    current = lint_settings.of(repo)
    chosen = lint_settings.validated(current, changes, catalogue())
    if chosen == current:
        return False
    lint_settings.save(repo, chosen)
    recheck_tip(request.app.state.settings, repo, request.app.state.tasks)
    return True


routes = [Route(f"{REPO}/lint", get_lint, methods=["GET"]),
          Route(f"{REPO}/lint", patch_lint, methods=["PATCH"])]
