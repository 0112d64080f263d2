"""Organization pages: `/{org}` (repos, assignments; the assignment and digest forms for
staff) and `/{org}/people` (staff manage members). The dashboard is `org_dashboard_web`.

`/{owner}` and `/{owner}/people` come before the repository pages in the routes: for a user
(or a user's repo called `people`) they hand the request on to `pages`.
"""

# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see
from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core import orgs
from gitserver.core.models import Repo, User
from gitserver.core.urls import org_people_url, user_url
from gitserver.web import pages, sessions
from gitserver.web.auth import visitor_of
from gitserver.web.page_access import login_redirect, page_viewer
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute, field, redirect

NO_ORG = "There is no organization by that name, or you are not on its staff."
MAX_LISTED_REPOS = 300


def staff_org(request: Request, me: User | None) -> User:
    """The URL's organization if `me` is on its staff; else 404 (anonymous: sign in first)."""
    name = request.path_params.get("org") or request.path_params["owner"]
    org = orgs.get_org(name)
    if org is None or orgs.role_of(org, me) != orgs.STAFF:
        if me is None and not visitor_of(request).given:
            raise login_redirect(request)
        raise HTTPException(404, NO_ORG)
    return org


# -- /{org} -------------------------------------------------------------------------------------

@page_viewer
def owner_page(request: Request, me: User | None) -> Response:
    """/{owner}: an organization's page, or a user's repositories."""
    org = orgs.get_org(request.path_params["owner"])
    if org is None:
        return pages.user_page(request)  # pylint: disable=no-value-for-parameter  # @page_viewer
    return _org_page(request, me, org)


def _org_page(request: Request, me: User | None, org: User, error: str = "",
              status_code: int = 200) -> Response:
    role = orgs.role_of(org, me)
    work = orgs.assignments(org)
    query = Repo.select(Repo, User).join(User).where(Repo.owner == org)
    if role != orgs.STAFF:
        own = [orgs.student_repo_name(a.name, me.username) for a in work] \
            if me is not None and role == orgs.STUDENT else []
        query = query.where(~Repo.private | Repo.name.in_(own))
    repos = list(query.order_by(Repo.updated_at.desc()).limit(MAX_LISTED_REPOS + 1))
    return render(request, "org.html", {
        "org": org, "role": role, "me": me, "assignments": work,
        "repos": repos[:MAX_LISTED_REPOS], "more_repos": len(repos) > MAX_LISTED_REPOS,
        "settings": orgs.settings_of(org) if role == orgs.STAFF else None,
        "due_text": orgs.format_due, "error": error}, status_code=status_code)


@page_viewer
def assignment_post(request: Request, me: User | None, form: FormData) -> Response:
    """POST /orgs/{org}/assignments: create an assignment or set its due time (staff)."""
    org = staff_org(request, me)
    try:
        due = orgs.parse_due(field(form, "due", 64))
        assignment, new = orgs.set_assignment(org, field(form, "name", 64), due)
    except orgs.OrgError as exc:
        return _org_page(request, me, org, error=str(exc), status_code=422)
    sessions.flash(request, f"Assignment {assignment.name} {'created' if new else 'updated'} "
                   f"({orgs.format_due(due)}).", "success")
    return redirect(request, user_url("", org.username))


@page_viewer
def settings_post(request: Request, me: User | None, form: FormData) -> Response:
    """POST /orgs/{org}/settings: the staff's daily digest on or off."""
    org = staff_org(request, me)
    daily = field(form, "digest") == "daily"
    orgs.set_digest(org, daily)
    sessions.flash(request, "The daily digest is on." if daily else
                   "The daily digest is off.", "success")
    return redirect(request, user_url("", org.username))


# -- /{org}/people ------------------------------------------------------------------------------

@page_viewer
def people_page(request: Request, me: User | None) -> Response:
    """/{org}/people: members and their roles; a user's repo called `people` otherwise."""
    if orgs.get_org(request.path_params["owner"]) is None:
        request.path_params["repo"] = "people"
        return pages.repo_page(request)  # pylint: disable=no-value-for-parameter  # @page_repo
    return _people(request, staff_org(request, me))


def _people(request: Request, org: User, error: str = "", status_code: int = 200,
            typed: dict[str, Any] | None = None) -> Response:
    return render(request, "org_people.html", {
        "org": org, "members": orgs.members(org), "roles": orgs.ROLES, "error": error,
        "typed": typed or {}}, status_code=status_code)


@page_viewer
def people_post(request: Request, me: User | None, form: FormData) -> Response:
    """Add a member, change a role or remove a member (staff)."""
    org = staff_org(request, me)
    action, username = field(form, "action", 16), field(form, "username", 64).strip()
    role = field(form, "role", 16)
    try:
        if action == "remove":
            user = orgs.remove_member(org, username)
            message = f"Removed {user.username} from {org.username}."
        else:
            user, new = orgs.add_member(org, username, role)
            message = f"{'Added' if new else 'Made'} {user.username} {role}."
    except orgs.OrgError as exc:
        return _people(request, org, error=str(exc), status_code=422,
                       typed={"username": username, "role": role})
    sessions.flash(request, message, "success")
    return redirect(request, org_people_url("", org.username))


routes: list[BaseRoute] = [
    PageRoute("/orgs/{org}/assignments", post=assignment_post),
    PageRoute("/orgs/{org}/settings", post=settings_post),
    PageRoute("/{owner}", owner_page),
    PageRoute("/{owner}/people", people_page, people_post),
]
