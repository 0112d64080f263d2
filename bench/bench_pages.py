"""Latency and throughput of the status page and the status API for a big commit.

One `gitserver serve` (SQLite, embedded workers idle once the checks are done) holds a commit of
50 files with 10 pylint messages each (500 messages). On loopback, signed in with Basic auth:
(a) fixed load: an open-loop client sends 100 requests/s (each at its scheduled time, however
    slow the previous answers were, so queueing shows in the figures) for --seconds to each of
    the status page `/{o}/{r}/commit/{sha}`, the combined status `/api/v1/.../commits/{sha}/status`
    and the checks `/api/v1/.../commits/{sha}/checks`; latency is counted from the scheduled
    send time to the last byte; target p99 <= 50 ms;
(b) capacity: a closed loop with --concurrency clients as fast as the server answers, requests/s.

Run from the repository root: .venv/bin/python -m bench.bench_pages [--rate 100 --seconds 10]
Exit status 0 whatever the verdicts; 1 (and one line on stderr) if something broke.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import PASSWORD, USER, BenchError, Server, WorkRepo, loadavg, passed

FILES = 50
MESSAGES_PER_FILE = 10
TARGET_P99_MS = 50.0
UNUSED = ["os", "sys", "re", "json", "math", "time", "random", "string", "shutil"]


def noisy_module(number: int) -> bytes:
    """No docstring and nine unused imports: exactly 10 messages, and a unique blob."""
    imports = "".join(f"import {name}\n" for name in UNUSED)
    return f"{imports}\nVALUE_{number} = {number}\n".encode()


@dataclass
class Result:
    """The latencies of one run against one URL."""
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    cpu_ms: float = 0.0  # server CPU per request

    def percentile(self, share: float) -> float:
        """The latency at this share (0.99: p99) of the run."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    def line(self) -> str:
        """One line of the report."""
        rate = len(self.latencies_ms) / self.seconds if self.seconds else 0.0
        return (f"{self.name:<14} {rate:7.1f} req/s  p50 {self.percentile(0.5):6.1f} ms  "
                f"p90 {self.percentile(0.9):6.1f} ms  p99 {self.percentile(0.99):6.1f} ms  "
                f"max {max(self.latencies_ms, default=0):6.1f} ms  errors {self.errors}"
                + (f"  server CPU {self.cpu_ms:4.1f} ms/req" if self.cpu_ms else ""))


class Connections:
    """Keep-alive HTTP/1.1 connections with a ready-made request: a client this small leaves the
    loopback's CPUs to the server (httpx spends about a millisecond per request)."""

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Authorization: Basic {token}\r\n"
                        "Accept: text/html,application/json\r\n\r\n").encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self) -> int:
        """One request; its status code."""
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines
                      if line.lower().startswith("content-length:"))
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return int(lines[0].split()[1])

    def close(self) -> None:
        """Close the idle connections."""
        for _, writer in self.idle:
            writer.close()


async def _one(http: Connections, scheduled: float, result: Result) -> None:
    try:
        ok = await http.get() == 200
    except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
        ok = False
    if ok:
        result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
    else:
        result.errors += 1


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fixed_load(server: Server, name: str, path: str, rate: float,
                     seconds: float) -> Result:
    """Open loop: request i leaves at start + i/rate whatever happened to the earlier ones."""
    result = Result(name)
    http = Connections(server.port, path)
    for _ in range(20):  # warm the connection, the auth cache and the page caches
        await http.get()
    assert server.process is not None
    cpu_before = cpu_seconds(server.process.pid)
    start = time.perf_counter() + 0.05
    tasks = []
    for number in range(int(rate * seconds)):
        scheduled = start + number / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(http, scheduled, result)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start
    result.cpu_ms = (cpu_seconds(server.process.pid) - cpu_before) * 1000 / max(
        1, len(result.latencies_ms) + result.errors)
    http.close()
    return result


async def capacity(server: Server, name: str, path: str, concurrency: int,
                   seconds: float) -> Result:
    """Closed loop: `concurrency` clients, each sending its next request on an answer."""
    result = Result(name)
    http = Connections(server.port, path)
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            await _one(http, time.perf_counter(), result)

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    http.close()
    return result


def prepare(server: Server, tmp: Path) -> tuple[str, int]:
    """Push the 50-file commit, wait for its checks; (sha, messages found)."""
    work = WorkRepo(tmp / "work", server, "big")
    for number in range(FILES):
        work.write(f"pkg{number % 5}/module_{number}.py", noisy_module(number))
    sha = work.commit("50 files, 500 messages")
    work.push()
    body = server.wait_final("big", sha)
    return sha, sum(len(f["messages"]) for f in body["files"])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s of the fixed load")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--concurrency", type=int, default=8, help="clients of the capacity run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        try:
            with Server(Path(tmp) / "server", {"GITSERVER_CHECKER_PUSH_WAIT_S": "0"}) as server:
                sha, messages = prepare(server, Path(tmp))
                paths = {"status page": f"/{USER}/big/commit/{sha}",
                         "status API": f"/api/v1/repos/{USER}/big/commits/{sha}/status",
                         "checks API": f"/api/v1/repos/{USER}/big/commits/{sha}/checks"}
                fixed = [asyncio.run(fixed_load(server, name, path, args.rate, args.seconds))
                         for name, path in paths.items()]
                most = [asyncio.run(capacity(server, name, path, args.concurrency,
                                             min(args.seconds, 5.0)))
                        for name, path in paths.items()]
        except BenchError as exc:
            print(f"bench_pages: {exc}", file=sys.stderr)
            return 1
    print(f"gitserver serve, SQLite; commit of {FILES} files with {messages} messages; "
          f"load average at the end {loadavg()}")
    print(f"(a) fixed load, {args.rate:.0f} requests/s for {args.seconds:.0f} s each, "
          "latency from the scheduled send:")
    for result in fixed:
        verdict = passed(result.percentile(0.99) <= TARGET_P99_MS and not result.errors)
        print(f"  {result.line()}  {verdict} (p99 <= {TARGET_P99_MS:.0f} ms)")
    print(f"(b) capacity, {args.concurrency} clients in a closed loop:")
    for result in most:
        print(f"  {result.line()}")
    medians = [statistics.median(r.latencies_ms) for r in most if r.latencies_ms]
    if medians:
        print(f"  (median service time under that load: {min(medians):.1f}-{max(medians):.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
