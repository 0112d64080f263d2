"""Check latency, throughput and worker memory of `gitserver serve` with the embedded defaults.

One server (SQLite, 2 embedded worker threads, checker.push_wait_s=0 so pushes return at once):
(a) idle latency: from `git push` returning to a final /checks state for one small file,
    against one cold `pylint --rcfile checker/pylintrc file.py` (median of --runs each; one
    untimed push first, since the first check after start also starts the lint process);
(b) throughput: the first push of pylint's own sources (package layout kept), files/s from
    the push starting to no file pending, per worker (the server's WORKERS lint processes may
    share a push), against one bare `pylint -j1` over the same tree in the same layout; CPU
    seconds of both are shown too, as the machine may be shared;
(c) incremental: a push changing one corpus file of median size, push start to final;
(d) memory: RSS of the server and its lint children after 10 checks and after >= 1,000
    (rounds of the corpus with a unique comment per file, so no result is reused; its top
    folder renamed, see measure_memory).

Run from the repository root: .venv/bin/python -m bench.bench_checks [--runs 5]
Exit status 0 whatever the verdicts; 1 (and one line on stderr) if something broke.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import (
    MB,
    BenchError,
    Server,
    WorkRepo,
    bare_pylint_seconds,
    copy_tree,
    corpus,
    cpu_seconds,
    exit_on_sigterm,
    loadavg,
    median,
    passed,
    process_pss,
    service_cpu,
    service_pss,
    service_rss,
    small_module,
)

LATENCY_RATIO_TARGET = 1.0
THROUGHPUT_RATIO_TARGET = 0.9
INCREMENTAL_TARGET_S = 2.0
MEMORY_TARGET_MB = 50.0
EARLY_CHECKS = 10
WORKERS = 2  # queue.workers, set explicitly: (b) is judged per worker
# (b) and (d) poll the /checks of a big commit: every 10 ms, answering would take a good part of
# a CPU from the lint processes; a quarter second is ~1% of (b)'s time.
BIG_POLL_S = 0.25
IDLE_S = 1.0  # before each timed push, so it finds the workers idle
CORPUS_PACKAGE = "pylint"
MEMORY_TOP = "bench_pylint"  # (d)'s rounds: the corpus under a name that hides nothing


@dataclass
class Latency:
    """(a): seconds from the push returning to final, lint ms, cold pylint seconds."""

    first: float = 0.0  # the untimed first push: it also starts the lint process
    seconds: list[float] = field(default_factory=list)
    lint_ms: list[int] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)


@dataclass
class Throughput:
    """(b): the first push of the corpus against bare pylint, wall and CPU seconds."""

    files: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    bare: float = 0.0
    bare_cpu: float = 0.0


@dataclass
class Incremental:
    """(c): pushes changing one file of the corpus."""

    path: str = ""
    seconds: list[float] = field(default_factory=list)
    lint_ms: list[int] = field(default_factory=list)


@dataclass
class Memory:
    """(d): RSS (bytes) and lint children of the server after `checks` checks."""

    checks: list[int] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)  # summed PSS: the target's measure
    server_rss: list[int] = field(default_factory=list)  # the serve process alone (PSS)
    # Summed VmRSS, as measured before the lint processes forked: counts the pages a fork
    # server shares with a live tree process twice.
    vm_rss: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)

    def sample(self, server: Server, checks: int) -> None:
        """Record the server's memory now, after `checks` checks."""
        assert server.process is not None
        self.checks.append(checks)
        self.rss.append(service_pss(server))
        self.vm_rss.append(service_rss(server))
        self.server_rss.append(process_pss(server.process.pid))
        self.children.append(len(server.service_pids()) - 1)

    def curve(self) -> str:
        """Each sample as checks: total MB (server + lint processes)."""
        return ", ".join(f"{checks}: {rss / MB:.0f} ({own / MB:.0f} + {rss / MB - own / MB:.0f}"
                         f" in {children})" for checks, rss, own, children in zip(
                             self.checks, self.rss, self.server_rss, self.children, strict=True))


# --- (a) idle latency ------------------------------------------------------------------

def latency_once(work: WorkRepo, number: int) -> tuple[float, int]:
    """Push a fresh small file; seconds from the push returning to final, and the lint ms."""
    work.write("small.py", small_module(f"latency {number} {time.time_ns()}"))
    sha = work.commit(f"latency {number}")
    time.sleep(IDLE_S)
    work.push()
    returned = time.perf_counter()
    body = work.server.wait_final(work.name, sha, timeout_s=60)
    return time.perf_counter() - returned, int(body["files"][0]["duration_ms"])


def cold_pylint_once(scratch: Path, number: int) -> float:
    """One cold pylint process on a small file like the one pushed."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "small.py").write_bytes(small_module(f"cold {number}"))
    return bare_pylint_seconds(scratch, ["small.py"])[0]


def measure_latency(server: Server, tmp: Path, runs: int, memory: Memory) -> Latency:
    """A first push, then interleaved: a push to an idle server, a cold pylint; `runs` times.
    Tops up to EARLY_CHECKS checks and samples the memory."""
    latency = Latency()
    work = WorkRepo(tmp / "work-small", server, "small")
    latency.first = latency_once(work, -1)[0]
    for number in range(runs):
        seconds, lint_ms = latency_once(work, number)
        latency.seconds.append(seconds)
        latency.lint_ms.append(lint_ms)
        latency.cold.append(cold_pylint_once(tmp / "cold", number))
    for number in range(runs + 1, EARLY_CHECKS):
        latency_once(work, number)
    memory.sample(server, max(EARLY_CHECKS, runs + 1))
    return latency


# --- (b) throughput, (c) incremental -----------------------------------------------------

def all_cpu(server: Server) -> float:
    """CPU seconds of the server and its live lint processes, plus those of the processes it
    waited for (git, and lint processes recycled when their tree ended, which would otherwise
    take their CPU time with them)."""
    assert server.process is not None
    return service_cpu(server) + cpu_seconds(server.process.pid, waited=True)


def measure_throughput(server: Server, tmp: Path, limit: int | None) -> tuple[Throughput, WorkRepo]:
    """The first push of the corpus, then one bare pylint over the same tree."""
    files = corpus(CORPUS_PACKAGE, limit)
    work = WorkRepo(tmp / "work-corpus", server, "corpus")
    copy_tree(files, work.path)
    sha = work.commit("the corpus")
    cpu_before = all_cpu(server)
    start = time.perf_counter()
    work.push()
    server.wait_final(work.name, sha, poll_s=BIG_POLL_S)
    seconds = time.perf_counter() - start
    cpu = all_cpu(server) - cpu_before
    bare_src = tmp / "bare" / "src"
    copy_tree(files, bare_src)
    targets = [CORPUS_PACKAGE] if limit is None else [f.as_posix() for f in files]
    bare, bare_cpu = bare_pylint_seconds(bare_src, targets)
    return Throughput(len(files), seconds, cpu, bare, bare_cpu), work


def median_sized(work: WorkRepo) -> str:
    """The corpus file of median size, relative to the work tree."""
    paths = sorted(work.path.rglob("*.py"), key=lambda p: (p.stat().st_size, str(p)))
    return paths[len(paths) // 2].relative_to(work.path).as_posix()


def measure_incremental(work: WorkRepo, runs: int) -> Incremental:
    """Append a line to one file, push, wait for final; `runs` times."""
    path = median_sized(work)
    incremental = Incremental(f"{path} ({(work.path / path).stat().st_size} bytes)")
    for number in range(runs):
        with (work.path / path).open("ab") as handle:
            handle.write(f"# incremental {number} {time.time_ns()}\n".encode())
        sha = work.commit(f"incremental {number}")
        time.sleep(IDLE_S)
        start = time.perf_counter()
        work.push()
        body = work.server.wait_final(work.name, sha, timeout_s=60)
        incremental.seconds.append(time.perf_counter() - start)
        changed = [f for f in body["files"] if f["path"] == path]
        incremental.lint_ms.append(int(changed[0]["duration_ms"]))
    return incremental


# --- (d) memory ------------------------------------------------------------------------

def fresh_checks(server: Server, repo: str, sha: str) -> int:
    """How many checks of the commit ran (not reused); waits for it to be final."""
    body = server.wait_final(repo, sha, poll_s=BIG_POLL_S)
    return sum(1 for f in body["files"] if not f.get("reused"))


# pylint: disable-next=too-many-arguments  # one part's settings
def measure_memory(server: Server, tmp: Path, done: int, target: int, memory: Memory, *,
                   limit: int | None = None) -> None:
    """Push the corpus in two halves to two repos (both workers busy), each file with a new
    comment per round, until `target` checks ran in all; then sample the memory.

    The top folder is renamed (MEMORY_TOP), so the tree no longer hides the installed pylint
    and its absolute imports go to the installed one, as a project using pylint as a library
    would: rounds of the tree as pushed in (b) cost ten times the CPU (see the report).
    """
    files = corpus(CORPUS_PACKAGE, limit)
    # Every package's __init__.py in both halves, so each half keeps the package layout
    # (a folder without one would make its modules top-level names, hiding stdlib ones).
    inits = [f for f in files if f.name == "__init__.py"]
    halves = [WorkRepo(tmp / f"work-memory-{n}", server, f"memory-{n}") for n in (0, 1)]
    round_number = 0
    while done < target:
        round_number += 1
        shas = []
        for number, work in enumerate(halves):
            half = sorted(set(files[number::2]) | set(inits))
            copy_tree(half, work.path, tag=f"round {round_number} {time.time_ns()}",
                      top=MEMORY_TOP)
            shas.append(work.commit(f"memory round {round_number}"))
            work.push()
        done += sum(fresh_checks(server, w.name, sha) for w, sha in zip(halves, shas, strict=True))
        memory.sample(server, done)


# --- report ----------------------------------------------------------------------------

def report_latency(latency: Latency) -> list[str]:
    """(a)'s lines."""
    ours, cold = median(latency.seconds), median(latency.cold)
    ratio = ours / cold
    return [
        f"(a) idle latency, push returned -> final, 1 small file, median of "
        f"{len(latency.seconds)}: {ours * 1000:.0f} ms (lint itself {median(latency.lint_ms):.0f}"
        f" ms); cold pylint {cold * 1000:.0f} ms",
        f"    ratio {ratio:.2f}  target <= {LATENCY_RATIO_TARGET}  "
        f"{passed(ratio <= LATENCY_RATIO_TARGET)}",
        "    runs (ms): " + " ".join(f"{s * 1000:.0f}" for s in latency.seconds)
        + " | cold: " + " ".join(f"{s * 1000:.0f}" for s in latency.cold),
        f"    first check after the server started (not counted): {latency.first * 1000:.0f} ms",
    ]


def report_throughput(result: Throughput) -> list[str]:
    """(b)'s lines: judged per worker, since one bare pylint is one process."""
    ours, bare = result.files / result.seconds, result.files / result.bare
    per_worker = ours / WORKERS
    ratio = per_worker / bare
    return [
        f"(b) first push of {result.files} files of {CORPUS_PACKAGE}: {result.seconds:.1f} s = "
        f"{ours:.2f} files/s on {WORKERS} workers = {per_worker:.2f} per worker; bare pylint -j1 "
        f"{result.bare:.1f} s = {bare:.2f} files/s",
        f"    ratio per worker {ratio:.2f}  target >= {THROUGHPUT_RATIO_TARGET}  "
        f"{passed(ratio >= THROUGHPUT_RATIO_TARGET)}  (whole server {ours / bare:.2f})",
        f"    CPU: server + lint processes {result.cpu:.1f} s, bare pylint {result.bare_cpu:.1f} s"
        f" (CPU per file, ours / bare: {result.cpu / result.bare_cpu:.2f})",
    ]


def report_incremental(incremental: Incremental) -> list[str]:
    """(c)'s line."""
    ours = median(incremental.seconds)
    return [
        f"(c) push changing {incremental.path}, push start -> final, median of "
        f"{len(incremental.seconds)}: {ours:.2f} s (lint itself "
        f"{median(incremental.lint_ms):.0f} ms)  target < {INCREMENTAL_TARGET_S} s  "
        f"{passed(ours < INCREMENTAL_TARGET_S)}",
    ]


def report_memory(memory: Memory) -> list[str]:
    """(d)'s lines; a note when it was not measured."""
    if len(memory.rss) < 2:
        return ["(d) memory after 1,000 checks: not measured (--memory-checks 0)"]
    growth = (memory.rss[-1] - memory.rss[0]) / MB
    return [
        f"(d) PSS of server + lint processes: {memory.rss[0] / MB:.0f} MB after "
        f"{memory.checks[0]} checks ({memory.children[0]} lint processes), "
        f"{memory.rss[-1] / MB:.0f} MB after {memory.checks[-1]} "
        f"({memory.children[-1]} lint processes; rounds of {CORPUS_PACKAGE}'s files as "
        f"{MEMORY_TOP}/)",
        f"    growth {growth:+.0f} MB  target <= {MEMORY_TARGET_MB:.0f} MB  "
        f"{passed(growth <= MEMORY_TARGET_MB)}",
        f"    after N checks: MB (server + lint processes in n): {memory.curve()}",
        f"    summed VmRSS (shared pages counted in each process): "
        f"{memory.vm_rss[0] / MB:.0f} -> {memory.vm_rss[-1] / MB:.0f} MB",
    ]


# --- main ------------------------------------------------------------------------------

def say(lines: list[str]) -> None:
    """Print a part's lines at once: the whole run takes minutes."""
    print("\n".join(lines), flush=True)


def run_bench(args: argparse.Namespace, tmp: Path) -> None:
    """Measure and print (a) to (d) on one server."""
    memory = Memory()
    with Server(tmp / "server", {"GITSERVER_CHECKER_PUSH_WAIT_S": "0",
                                 "GITSERVER_QUEUE_WORKERS": str(WORKERS)}) as server:
        say(report_latency(measure_latency(server, tmp, args.runs, memory)))
        done = memory.checks[0]
        if not args.skip_corpus:
            throughput, work = measure_throughput(server, tmp, args.corpus_files)
            say(report_throughput(throughput))
            incremental = measure_incremental(work, max(3, args.runs // 2))
            say(report_incremental(incremental))
            done += throughput.files + len(incremental.seconds)
        if args.memory_checks:
            measure_memory(server, tmp, done, args.memory_checks, memory,
                           limit=args.corpus_files)
    say(report_memory(memory))


def main(argv: list[str] | None = None) -> int:
    """Run the bench in a temporary directory; 1 (and one line) if it broke."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="latency runs (median)")
    parser.add_argument("--memory-checks", type=int, default=1000,
                        help="checks to run before the late memory sample (0: skip (d))")
    parser.add_argument("--skip-corpus", action="store_true", help="leave out (b) and (c)")
    parser.add_argument("--corpus-files", type=int, default=None,
                        help="(b), (c) and (d) on the first N files only (a dry run)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    say([f"gitserver serve, embedded defaults: SQLite, {WORKERS} worker threads, push_wait_s=0; "
         f"load average at the start {loadavg()}"])
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as tmp:
        try:
            run_bench(args, Path(tmp))
        except BenchError as exc:
            print(f"bench_checks: {exc}", file=sys.stderr)
            return 1
    say([f"load average at the end {loadavg()}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
