"""A class at its deadline: N accounts push M files of real code each at once, then each pushes a
one-file fix a few seconds later; `gitserver serve` with the embedded defaults (SQLite, 2 worker
threads, `checker.push_wait_s` = 3).

The files are distinct modules of CPython's standard library (each account its own, under their
own names, as students name files), so no result is reused between accounts. Measured in one run:
- the time until every account's latest tip is final, against one `pylint -jN` (N = CPUs) over
  the same files (the latest versions) in the same flat layout: burst ratio = pylint / ours;
- each account's latest verdict, from the burst's start: median and max, and the median as a
  share of the time until every check of every push is final (superseded tips included);
- push wall time (p50, max) over all 2N pushes, and how many said their place in the queue;
- report mails per push, once the mail coalescing has settled.
Times of a commit come from the server's own rows (`check.checked_at`, `created_at`), read
from its SQLite file after the run; the bench polls that file twice a second meanwhile.

Targets (issue 17): burst >= 1.0x `pylint -jN`; the median account's latest verdict within 60%
of the time everything takes; push wall p50 <= 1.5 s.

The students push with their password in the URL (argon2 checks it once per account and
minute: 64 MiB and ~0.2 s of CPU each, 30 of them at the burst's start); `--token` pushes with an
access token instead, as git on GitHub does (`gitserver token create`; a hash lookup).

Run from the repository root: .venv/bin/python -m bench.bench_burst [--accounts 30 --files 8]
[--token]
Exit status 0 whatever the verdicts; 1 (and one line on stderr) if something broke.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_push_clone import GIT_ENV, is_acceptable
from bench.harness import (
    PASSWORD,
    RCFILE,
    BenchError,
    Server,
    cpu_seconds,
    exit_on_sigterm,
    git,
    gitserver_exe,
    lint_cpu,
    loadavg,
    passed,
)

FIX_AFTER_S = 3.0
SETTLE_S = 12.0  # report mails are coalesced for a few seconds (mailer.tasks.COALESCE_S)
DONE_TIMEOUT_S = 900.0
MIN_BYTES, MAX_BYTES = 2_000, 40_000  # real modules, neither trivial nor the giants


@dataclass
class Account:
    """One student: a work repo and the pushes made from it."""
    name: str
    work: Path
    files: list[str]
    secret: str = PASSWORD  # what the push URL carries: the password, or an access token
    shas: list[str] = field(default_factory=list)
    push_seconds: list[float] = field(default_factory=list)
    said_place: int = 0


def stdlib_modules(count: int) -> list[Path]:
    """`count` distinct .py files of the standard library (no tests), in a stable order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "idlelib", "lib2to3", "site-packages", "tkinter", "turtledemo",
            "ensurepip", "__pycache__", "encodings"}
    found = sorted(p for p in root.rglob("*.py")
                   if not skip & set(p.relative_to(root).parts)
                   and MIN_BYTES <= p.stat().st_size <= MAX_BYTES and is_acceptable(p))
    names: dict[str, Path] = {}
    for path in found:
        relative = path.relative_to(root)
        flat = "_".join(relative.with_suffix("").parts) + ".py"
        names.setdefault(flat, path)
    if len(names) < count:
        raise BenchError(f"only {len(names)} standard-library modules fit; ask for fewer files")
    return [names[n] for n in sorted(names)][:count]


def make_accounts(server: Server, tmp: Path, accounts: int, per: int,
                  token: bool = False) -> list[Account]:
    """Users with a work repo each, holding their own `per` standard-library modules; with
    `token`, each pushes with an access token of its own."""
    modules = stdlib_modules(accounts * per)
    made = []
    root = Path(sysconfig.get_paths()["stdlib"])
    for number in range(accounts):
        name = f"student{number:02d}"
        subprocess.run([str(gitserver_exe()), "user", "add", name, f"{name}@example.com"],
                       input=f"{PASSWORD}\n".encode(), env=server.env, check=True,
                       capture_output=True, timeout=60)
        secret = PASSWORD
        if token:
            secret = subprocess.run(
                [str(gitserver_exe()), "token", "create", name, "--name", "bench"],
                env=server.env, check=True, capture_output=True, text=True,
                timeout=60).stdout.strip()
        work = tmp / name
        git("init", "-q", "-b", "main", str(work))
        files = []
        for path in modules[number * per:(number + 1) * per]:
            flat = "_".join(path.relative_to(root).with_suffix("").parts) + ".py"
            (work / flat).write_bytes(path.read_bytes())
            files.append(flat)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "homework", cwd=work)
        made.append(Account(name, work, files, secret))
    return made


def push(server: Server, account: Account) -> None:
    """Push main; record the sha, the wall time and whether the push said its queue place."""
    url = f"http://{account.name}:{account.secret}@127.0.0.1:{server.port}/{account.name}/hw.git"
    start = time.perf_counter()
    result = subprocess.run(["git", "push", url, "main"], cwd=account.work, env=GIT_ENV,
                            capture_output=True, timeout=300, check=False)
    account.push_seconds.append(time.perf_counter() - start)
    if result.returncode != 0:
        raise BenchError(f"push of {account.name} failed: {result.stderr.decode()[-500:]}")
    account.said_place += b"queue: position" in result.stderr
    account.shas.append(git("rev-parse", "HEAD", cwd=account.work).strip())


def fix(account: Account) -> None:
    """A one-file fix: the first file gets a line more."""
    target = account.work / account.files[0]
    with target.open("ab") as handle:
        handle.write(b"\n# fixed before the deadline\n")
    git("commit", "-q", "-am", "fix", cwd=account.work)


def burst(server: Server, accounts: list[Account]) -> float:
    """Everyone pushes at once, then everyone pushes a fix FIX_AFTER_S later; the start time
    (epoch seconds)."""
    errors: list[BaseException] = []

    def student(account: Account, start_at: float) -> None:
        try:
            time.sleep(max(0.0, start_at - time.time()))
            push(server, account)
            fix(account)
            time.sleep(max(0.0, start_at + FIX_AFTER_S - time.time()))
            push(server, account)
        except BaseException as exc:  # pylint: disable=broad-exception-caught  # re-raised
            errors.append(exc)

    start_at = time.time() + 0.5
    threads = [threading.Thread(target=student, args=(a, start_at)) for a in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return start_at


def tree_cpu(server: Server) -> tuple[float, float, float]:
    """CPU seconds of the service: the server process itself, the children it has waited for
    (git, hooks, replaced lint processes), and its live lint processes."""
    serve = server.process.pid if server.process is not None else None
    lint = sum(lint_cpu(pid) for pid in server.service_pids() if pid != serve)
    if serve is None:
        return 0.0, 0.0, lint
    return cpu_seconds(serve), cpu_seconds(serve, waited=True), lint


def database(server: Server) -> sqlite3.Connection:
    """The server's SQLite database, read-only."""
    path = server.root / "data" / "gitserver.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def pending(server: Server) -> int:
    """Checks still pending, or pushes not yet scheduled, in the whole server."""
    with database(server) as db:
        checks = db.execute("SELECT COUNT(*) FROM \"check\" WHERE state = 'pending'").fetchone()
        pushes = db.execute('SELECT COUNT(*) FROM push WHERE history_at IS NULL').fetchone()
    return int(checks[0]) + int(pushes[0])


def final_at(server: Server, shas: list[str]) -> dict[str, float]:
    """sha -> when its last check became final (epoch seconds)."""
    marks = ",".join("?" * len(shas))
    with database(server) as db:
        rows = db.execute(
            'SELECT c.sha, MAX(k.checked_at), MAX(k.created_at) FROM "check" k '
            f'JOIN "commit" c ON c.id = k.commit_id WHERE c.sha IN ({marks}) GROUP BY c.sha',
            shas).fetchall()
    return {sha: max(_epoch(checked), _epoch(created)) for sha, checked, created in rows}


def _epoch(value: str | None) -> float:
    if value is None:
        return 0.0
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()


def mails(server: Server) -> int:
    """Report mails in the server's Maildir."""
    root = server.root / "data" / "mail"
    return sum(1 for sub in ("new", "cur") if (root / sub).is_dir()
               for _ in (root / sub).iterdir())


def bare_pylint(tmp: Path, accounts: list[Account]) -> tuple[float, float]:
    """Wall and CPU seconds of one `pylint -jN` over every account's latest files in one flat
    tree."""
    src = tmp / "pylint-tree"
    src.mkdir()
    for account in accounts:
        for name in account.files:
            (src / name).write_bytes((account.work / name).read_bytes())
    pylint = Path(sys.executable).with_name("pylint")
    jobs = os.cpu_count() or 1
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([str(pylint), f"-j{jobs}", "--rcfile", str(RCFILE),
                             *sorted(p.name for p in src.iterdir())], cwd=src,
                            capture_output=True, check=False, timeout=1800,
                            env=dict(os.environ, PYLINTHOME=str(tmp / "pylint-home")))
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode & 1 or result.returncode >= 32:
        raise BenchError(f"bare pylint failed ({result.returncode}): "
                         f"{result.stdout.decode(errors='replace')[-500:]}")
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


@dataclass
class Measured:
    """What one burst gave: when it started, when each tip was final, everything, the mails."""
    start: float
    finals: dict[str, float]
    everything: float
    mail_count: int
    cpu: tuple[float, float, float]  # the service's CPU seconds (see tree_cpu) in the burst
    load: str = ""  # the 1-minute load average just before the burst


def report(accounts: list[Account], measured: Measured, pylint: tuple[float, float]) -> None:
    """Print the figures and verdicts."""
    baseline, baseline_cpu = pylint
    verdicts = sorted(measured.finals[a.shas[-1]] - measured.start for a in accounts)
    ratio = baseline / verdicts[-1]
    share = statistics.median(verdicts) / measured.everything
    print(f"load average before: {measured.load}")
    print(f"{len(accounts)} accounts x {len(accounts[0].files)} files, a fix each "
          f"{FIX_AFTER_S:.0f} s later ({2 * len(accounts)} pushes)")
    print(f"  every latest tip final  {verdicts[-1]:7.1f} s   pylint -j{os.cpu_count() or 1}: "
          f"{baseline:6.1f} s   burst {ratio:.2f}x (target >= 1.0) {passed(ratio >= 1.0)}")
    print(f"  everything final        {measured.everything:7.1f} s")
    own, waited, lint = measured.cpu
    print(f"  CPU: the service {own + waited + lint:.1f} s (server {own:.1f}, git, hooks and "
          f"replaced lint processes {waited:.1f}, lint processes {lint:.1f}) vs pylint "
          f"{baseline_cpu:.1f} s over the latest files")
    print(f"  latest verdict per user median {statistics.median(verdicts):.1f} s, max "
          f"{verdicts[-1]:.1f} s; median = {share:.0%} of everything (target <= 60%) "
          f"{passed(share <= 0.6)}")
    report_pushes(accounts, measured.mail_count)


def report_pushes(accounts: list[Account], mail_count: int) -> None:
    """The push wall times and the mails."""
    walls = sorted(s for a in accounts for s in a.push_seconds)
    p50 = statistics.median(walls)
    print(f"  push wall p50 {p50:.2f} s, max {walls[-1]:.2f} s (target p50 <= 1.5 s) "
          f"{passed(p50 <= 1.5)}; {sum(a.said_place for a in accounts)} pushes said their "
          f"place in the queue")
    for number, what in enumerate(("first pushes", "fixes")):
        part = sorted(a.push_seconds[number] for a in accounts)
        print(f"    {what}: p50 {statistics.median(part):.2f} s, max {part[-1]:.2f} s")
    print(f"  report mails: {mail_count} for {len(walls)} pushes "
          f"({mail_count / len(walls):.2f} per push)")


def main() -> int:
    """Run the burst and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=30)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--token", action="store_true",
                        help="push with an access token per account instead of the password")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (server log, data) and say where")
    args = parser.parse_args()
    exit_on_sigterm()
    try:
        # --keep: a folder that stays, else one removed at the end (entered just below).
        folder: contextlib.AbstractContextManager[str] = (
            contextlib.nullcontext(tempfile.mkdtemp(prefix="gitserver-bench-burst-"))
            if args.keep else tempfile.TemporaryDirectory(  # pylint: disable=consider-using-with
                prefix="gitserver-bench-burst-"))
        with folder as tmp_name:
            tmp = Path(tmp_name)
            if args.keep:
                print(f"kept: {tmp}")
            with Server(tmp / "server") as server:
                accounts = make_accounts(server, tmp / "work", args.accounts, args.files,
                                         args.token)
                time.sleep(3)  # the workers warm up
                load = loadavg()
                cpu_before = tree_cpu(server)
                start = burst(server, accounts)
                deadline = time.monotonic() + DONE_TIMEOUT_S
                while pending(server):
                    if time.monotonic() > deadline:
                        raise BenchError(f"checks still pending after {DONE_TIMEOUT_S:.0f} s")
                    time.sleep(0.5)
                cpu = tuple(after - before for after, before in zip(tree_cpu(server), cpu_before,
                                                                   strict=True))
                finals = final_at(server, [sha for a in accounts for sha in a.shas])
                time.sleep(SETTLE_S)
                measured = Measured(start, finals, max(finals.values()) - start, mails(server),
                                    cpu, load)
            report(accounts, measured, bare_pylint(tmp, accounts))
    except BenchError as exc:
        print(f"bench_burst: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
