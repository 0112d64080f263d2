"""Runs the receive hooks inside the server, for git's hook processes (`hooks/hook_client.py`).

A Unix socket in a private 0700 folder plus a per-process token (compared in constant time):
only git processes started by this server can call it. Hooks run on their own thread pool, so a
push waiting for its verdict never takes a thread that the web pages need.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from checker.runner import installed_distributions
from checker.tasks import Tasks
from gitserver.core.config import Settings
from gitserver.core.memory import release_free_memory

from . import post_receive, pre_receive
from .updates import HookCall, RefUpdate

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16 * 1024 * 1024  # ref updates; a push of 100k refs stays far below
MAX_HEADER_BYTES = 64 * 1024
_FAILED = {
    "pre-receive": b"The server failed while checking this push; nothing was changed. "
                   b"Push again in a moment.\n\0exit=1",
    # git has moved the refs already: say so, and exit 0 so git does not report a failure
    "post-receive": b"Your push was accepted, but the server failed to record it just now; "
                    b"it will be recorded and checked within a minute.\n\0exit=0",
}


_TOO_MANY = (b"This push updates more refs than the server checks at once (over %d MiB of "
             b"ref updates); nothing was changed. Push fewer branches or tags at a time.\n"
             b"\0exit=1" % (MAX_REQUEST_BYTES // (1024 * 1024)))


async def _read_body(reader: asyncio.StreamReader, header: dict) -> bytes | None:
    """git's whole stdin as the client counted it; None when it is over the cap.

    Read to the announced length, never "what has arrived": every ref update must be checked,
    or a push of many refs slips the last ones past the policy. A short read raises
    IncompleteReadError, which fails the hook (closed: nothing is changed).
    """
    length = header.get("length")
    if not isinstance(length, int) or length < 0:
        raise ValueError("hook call without a valid body length")
    if length > MAX_REQUEST_BYTES:
        # Drained, not kept, so the client (our own git child: the token matched) can finish
        # sending and read the refusal.
        while await reader.read(1024 * 1024):
            pass
        return None
    return await reader.readexactly(length)


class HookService:
    """Serves the hook clients of this server's git processes on a private Unix socket."""
    def __init__(self, settings: Settings, tasks: Tasks) -> None:
        self.settings = settings
        self.tasks = tasks
        self.token = secrets.token_hex(32)
        self.folder = Path(tempfile.mkdtemp(prefix="gitserver-hooks-"))
        self.socket_path = self.folder / "hooks.sock"
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="hook")
        self._server: asyncio.AbstractServer | None = None

    def env(self) -> dict[str, str]:
        """What git's hook processes need in their environment to reach this service."""
        return {"GITSERVER_HOOK_SOCKET": str(self.socket_path),
                "GITSERVER_HOOK_TOKEN": self.token}

    async def start(self) -> None:
        """Listen on the socket, which only this user may open."""
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.socket_path),
                                                       limit=MAX_HEADER_BYTES)
        self.socket_path.chmod(0o600)
        # The installation's part of every result key takes a scan of site-packages: done
        # now, not by the first push that waits for its verdict.
        self._pool.submit(installed_distributions)

    async def stop(self) -> None:
        """Close the socket, let the running hooks finish, remove the folder."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._pool.shutdown(wait=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header: dict = {}
        loop = asyncio.get_running_loop()
        ran = False
        try:
            header = json.loads(await reader.readuntil(b"\n"))
            if not hmac.compare_digest(str(header.get("token", "")), self.token):
                writer.write(b"hook call refused\n\0exit=1")
                return
            body = await _read_body(reader, header)
            if body is None:
                writer.write(_TOO_MANY)
                return
            lines: list[str] = []
            ran = True
            code = await loop.run_in_executor(
                self._pool, self._run, header["hook"], header["env"], body.decode(), lines)
            writer.write("".join(line + "\n" for line in lines).encode() + b"\0exit=%d" % code)
        except Exception:  # pylint: disable=broad-exception-caught
            logger.exception("receive hook failed")
            writer.write(_FAILED.get(str(header.get("hook")), _FAILED["pre-receive"]))
        finally:
            await writer.drain()
            writer.close()
            if ran:  # what a big push needed for a moment, not kept for good; git has its
                # answer already, so this is not part of the push's time
                await loop.run_in_executor(self._pool, release_free_memory)

    def _run(self, hook: str, env: dict[str, str], stdin: str, lines: list[str]) -> int:
        updates = [RefUpdate(*parts) for parts in (ln.split() for ln in stdin.splitlines())
                   if len(parts) == 3]
        call = HookCall(env=env, updates=updates, out=lines.append, defer=self._defer)
        if hook == "pre-receive":
            return pre_receive.run(self.settings, call)
        if hook == "post-receive":
            return post_receive.run(self.settings, call, self.tasks)
        raise ValueError(f"unknown hook {hook!r}")

    def _defer(self, work: Callable[[], object]) -> None:
        def guarded() -> None:
            try:
                work()
            except Exception:  # pylint: disable=broad-exception-caught
                # The requeuer finishes an unrecorded push later; nothing is lost.
                logger.exception("recording a push after its reply failed")
            finally:
                release_free_memory()
        self._pool.submit(guarded)
