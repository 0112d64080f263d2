"""A repository's settings page: make it public or private, delete it after confirmation.

`set_visibility` and `delete_repo` are shared with the API (`PATCH`/`DELETE /repos/{o}/{r}`).
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core.access import Access
from gitserver.core.models import Repo, database, utcnow
from gitserver.core.repos import repo_path
from gitserver.core.urls import repo_settings_url, user_url
from gitserver.web import sessions
from gitserver.web.page_access import page_repo, repo_context, repo_writer
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute, redirect

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


@page_repo(manage=True)
def settings_page(request: Request, access: Access) -> Response:
    """/{owner}/{repo}/settings: visibility and deletion, for the owner."""
    return _render(request, access)


def _render(request: Request, access: Access, error: str = "",
            status_code: int = 200) -> Response:
    return render(request, "repo_settings.html", {
        **repo_context(request, access, "settings"), "error": error}, status_code=status_code)


@page_repo(manage=True)
def visibility_post(request: Request, access: Access, form: FormData) -> Response:
    """Save the visibility."""
    assert access.repo is not None
    choice = form.get("visibility")
    if choice not in ("public", "private"):
        return _render(request, access, "Choose public or private.", 422)
    set_visibility(access.repo, choice == "private")
    sessions.flash(request, f"{access.full_name} is now {choice}.", "success")
    return redirect(request, repo_settings_url("", access.owner, access.repo.name))


@page_repo(manage=True)
def delete_post(request: Request, access: Access, form: FormData) -> Response:
    """Delete the repository once its full name is typed."""
    assert access.repo is not None
    if str(form.get("confirm", "")).strip() != access.full_name:
        return _render(request, access, f"Type {access.full_name} exactly to confirm; "
                       "the repository was not deleted.", 422)
    delete_repo(request.app.state.settings.repos_dir, access.repo)
    sessions.flash(request, f"{access.full_name} was deleted.", "success")
    return redirect(request, user_url("", access.owner))


routes: list[BaseRoute] = [
    PageRoute("/{owner}/{repo}/settings", settings_page),
    PageRoute("/{owner}/{repo}/settings/visibility", post=visibility_post, guard=repo_writer),
    PageRoute("/{owner}/{repo}/settings/delete", post=delete_post, guard=repo_writer),
]
