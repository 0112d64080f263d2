"""What a page needs of its visitor, declared on its handler, with refusals answered the way a
browser needs them:

- `@page_repo()` / `@page_repo(write=True)`: the URL's repository, readable (or changeable) by
  the visitor; the handler gets its `Access`.
- `@page_viewer`: whoever it is, if their credentials hold; the handler gets the `User` or None.
- `@session_page(next_path)`: a user signed in on this browser's session (Basic credentials do
  not open the account's own pages: a token must not be able to mint tokens); the handler gets
  the `User`, anyone else is sent to sign in.

Refusals, from `auth.repo_access` (the verdict of `core.access.decide`):
- Anonymous visitor on private (or missing) content: a redirect to `/login?next=...`, because a
  person in a browser should be asked to sign in, not shown a password dialog.
- Wrong Basic credentials: 401 (the same answer git and the API give).
- Too many failed sign-ins: 429 with Retry-After.
- Signed in but not allowed to see it: 404, so the page does not reveal that the repo exists.
- Allowed to see but not to change (someone else's public repo) a write page: 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gitserver.core.access import MANAGERS_ONLY, NOT_FOUND, Access
from gitserver.core.models import User
from gitserver.core.urls import clone_url, login_url, repo_url
from gitserver.web.auth import REALM, repo_access, visitor_of
from gitserver.web.webforms import redirect

P = ParamSpec("P")
Page = Callable[Concatenate[Request, P], Response]


def login_redirect(request: Request) -> HTTPException:
    """A 303 to the sign-in page that comes back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(303, "Sign in to see this page.",
                         headers={"Location": "/login?" + urlencode({"next": target})})


def throttled(retry_after: int) -> HTTPException:
    """429: too many failed sign-ins from this account and address."""
    return HTTPException(429, f"Too many failed sign-in attempts. Wait {retry_after} seconds, "
                              "then try again.", headers={"Retry-After": str(retry_after)})


def refusal(request: Request, access: Access) -> HTTPException:
    """How a page answers a verdict that does not let it show the repository."""
    if access.status == 429:
        return throttled(access.retry_after)
    if access.allowed:  # write access to a repo that does not exist yet: only pushes create
        return HTTPException(404, NOT_FOUND)
    if access.status == 401 and not visitor_of(request).given:
        return login_redirect(request)
    headers = {"WWW-Authenticate": REALM} if access.status == 401 else None
    return HTTPException(access.status, access.reason, headers=headers)


def page_repo(write: bool = False, manage: bool = False
              ) -> Callable[[Page[Concatenate[Access, P]]], Page[P]]:
    """The handler shows (with `write`: changes; with `manage`: changes the settings of) the
    URL's repository; it gets the Access."""
    def decorate(handler: Page[Concatenate[Access, P]]) -> Page[P]:
        @functools.wraps(handler)
        def checked(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
            access = repo_access(request, write or manage)
            if not access.allowed or access.repo is None:
                raise refusal(request, access)
            if manage and not access.manages:
                raise HTTPException(403, MANAGERS_ONLY)
            return handler(request, access, *args, **kwargs)
        return checked
    return decorate


def repo_writer(request: Request) -> None:
    """A `PageRoute` guard: only who may change the URL's repository posts a form to it (checked
    before the body is read)."""
    access = repo_access(request, True)
    if not access.allowed or access.repo is None:
        raise refusal(request, access)


def session_user(request: Request) -> None:
    """A `PageRoute` guard: only a user signed in on this browser posts the account's forms."""
    if visitor_of(request).session_user is None:
        raise HTTPException(303, "Sign in first.",
                            headers={"Location": login_url("", "/settings")})


def page_viewer(handler: Page[Concatenate[User | None, P]]) -> Page[P]:
    """The handler shows a page to anyone; it gets the signed-in user or None."""
    @functools.wraps(handler)
    def checked(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        visitor = visitor_of(request)
        if visitor.throttled:
            raise throttled(visitor.retry_after)
        if visitor.bad_credentials:
            raise HTTPException(401, "Wrong username or password, or the account is not "
                                     "active.", headers={"WWW-Authenticate": REALM})
        return handler(request, visitor.account, *args, **kwargs)
    return checked


def session_page(next_path: str) -> Callable[[Page[Concatenate[User, P]]], Page[P]]:
    """The handler serves the signed-in user of this browser; others sign in, then go on to
    `next_path` (a page, since the address asked may take POSTs only)."""
    def decorate(handler: Page[Concatenate[User, P]]) -> Page[P]:
        @functools.wraps(handler)
        def checked(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
            user = visitor_of(request).session_user
            if user is None:
                return redirect(request, login_url("", next_path))
            return handler(request, user, *args, **kwargs)
        return checked
    return decorate


def can_write(access: Access) -> bool:
    """True for whoever may change the repository (its owner, or members of its org)."""
    return access.user is not None and access.repo is not None and access.may_write


def repo_context(request: Request, access: Access, tab: str) -> dict[str, Any]:
    """What every page of a repository shows around its tab: name, links, clone URL."""
    repo = access.repo
    assert repo is not None
    owner = repo.owner.username
    return {"repo": repo, "owner": owner, "full_name": f"{owner}/{repo.name}", "tab": tab,
            "repo_url": repo_url("", owner, repo.name),
            "clone_url": clone_url(request.app.state.settings.server.base_url, owner, repo.name),
            "can_write": can_write(access), "can_manage": access.manages}
