"""`/-/worker/trees/{repo_id}/{sha}`: a commit's regular `.py` files as a tar stream, for the
workers on other hosts (`checker.sources.HttpTrees`), which have no repositories of their own.

Not a page: it sits outside the authentication middleware, so no session cookie, password or
token opens it. Only a worker's grant does (`gitserver.core.tree_grants`: signed with
`server.secret_key`, for exactly this repository and commit, a few minutes old at most), sent as
`Authorization: Bearer <grant>`. "-" is never a user name, so the URL cannot meet a page's.

The tar is produced file by file as it is sent (one blob, at most `limits.max_file_bytes`, in
memory at a time); `X-Gitserver-Files` says up front how many files follow, so a worker notices
a stream that was cut.
"""

from __future__ import annotations

import re
import stat
import tarfile
from collections.abc import Iterator

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from checker.sources import FILES_HEADER, TREES_PATH
from gitserver.core import tree_grants
from gitserver.core.gitrepo import GitRepo, TreeEntry
from gitserver.core.models import Repo

SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
CHUNK = 64 * 1024
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gitserver-workers"'}


def _grant(request: Request) -> str:
    scheme, _, grant = request.headers.get("authorization", "").partition(" ")
    return grant.strip() if scheme.lower() == "bearer" else ""


def _authorise(request: Request, repo_id: int, sha: str) -> None:
    """Refuse any request without a worker's grant for exactly this repository and commit."""
    verdict = tree_grants.verify(request.app.state.settings.server.secret_key, _grant(request),
                                 repo_id, sha)
    if verdict is tree_grants.Verdict.EXPIRED:
        raise HTTPException(401, "The worker's credential has expired: check the clocks of the "
                                 "worker and the web node.", headers=_CHALLENGE)
    if verdict is tree_grants.Verdict.INVALID:
        raise HTTPException(401, "This address is for gitserver workers: send a credential "
                                 "signed with the web node's server.secret_key.",
                            headers=_CHALLENGE)
    if verdict is tree_grants.Verdict.OTHER:
        raise HTTPException(403, "The worker's credential is for another repository or commit.")


def py_entries(git: GitRepo, sha: str) -> list[TreeEntry]:
    """The commit's regular `.py` files (symlinks and submodules are left out, as pylint sees
    only the files a checkout would write)."""
    return [entry for entry in git.tree_listing(sha)
            if stat.S_ISREG(entry.mode) and entry.name.endswith(".py")]


def tar_stream(git: GitRepo, entries: list[TreeEntry]) -> Iterator[bytes]:
    """The files as a POSIX (pax) tar, header, data and padding of one file after the other."""
    try:
        for entry in entries:
            data = git.blob(entry.sha)
            info = tarfile.TarInfo(entry.name)
            info.size, info.mode, info.mtime = len(data), 0o600, 0
            yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            for start in range(0, len(data), CHUNK):
                yield data[start:start + CHUNK]
            yield tarfile.NUL * (-len(data) % tarfile.BLOCKSIZE)
        yield tarfile.NUL * (2 * tarfile.BLOCKSIZE)  # the end of the archive
    finally:
        git.close()


def tree(request: Request) -> Response:
    """GET /-/worker/trees/{repo_id}/{sha}: the commit's `.py` files for a worker."""
    repo_id: int = request.path_params["repo_id"]
    sha: str = request.path_params["sha"]
    _authorise(request, repo_id, sha)  # before anything is looked up: nothing leaks unsigned
    if not SHA_RE.fullmatch(sha):
        raise HTTPException(404, f"{sha!r} is not a commit id.")
    repo = Repo.get_or_none(Repo.id == repo_id)
    git = GitRepo.find(request.app.state.settings.repos_dir, repo) if repo else None
    if git is None:
        raise HTTPException(404, f"There is no repository {repo_id} on this web node.")
    try:
        git.commit(sha)
        entries = py_entries(git, sha)
    except (KeyError, TypeError):
        git.close()
        raise HTTPException(404, f"{sha} is not a commit of repository {repo_id}.") from None
    headers = {FILES_HEADER: str(len(entries)), "Cache-Control": "no-store",
               "X-Content-Type-Options": "nosniff"}
    return StreamingResponse(tar_stream(git, entries), media_type="application/x-tar",
                             headers=headers)


routes = [Route(TREES_PATH + "/{repo_id:int}/{sha}", tree, methods=["GET"])]
