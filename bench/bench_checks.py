"""Check latency, throughput and worker memory of `gitserver serve` with the embedded defaults.

One server (SQLite, 2 embedded worker threads, checker.push_wait_s=0 so pushes return at once):
(a) idle latency: from `git push` returning to a final /checks state for one small file,
    against one cold `pylint --rcfile checker/pylintrc file.py` (median of --runs each);
(b) throughput: the first push of pylint's own sources (package layout kept), files/s from
    the push starting to the last final state, against one bare `pylint -j1` over the same
    tree in the same layout;
(c) incremental: a push changing one corpus file of median size, push start to final;
(d) memory: RSS of the server and its lint children after 10 checks and after >= 1,000
    (rounds of the corpus with a unique comment per file, so no result is reused).

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
    loadavg,
    median,
    passed,
    service_rss,
    small_module,
)

LATENCY_RATIO_TARGET = 1.0
THROUGHPUT_RATIO_TARGET = 0.9
INCREMENTAL_TARGET_S = 2.0
MEMORY_TARGET_MB = 50.0
MEMORY_CHECKS = 1000
EARLY_CHECKS = 10
IDLE_S = 1.0  # between latency runs, so each push finds the workers idle
CORPUS_PACKAGE = "pylint"


@dataclass
class Figures:
    """Everything measured; seconds unless named otherwise."""

    latency: list[float] = field(default_factory=list)
    lint_ms: list[int] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    corpus_files: int = 0
    first_push: float = 0.0
    bare: float = 0.0
    incremental: list[float] = field(default_factory=list)
    incremental_lint_ms: list[int] = field(default_factory=list)
    incremental_path: str = ""
    rss_early: int = 0
    rss_late: int = 0
    checks_late: int = 0


# --- (a) idle latency ------------------------------------------------------------------

def latency_once(work: WorkRepo, number: int) -> tuple[float, int]:
    """Push a fresh small file; seconds from the push returning to final, and the lint ms."""
    work.write("small.py", small_module(f"latency {number} {time.time_ns()}"))
    sha = work.commit(f"latency {number}")
    work.push()
    returned = time.perf_counter()
    body = work.server.wait_final(work.name, sha, timeout_s=60)
    return time.perf_counter() - returned, int(body["files"][0]["duration_ms"])


def cold_pylint_once(scratch: Path, number: int) -> float:
    """One cold pylint process on a small file like the one pushed."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "small.py").write_bytes(small_module(f"cold {number}"))
    return bare_pylint_seconds(scratch, ["small.py"])


def measure_latency(server: Server, tmp: Path, runs: int, figures: Figures) -> None:
    """Interleaved: a push to an idle server, then a cold pylint, `runs` times."""
    work = WorkRepo(tmp / "work-small", server, "small")
    for number in range(runs):
        time.sleep(IDLE_S)
        seconds, lint_ms = latency_once(work, number)
        figures.latency.append(seconds)
        figures.lint_ms.append(lint_ms)
        figures.cold.append(cold_pylint_once(tmp / "cold", number))
    # Top up to EARLY_CHECKS checks in all, for the early memory figure.
    for number in range(runs, EARLY_CHECKS):
        latency_once(work, number)
    time.sleep(IDLE_S)
    figures.rss_early = service_rss(server)


# --- (b) throughput, (c) incremental -----------------------------------------------------

def measure_throughput(server: Server, tmp: Path, figures: Figures) -> WorkRepo:
    """The first push of the corpus, then one bare pylint over the same tree."""
    files = corpus(CORPUS_PACKAGE)
    figures.corpus_files = len(files)
    work = WorkRepo(tmp / "work-corpus", server, "corpus")
    copy_tree(files, work.path)
    sha = work.commit("the corpus")
    start = time.perf_counter()
    work.push()
    server.wait_final(work.name, sha)
    figures.first_push = time.perf_counter() - start
    bare_src = tmp / "bare" / "src"
    copy_tree(files, bare_src)
    figures.bare = bare_pylint_seconds(bare_src, [CORPUS_PACKAGE])
    return work


def median_sized(work: WorkRepo) -> str:
    """The corpus file of median size, relative to the work tree."""
    paths = sorted(work.path.rglob("*.py"), key=lambda p: (p.stat().st_size, str(p)))
    return paths[len(paths) // 2].relative_to(work.path).as_posix()


def measure_incremental(work: WorkRepo, runs: int, figures: Figures) -> None:
    """Append a line to one file, push, wait for final; `runs` times."""
    path = median_sized(work)
    figures.incremental_path = f"{path} ({(work.path / path).stat().st_size} bytes)"
    for number in range(runs):
        time.sleep(IDLE_S)
        with (work.path / path).open("ab") as handle:
            handle.write(f"# incremental {number} {time.time_ns()}\n".encode())
        sha = work.commit(f"incremental {number}")
        start = time.perf_counter()
        work.push()
        body = work.server.wait_final(work.name, sha, timeout_s=60)
        figures.incremental.append(time.perf_counter() - start)
        changed = [f for f in body["files"] if f["path"] == path]
        figures.incremental_lint_ms.append(int(changed[0]["duration_ms"]))


# --- (d) memory ------------------------------------------------------------------------

def fresh_checks(server: Server, repo: str, sha: str) -> int:
    """How many checks of the commit ran (not reused); waits for it to be final."""
    body = server.wait_final(repo, sha)
    return sum(1 for f in body["files"] if not f.get("reused") and f["state"] != "pending")


def measure_memory(server: Server, tmp: Path, done: int, figures: Figures) -> None:
    """Push the corpus in two halves to two repos (both workers busy), each file with a new
    comment per round, until MEMORY_CHECKS checks ran in all; then read the RSS."""
    files = corpus(CORPUS_PACKAGE)
    halves = [WorkRepo(tmp / f"work-memory-{n}", server, f"memory-{n}") for n in (0, 1)]
    round_number = 0
    while done < MEMORY_CHECKS:
        round_number += 1
        shas = []
        for number, work in enumerate(halves):
            copy_tree(files[number::2], work.path, tag=f"round {round_number} {time.time_ns()}")
            shas.append(work.commit(f"memory round {round_number}"))
            work.push()
        done += sum(fresh_checks(server, w.name, sha) for w, sha in zip(halves, shas, strict=True))
    time.sleep(IDLE_S)
    figures.rss_late = service_rss(server)
    figures.checks_late = done


# --- report ----------------------------------------------------------------------------

def report_latency(figures: Figures) -> list[str]:
    ours, cold = median(figures.latency), median(figures.cold)
    ratio = ours / cold
    return [
        f"(a) idle latency, push returned -> final, 1 small file, median of {len(figures.latency)}:"
        f" {ours * 1000:.0f} ms (lint itself {median(figures.lint_ms):.0f} ms);"
        f" cold pylint {cold * 1000:.0f} ms",
        f"    ratio {ratio:.2f}  target <= {LATENCY_RATIO_TARGET}  "
        f"{passed(ratio <= LATENCY_RATIO_TARGET)}",
        "    runs (ms): " + " ".join(f"{s * 1000:.0f}" for s in figures.latency)
        + " | cold: " + " ".join(f"{s * 1000:.0f}" for s in figures.cold),
    ]


def report_throughput(figures: Figures) -> list[str]:
    ours = figures.corpus_files / figures.first_push
    bare = figures.corpus_files / figures.bare
    ratio = ours / bare
    return [
        f"(b) first push of {figures.corpus_files} files of {CORPUS_PACKAGE}: "
        f"{figures.first_push:.1f} s = {ours:.2f} files/s; bare pylint -j1 "
        f"{figures.bare:.1f} s = {bare:.2f} files/s",
        f"    ratio {ratio:.2f}  target >= {THROUGHPUT_RATIO_TARGET}  "
        f"{passed(ratio >= THROUGHPUT_RATIO_TARGET)}",
    ]


def report_incremental(figures: Figures) -> list[str]:
    ours = median(figures.incremental)
    return [
        f"(c) push changing {figures.incremental_path}, push start -> final, median of "
        f"{len(figures.incremental)}: {ours:.2f} s (lint itself "
        f"{median(figures.incremental_lint_ms):.0f} ms)  target < {INCREMENTAL_TARGET_S} s  "
        f"{passed(ours < INCREMENTAL_TARGET_S)}",
    ]


def report_memory(figures: Figures) -> list[str]:
    growth = (figures.rss_late - figures.rss_early) / MB
    return [
        f"(d) RSS of server + lint children: {figures.rss_early / MB:.0f} MB after "
        f"{EARLY_CHECKS} checks, {figures.rss_late / MB:.0f} MB after {figures.checks_late}",
        f"    growth {growth:+.0f} MB  target <= {MEMORY_TARGET_MB:.0f} MB  "
        f"{passed(growth <= MEMORY_TARGET_MB)}",
    ]


def print_report(figures: Figures) -> None:
    print("gitserver serve, embedded defaults: SQLite, 2 worker threads, push_wait_s=0; "
          f"load average at the end {loadavg()}")
    for line in (report_latency(figures) + report_throughput(figures)
                 + report_incremental(figures) + report_memory(figures)):
        print(line)


# --- main ------------------------------------------------------------------------------

def run_bench(args: argparse.Namespace, tmp: Path) -> Figures:
    figures = Figures()
    with Server(tmp / "server", {"GITSERVER_CHECKER_PUSH_WAIT_S": "0"}) as server:
        measure_latency(server, tmp, args.runs, figures)
        work = measure_throughput(server, tmp, figures)
        measure_incremental(work, max(3, args.runs // 2), figures)
        if not args.skip_memory:
            done = EARLY_CHECKS + figures.corpus_files + len(figures.incremental)
            measure_memory(server, tmp, done, figures)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="latency runs (median)")
    parser.add_argument("--skip-memory", action="store_true", help="leave out (d)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as tmp:
        try:
            figures = run_bench(args, Path(tmp))
        except BenchError as exc:
            print(f"bench_checks: {exc}", file=sys.stderr)
            return 1
    if args.skip_memory:
        figures.rss_late, figures.checks_late = figures.rss_early, EARLY_CHECKS
    print_report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
