"""A repository's settings page: make it public or private, delete it after confirmation.

`set_visibility` and `delete_repo` are shared with the API (`PATCH`/`DELETE /repos/{o}/{r}`).
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gitserver.core.models import Repo, database, utcnow
from gitserver.core.repos import repo_path
from gitserver.web import sessions
from gitserver.web.page_access import page_repo
from gitserver.web.templating import render

logger = logging.getLogger(__name__)


def set_visibility(repo: Repo, private: bool) -> None:
    """Make the repository public (private=False) or private."""
    Repo.update(private=private, updated_at=utcnow()).where(Repo.id == repo.id).execute()
    repo.private = private


def delete_repo(repos_dir: Path, repo: Repo) -> None:
    """Delete the repository's rows (checks, commits, pushes cascade) and its files on disk.

    The folder is first renamed out of the way, so a failure leaves either the whole repo or
    none of it, and a later push that re-creates the name never finds old objects there.
    """
    path = repo_path(repos_dir, repo.owner.username, repo.name)
    trash = repos_dir / ".trash" / f"{repo.owner.username}-{repo.name}-{uuid.uuid4().hex}"
    moved = False
    if path.exists():
        trash.parent.mkdir(parents=True, exist_ok=True)
        path.rename(trash)
        moved = True
    deleted = False
    try:
        with database.atomic():
            repo.delete_instance()
        deleted = True
    finally:
        if moved and deleted:
            shutil.rmtree(trash, ignore_errors=True)
        elif moved:
            trash.rename(path)
    logger.info("deleted repository %s/%s", repo.owner.username, repo.name)


def settings_page(request: Request) -> Response:
    """/{owner}/{repo}/settings: visibility and deletion, for the owner."""
    access = page_repo(request, write=True)
    return _render(request, access.repo)


def _render(request: Request, repo: Repo, error: str = "", status_code: int = 200) -> Response:
    full = f"{repo.owner.username}/{repo.name}"
    return render(request, "repo_settings.html", {
        "repo": repo, "owner": repo.owner.username, "full_name": full, "repo_url": f"/{full}",
        "tab": "settings", "can_write": True, "error": error,
        "clone_url": f"{request.app.state.settings.server.base_url}/{full}.git"},
        status_code=status_code)


def _visibility(request: Request, form: FormData) -> Response:
    sessions.check_csrf(request, form)
    access = page_repo(request, write=True)
    choice = form.get("visibility")
    if choice not in ("public", "private"):
        return _render(request, access.repo, "Choose public or private.", 422)
    set_visibility(access.repo, choice == "private")
    sessions.flash(request, f"{access.full_name} is now {choice}.", "success")
    return sessions.save(request, RedirectResponse(f"/{access.full_name}/settings",
                                                   status_code=303))


def _delete(request: Request, form: FormData) -> Response:
    sessions.check_csrf(request, form)
    access = page_repo(request, write=True)
    if str(form.get("confirm", "")).strip() != access.full_name:
        return _render(request, access.repo, f"Type {access.full_name} exactly to confirm; "
                       "the repository was not deleted.", 422)
    delete_repo(request.app.state.settings.repos_dir, access.repo)
    sessions.flash(request, f"{access.full_name} was deleted.", "success")
    return sessions.save(request, RedirectResponse(f"/{access.owner}", status_code=303))


async def visibility_post(request: Request) -> Response:
    """Save the visibility."""
    form = await request.form()
    return await run_in_threadpool(_visibility, request, form)


async def delete_post(request: Request) -> Response:
    """Delete the repository once its full name is typed."""
    form = await request.form()
    return await run_in_threadpool(_delete, request, form)


routes: list[BaseRoute] = [
    Route("/{owner}/{repo}/settings", settings_page),
    Route("/{owner}/{repo}/settings/visibility", visibility_post, methods=["POST"]),
    Route("/{owner}/{repo}/settings/delete", delete_post, methods=["POST"]),
]
