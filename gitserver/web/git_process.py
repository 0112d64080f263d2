"""git's child processes for the event loop: started with vfork, talked to over socket pairs.

uvicorn runs on uvloop when it is installed, and uvloop starts a child with fork(): the kernel
copies the page tables of the whole server (tens of MB resident) while the event loop waits,
which measured 3.5 ms of CPU and up to 19 ms of wall time per child on a busy 2-CPU machine,
three times per push (the ref advertisement, the probe and the pack). `subprocess.Popen`
starts it with vfork (0.2 ms of CPU).

The child's stdin, stdout and stderr are Unix socket pairs, not pipes: the loop's transports
own a socket outright (uvloop detaches it when it closes the descriptor), while a pipe's file
object would close its descriptor a second time after uvloop did, by then perhaps another
thread's database file.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import Mapping, Sequence


class GitProcess:
    """A started child: `stdin` (a StreamWriter, or None), `stdout` and `stderr` (readers)."""

    def __init__(self, popen: subprocess.Popen[bytes],
                 streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
                 stdin: asyncio.StreamWriter | None) -> None:
        self._popen = popen
        self._streams = streams
        self.stdout, self.stderr = streams[0][0], streams[1][0]
        self.stdin = stdin

    @property
    def returncode(self) -> int | None:
        """The exit code once `wait()` has seen it, else None."""
        return self._popen.returncode

    async def wait(self) -> int:
        """Wait for the child to exit, then close its sockets. The loop does not watch this
        child, so this polls (waitpid without blocking), which is all it takes: it is called
        once git has closed its output, that is when it exits."""
        pause = 0.0005
        while (code := self._popen.poll()) is None:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        for _, writer in self._streams:
            writer.close()
        return code

    async def communicate(self) -> tuple[bytes, bytes]:
        """All of stdout and stderr, once the child has exited."""
        out, err = await asyncio.gather(self.stdout.read(), self.stderr.read())
        await self.wait()
        return out, err


async def start(args: Sequence[str], env: Mapping[str, str], stdin: bool) -> GitProcess:
    """Start `args` with its stdout and stderr to read, and its stdin to write when `stdin`
    (else /dev/null)."""
    pairs = [socket.socketpair() for _ in range(3 if stdin else 2)]
    try:
        # Not a `with`: the sockets are the child's stdio; wait() reaps it.
        popen = subprocess.Popen(  # pylint: disable=consider-using-with
            list(args), stdin=pairs[2][1].fileno() if stdin else subprocess.DEVNULL,
            stdout=pairs[0][1].fileno(), stderr=pairs[1][1].fileno(), env=dict(env))
    except BaseException:
        for ours, _ in pairs:
            ours.close()
        raise
    finally:
        for _, theirs in pairs:  # the child has its copies
            theirs.close()
    streams = []
    for ours, _ in pairs:
        try:
            streams.append(await asyncio.open_unix_connection(sock=ours))
        except BaseException:
            ours.close()
            with contextlib.suppress(OSError):
                popen.kill()
            raise
    return GitProcess(popen, streams, streams[2][1] if stdin else None)
