"""The web edge's git children: started with vfork, their stdio socket pairs owned by the loop.

Run on both event loops the server may use (uvloop when installed, asyncio's own): each byte
goes in and comes out, the exit code is seen, and no descriptor is left open or closed twice
(a pipe's file object closing a descriptor uvloop had closed already once broke SQLite files).
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from gitserver.web import git_process

try:
    import uvloop
except ImportError:  # pragma: no cover  # the server runs on asyncio's loop then
    uvloop = None

RUNNERS: list[tuple[str, Callable[[Coroutine[Any, Any, Any]], Any]]] = [("asyncio", asyncio.run)]
if uvloop is not None:
    RUNNERS.append(("uvloop", uvloop.run))


@pytest.mark.parametrize(("name", "run"), RUNNERS, ids=[name for name, _ in RUNNERS])
def test_git_process_streams_stdin_and_stdout_and_leaves_no_descriptor(
        name: str, run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    data = b"".join(b"line %d of a blob big enough to fill a socket buffer\n" % i
                    for i in range(40_000))  # ~2 MB: writer and reader must overlap
    expected = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    async def hash_it() -> tuple[bytes, int | None]:
        proc = await git_process.start(["git", "hash-object", "--stdin"], dict(os.environ),
                                       stdin=True)
        assert proc.stdin is not None
        proc.stdin.write(data)
        await proc.stdin.drain()
        proc.stdin.close()
        out = await proc.stdout.read()
        return out, await proc.wait()

    async def three_times() -> None:
        # The first round lets the loop open what it keeps (uvloop: a /dev/null, a pipe pair)
        assert await hash_it() == (expected.encode() + b"\n", 0), name
        before = set(os.listdir("/proc/self/fd"))
        for _ in range(2):
            assert await hash_it() == (expected.encode() + b"\n", 0), name
            for _ in range(3):  # the loop closes a transport's socket on its next turns
                await asyncio.sleep(0)
            # closed by wait() while the loop runs on, as in the server: not left to the GC
            assert set(os.listdir("/proc/self/fd")) <= before, name

    run(asyncio.wait_for(three_times(), timeout=60))


@pytest.mark.parametrize(("name", "run"), RUNNERS, ids=[name for name, _ in RUNNERS])
def test_git_process_communicate_gives_stderr_and_the_exit_code(
        name: str, run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    async def fail() -> tuple[bytes, bytes, int | None]:
        proc = await git_process.start(["git", "cat-file", "-t", "0" * 40], dict(os.environ),
                                       stdin=False)
        out, err = await proc.communicate()
        return out, err, proc.returncode

    out, err, code = run(fail())
    assert out == b"" and code not in (0, None), name
    assert err.startswith(b"fatal: "), (name, err)
