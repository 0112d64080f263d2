"""Who may read or write a repository: the contract's auth rules in one place.

- Anonymous request to a private (or missing) repo: 401 with `WWW-Authenticate`, so git asks for
  a password instead of learning whether the repo exists.
- Wrong password or inactive account: 401.
- Signed-in user who may not read it: 404 (GitHub's answer; existence is not revealed).
- May read but not write (someone else's public repo): 403 on push.
- Push by the owner to a repo that does not exist yet: allowed; the caller creates it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .auth import parse_basic
from .models import Repo, User
from .repos import USERNAME_RE, RepoNameError, get_repo, split_repo_name

REALM = 'Basic realm="gitserver"'


@dataclass
class Access:
    owner: str
    name: str
    user: User | None = None
    repo: Repo | None = None
    response: Response | None = None  # set when access is refused

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def unauthorized(text: str = "Authentication required: sign in with your username and "
                 "password or an access token.\n") -> Response:
    return PlainTextResponse(text, status_code=401, headers={"WWW-Authenticate": REALM})


def not_found() -> Response:
    return PlainTextResponse("Repository not found. Check the owner and name in the URL, and "
                             "that you are signed in as a user who may see it.\n",
                             status_code=404)


def request_user(request: Request) -> tuple[User | None, bool]:
    """(user, credentials_given); a set but wrong Authorization header gives (None, True)."""
    credentials = parse_basic(request.headers.get("authorization"))
    if credentials is None:
        return None, bool(request.headers.get("authorization"))
    user = request.app.state.authenticator.authenticate(*credentials)
    return user, True


def _decide(request: Request, owner: str, raw_name: str, write: bool) -> Access:
    try:
        name = split_repo_name(raw_name)
    except RepoNameError:
        return Access(owner, raw_name, response=not_found())
    access = Access(owner.lower(), name)
    if not USERNAME_RE.fullmatch(access.owner):
        access.response = not_found()
        return access
    user, given = request_user(request)
    if given and user is None:
        access.response = unauthorized("Wrong username or password, or the account is not "
                                       "active yet (check your mail for the activation link).\n")
        return access
    access.user = user
    access.repo = get_repo(access.owner, name)
    is_owner = user is not None and user.username == access.owner
    if access.repo is None:
        if user is None:
            access.response = unauthorized()
        elif not (write and is_owner):
            access.response = not_found()
        return access
    if access.repo.private and not is_owner:
        access.response = unauthorized() if user is None else not_found()
    elif write and not is_owner:
        access.response = unauthorized() if user is None else PlainTextResponse(
            f"You may read {access.full_name} but not push to it. Fork it into your own "
            "account and push there.\n", status_code=403)
    return access


async def resolve_access(request: Request, write: bool) -> Access:
    owner = request.path_params["owner"]
    raw_name = request.path_params["repo"]
    return await asyncio.to_thread(_decide, request, owner, raw_name, write)
