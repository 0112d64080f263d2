"""What every API endpoint shares: the JSON error, GitHub's shapes, access, pagination.

Errors: `{"errors": [{"type", "description"}], "message": ...}` with the HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gitserver.core import states
from gitserver.core.access import decide
from gitserver.core.models import Check, Commit, Repo, User
from gitserver.core.queries import (
    ParentDiff,
    commit_checks,
    get_commit,
    resolve_ref,
)
from gitserver.core.throttle import Throttled
from gitserver.web.auth import REALM, request_user

MAX_PER_PAGE = 100


class ApiError(HTTPException):
    """An API failure; rendered as the contract's JSON error body."""

    def __init__(self, status: int, kind: str, description: str) -> None:
        super().__init__(status, description)
        self.kind = kind


def error_response(status: int, kind: str, description: str) -> JSONResponse:
    """The contract's JSON error body (a 401 carries `WWW-Authenticate`)."""
    headers = {"WWW-Authenticate": REALM} if status == 401 else None
    return JSONResponse({"message": description,
                         "errors": [{"type": kind, "description": description}]},
                        status_code=status, headers=headers)


def iso(value: Any) -> str | None:
    """A stored naive-UTC datetime in GitHub's ISO 8601 form, or None."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def base(request: Request) -> str:
    """The server's public base URL, for the links in the shapes."""
    return request.app.state.settings.server.base_url


def user_shape(request: Request, user: User, with_email: bool = False) -> dict[str, Any]:
    """A user in GitHub's shape; `with_email` only for the user's own view."""
    root = base(request)
    shape = {"login": user.username, "id": user.id, "type": "User", "site_admin": False,
             "html_url": f"{root}/{user.username}",
             "url": f"{root}/api/v1/users/{user.username}",
             "repos_url": f"{root}/api/v1/users/{user.username}/repos",
             "avatar_url": "", "created_at": iso(user.created_at)}
    if with_email:
        shape["email"] = user.email
    return shape


def repo_shape(request: Request, repo: Repo) -> dict[str, Any]:
    """A repository in GitHub's shape."""
    root = base(request)
    full = f"{repo.owner.username}/{repo.name}"
    return {"id": repo.id, "name": repo.name, "full_name": full,
            "owner": user_shape(request, repo.owner), "private": repo.private,
            "visibility": "private" if repo.private else "public", "fork": False,
            "description": None, "default_branch": repo.default_branch,
            "clone_url": f"{root}/{full}.git", "html_url": f"{root}/{full}",
            "url": f"{root}/api/v1/repos/{full}", "created_at": iso(repo.created_at),
            "updated_at": iso(repo.updated_at), "pushed_at": iso(repo.updated_at)}


def message_shape(message: dict[str, Any]) -> dict[str, Any]:
    """A pylint message with the contract's keys only."""
    keys = ("line", "column", "end_line", "end_column", "type", "symbol", "message_id",
            "message")
    return {k: message.get(k) for k in keys}


def file_shape(check: Check) -> dict[str, Any]:
    """One file's check in the contract's shape, its messages included."""
    return {"path": check.path, "blob": check.blob_sha, "change": check.change,
            "state": check.state, "score": check.score, "duration_ms": check.duration_ms,
            "checked_at": iso(check.checked_at), "emailed_at": iso(check.emailed_at),
            "reused": check.reused, "error": check.error,
            "description": states.status_description(check),
            "messages": [message_shape(m) for m in check.message_list]}


def status_shape(request: Request, repo: Repo, sha: str, check: Check) -> dict[str, Any]:
    """A check as a GitHub commit status, with the context `pylint/<path>`."""
    root = base(request)
    full = f"{repo.owner.username}/{repo.name}"
    return {"id": check.id, "state": check.state,
            "description": states.status_description(check),
            "target_url": f"{root}/{full}/blob/{sha}/{check.path}",
            "context": f"pylint/{check.path}", "created_at": iso(check.created_at),
            "updated_at": iso(check.checked_at or check.created_at),
            "url": f"{root}/api/v1/repos/{full}/statuses/{sha}"}


def readable_repo(request: Request) -> Repo:
    """The URL's repo if the requester may read it; else raise the contract's ApiError."""
    user, given = request_user(request)
    access = decide(user, given, request.path_params["owner"], request.path_params["repo"],
                    write=False)
    if not access.allowed or access.repo is None:
        kinds = {401: "unauthorized", 403: "forbidden", 404: "not_found"}
        raise ApiError(access.status if not access.allowed else 404,
                       kinds.get(access.status, "not_found"), access.reason or "Not Found")
    return access.repo


@dataclass(frozen=True)


class Unrecorded:
    """A commit git has but the database not yet (a large push records it after its reply):
    it shows as pending with no checks, as GitHub shows a commit nobody reported on yet."""
    sha: str


def commit_for(request: Request, repo: Repo, ref: str) -> Commit | Unrecorded:
    """The commit `ref` names (Unrecorded when only git has it yet); ApiError 404 for none."""
    sha = resolve_ref(request.app.state.settings.repos_dir, repo, ref)
    if sha is None:
        raise ApiError(404, "not_found", f"No commit found for the ref {ref!r}.")
    return get_commit(repo, sha) or Unrecorded(sha)


def checks_of(commit: Commit | Unrecorded) -> list[Check]:
    """The commit's checks; none for an Unrecorded commit."""
    return [] if isinstance(commit, Unrecorded) else commit_checks(commit)


def page_params(request: Request) -> tuple[int, int]:
    """(page, per_page) from the query string, with GitHub's defaults; ApiError 422 if bad."""
    try:
        page = int(request.query_params.get("page", "1"))
        per_page = int(request.query_params.get("per_page", "30"))
    except ValueError:
        raise ApiError(422, "invalid", "page and per_page must be whole numbers") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(422, "invalid", f"page must be >= 1 and per_page 1..{MAX_PER_PAGE}")
    return page, per_page


def paginated(request: Request, items: list[Any], total: int, page: int,
              per_page: int) -> JSONResponse:
    """The items as JSON with GitHub's `Link` header (next, last, first, prev)."""
    last = max(1, -(-total // per_page))
    links = []
    params = dict(request.query_params)
    for rel, number in (("next", page + 1), ("last", last), ("first", 1), ("prev", page - 1)):
        if (rel in ("next", "last") and page < last) or (rel in ("first", "prev") and page > 1):
            query = urlencode({**params, "page": number, "per_page": per_page})
            links.append(f'<{base(request)}{request.url.path}?{query}>; rel="{rel}"')
    headers = {"Link": ", ".join(links)} if links else {}
    return JSONResponse(items, headers=headers)


def parent_diff_shape(diff: ParentDiff | None) -> dict[str, Any] | None:
    """The status page's "since the parent": new and fixed messages, each with its path."""
    if diff is None:
        return None
    return {"sha": diff.sha, "checked": diff.checked, "state": diff.state, "score": diff.score,
            "new": [{"path": path, **message_shape(m)} for path, m in diff.new],
            "fixed": [{"path": path, **message_shape(m)} for path, m in diff.fixed],
            "unknown": [{"path": path, **message_shape(m)} for path, m in diff.unknown]}


def commit_shape(request: Request, repo: Repo, commit: Commit, state: str) -> dict[str, Any]:
    """A commit in GitHub's shape, with the combined `state` of its checks."""
    root = base(request)
    full = f"{repo.owner.username}/{repo.name}"
    person = {"name": commit.author_name, "email": commit.author_email,
              "date": iso(commit.authored_at)}
    return {"sha": commit.sha, "state": state,
            "commit": {"message": commit.message, "author": person,
                       "committer": {**person, "date": iso(commit.committed_at)}},
            "parents": [{"sha": commit.parent_sha}] if commit.parent_sha else [],
            "html_url": f"{root}/{full}/commit/{commit.sha}",
            "url": f"{root}/api/v1/repos/{full}/commits/{commit.sha}"}


def signed_in(request: Request) -> User:
    """The signed-in requester; else raise ApiError 401."""
    user, _ = request_user(request)
    if user is None:
        raise ApiError(401, "unauthorized", "Requires authentication: use Basic auth with "
                       "your username and password or an access token.")
    return user


def not_found(_request: Request) -> Response:
    """Any other path under /api/v1: a JSON 404."""
    return error_response(404, "not_found", "No such API endpoint.")


def api_error_handler(_request: Request, exc: Exception) -> Response:
    """Any HTTPException as the contract's JSON error."""
    assert isinstance(exc, HTTPException)
    kind = getattr(exc, "kind", None) or {401: "unauthorized", 403: "forbidden",
                                           404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "error")
    return error_response(exc.status_code, kind, str(exc.detail))


def throttled_error(_request: Request, exc: Exception) -> Response:
    """429 with Retry-After, after too many failed sign-ins."""
    assert isinstance(exc, Throttled)
    response = error_response(429, "rate_limited", "Too many failed sign-in attempts; wait "
                              f"{exc.retry_after} seconds, then try again.")
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def server_error(_request: Request, _exc: Exception) -> Response:
    """A JSON 500 that says what to do."""
    return error_response(500, "server_error", "The server failed to answer; try again, and "
                          "tell the administrator if it keeps happening.")
