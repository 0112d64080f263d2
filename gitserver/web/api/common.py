"""What every API endpoint shares: the JSON error, GitHub's shapes, access, pagination.

Errors: endpoints raise `ApiError`; `api_error_handler` renders every HTTPException of the API as
`{"errors": [{"type", "description"}], "message": ...}` with the HTTP status.

Access: endpoints declare what they need of `request.user` (set by `auth.CredentialsBackend`):
`@reads_repo` / `@writes_repo` (the URL's repository, through `auth.repo_access`), `@signed_in`
(a user, else 401) or `@viewed` (whoever asks, anonymous included). Too many failed sign-ins
answer 429 wherever the requester counts.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gitserver.core import states
from gitserver.core.access import MANAGERS_ONLY, Access
from gitserver.core.changes import ParentDiff
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Check, Commit, Repo, User
from gitserver.core.queries import (
    FULL_SHA_RE,
    commit_checks,
    get_commit,
    resolve_ref,
)
from gitserver.core.urls import (
    api_commit_url,
    api_repo_url,
    api_statuses_url,
    api_user_repos_url,
    api_user_url,
    blob_url,
    clone_url,
    commit_url,
    repo_url,
    user_url,
)
from gitserver.web.auth import REALM, SESSION, Visitor, repo_access, visitor_of
from gitserver.web.bodies import limited
from gitserver.web.sessions import get_session

MAX_PER_PAGE = 100
REPO = "/repos/{owner}/{repo}"  # the path prefix of every repository endpoint

KINDS = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 413: "too_large", 429: "rate_limited"}
P = ParamSpec("P")
Endpoint = Callable[Concatenate[Request, P], Response]


class ApiError(HTTPException):
    """An API failure; rendered as the contract's JSON error body."""

    def __init__(self, status: int, kind: str, description: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, description, headers=headers)
        self.kind = kind


def iso(value: Any) -> str | None:
    """A stored naive-UTC datetime in GitHub's ISO 8601 form, or None."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def base(request: Request) -> str:
    """The server's public base URL, for the links in the shapes."""
    return request.app.state.settings.server.base_url


def user_shape(request: Request, user: User, with_email: bool = False) -> dict[str, Any]:
    """A user in GitHub's shape; `with_email` only for the user's own view."""
    root = base(request)
    shape = {"login": user.username, "id": user.id,
             "type": "Organization" if user.is_org else "User", "site_admin": False,
             "html_url": user_url(root, user.username),
             "url": api_user_url(root, user.username),
             "repos_url": api_user_repos_url(root, user.username),
             "avatar_url": "", "created_at": iso(user.created_at)}
    if with_email:
        shape["email"] = user.email
    return shape


def repo_shape(request: Request, repo: Repo) -> dict[str, Any]:
    """A repository in GitHub's shape."""
    root, owner = base(request), repo.owner.username
    return {"id": repo.id, "name": repo.name, "full_name": f"{owner}/{repo.name}",
            "owner": user_shape(request, repo.owner), "private": repo.private,
            "visibility": "private" if repo.private else "public", "fork": False,
            "description": None, "default_branch": repo.default_branch,
            "clone_url": clone_url(root, owner, repo.name),
            "html_url": repo_url(root, owner, repo.name),
            "url": api_repo_url(root, owner, repo.name), "created_at": iso(repo.created_at),
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
    root, owner = base(request), repo.owner.username
    return {"id": check.id, "state": check.state, "description": states.status_description(check),
            "target_url": blob_url(root, owner, repo.name, sha, check.path),
            "context": f"pylint/{check.path}", "created_at": iso(check.created_at),
            # A reused result keeps the time it was checked, before this status existed.
            "updated_at": iso(max(check.checked_at or check.created_at, check.created_at)),
            "url": api_statuses_url(root, owner, repo.name, sha)}


# -- what an endpoint needs of the requester ---------------------------------------------------

def throttled(retry_after: int) -> ApiError:
    """429 with Retry-After, after too many failed sign-ins."""
    return ApiError(429, "rate_limited", "Too many failed sign-in attempts; wait "
                    f"{retry_after} seconds, then try again.",
                    headers={"Retry-After": str(retry_after)})


def refusal(access: Access) -> ApiError:
    """The contract's JSON error for a verdict that does not give the endpoint its repo."""
    if access.status == 429:
        return throttled(access.retry_after)
    if access.allowed:  # the owner writing to a repo that does not exist (yet)
        return ApiError(404, "not_found", "Not Found")
    return ApiError(access.status, KINDS.get(access.status, "not_found"), access.reason)


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "x-csrf-token"


def check_cookie_write(request: Request) -> None:
    """A write signed in by the session cookie must carry the session's CSRF token in the
    `X-CSRF-Token` header: a cookie rides along with any site's request, a header does not."""
    visitor = visitor_of(request)
    if request.method in SAFE_METHODS or visitor.via != SESSION:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), get_session(request).csrf.encode()):
        raise ApiError(403, "forbidden", "A change signed in by the browser's session cookie "
                       "needs the page's CSRF token in the X-CSRF-Token header; scripts should "
                       "use Basic auth with an access token instead.")


def _repo(request: Request, write: bool) -> Access:
    access = repo_access(request, write)
    if write and access.allowed:
        check_cookie_write(request)
    if not access.allowed or access.repo is None:
        raise refusal(access)
    return access


def reads_repo(endpoint: Endpoint[Concatenate[Repo, P]]) -> Endpoint[P]:
    """The endpoint reads the URL's repository; it gets the Repo."""
    @functools.wraps(endpoint)
    def checked(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        repo = _repo(request, write=False).repo
        assert repo is not None
        return endpoint(request, repo, *args, **kwargs)
    return checked


def writes_repo(endpoint: Endpoint[Concatenate[Repo, User, P]]) -> Endpoint[P]:
    """The endpoint changes the URL's repository; it gets the Repo and the User (its owner, or
    a member of its organization who may push to it)."""
    @functools.wraps(endpoint)
    def checked(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        access = _repo(request, write=True)
        assert access.repo is not None and access.user is not None  # only signed-in users write
        return endpoint(request, access.repo, access.user, *args, **kwargs)
    return checked


def manages_repo(endpoint: Endpoint[Concatenate[Repo, User, P]]) -> Endpoint[P]:
    """The endpoint changes the URL's repository's settings (its owner, or the staff of its
    organization); it gets the Repo and the User."""
    @functools.wraps(endpoint)
    def checked(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        access = _repo(request, write=True)
        assert access.repo is not None and access.user is not None
        if not access.manages:
            raise ApiError(403, "forbidden", MANAGERS_ONLY)
        return endpoint(request, access.repo, access.user, *args, **kwargs)
    return checked


def _counted(request: Request) -> Visitor:
    visitor = visitor_of(request)
    if visitor.throttled:
        raise throttled(visitor.retry_after)
    return visitor


def signed_in(endpoint: Endpoint[Concatenate[User, P]]) -> Endpoint[P]:
    """The endpoint needs a signed-in requester (else 401); it gets the User."""
    @functools.wraps(endpoint)
    def checked(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        user = _counted(request).account
        if user is None:
            raise ApiError(401, "unauthorized", "Requires authentication: use Basic auth with "
                           "your username and password or an access token.")
        check_cookie_write(request)
        return endpoint(request, user, *args, **kwargs)
    return checked


def viewed(endpoint: Endpoint[Concatenate[User | None, P]]) -> Endpoint[P]:
    """The endpoint answers anyone, saying more to some; it gets the User or None (wrong
    credentials count as anonymous here, as nothing is refused)."""
    @functools.wraps(endpoint)
    def checked(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        return endpoint(request, _counted(request).account, *args, **kwargs)
    return checked


# -- commits ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unrecorded:
    """A commit git has but the database not yet (a large push records it after its reply):
    it shows as pending with no checks, as GitHub shows a commit nobody reported on yet."""
    sha: str


def commit_for(request: Request, repo: Repo, ref: str,
               git: GitRepo | None = None) -> Commit | Unrecorded:
    """The commit `ref` names (Unrecorded when only git has it yet); ApiError 404 for none.

    `git`: the repository if the handler has opened it; else it is opened only when `ref` is
    not the full sha of a recorded commit (the usual case: one query, no look at the disk).
    """
    commit = get_commit(repo, ref) if FULL_SHA_RE.fullmatch(ref) else None
    if commit is not None:
        return commit
    sha = resolve_ref(git or GitRepo.find(request.app.state.settings.repos_dir, repo), repo, ref)
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
    root, owner = base(request), repo.owner.username
    person = {"name": commit.author_name, "email": commit.author_email,
              "date": iso(commit.authored_at)}
    return {"sha": commit.sha, "state": state,
            "commit": {"message": commit.message, "author": person,
                       "committer": {**person, "date": iso(commit.committed_at)}},
            "parents": [{"sha": commit.parent_sha}] if commit.parent_sha else [],
            "html_url": commit_url(root, owner, repo.name, commit.sha),
            "url": api_commit_url(root, owner, repo.name, commit.sha)}


async def writer_first(request: Request) -> None:
    """Refuse a visitor who may not change the URL's repository, before its body is read."""
    await run_in_threadpool(_repo, request, True)


async def json_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request's JSON object, read only up to `max_bytes` (413 past it); 400 if not one."""
    try:
        body = await limited(request, max_bytes).json()
    except ValueError:
        raise ApiError(400, "invalid", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid", "the body must be a JSON object")
    return body


def not_found(_request: Request) -> Response:
    """Any other path under /api/v1: a JSON 404."""
    raise ApiError(404, "not_found", "No such API endpoint.")


def error_response(status: int, kind: str, description: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The contract's JSON error body (a 401 carries `WWW-Authenticate`)."""
    extra = {"WWW-Authenticate": REALM} if status == 401 else {}
    return JSONResponse({"message": description,
                         "errors": [{"type": kind, "description": description}]},
                        status_code=status, headers={**extra, **(headers or {})})


def api_error_handler(_request: Request, exc: Exception) -> Response:
    """Every HTTPException of the API (ours, and Starlette's 404/405) as the JSON error."""
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.kind, str(exc.detail), exc.headers)
    return error_response(exc.status_code, KINDS.get(exc.status_code, "error"), str(exc.detail))


def server_error(_request: Request, _exc: Exception) -> Response:
    """A JSON 500 that says what to do."""
    return error_response(500, "server_error", "The server failed to answer; try again, and "
                          "tell the administrator if it keeps happening.")
