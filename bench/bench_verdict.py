"""What the lint verdict in `git push` costs: push wall time with checker.push_wait_s=3 next to
the same push with push_wait_s=0, on two servers started side by side in one run.

Each timed push is a new commit changing one small file (a new blob, so nothing is reused);
the servers take turns, and each push starts with both servers idle (the bench waits for the
previous checks untimed). Also counts how many of the waiting pushes printed the verdict.

Run from the repository root: .venv/bin/python -m bench.bench_verdict [--runs 7]
Exit status 0 whatever the verdict; 1 (and one line on stderr) if something broke.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import (
    BenchError,
    Server,
    WorkRepo,
    exit_on_sigterm,
    loadavg,
    median,
    passed,
    small_module,
)

ADDED_TARGET_S = 0.3
PUSH_WAIT_S = 3
WARM_UP_PUSHES = 2  # the first check after start also starts the lint process
IDLE_S = 0.5


@dataclass
class Side:
    """One server and what its pushes measured."""

    label: str
    work: WorkRepo
    seconds: list[float] = field(default_factory=list)
    lint_ms: list[int] = field(default_factory=list)
    verdicts: int = 0  # pushes whose output carried the verdict line


def push_small(side: Side, number: int) -> None:
    """Commit a new version of the file, push it (timed), wait for its check (untimed)."""
    work = side.work
    work.write("app.py", small_module(f"{side.label} {number} {time.time_ns()}"))
    sha = work.commit(f"change {number}")
    time.sleep(IDLE_S)
    seconds = work.push()
    body = work.server.wait_final(work.name, sha, timeout_s=60)
    if number < 0:
        return  # warm-up
    side.seconds.append(seconds)
    side.lint_ms.append(int(body["files"][0]["duration_ms"]))
    if "score" in work.output:
        side.verdicts += 1


def measure(sides: list[Side], runs: int) -> None:
    """Warm-up pushes on each server, then `runs` timed pushes each, taking turns."""
    for number in range(-WARM_UP_PUSHES, 0):
        for side in sides:
            push_small(side, number)
    for number in range(runs):
        # Alternate who goes first, so a drift in machine load hits both alike.
        for side in sides if number % 2 == 0 else reversed(sides):
            push_small(side, number)


def print_report(waiting: Side, plain: Side) -> None:
    """The figures, each run, and the verdict against the target."""
    ours, base = median(waiting.seconds), median(plain.seconds)
    added = ours - base
    print(f"git push of one small file (new blob each time), median of {len(plain.seconds)}; "
          f"load average at the end {loadavg()}")
    print(f"  push_wait_s=0: {base * 1000:.0f} ms   "
          "runs: " + " ".join(f"{s * 1000:.0f}" for s in plain.seconds))
    print(f"  push_wait_s={PUSH_WAIT_S}: {ours * 1000:.0f} ms   "
          "runs: " + " ".join(f"{s * 1000:.0f}" for s in waiting.seconds))
    print(f"  verdict printed in {waiting.verdicts} of {len(waiting.seconds)} waiting pushes; "
          f"lint itself {median(waiting.lint_ms):.0f} ms (median)")
    print(f"  added by the wait: {added * 1000:.0f} ms  target < {ADDED_TARGET_S * 1000:.0f} ms  "
          f"{passed(added < ADDED_TARGET_S)}")


def run_bench(runs: int, tmp: Path) -> None:
    """Start both servers side by side, measure, stop them, print the report."""
    with Server(tmp / "wait", {"GITSERVER_CHECKER_PUSH_WAIT_S": str(PUSH_WAIT_S)}) as waits, \
            Server(tmp / "plain", {"GITSERVER_CHECKER_PUSH_WAIT_S": "0"}) as plains:
        waiting = Side(f"wait {PUSH_WAIT_S}", WorkRepo(tmp / "work-wait", waits, "verdict"))
        plain = Side("wait 0", WorkRepo(tmp / "work-plain", plains, "verdict"))
        measure([waiting, plain], runs)
    print_report(waiting, plain)


def main(argv: list[str] | None = None) -> int:
    """Run the bench in a temporary directory; 1 (and one line) if it broke."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed pushes per server (median)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="bench-verdict-") as tmp:
        try:
            run_bench(args.runs, Path(tmp))
        except BenchError as exc:
            print(f"bench_verdict: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
