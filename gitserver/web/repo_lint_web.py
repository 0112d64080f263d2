"""The "Lint" section of a repository's settings page: disable messages, the threshold, the
gate (owner only; the same rules as `PATCH /api/v1/repos/{o}/{r}/lint`)."""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core import lint_settings
from gitserver.core.access import NOT_FOUND, Access
from gitserver.core.models import Repo
from gitserver.core.urls import repo_settings_url
from gitserver.web import sessions
from gitserver.web.api.lint import change_settings
from gitserver.web.page_access import page_repo
from gitserver.web.templating import templates
from gitserver.web.webforms import PageRoute, field, redirect

_SPLIT_RE = re.compile(r"[\s,]+")


def lint_form_values(repo: Repo, server_fail_under: float) -> dict[str, Any]:
    """What the settings page's Lint section shows."""
    chosen = lint_settings.of(repo)
    return {"disable": ", ".join(chosen.disable),
            "fail_under": "" if chosen.fail_under is None else f"{chosen.fail_under:g}",
            "server_fail_under": server_fail_under, "gate": chosen.gate}


templates.env.globals["lint_form_values"] = lint_form_values


def _changes(form: FormData) -> dict[str, Any]:
    text = field(form, "fail_under").strip()
    try:
        fail_under: Any = float(text) if text else None
    except ValueError:
        fail_under = text  # validated() says what is wrong with it
    return {"disable": [name for name in _SPLIT_RE.split(field(form, "disable")) if name],
            "fail_under": fail_under, "gate": field(form, "gate")}


@page_repo(write=True)
def lint_post(request: Request, access: Access, form: FormData) -> Response:
    """Save the repository's lint settings; changing them re-checks the tip."""
    repo = access.repo
    assert repo is not None
    if access.user is None or repo.owner_id != access.user.id:
        raise HTTPException(404, NOT_FOUND)
    target = repo_settings_url("", access.owner, repo.name) + "#lint"
    try:
        changed = change_settings(request, repo, _changes(form))
    except lint_settings.LintSettingsError as exc:
        sessions.flash(request, f"Lint settings not saved: {exc}.", "danger")
        return redirect(request, target)
    sessions.flash(request, "Lint settings saved; the tip of the default branch is being "
                   "checked again with them." if changed else "Lint settings unchanged.",
                   "success")
    return redirect(request, target)


routes: list[BaseRoute] = [
    PageRoute("/{owner}/{repo}/settings/lint", post=lint_post),
]
