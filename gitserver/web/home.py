"""The way in: `/` (what the service is for a visitor, the dashboard for a signed-in user),
`/explore` (every public repository) and `/new` (a repository made from the browser)."""

# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see
from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core.activity import recent_pushes
from gitserver.core.models import Repo, User
from gitserver.core.queries import head_summaries
from gitserver.core.repos import RepoNameError, create_repo, get_repo, split_repo_name
from gitserver.core.urls import clone_url, repo_url
from gitserver.web import sessions
from gitserver.web.page_access import page_viewer, session_page
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute, field, redirect

EXPLORE_PER_PAGE = 30
DASHBOARD_REPOS = 50


def _rows(request: Request, repos: list[Repo]) -> list[dict[str, Any]]:
    heads = head_summaries(request.app.state.settings.repos_dir, repos)
    return [{"repo": r, "head": heads.get(r.id)} for r in repos]


@page_viewer
def home(request: Request, me: User | None) -> Response:
    """/: the landing page, or the signed-in user's dashboard."""
    base = request.app.state.settings.server.base_url
    if me is None:
        return render(request, "home.html", {
            "example_url": clone_url(base, "YOUR-USERNAME", "hello")})
    repos = list(Repo.select(Repo, User).join(User).where(Repo.owner == me)
                 .order_by(Repo.updated_at.desc()).limit(DASHBOARD_REPOS + 1))
    return render(request, "dashboard.html", {
        "me": me, "rows": _rows(request, repos[:DASHBOARD_REPOS]),
        "more_repos": len(repos) > DASHBOARD_REPOS, "pushes": recent_pushes(me),
        "example_url": clone_url(base, me.username, "hello")})


def _page_number(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


@page_viewer
def explore(request: Request, _me: User | None) -> Response:
    """/explore: public repositories, most recently updated first, 30 a page."""
    page = _page_number(request)
    repos = list(Repo.select(Repo, User).join(User)
                 .where(~Repo.private & User.is_active)
                 .order_by(Repo.updated_at.desc(), Repo.id.desc())
                 .offset((page - 1) * EXPLORE_PER_PAGE).limit(EXPLORE_PER_PAGE + 1))
    return render(request, "explore.html", {
        "rows": _rows(request, repos[:EXPLORE_PER_PAGE]), "page": page,
        "has_next": len(repos) > EXPLORE_PER_PAGE})


def _new_form(request: Request, **values: str) -> dict[str, Any]:
    return {"name": values.get("name", ""), "visibility": values.get("visibility", "private"),
            "error": values.get("error", ""),
            "base_url": request.app.state.settings.server.base_url}


@session_page("/new")
def new_repo_page(request: Request, _me: User) -> Response:
    """/new: the form."""
    return render(request, "new_repo.html", _new_form(request))


@session_page("/new")
def new_repo_post(request: Request, me: User, form: FormData) -> Response:
    """Create the repository (empty, on disk and in the database), then show it."""
    raw_name = field(form, "name", 200).strip()
    visibility = field(form, "visibility") or "private"
    try:
        if visibility not in ("private", "public"):
            raise RepoNameError("choose whether the repository is private or public")
        name = split_repo_name(raw_name)
        if get_repo(me.username, name) is not None:
            raise RepoNameError(f"you already have a repository named {name!r}: choose "
                                "another name, or open it from your dashboard")
    except RepoNameError as exc:
        return render(request, "new_repo.html",
                      _new_form(request, name=raw_name, visibility=visibility,
                                error=str(exc)[0].upper() + str(exc)[1:] + "."),
                      status_code=422)
    repo = create_repo(request.app.state.settings.repos_dir, me, name)
    if visibility == "public" and repo.private:
        repo.private = False
        repo.save()
    sessions.flash(request, f"Created {me.username}/{name}. Push to it, or upload files.",
                   "success")
    return redirect(request, repo_url("", me.username, name))


routes: list[BaseRoute] = [
    PageRoute("/", home),
    PageRoute("/explore", explore),
    PageRoute("/new", new_repo_page, new_repo_post),
]
