"""First-push latency after start: does the first push after `gitserver serve` starts meet the
same latency as the hundredth (issue 13)? The lint processes warm up on the standard library
that pushed code commonly imports, in their idle time, a request first.

For each start of a fresh server (SQLite, embedded workers, checker.push_wait_s=3), one work
repo pushes an 80-line student module importing a dozen stdlib modules, each push a new blob:
- **at once**: the first push as soon as /healthz answers (warm-up just begun);
- **after idle**: the first push once the service has gone idle (warm-up done);
- **steady**: `--pushes` more, the median;
- for comparison, the same module in a fresh lint process without the warm-up (what the first
  push cost before), measured directly with `checker.runner.LintRunner`.
Each line gives the lint time of the file (its `duration_ms`), the push's wall time, and
whether the verdict came back in the push (within push_wait_s).

Run from the repository root: .venv/bin/python -m bench.bench_first_push [--starts 1]
Exit status 0 whatever the figures; 1 (and one line on stderr) if something broke.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    BenchError,
    Server,
    WorkRepo,
    exit_on_sigterm,
    loadavg,
    median,
    passed,
    service_cpu,
)
from checker.runner import LintRunner

PUSH_WAIT_S = 3
IDLE_CPU_S = 0.05  # CPU seconds per second below which the service counts as idle
IDLE_TIMEOUT_S = 180.0
TARGET_RATIO = 1.5  # the first push's lint time within 1.5x of the steady median


def student_module(tag: str) -> bytes:
    """An 80-line homework module using the stdlib as students do; `tag` makes a new blob."""
    return f'''"""Grade statistics for a course ({tag})."""

import collections
import csv
import dataclasses
import datetime
import json
import math
import os
import random
import re
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional

GRADE_RE = re.compile(r"^[A-F][+-]?$")


@dataclasses.dataclass
class Student:
    """One student and their marks."""

    name: str
    marks: List[float] = dataclasses.field(default_factory=list)
    grade: Optional[str] = None

    def mean(self) -> float:
        """The mean mark, 0 without marks."""
        return statistics.mean(self.marks) if self.marks else 0.0

    def spread(self) -> float:
        """The standard deviation of the marks."""
        return statistics.pstdev(self.marks) if len(self.marks) > 1 else 0.0


def read_students(path: Path) -> Dict[str, Student]:
    """Students by name, from a CSV file of name,mark rows."""
    students: Dict[str, Student] = {{}}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            name, mark = row[0].strip(), float(row[1])
            students.setdefault(name, Student(name)).marks.append(mark)
    return students


def letter(mean: float) -> str:
    """The letter grade of a mean mark."""
    for bound, grade in ((90, "A"), (80, "B"), (70, "C"), (60, "D")):
        if mean >= bound:
            return grade
    return "F"


def summary(students: Dict[str, Student]) -> dict:
    """Counts per grade, the best student and today's date."""
    grades = collections.Counter(letter(s.mean()) for s in students.values())
    best = max(students.values(), key=Student.mean, default=None)
    return {{"grades": dict(grades), "best": best.name if best else None,
            "date": datetime.date.today().isoformat(),
            "rounded": {{n: math.floor(s.mean()) for n, s in students.items()}}}}


def sample(students: Dict[str, Student], size: int) -> List[str]:
    """A random sample of names, for spot checks."""
    return random.sample(sorted(students), min(size, len(students)))


def main() -> int:
    """Read the CSV named on the command line and print the summary as JSON."""
    if len(sys.argv) != 2 or not os.path.exists(sys.argv[1]):
        print("usage: grades.py FILE.csv", file=sys.stderr)
        return 2
    students = read_students(Path(sys.argv[1]))
    for student in students.values():
        student.grade = letter(student.mean())
        assert GRADE_RE.match(student.grade)
    print(json.dumps(summary(students), indent=2), sample(students, 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''.encode()


@dataclass
class Push:
    """What one push measured."""

    lint_ms: int
    push_s: float
    verdict: bool


def push_one(work: WorkRepo, label: str) -> Push:
    """Commit a new version of the module, push it, wait for its check."""
    work.write("grades.py", student_module(f"{label} {time.time_ns()}"))
    sha = work.commit(label)
    seconds = work.push()
    body = work.server.wait_final(work.name, sha, timeout_s=120)
    return Push(int(body["files"][0]["duration_ms"]), seconds, "score" in work.output)


def cold_lint_ms(tmp: Path) -> int:
    """The module's lint time in a fresh lint process that did not warm up."""
    folder = tmp / "cold"
    folder.mkdir()
    (folder / "grades.py").write_bytes(student_module("cold"))
    with LintRunner(warm=False) as runner:
        (result,) = runner.check_files(folder, ["grades.py"])
    return result.duration_ms


def wait_idle(server: Server) -> float:
    """Seconds until the service uses less than IDLE_CPU_S of CPU per second."""
    started = time.monotonic()
    before = service_cpu(server)
    while time.monotonic() - started < IDLE_TIMEOUT_S:
        time.sleep(1.0)
        now = service_cpu(server)
        if now - before < IDLE_CPU_S:
            return time.monotonic() - started
        before = now
    raise BenchError(f"the service did not go idle within {IDLE_TIMEOUT_S:.0f} s")


def run_start(tmp: Path, number: int, pushes: int) -> tuple[Push, Push, list[Push], float]:
    """One fresh server: the push at once, after idle, then the steady pushes."""
    with Server(tmp / f"server{number}", {"GITSERVER_CHECKER_PUSH_WAIT_S": str(PUSH_WAIT_S)}) \
            as server:
        work = WorkRepo(tmp / f"work{number}", server, "grades")
        at_once = push_one(work, "at once")
        idle_s = wait_idle(server)
        after_idle = push_one(work, "after idle")
        steady = [push_one(work, f"steady {i}") for i in range(pushes)]
    return at_once, after_idle, steady, idle_s


def line(label: str, push: Push) -> str:
    """One report line."""
    return (f"  {label:<12} lint {push.lint_ms:5d} ms   push {push.push_s * 1000:5.0f} ms   "
            f"verdict in the push: {'yes' if push.verdict else 'no'}")


def main(argv: list[str] | None = None) -> int:
    """Run the bench in a temporary directory; 1 (and one line) if it broke."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=1, help="fresh servers, one after another")
    parser.add_argument("--pushes", type=int, default=5, help="steady pushes per start")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="bench-first-push-") as tmp:
        try:
            cold = cold_lint_ms(Path(tmp))
            for number in range(args.starts):
                at_once, after_idle, steady, idle_s = run_start(Path(tmp), number, args.pushes)
                typical = median(p.lint_ms for p in steady)
                print(f"start {number + 1}: 80-line module importing 12 stdlib modules; "
                      f"load average {loadavg()}")
                print(line("at once", at_once))
                print(f"  (idle {idle_s:.1f} s after it: the warm-up)")
                print(line("after idle", after_idle))
                print(f"  {'steady':<12} lint {typical:5.0f} ms   (median of {len(steady)})")
                print(f"  {'no warm-up':<12} lint {cold:5d} ms   (a fresh lint process, "
                      "for comparison)")
                ratio = after_idle.lint_ms / max(typical, 1)
                print(f"  first push after start vs steady: {ratio:.2f}x  target <= "
                      f"{TARGET_RATIO}x  {passed(ratio <= TARGET_RATIO)}")
        except BenchError as exc:
            print(f"bench_first_push: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
