"""Downloads: one file's bytes (`/{owner}/{repo}/raw/{ref}/{path}`) and the tree at a ref as a
zip (`/{owner}/{repo}/archive/{ref}.zip`).

Same access as the blob page, except that nobody is sent to the sign-in form: a download is
often fetched by `curl` or a script, so a repository the visitor may not read is a 404 (as on
GitHub), whoever asks. The zip is written entry by entry into a generator and sent as it grows
(zipfile writes data descriptors when it cannot seek), never built whole in memory or on disk.
"""

from __future__ import annotations

import stat
import time
import zipfile
from collections.abc import Iterator
from typing import IO, cast
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from gitserver.core.access import NOT_FOUND, Access
from gitserver.core.diffs import is_binary
from gitserver.core.gitrepo import GitRepo, TreeEntry
from gitserver.core.queries import resolve_ref
from gitserver.core.urls import archive_url, raw_url
from gitserver.web.auth import repo_access
from gitserver.web.page_access import throttled
from gitserver.web.refs import ref_and_path
from gitserver.web.templating import templates

CHUNK = 64 * 1024
# A downloaded file is shown as text at most: no script, no style, no plugin, in any browser.
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff",
                    "Content-Security-Policy": "default-src 'none'; sandbox",
                    "Cache-Control": "private, no-cache"}
ZipDate = tuple[int, int, int, int, int, int]
ZIP_EPOCH = 315532800  # 1980-01-01: zip cannot store an earlier time

# The blob and repo pages link here.
templates.env.globals.update(raw_url=raw_url, archive_url=archive_url)


def is_text(data: bytes) -> bool:
    """UTF-8 without NUL bytes in its head: served as text/plain."""
    return not is_binary(data)


def disposition(kind: str, filename: str) -> str:
    """A Content-Disposition with an ASCII fallback and the exact name (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _readable(request: Request) -> tuple[Access, GitRepo]:
    """The URL's repository, readable by the visitor, opened; 404 for anyone who may not."""
    access = repo_access(request, False)
    if access.status == 429:
        raise throttled(access.retry_after)
    if not access.allowed or access.repo is None:
        raise HTTPException(404, NOT_FOUND)
    git = GitRepo.find(request.app.state.settings.repos_dir, access.repo)
    if git is None:
        raise HTTPException(404, f"{access.full_name} has no commits yet.")
    return access, git


# A blob is at most `limits.max_file_bytes` (the push policy and the browser's commits refuse
# bigger files), so one is read whole and sent in chunks; a zip holds one blob at a time.
def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


def raw(request: Request) -> Response:
    """/{owner}/{repo}/raw/{ref}/{path}: the file's bytes."""
    access, git = _readable(request)
    assert access.repo is not None
    ref, path = ref_and_path(git, access.repo, request.path_params["ref"],
                             request.path_params["path"])
    sha = resolve_ref(git, access.repo, ref)
    found = git.blob_at(sha, path) if sha else None
    if found is None:
        raise HTTPException(404, f"There is no file {path!r} at {ref!r} in {access.full_name}.")
    data = found[1]
    text = is_text(data)
    name = path.rsplit("/", 1)[-1]
    headers = {**DOWNLOAD_HEADERS, "Content-Length": str(len(data)),
               "Content-Disposition": disposition("inline" if text else "attachment", name)}
    media = "text/plain; charset=utf-8" if text else "application/octet-stream"
    if request.method == "HEAD":
        return Response(b"", media_type=media, headers=headers)
    return StreamingResponse(_chunks(data), media_type=media, headers=headers)


class _Sink:
    """A write-only stream that hands out what was written since the last `take()`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        """Keep `data` until the next take()."""
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered below us."""

    def take(self) -> bytes:
        """What was written since the last call."""
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _zip_info(top: str, entry: TreeEntry, date: ZipDate) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(f"{top}/{entry.name}", date_time=date)
    info.compress_type = zipfile.ZIP_DEFLATED
    mode = entry.mode if stat.S_ISLNK(entry.mode) else \
        (0o100755 if entry.mode & 0o111 else 0o100644)
    info.external_attr = mode << 16
    info.create_system = 3  # unix, so the modes above are read back
    return info


def zip_stream(git: GitRepo, sha: str, top: str, date: ZipDate) -> Iterator[bytes]:
    """The zip of the commit's tree, under folder `top`, produced file by file."""
    sink = _Sink()
    with zipfile.ZipFile(cast(IO[bytes], sink), "w", zipfile.ZIP_DEFLATED) as zipped:
        for entry in git.tree_listing(sha):
            if not (stat.S_ISREG(entry.mode) or stat.S_ISLNK(entry.mode)):
                continue  # submodules are links to other repositories, as in git archive
            with zipped.open(_zip_info(top, entry, date), "w") as member:
                for chunk in _chunks(git.blob(entry.sha)):
                    member.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def archive(request: Request) -> Response:
    """/{owner}/{repo}/archive/{ref}.zip: the tree at `ref`, in folder `{repo}-{ref}/`."""
    access, git = _readable(request)
    assert access.repo is not None
    ref = request.path_params["ref"]
    sha = resolve_ref(git, access.repo, ref)
    if sha is None:
        raise HTTPException(404, f"There is no branch, tag or commit {ref!r} in "
                                 f"{access.full_name}.")
    top = f"{access.repo.name}-{ref.replace('/', '-')}"
    committed = git.commit(sha).committed_at
    when = time.gmtime(max(committed, ZIP_EPOCH))
    date = (when.tm_year, when.tm_mon, when.tm_mday, when.tm_hour, when.tm_min, when.tm_sec)
    headers = {**DOWNLOAD_HEADERS, "Content-Disposition": disposition("attachment", f"{top}.zip")}
    return StreamingResponse(zip_stream(git, sha, top, date), media_type="application/zip",
                             headers=headers)


routes: list[BaseRoute] = [
    Route("/{owner}/{repo}/raw/{ref}/{path:path}", raw, methods=["GET", "HEAD"]),
    Route("/{owner}/{repo}/archive/{ref:path}.zip", archive, methods=["GET"]),
]
