"""Where a worker gets the tree it lints: the repositories on this host's disk (`LocalTrees`), or
the web node over HTTP (`HttpTrees`, when `queue.web_url` is set), so that a worker on another
host needs only the queue, the database and HTTP to the web node.

Either way the commit's regular `.py` files are written under a fresh folder with the checks of
`checker.tree` (no escaping names, O_EXCL|O_NOFOLLOW). Over HTTP the worker mints a credential
for exactly (repository, commit) that lasts a few minutes (`gitserver.core.tree_grants`), and
checks the size limits while the tar stream arrives (`tree.unpack_tar`).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from gitserver.core import tree_grants
from gitserver.core.config import Settings
from gitserver.core.models import Repo
from gitserver.core.repos import repo_path

from .tree import materialise_py_files, unpack_tar

logger = logging.getLogger(__name__)

TREES_PATH = "/-/worker/trees"  # + /{repo_id}/{sha}; "-" is never a user name, so no page's URL
FILES_HEADER = "X-Gitserver-Files"  # how many files the tar holds: a cut stream is noticed
TIMEOUT_S = 60.0  # per connect and per read; the web node streams as it reads the objects
_ERROR_BODY_BYTES = 2048


class TreeSource(Protocol):  # pylint: disable=too-few-public-methods  # one job
    """Writes a commit's regular `.py` files under `dest` (an existing, empty folder of ours)
    and returns their posix paths."""

    def materialise(self, repo: Repo, sha: str, dest: Path) -> list[str]:
        """Write the commit's `.py` files under `dest`; return their paths."""


class TreeFetchError(Exception):
    """The web node did not hand over a commit's tree; str(exc) says why and what to do."""


class LocalTrees:  # pylint: disable=too-few-public-methods  # a TreeSource
    """The repositories in this host's data dir (the web node, or a worker sharing its volume)."""

    def __init__(self, repos_dir: Path) -> None:
        self.repos_dir = repos_dir

    def materialise(self, repo: Repo, sha: str, dest: Path) -> list[str]:
        """Write the commit's `.py` files under `dest`, read from the bare repository."""
        return materialise_py_files(
            repo_path(self.repos_dir, repo.owner.username, repo.name), sha, dest)


class HttpTrees:  # pylint: disable=too-few-public-methods  # a TreeSource
    """The web node at `web_url`, which streams a commit's `.py` files as a tar."""

    # pylint: disable-next=too-many-arguments  # the web node, the key and the limits
    def __init__(self, web_url: str, secret_key: str, *, max_file_bytes: int,
                 max_tree_bytes: int, timeout_s: float = TIMEOUT_S) -> None:
        parts = urlsplit(web_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{web_url!r} is not an http(s) URL")
        self.web_url = web_url.rstrip("/")
        self._parts = parts
        self._secret_key = secret_key
        self.max_file_bytes = max_file_bytes
        self.max_tree_bytes = max_tree_bytes
        self.timeout_s = timeout_s

    def path_of(self, repo_id: int, sha: str) -> str:
        """The URL path of a commit's tree on the web node."""
        return f"{self._parts.path.rstrip('/')}{TREES_PATH}/{repo_id}/{quote(sha, safe='')}"

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self._parts.hostname or "", self._parts.port
        if self._parts.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout_s,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=self.timeout_s)

    def materialise(self, repo: Repo, sha: str, dest: Path) -> list[str]:
        """Download the commit's `.py` files from the web node and write them under `dest`."""
        return self.fetch(repo.id, sha, dest)

    @contextlib.contextmanager
    def _get(self, repo_id: int, sha: str) -> Iterator[http.client.HTTPResponse]:
        """The web node's answer for the tree, whatever its status (TreeFetchError when there
        is none)."""
        path = self.path_of(repo_id, sha)
        grant = tree_grants.mint(self._secret_key, repo_id, sha)
        # No redirect is followed and no proxy is asked: the grant goes to this host only.
        conn = self._connection()
        try:
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {grant}",
                                                   "Accept": "application/x-tar"})
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise TreeFetchError(f"cannot reach {self.web_url}{path} ({type(exc).__name__}: "
                                     f"{exc}): check queue.web_url and that `gitserver serve` "
                                     "runs there; the check is tried again") from exc
            yield response
        finally:
            conn.close()

    def fetch(self, repo_id: int, sha: str, dest: Path) -> list[str]:
        """Download the `.py` files of commit `sha` of repository `repo_id` under `dest`."""
        where = f"{self.web_url}{self.path_of(repo_id, sha)}"
        with self._get(repo_id, sha) as response:
            if response.status != 200:
                raise TreeFetchError(_refusal(where, response))
            try:
                written = unpack_tar(response, dest, self.max_file_bytes, self.max_tree_bytes)
            except (ConnectionError, TimeoutError, http.client.HTTPException) as exc:
                raise TreeFetchError(f"{where}: the download broke off ({type(exc).__name__}: "
                                     f"{exc}); the check is tried again") from exc
            expected = response.getheader(FILES_HEADER)
        if expected != str(len(written)):
            raise TreeFetchError(f"{where}: the download ended early ({len(written)} of "
                                 f"{expected} files); the check is tried again")
        return written

    def refusal(self) -> str | None:
        """Why the web node refuses this worker's credentials (another secret key), or None.

        Asks for a commit that does not exist: a web node that takes the credential answers 404.
        An unreachable web node is no refusal (it may still be starting): that is logged.
        """
        try:
            with self._get(0, "0" * 40) as response:
                if response.status in (401, 403):
                    return _refusal(self.web_url, response)
                if response.status != 404:
                    logger.warning("the web node at %s answers HTTP %d to a worker's request; "
                                   "check queue.web_url", self.web_url, response.status)
        except TreeFetchError as exc:
            logger.warning("%s", exc)
        return None


def _refusal(where: str, response: http.client.HTTPResponse) -> str:
    """The error of a refused download: the status, the server's line and what to do."""
    said = response.read(_ERROR_BODY_BYTES).decode("utf-8", "replace").strip().splitlines()
    reason = said[0] if said else response.reason
    if response.status in (401, 403):
        hint = ("give this worker the web node's server.secret_key, and keep both clocks right "
                f"(a credential lasts {tree_grants.MAX_AGE_S} s)")
    elif response.status == 404:
        hint = "the web node has no such commit: check that queue.web_url names the web node"
    else:
        hint = "the check is tried again; see the web node's log"
    return f"{where}: HTTP {response.status} ({reason}); {hint}"


def tree_source(settings: Settings) -> TreeSource:
    """The source `settings` ask for: the web node when `queue.web_url` is set, else the
    repositories in the data dir."""
    if settings.queue.web_url:
        return HttpTrees(settings.queue.web_url, settings.server.secret_key,
                         max_file_bytes=settings.limits.max_file_bytes,
                         max_tree_bytes=settings.limits.max_push_bytes)
    return LocalTrees(settings.repos_dir)
