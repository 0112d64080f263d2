"""Organizations in GitHub's shapes: `GET /orgs/{org}` and `GET /orgs/{org}/repos`, what
PyGithub's `get_organization(...)` and its `get_repos()` read.

The repos are filtered for the requester as the pages and git filter them: staff see every repo,
a student their own assignment repos and the public ones, anyone else the public ones.
"""

# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see
from __future__ import annotations

from typing import Any

from peewee import Expression
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitserver.core import orgs
from gitserver.core.models import Repo, User
from gitserver.core.urls import api_org_repos_url, api_org_url, user_url
from gitserver.web.api.common import ApiError, base, iso, page_params, paginated, repo_shape, viewed

# GitHub's `type` filter of GET /orgs/{org}/repos; the others (forks, sources...) mean all here.
TYPES = ("all", "public", "private", "forks", "sources", "member")
SORTS: dict[str, Any] = {"created": Repo.created_at, "updated": Repo.updated_at,
                         "pushed": Repo.updated_at, "full_name": Repo.name}


def _org(request: Request) -> User:
    org = orgs.get_org(request.path_params["org"])
    if org is None:
        raise ApiError(404, "not_found", "No organization by that name.")
    return org


def _visible(org: User, viewer: User | None) -> Expression:
    """Which of the organization's repos `viewer` may read."""
    role = orgs.role_of(org, viewer)
    if role == orgs.STAFF:
        return Repo.owner == org
    own = [orgs.student_repo_name(a.name, viewer.username) for a in orgs.assignments(org)] \
        if viewer is not None and role == orgs.STUDENT else []
    return (Repo.owner == org) & (~Repo.private | Repo.name.in_(own))


def org_shape(request: Request, org: User, visible: int) -> dict[str, Any]:
    """An organization in GitHub's shape; `visible`: its repos the requester may read."""
    root = base(request)
    return {"login": org.username, "id": org.id, "node_id": "", "type": "Organization",
            "name": org.username, "description": None, "company": None, "blog": None,
            "location": None, "email": None, "avatar_url": "",
            "url": api_org_url(root, org.username),
            "repos_url": api_org_repos_url(root, org.username),
            "html_url": user_url(root, org.username),
            "public_repos": visible, "created_at": iso(org.created_at),
            "updated_at": iso(org.created_at)}


@viewed
def get_org(request: Request, viewer: User | None) -> Response:
    """GET /orgs/{org}."""
    org = _org(request)
    count = Repo.select().where(_visible(org, viewer)).count()
    return JSONResponse(org_shape(request, org, count))


@viewed
def org_repos(request: Request, viewer: User | None) -> Response:
    """GET /orgs/{org}/repos?type=&sort=&direction=&page=&per_page=."""
    org = _org(request)
    page, per_page = page_params(request)
    kind = request.query_params.get("type", "all")
    if kind not in TYPES:
        raise ApiError(422, "invalid", f"type must be one of {', '.join(TYPES)}")
    query = Repo.select(Repo, User).join(User).where(_visible(org, viewer))
    if kind in ("public", "private"):
        query = query.where(Repo.private == (kind == "private"))
    order = SORTS.get(request.query_params.get("sort", "created"), Repo.created_at)
    descending = request.query_params.get("direction",
                                          "asc" if order is Repo.name else "desc") == "desc"
    query = query.order_by(order.desc() if descending else order.asc(), Repo.id)
    total = query.count()
    return paginated(request, [repo_shape(request, r) for r in query.paginate(page, per_page)],
                     total, page, per_page)


routes = [
    Route("/orgs/{org}", get_org),
    Route("/orgs/{org}/repos", org_repos),
]
