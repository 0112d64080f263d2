"""Checks per second for a 300-file first push: 1, 2 and 4 `gitserver worker` processes (one
thread each) on Redis + PostgreSQL, and the embedded default (SQLite, 2 threads), in one run.

The corpus is real code in its package layout: pylint's sources, then astroid's, up to
--files files in one commit, their top folders renamed (see RENAMED). Each configuration gets
a fresh server, data dir and (for the scale-out ones) a fresh PostgreSQL database, dropped
afterwards. The clock runs from the push starting until no file of the commit is pending. If
PostgreSQL or Redis is unreachable, only the embedded default is measured. Also shows how many
check tasks each worker process ran, from its log, since one task may carry many files.

Run from the repository root: .venv/bin/python -m bench.bench_workers [--files 300]
Exit status 0; 1 (and one line on stderr) if something broke.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import (
    REDIS_URL,
    BenchError,
    Server,
    WorkRepo,
    bare_pylint_seconds,
    copy_tree,
    corpus,
    create_database,
    drop_database,
    exit_on_sigterm,
    loadavg,
    passed,
    redis_reachable,
)

PACKAGES = ("pylint", "astroid", "dulwich")  # 189 + 97 + the first of dulwich: 300
# The top folders are renamed (pylint/ -> bench_pylint/), so that the tree does not hide the
# installed pylint and astroid: the checker drops every module first built while it checks a
# file of a tree that hides an installed name, which makes such a tree many times slower to
# check (bench_checks (b) shows it), and this bench is about workers, not that.
RENAMED = "bench_"
WORKER_COUNTS = (1, 2, 4)
FLAT_GAIN = 1.15  # less than 15% more checks/s from doubling the workers: the curve is flat
READY_TIMEOUT_S = 60.0
TASK_LINE = re.compile(rb"checker\.tasks\.check_commit: \S+ .*executed in")


@dataclass
class Run:
    """One configuration's result."""

    label: str
    workers: int
    seconds: float
    files: int
    tasks_per_process: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Checks per second."""
        return self.files / self.seconds


def corpus_files(limit: int) -> list[Path]:
    """The first `limit` .py files of PACKAGES, relative to site-packages."""
    files: list[Path] = []
    for package in PACKAGES:
        files += corpus(package)
    return files[:limit]


def write_corpus(files: list[Path], dest: Path) -> None:
    """Copy the files, each package's top folder renamed (see RENAMED)."""
    for package in PACKAGES:
        copy_tree([f for f in files if f.parts[0] == package], dest, top=f"{RENAMED}{package}")


def wait_workers_ready(server: Server) -> None:
    """Until every worker's log says its consumer started."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    logs = [server.root / f"worker-{n}.log" for n in range(len(server.workers))]
    while time.monotonic() < deadline:
        if all(p.exists() and b"consumer started" in p.read_bytes() for p in logs):
            return
        for worker in server.workers:
            if worker.poll() is not None:
                raise BenchError(f"a gitserver worker exited with {worker.returncode}")
        time.sleep(0.1)
    raise BenchError(f"the workers did not start within {READY_TIMEOUT_S:.0f} s")


def push_and_wait(server: Server, tmp: Path, files: list[Path]) -> float:
    """The first push of the corpus; seconds from its start to no file pending."""
    work = WorkRepo(tmp / "work", server, "corpus")
    write_corpus(files, work.path)
    sha = work.commit("the corpus")
    start = time.perf_counter()
    work.push()
    body = server.wait_final(work.name, sha)
    seconds = time.perf_counter() - start
    if len(body["files"]) != len(files):
        raise BenchError(f"{len(body['files'])} checks for {len(files)} files")
    return seconds


def tasks_per_log(logs: list[Path]) -> list[int]:
    """How many check_commit tasks each log says its process ran."""
    return [len(TASK_LINE.findall(p.read_bytes())) if p.exists() else 0 for p in logs]


def run_embedded(tmp: Path, files: list[Path]) -> Run:
    """The push on `gitserver serve` with its defaults: SQLite, 2 embedded worker threads."""
    root = tmp / "embedded"
    with Server(root, {"GITSERVER_CHECKER_PUSH_WAIT_S": "0"}) as server:
        seconds = push_and_wait(server, root, files)
    return Run("embedded: SQLite, 2 threads in serve", 2, seconds, len(files),
               tasks_per_log([server.log]))


def run_scale_out(tmp: Path, files: list[Path], workers: int) -> Run:
    """The push on serve without workers plus `workers` x `gitserver worker` (1 thread each),
    sharing a fresh PostgreSQL database and Redis."""
    root = tmp / f"workers-{workers}"
    url = create_database()
    try:
        env = {"GITSERVER_CHECKER_PUSH_WAIT_S": "0", "GITSERVER_DATABASE_URL": url,
               "GITSERVER_QUEUE_URL": REDIS_URL, "GITSERVER_QUEUE_EMBEDDED": "false"}
        with Server(root, env) as server:
            server.start_workers(workers, threads=1)
            wait_workers_ready(server)
            seconds = push_and_wait(server, root, files)
    finally:
        drop_database(url)
    logs = [root / f"worker-{n}.log" for n in range(workers)]
    return Run(f"Redis + PostgreSQL, {workers} worker process{'es' if workers > 1 else ''}",
               workers, seconds, len(files), tasks_per_log(logs))


def flattens_at(runs: list[Run]) -> str:
    """The first worker count whose doubling gains less than FLAT_GAIN."""
    for before, after in itertools.pairwise(runs):
        if after.rate < before.rate * FLAT_GAIN:
            return (f"flat from {before.workers} worker(s): {before.rate:.2f} -> "
                    f"{after.rate:.2f} checks/s with {after.workers}")
    return "still rising at the largest worker count measured"


def bare_pylint_gain(tmp: Path, files: list[Path]) -> tuple[float, float]:
    """Wall seconds of bare `pylint -j1` and `pylint -j2` over the same tree: what two
    processes gain over one on this machine with this corpus, each building what it imports."""
    src = tmp / "bare"
    write_corpus(files, src)
    targets = [top for top in (RENAMED + package for package in PACKAGES) if (src / top).exists()]
    one, _ = bare_pylint_seconds(src, targets, jobs=1)
    two, _ = bare_pylint_seconds(src, targets, jobs=2)
    return one, two


def print_report(runs: list[Run], scale_out: list[Run], why_not: str | None,
                 bare: tuple[float, float] | None = None) -> None:
    """One line per configuration, then where the scale-out curve flattens."""
    print(f"first push of {runs[0].files} files ({' + '.join(PACKAGES)} sources as "
          f"{', '.join(RENAMED + p + '/' for p in PACKAGES)}, in one commit); "
          f"push start -> no file pending; load average at the end {loadavg()}")
    for run in runs:
        print(f"  {run.label:<44} {run.seconds:6.1f} s  {run.rate:5.2f} checks/s  "
              f"check tasks per process: {run.tasks_per_process}")
    if why_not:
        print(f"  scale-out not measured: {why_not}")
    elif scale_out:
        print(f"  curve: {flattens_at(scale_out)}")
        by_count = {run.workers: run for run in scale_out}
        if 1 in by_count and 2 in by_count:
            gain = by_count[2].rate / by_count[1].rate
            print(f"  2 workers vs 1 on one big commit: {gain:.2f}x (target >= 1.7) "
                  f"{passed(gain >= 1.7)}")
    if bare is not None:
        one, two = bare
        print(f"  for reference, bare pylint over the same tree: -j1 {one:.1f} s, "
              f"-j2 {two:.1f} s: 2 processes vs 1 {one / two:.2f}x")


def backends_missing() -> str | None:
    """None if Redis and PostgreSQL both answer, else why not."""
    why = redis_reachable()
    if why:
        return why
    try:
        drop_database(create_database())
    except BenchError as exc:
        return str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    """Measure every configuration in one run; 1 (and one line) if something broke."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300, help="files in the pushed commit")
    parser.add_argument("--workers", default=",".join(map(str, WORKER_COUNTS)),
                        help="worker process counts to measure, e.g. 1,2")
    parser.add_argument("--no-bare", dest="bare", action="store_false",
                        help="leave out bare pylint -j1 and -j2 over the same tree")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    try:
        files = corpus_files(args.files)
        why_not = backends_missing()
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
            runs = [run_embedded(Path(tmp), files)]
            counts = [int(n) for n in args.workers.split(",")]
            scale_out = [] if why_not else [run_scale_out(Path(tmp), files, n) for n in counts]
            bare = bare_pylint_gain(Path(tmp), files) if args.bare else None
    except BenchError as exc:
        print(f"bench_workers: {exc}", file=sys.stderr)
        return 1
    print_report(runs + scale_out, scale_out, why_not, bare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
