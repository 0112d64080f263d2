"""The class dashboard's cost: a fixed number of SQL statements however big the class is, and
the same state and score as the commit pages compute (a real SQLite database, no server)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from bench.bench_dashboard import counted_statements, populate
from gitserver.core import org_dashboard
from gitserver.core.models import Check, Commit, database
from gitserver.core.queries import commit_marks


def statements_of_build(org_name: str, students: int, assignments: int) -> int:
    org = populate(org_name, students, assignments)
    with counted_statements() as seen:
        board = org_dashboard.build(org)
    assert len(list(board.rows())) == students * assignments
    return len(seen)


def test_dashboard_queries_do_not_grow_with_the_class(db: None) -> None:
    small = statements_of_build("small", 2, 1)
    database.execute_sql('DELETE FROM "user"')  # cascades to everything of the first course
    big = statements_of_build("big", 40, 5)
    assert small == big <= 8


def test_dashboard_state_and_score_match_the_commit_pages(db: None) -> None:
    org = populate("course", 4, 2, pushes=2, files=3)
    board = org_dashboard.build(org)
    tips = {row.sha: row for row in board.rows()}
    commits = {c.sha: c.id for c in Commit.select().where(Commit.sha.in_(list(tips)))}
    marks = commit_marks(list(commits.values()))
    for sha, row in tips.items():
        assert (row.state, row.score) == marks[commits[sha]]
        assert row.pushes == 2 and len(row.trend) == 2 and not row.late
    counted = sum(m.students for m in board.messages)
    assert board.messages and counted <= 4 * len(board.messages)
    assert Check.select().count() == 4 * 2 * 2 * 3


def test_dashboard_rows_sort_with_missing_values_last() -> None:
    rows = [org_dashboard.StudentRow("hw1", name, score=score)
            for name, score in (("b", 5.0), ("a", None), ("c", 9.0))]
    assert [r.student for r in org_dashboard.sort_rows(rows, "score", True)] == ["c", "b", "a"]
    assert [r.student for r in org_dashboard.sort_rows(rows, "score")] == ["b", "c", "a"]
    assert [r.student for r in org_dashboard.sort_rows(rows, "nonsense")] == ["a", "b", "c"]
