"""Users and their repositories in GitHub's shapes: /user, /users/{u}, their repos, one repo."""


from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitserver.core.models import Repo, User
from gitserver.web.api.common import (
    ApiError,
    page_params,
    paginated,
    reads_repo,
    repo_shape,
    signed_in,
    user_shape,
    viewed,
)


@reads_repo
def get_repo_view(request: Request, repo: Repo) -> Response:
    """GET /repos/{owner}/{repo}."""
    return JSONResponse(repo_shape(request, repo))


@signed_in
def current_user(request: Request, user: User) -> Response:
    """GET /user: the signed-in user, with the email."""
    return JSONResponse(user_shape(request, user, with_email=True))


@viewed
def named_user(request: Request, viewer: User | None) -> Response:
    """GET /users/{username}: an active user (or an organization, as on GitHub, with `type`
    "Organization"); the email only for that user."""
    user = User.get_or_none(User.username == request.path_params["username"].lower())
    if user is None or not (user.is_active or user.is_org):
        raise ApiError(404, "not_found", "No user by that name.")
    return JSONResponse(user_shape(request, user, with_email=viewer is not None
                                   and viewer.id == user.id))


def _repo_list(request: Request, owner: User, include_private: bool) -> Response:
    page, per_page = page_params(request)
    query = Repo.select().where(Repo.owner == owner)
    if not include_private:
        # A peewee expression: `== False` builds the SQL comparison.
        query = query.where(Repo.private == False)  # noqa: E712  # pylint: disable=singleton-comparison
    query = query.order_by(Repo.updated_at.desc())
    total = query.count()
    return paginated(request, [repo_shape(request, r) for r in query.paginate(page, per_page)],
                     total, page, per_page)


@viewed
def user_repos(request: Request, viewer: User | None) -> Response:
    """GET /users/{username}/repos: the public repos, and the private ones for their owner."""
    owner = User.get_or_none(User.username == request.path_params["username"].lower())
    if owner is None or not owner.is_active:
        raise ApiError(404, "not_found", "No user by that name.")
    return _repo_list(request, owner, viewer is not None and viewer.id == owner.id)


@signed_in
def my_repos(request: Request, user: User) -> Response:
    """GET /user/repos: all the signed-in user's repos."""
    return _repo_list(request, user, True)


routes = [
    Route("/repos/{owner}/{repo}", get_repo_view),
    Route("/user", current_user),
    Route("/user/repos", my_repos),
    Route("/users/{username}", named_user),
    Route("/users/{username}/repos", user_repos),
]
