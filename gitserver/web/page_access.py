"""Who may see a page: the verdicts of `access.decide`, answered the way a browser needs them.

- Anonymous visitor on private (or missing) content: a redirect to `/login?next=...`, because a
  person in a browser should be asked to sign in, not shown a password dialog.
- Wrong Basic credentials: 401 (the same answer git and the API give).
- Signed in but not allowed to see it: 404, so the page does not reveal that the repo exists.
- Allowed to see but not to change (someone else's public repo) a write page: 403.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request

from gitserver.core.access import NOT_FOUND, Access, decide
from gitserver.core.models import User
from gitserver.core.throttle import Throttled
from gitserver.web.auth import REALM, request_user


def login_redirect(request: Request) -> HTTPException:
    """A 303 to the sign-in page that comes back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(303, "Sign in to see this page.",
                         headers={"Location": "/login?" + urlencode({"next": target})})


def visitor(request: Request) -> tuple[User | None, bool]:
    """`access.request_user`, with too many failed Basic-auth attempts answered by a 429."""
    try:
        return request_user(request)
    except Throttled as exc:
        raise HTTPException(429, f"Too many failed sign-in attempts. Wait {exc.retry_after} "
                                 "seconds, then try again.",
                            headers={"Retry-After": str(exc.retry_after)}) from None


def viewer(request: Request) -> User | None:
    """The signed-in user (session cookie or Basic auth); 401 for wrong Basic credentials."""
    user, given = visitor(request)
    if given and user is None:
        raise HTTPException(401, "Wrong username or password, or the account is not active.",
                            headers={"WWW-Authenticate": REALM})
    return user


def page_repo(request: Request, write: bool = False) -> Access:
    """The repository of the URL if the visitor may see it (and change it, with write)."""
    user, given = visitor(request)
    access = decide(user, given, request.path_params["owner"], request.path_params["repo"],
                    write)
    if access.allowed and access.repo is not None:
        return access
    if access.allowed:  # write access to a repo that does not exist yet: only pushes create
        raise HTTPException(404, NOT_FOUND)
    if access.status == 401 and not given:
        raise login_redirect(request)
    headers = {"WWW-Authenticate": REALM} if access.status == 401 else None
    raise HTTPException(access.status, access.reason, headers=headers)


def can_write(access: Access) -> bool:
    """True for the repository's owner, the only one who may change it."""
    return access.user is not None and access.repo is not None and \
        access.user.id == access.repo.owner_id
