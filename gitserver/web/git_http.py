"""Git smart HTTP: info/refs, git-upload-pack and git-receive-pack.

Why git's own `upload-pack`/`receive-pack --stateless-rpc` and not dulwich's pack code: measured
here, dulwich's pure-Python pack handling was 2.5x git-http-backend for a push and 5.9x for a
clone; streaming through git itself is as fast as git-http-backend, and git gives us the safety we
want for free: a pre-receive hook sees the pushed objects in a quarantine directory that git
deletes when the hook declines, and all ref updates of a push land atomically or not at all. Our
policy and recording run in those hooks (`hooks/`), which git finds through `core.hooksPath`.

Bodies stream both ways: the request into git's stdin (gzip decoded on the fly, capped at
`limits.max_push_bytes`), git's stdout straight into the response. Nothing is buffered whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from gitserver.core.access import Access
from gitserver.core.config import SETTINGS_ENV, Settings
from gitserver.core.repos import create_repo, repo_path
from gitserver.core.urls import clone_url
from gitserver.web import git_process
from gitserver.web.auth import REALM, repo_access
from gitserver.web.git_process import GitProcess
from hooks import hook_client

logger = logging.getLogger(__name__)

SERVICES = ("git-upload-pack", "git-receive-pack")
_CHUNK = 64 * 1024
# Room for the ref-update commands that precede the pack in a receive-pack request.
_COMMAND_SLACK = 1024 * 1024
_NO_CACHE = {
    "Cache-Control": "no-cache, max-age=0, must-revalidate",
    "Expires": "Fri, 01 Jan 1980 00:00:00 GMT",
    "Pragma": "no-cache",
}


class BodyTooLarge(Exception):
    """The request body passed limits.max_push_bytes."""


@dataclass
class BodyMeter:
    """What the feeder saw of the request body, for the response to speak about."""
    received: int = 0
    sideband: bool = False  # the client asked for side-band-64k: band 2 reaches its terminal


def sideband_message(text: str) -> bytes:
    """A pkt-line on band 2, which git prints as `remote: ...`."""
    return pkt_line(f"\x02{text}\n")


def write_hooks(settings: Settings) -> Path:
    """(Re)write the hook scripts git runs, pointing at this interpreter; return their folder."""
    hooks_dir = settings.data_dir / "hooks"
    hooks_dir.mkdir(parents=True, exist_ok=True)
    client = Path(hook_client.__file__).resolve()
    for name in ("pre-receive", "post-receive"):
        script = hooks_dir / name
        # -S -E: the client needs only the standard library, so it starts in ~20 ms
        text = f"#!/bin/sh\nexec '{sys.executable}' -S -E '{client}' {name}\n"
        if not script.exists() or script.read_text(encoding="utf-8") != text:
            tmp = script.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(0o700)  # run by this account only, like everything in the data dir
            tmp.replace(script)
    return hooks_dir


def pkt_line(text: str) -> bytes:
    """`text` as one pkt-line of git's wire protocol (its length first, in 4 hex digits)."""
    data = text.encode("utf-8")
    return f"{len(data) + 4:04x}".encode("ascii") + data


class PipeResponse(Response):
    """Streams an async iterator to the client while the request body is still being read.

    Starlette's StreamingResponse listens for a disconnect by calling `receive()`, which would
    take the request body away from `_feed`; git's request and response overlap, so this one
    never calls `receive()` and learns of a gone client from a failing `send()` instead.
    """

    def __init__(self, body: AsyncGenerator[bytes, None], media_type: str,
                 headers: dict[str, str]) -> None:
        super().__init__(None, media_type=media_type, headers=headers)
        # Response() set Content-Length: 0 for the empty body; this one is chunked.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.body_iterator = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            logger.info("client went away during a git response")
        finally:
            await self.body_iterator.aclose()


def refusal(access: Access, base_url: str) -> Response:
    """The plain-text refusal git clients get (git prints each line as `remote: ...`)."""
    headers = None
    text = access.reason
    if access.status == 401:  # no or wrong credentials: git asks for a password and retries
        headers = {"WWW-Authenticate": REALM}
    elif access.status == 429:
        headers = {"Retry-After": str(access.retry_after)}
    elif access.status == 403 and access.user is not None:
        # There is no fork: the way on is a repo of one's own, which the first push creates.
        name = access.repo.name if access.repo is not None else access.name
        own = clone_url(base_url, access.user.username, name)
        text += ("\nTo keep your commits, push them to a repository of your own (the first "
                 f"push creates it):\n\n    git push {own} HEAD\n")
    return PlainTextResponse(text + "\n", status_code=access.status, headers=headers)


Endpoint = Callable[[Request], Awaitable[Response]]
Service = Callable[[Request, str], Awaitable[Response]]  # (request, "git-upload-pack")
AccessService = Callable[[Request, str, Access], Awaitable[Response]]


def smart_service(endpoint: Service) -> Endpoint:
    """GET info/refs: `?service=` must name one of git's smart services (no dumb HTTP)."""
    async def checked(request: Request) -> Response:
        service = request.query_params.get("service", "")
        if service not in SERVICES:
            return PlainTextResponse(
                "This server speaks git's smart HTTP protocol only; use git 1.6.6 or newer.\n",
                status_code=403)
        return await endpoint(request, service)
    return checked


def rpc_service(service: str, endpoint: Service) -> Endpoint:
    """POST git-upload-pack or git-receive-pack: the body must have the type git gives it."""
    async def checked(request: Request) -> Response:
        # git always sends this type; a browser form cannot, so a page on another port of the
        # same host cannot make a signed-in visitor's browser push or fetch with its cookie.
        if request.headers.get("content-type", "") != f"application/x-{service}-request":
            return PlainTextResponse(f"Expected Content-Type application/x-{service}-request; "
                                     "use a git client.\n", status_code=415)
        return await endpoint(request, service)
    return checked


def git_access(endpoint: AccessService) -> Service:
    """The visitor may read the URL's repository (write it, for git-receive-pack)."""
    async def checked(request: Request, service: str) -> Response:
        # decide() queries the database: off the event loop
        access = await asyncio.to_thread(repo_access, request, service == "git-receive-pack")
        if not access.allowed:
            return refusal(access, request.app.state.settings.server.base_url)
        return await endpoint(request, service, access)
    return checked


class GitHttp:
    """The three smart-HTTP endpoints, bound to one Settings object.

    Each endpoint is a chain of small checks around a method that only speaks the protocol
    (`advertise`, `rpc`): the service and its content type, then `git_access`.
    """

    def __init__(self, settings: Settings, hook_env: dict[str, str]) -> None:
        self.settings = settings
        self.hooks_dir = write_hooks(settings)
        self.base_env = {k: v for k, v in os.environ.items()
                         if not k.startswith("GITSERVER_")}
        self.base_env[SETTINGS_ENV] = settings.to_json()
        self.base_env.update(hook_env)
        self.info_refs = smart_service(git_access(self.advertise))
        self.upload_pack = rpc_service("git-upload-pack", git_access(self.rpc))
        self.receive_pack = rpc_service("git-receive-pack", git_access(self.rpc))

    # -- the protocol ------------------------------------------------------------------------

    async def advertise(self, request: Request, service: str, access: Access) -> Response:
        """GET info/refs?service=...: the ref advertisement that starts a fetch or a push."""
        path = await self._ensure_repo(access)
        env = self._env(request, access)
        args = [service[4:], "--stateless-rpc", "--advertise-refs", str(path)]
        proc = await git_process.start(["git", *self._config_args(service), *args], env,
                                       stdin=False)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            logger.error("%s --advertise-refs failed for %s: %s", service,
                         access.full_name, err.decode(errors="replace").strip())
            return PlainTextResponse("The repository could not be read; try again later.\n",
                                     status_code=500)
        head = b""
        if "version=2" not in env.get("GIT_PROTOCOL", ""):
            head = pkt_line(f"# service={service}\n") + b"0000"
        return Response(head + out, media_type=f"application/x-{service}-advertisement",
                        headers=_NO_CACHE)

    async def rpc(self, request: Request, service: str, access: Access) -> Response:
        """Run `service` for one stateless-RPC POST: feed it the body, stream back its answer."""
        if access.repo is None:
            return PlainTextResponse("Repository not found.\n", status_code=404)
        limit = self.settings.limits.max_push_bytes + _COMMAND_SLACK
        length = request.headers.get("content-length")
        if service == "git-receive-pack" and length and int(length) > limit:
            return PlainTextResponse(
                f"This push is {int(length) / 1e6:.1f} MB; the server accepts at most "
                f"{self.settings.limits.max_push_bytes / 1e6:.1f} MB per push. Push fewer "
                "commits at a time.\n", status_code=413)
        path = repo_path(self.settings.repos_dir, access.owner, access.repo.name)
        proc = await git_process.start(
            ["git", *self._config_args(service), service[4:], "--stateless-rpc", str(path)],
            self._env(request, access), stdin=True)
        decode = request.headers.get("content-encoding", "").lower() in ("gzip", "x-gzip")
        meter = BodyMeter()
        feeder = asyncio.create_task(self._feed(request, proc, decode, limit, meter))
        errors = asyncio.create_task(_log_stderr(proc, service, access.full_name))

        def preface() -> bytes:
            # git's own refusal of an oversized pack says only "pack exceeds maximum allowed
            # size"; tell the pusher the limit and what to do, ahead of git's report.
            max_bytes = self.settings.limits.max_push_bytes
            if service != "git-receive-pack" or meter.received <= max_bytes or not meter.sideband:
                return b""
            return sideband_message(
                f"This push is over the server's limit of {max_bytes / 1e6:.1f} MB "
                "(limits.max_push_bytes). Push fewer commits at a time, oldest first "
                "(git push origin <older sha>:<branch>), or leave large files out.")

        return PipeResponse(_relay(proc, feeder, errors, preface),
                            media_type=f"application/x-{service}-result", headers=_NO_CACHE)

    # -- helpers -----------------------------------------------------------------------------

    async def _ensure_repo(self, access: Access) -> Path:
        if access.repo is None:  # push-to-create: repo_access allowed it for the owner
            # ... or for a member of the owning organization, whose account owns the repo
            owner = access.org_grant.org if access.org_grant is not None else access.user
            assert owner is not None  # decide() lets only a signed-in owner or member create
            access.repo = await asyncio.to_thread(
                create_repo, self.settings.repos_dir, owner, access.name)
            logger.info("created %s on first push by %s", access.full_name, owner.username)
        return repo_path(self.settings.repos_dir, access.owner, access.repo.name)

    def _config_args(self, service: str) -> list[str]:
        if service != "git-receive-pack":
            return ["-c", "uploadpack.allowFilter=true"]
        return ["-c", f"core.hooksPath={self.hooks_dir}",
                "-c", f"receive.maxInputSize={self.settings.limits.max_push_bytes}",
                "-c", "receive.advertisePushOptions=true"]  # hooks/push_options.py

    def _env(self, request: Request, access: Access) -> dict[str, str]:
        env = dict(self.base_env)
        protocol = request.headers.get("git-protocol", "")
        if protocol:
            env["GIT_PROTOCOL"] = protocol
        if access.user is not None:
            env["GITSERVER_PUSHER_ID"] = str(access.user.id)
        if access.repo is not None:
            env["GITSERVER_REPO_ID"] = str(access.repo.id)
        return env

    @staticmethod
    async def _feed(request: Request, proc: GitProcess, decode: bool,
                    limit: int, meter: BodyMeter) -> None:
        """Copy the request body into git's stdin, gunzipping and counting as it goes."""
        assert proc.stdin is not None
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if decode else None
        try:
            async for raw in request.stream():
                # max_length bounds what one small compressed chunk may expand to
                chunk = raw if inflater is None else inflater.decompress(
                    raw, limit + 1 - meter.received)
                if meter.received == 0:  # the first command line carries the capabilities
                    meter.sideband = b"side-band-64k" in chunk[:4096]
                meter.received += len(chunk)
                if meter.received > limit:
                    raise BodyTooLarge(meter.received)
                proc.stdin.write(chunk)
                await proc.stdin.drain()
        except BodyTooLarge:
            logger.warning("request body over %d bytes; stopped reading it", limit)
        except (BrokenPipeError, ConnectionResetError):
            pass  # git stopped reading (it failed and says why on stderr)
        finally:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.close()


async def _relay(proc: GitProcess, feeder: asyncio.Task[None],
                 errors: asyncio.Task[None],
                 preface: Callable[[], bytes]) -> AsyncGenerator[bytes, None]:
    """Yield git's stdout; if the client goes away, let git finish on its own."""
    assert proc.stdout is not None
    done = False
    first = True
    try:
        while True:
            chunk = await proc.stdout.read(_CHUNK)
            if not chunk:
                break
            if first:
                # git answers only after reading the request: the meter is complete by now
                chunk, first = preface() + chunk, False
            yield chunk
        await feeder
        await proc.wait()
        await errors
        done = True
    finally:
        if not done:
            # The client disconnected. A push that already arrived must still update its refs,
            # record its commits and queue its checks, so drain git's output in the background.
            asyncio.get_running_loop().create_task(_drain(proc, feeder, errors))


async def _drain(proc: GitProcess, feeder: asyncio.Task[None],
                 errors: asyncio.Task[None]) -> None:
    assert proc.stdout is not None
    while await proc.stdout.read(_CHUNK):
        pass
    await asyncio.gather(feeder, errors, return_exceptions=True)
    await proc.wait()


async def _log_stderr(proc: GitProcess, service: str, repo: str) -> None:
    assert proc.stderr is not None
    async for line in proc.stderr:
        text = line.decode("utf-8", errors="replace").rstrip()
        if text:
            logger.info("%s %s: %s", service, repo, text)
