"""Render time of the staff dashboard of a big course, and the queries it takes.

Builds an organization of --students students x --assignments assignments directly in a fresh
SQLite database (each student's repo of each assignment with --pushes pushes, each tip commit
with --files checked files and a few messages), then builds the dashboard
(`core.org_dashboard.build`), renders its page template and its CSV, --runs times, and prints
the median time of each and the number of SQL statements one build ran.

Run from the repository root: .venv/bin/python -m bench.bench_dashboard [--students 300
--assignments 10]. Exit status 0 whatever the figures; 1 (and one line on stderr) if it broke.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitserver.core import org_dashboard
from gitserver.core.models import (
    Assignment,
    Check,
    Commit,
    Membership,
    Organization,
    Push,
    Repo,
    User,
    bulk_insert,
    database,
    init_db,
    utcnow,
)
from gitserver.core.schema import migrate

MESSAGES = [("missing-function-docstring", "C0116", "convention"),
            ("unused-import", "W0611", "warning"),
            ("undefined-variable", "E0602", "error"),
            ("line-too-long", "C0301", "convention")]


def _sha(*parts: int) -> str:
    return "".join(f"{p:08x}" for p in parts).ljust(40, "0")[:40]


def _check_row(repo_id: int, commit_id: int, push_id: int, number: int, path: str
               ) -> dict[str, Any]:
    symbol, message_id, kind = MESSAGES[number % len(MESSAGES)]
    failing = kind == "error"
    messages = [{"line": 1, "column": 0, "end_line": None, "end_column": None, "type": kind,
                 "symbol": symbol, "message_id": message_id, "message": f"{symbol} here"}]
    return {"repo": repo_id, "commit": commit_id, "push": push_id, "path": path,
            "blob_sha": _sha(commit_id, number), "change": "modified",
            "state": "failure" if failing else "success", "score": 0.0 if failing else 9.0,
            "messages": json.dumps(messages), "statements": 10, "fatal_count": 0,
            "error_count": 1 if failing else 0, "warning_count": 1 if kind == "warning" else 0,
            "refactor_count": 0, "convention_count": 1 if kind == "convention" else 0,
            "fail_under": 8.0, "settings_fp": "bench", "checked_at": utcnow()}


def populate(org_name: str, students: int, assignments: int, pushes: int = 3,
             files: int = 3) -> User:
    """An organization with its students, assignments and every student's pushed repos."""
    org = User.create(username=org_name, email=f"{org_name}@organization", password_hash="!",
                      is_org=True)
    Organization.create(account=org)
    bulk_insert(User, [{"username": f"s{i:04d}", "email": f"s{i}@example.org",
                        "password_hash": "!", "is_active": True} for i in range(students)])
    people = list(User.select(User.id, User.username).where(
        User.username.startswith("s") & ~User.is_org))
    bulk_insert(Membership, [{"org": org.id, "user": u.id, "role": "student"} for u in people])
    names = [f"hw{a}" for a in range(assignments)]
    bulk_insert(Assignment, [{"org": org.id, "name": n} for n in names])
    bulk_insert(Repo, [{"owner": org.id, "name": f"{n}-{u.username}",
                        "name_lower": f"{n}-{u.username}".lower()}
                       for n in names for u in people])
    repos = list(Repo.select(Repo.id).where(Repo.owner == org))
    bulk_insert(Push, [{"repo": r.id, "pusher": None, "ref_updates": json.dumps(
        [["refs/heads/main", "0" * 40, _sha(r.id, p)]]), "recorded_at": utcnow()}
        for r in repos for p in range(pushes)])
    push_ids = {(p.repo_id, json.loads(p.ref_updates)[0][2]): p.id
                for p in Push.select(Push.id, Push.repo, Push.ref_updates)}
    bulk_insert(Commit, [{"repo": repo_id, "sha": sha, "message": "work", "author_name": "s",
                          "author_email": "s@example.org", "authored_at": utcnow(),
                          "committed_at": utcnow(), "push": push_id}
                         for (repo_id, sha), push_id in push_ids.items()])
    rows = []
    for commit in Commit.select(Commit.id, Commit.repo, Commit.push).join(Repo).where(
            Repo.owner == org).iterator():
        rows.extend(_check_row(commit.repo_id, commit.id, commit.push_id, commit.id + f,
                               f"m{f}.py") for f in range(files))
    bulk_insert(Check, rows)
    return org


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """The SQL statements SQLite runs meanwhile (a trace callback on the connection)."""
    seen: list[str] = []
    connection = database.connection()
    connection.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        connection.set_trace_callback(None)


def _render(org: User, board: org_dashboard.Dashboard) -> str:
    # Imported here: the page's template environment needs only the web package, not a server.
    # pylint: disable-next=import-outside-toplevel
    from gitserver.web.org_dashboard_web import trend_svg
    from gitserver.web.templating import templates  # pylint: disable=import-outside-toplevel
    template = templates.env.get_template("org_dashboard.html")
    return template.render(org=org, board=board, sort="student", descending=False,
                           sort_keys=org_dashboard.SORT_KEYS, trend_svg=trend_svg,
                           help_url=lambda s: f"/help/pylint/{s}", csv_url="x.csv",
                           current_user=None, csrf_token="", csrf_field="csrf_token",
                           base_url="", flashes=[], request=None)


def main(argv: list[str] | None = None) -> int:
    """Build the course, time the dashboard; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--assignments", type=int, default=10)
    parser.add_argument("--pushes", type=int, default=3)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from gitserver.web import pages_format  # pylint: disable=import-outside-toplevel
    pages_format.install()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        init_db(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate()
        started = time.perf_counter()
        org = populate("course", args.students, args.assignments, args.pushes, args.files)
        print(f"built {args.students} students x {args.assignments} assignments x "
              f"{args.pushes} pushes x {args.files} files in "
              f"{time.perf_counter() - started:.1f} s")
        builds, pages, csvs = [], [], []
        for _ in range(args.runs):
            with counted_statements() as statements:
                started = time.perf_counter()
                board = org_dashboard.build(org)
                builds.append(time.perf_counter() - started)
            started = time.perf_counter()
            html = _render(org, board)
            pages.append(time.perf_counter() - started)
            started = time.perf_counter()
            out = io.StringIO()
            csv.writer(out).writerows(org_dashboard.csv_rows(board, org.username))
            csvs.append(time.perf_counter() - started)
        database.close()
    print(f"dashboard build (queries + rows): median {statistics.median(builds) * 1000:.0f} ms "
          f"in {len(statements)} SQL statements")
    print(f"page render: median {statistics.median(pages) * 1000:.0f} ms "
          f"({len(html) / 1e6:.1f} MB of HTML)")
    print(f"CSV: median {statistics.median(csvs) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # pylint: disable=broad-exception-caught  # the script's boundary
        print(f"bench_dashboard: {exc}", file=sys.stderr)
        sys.exit(1)
