"""The class at a glance: every student's repo of every assignment of an organization, with
its latest commit, state, score, score trend, pushes and late mark, and the messages the class
gets most. Pages, the CSV and the staff digest render it.

A fixed number of queries, whatever the number of students, assignments, pushes or files (seven;
a test counts them): members, assignments, repos, pushes, commits, the checks summed per commit
in SQL, and the messages of the latest commits.
"""

# peewee gives every model its `id` primary key when the class is made; pylint cannot see it.
# pylint: disable=no-member

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from peewee import Case, fn

from gitserver.core.models import Assignment, Check, Commit, Membership, Push, Repo, User
from gitserver.core.orgs import STUDENT, student_repo_name
from gitserver.core.states import (
    STATE_ERROR,
    STATE_FAILURE,
    STATE_PENDING,
    STATE_SUCCESS,
    LintCounts,
    evaluation,
)

ZERO = "0" * 40
TOP_MESSAGES = 15
SORT_KEYS = ("student", "state", "score", "pushes", "pushed_at", "late")


@dataclass
class StudentRow:  # pylint: disable=too-many-instance-attributes  # one CSV row's columns
    """One student's work on one assignment (repo None: nothing pushed yet)."""
    assignment: str
    student: str
    repo: str | None = None  # the repo's name in the organization
    sha: str | None = None  # the default branch's latest pushed tip
    state: str | None = None
    score: float | None = None
    trend: list[float] = field(default_factory=list)  # the tip's score after each push
    pushes: int = 0
    pushed_at: dt.datetime | None = None
    late: bool = False  # the latest tip came with a push after the due time
    on_time_sha: str | None = None  # the newest tip pushed before the due time


@dataclass
class AssignmentView:
    """An assignment with a row per student; `missing`: students who have not pushed."""
    name: str
    due_at: dt.datetime | None
    rows: list[StudentRow]

    @property
    def missing(self) -> list[str]:
        """The students without a push to this assignment."""
        return [row.student for row in self.rows if row.pushes == 0]


@dataclass(frozen=True)
class FrequentMessage:
    """A pylint message symbol with how many students' latest commits have it."""
    symbol: str
    message_id: str
    example: str
    students: int
    occurrences: int


@dataclass
class Dashboard:
    """The organization's class: assignments with their rows, and the frequent messages."""
    students: list[str]
    assignments: list[AssignmentView]
    messages: list[FrequentMessage]

    def rows(self) -> Iterable[StudentRow]:
        """Every row, assignment by assignment."""
        for view in self.assignments:
            yield from view.rows


@dataclass
class _Mark:
    state: str
    score: float | None


@dataclass
class _Facts:
    """What the rows are made of, each read in one query."""
    repos: dict[str, Repo]  # by lowercase name
    history: dict[int, list[tuple[Any, str | None]]]  # repo id -> pushes with their tips
    commits: dict[tuple[int, str], int]  # (repo id, sha) -> commit id
    marks: dict[int, _Mark]  # commit id -> state and score


def _facts(org: User) -> _Facts:
    repos = {r.name.lower(): r for r in Repo.select(Repo.id, Repo.name, Repo.default_branch)
             .where(Repo.owner == org).iterator()}
    commits = {(c.repo_id, c.sha): c.id for c in Commit.select(Commit.id, Commit.repo, Commit.sha)
               .join(Repo).where(Repo.owner == org).iterator()}
    return _Facts(repos, _push_history(org, {r.id: r.default_branch for r in repos.values()}),
                  commits, _commit_marks(org))


def build(org: User, sort: str = "student", descending: bool = False) -> Dashboard:
    """The dashboard of `org`, each assignment's rows sorted by `sort` (one of SORT_KEYS)."""
    students = [m.user.username for m in Membership.select(Membership, User)
                .join(User, on=Membership.user == User.id)
                .where((Membership.org == org) & (Membership.role == STUDENT))
                .order_by(User.username).iterator()]
    work = list(Assignment.select().where(Assignment.org == org).order_by(Assignment.name))
    facts = _facts(org)
    latest: dict[int, str] = {}  # commit id -> student, for the frequent messages
    views = [AssignmentView(a.name, a.due_at, sort_rows(
        [_row(a.name, student, facts, latest) for student in students], sort, descending))
        for a in work]
    return Dashboard(students, views, _frequent_messages(latest))


def _row(assignment: str, student: str, facts: _Facts, latest: dict[int, str]) -> StudentRow:
    row = StudentRow(assignment, student)
    repo = facts.repos.get(student_repo_name(assignment, student))
    if repo is not None:
        _fill(row, repo, facts)
        commit_id = facts.commits.get((repo.id, row.sha or ""))
        if commit_id is not None:
            latest[commit_id] = student
    return row


def _push_history(org: User, branches: dict[int, str]
                  ) -> dict[int, list[tuple[Any, str | None]]]:
    """repo id -> its pushes in order, each with the default branch's new tip (or None)."""
    found: dict[int, list[tuple[Any, str | None]]] = defaultdict(list)
    query = (Push.select(Push.id, Push.repo, Push.created_at, Push.late, Push.ref_updates)
             .join(Repo).where(Repo.owner == org).order_by(Push.id))
    for push in query.iterator():
        wanted = f"refs/heads/{branches.get(push.repo_id, 'main')}"
        tip = next((new for ref, _, new in json.loads(push.ref_updates)
                    if ref == wanted and new != ZERO), None)
        found[push.repo_id].append((push, tip))
    return found


def _fill(row: StudentRow, repo: Repo, facts: _Facts) -> None:
    pushes, commits, marks = facts.history.get(repo.id, []), facts.commits, facts.marks
    row.repo = repo.name
    row.pushes = len(pushes)
    if pushes:
        row.pushed_at = pushes[-1][0].created_at
    for push, tip in pushes:
        if tip is None:
            continue
        row.sha, row.late = tip, push.late
        if not push.late:
            row.on_time_sha = tip
        mark = marks.get(commits.get((repo.id, tip), -1))
        if mark is not None and mark.score is not None:
            row.trend.append(mark.score)
    if row.sha is not None:
        mark = marks.get(commits.get((repo.id, row.sha), -1))
        row.state = mark.state if mark is not None else STATE_PENDING
        row.score = mark.score if mark is not None else None


def _commit_marks(org: User) -> dict[int, _Mark]:
    """commit id -> its combined state and score, summed in SQL over its checks.

    The same rules as `states.combined_state` and `states.commit_score`: failure if a file
    failed or errored, pending if one is pending; the score is pylint's global evaluation of
    the summed counts of the scored files (the mean of their scores for results stored before
    counts were kept).
    """
    marks = {}
    for cid, bad, pending, n_scored, n_counted, mean, *sums in _marks_query(org).iterator():
        state = STATE_FAILURE if bad else STATE_PENDING if pending else STATE_SUCCESS
        score = None
        if n_scored:
            score = evaluation(LintCounts(*(int(s) for s in sums))) if n_counted == n_scored \
                else round(float(mean), 2)
        marks[cid] = _Mark(state, score)
    return marks


def _marks_query(org: User) -> Any:
    """Per commit of the org: (id, bad, pending, scored, counted, mean score, summed counts)."""
    scored = Check.score.is_null(False)
    counted = scored & Check.statements.is_null(False) & Check.fatal_count.is_null(False) & \
        Check.error_count.is_null(False) & Check.warning_count.is_null(False) & \
        Check.refactor_count.is_null(False) & Check.convention_count.is_null(False)

    def total(column: Any) -> Any:
        return fn.SUM(Case(None, [(counted, column)], 0))

    def how_many(condition: Any) -> Any:
        return fn.SUM(Case(None, [(condition, 1)], 0))

    return (Check.select(
        Check.commit, how_many(Check.state.in_([STATE_FAILURE, STATE_ERROR])).alias("bad"),
        how_many(Check.state == STATE_PENDING).alias("pending"),
        how_many(scored).alias("scored"), how_many(counted).alias("counted"),
        fn.AVG(Check.score).alias("mean"), total(Check.statements).alias("statements"),
        total(Check.fatal_count).alias("fatal"), total(Check.error_count).alias("error"),
        total(Check.warning_count).alias("warning"),
        total(Check.refactor_count).alias("refactor"),
        total(Check.convention_count).alias("convention"))
        .join(Repo, on=Check.repo == Repo.id).where(Repo.owner == org)
        .group_by(Check.commit).tuples())


def _frequent_messages(latest: dict[int, str]) -> list[FrequentMessage]:
    """The symbols found most often across the students' latest commits."""
    if not latest:
        return []
    students: dict[str, set[str]] = defaultdict(set)
    occurrences: Counter[str] = Counter()
    examples: dict[str, tuple[str, str]] = {}
    query = (Check.select(Check.commit, Check.messages)
             .where(Check.commit.in_(list(latest)) & (Check.messages != "[]")).tuples())
    for commit_id, messages in query.iterator():
        for message in json.loads(messages):
            symbol = str(message.get("symbol", ""))
            students[symbol].add(latest[commit_id])
            occurrences[symbol] += 1
            examples.setdefault(symbol, (str(message.get("message_id", "")),
                                         str(message.get("message", ""))))
    ranked = sorted(students, key=lambda s: (-len(students[s]), -occurrences[s], s))
    return [FrequentMessage(s, examples[s][0], examples[s][1], len(students[s]), occurrences[s])
            for s in ranked[:TOP_MESSAGES]]


_STATE_RANK = {STATE_FAILURE: 0, STATE_ERROR: 0, STATE_PENDING: 1, STATE_SUCCESS: 2, None: 3}


def sort_rows(rows: list[StudentRow], key: str, descending: bool = False) -> list[StudentRow]:
    """The rows by `key` (SORT_KEYS; unknown keys sort by student), rows without a value last."""
    def value(row: StudentRow) -> tuple[bool, Any]:
        found: Any = {
            "state": _STATE_RANK.get(row.state, 3) if row.state else None,
            "score": row.score, "pushes": row.pushes, "pushed_at": row.pushed_at,
            "late": row.late,
        }.get(key, row.student)
        return (found is None, found if found is not None else 0)
    by_student = sorted(rows, key=lambda row: row.student)
    present = [r for r in by_student if not value(r)[0]]
    absent = [r for r in by_student if value(r)[0]]
    return sorted(present, key=lambda r: value(r)[1], reverse=descending) + absent


CSV_COLUMNS = ("assignment", "student", "repo", "sha", "state", "score", "pushes", "pushed_at",
               "late")


def csv_rows(dashboard: Dashboard, org: str) -> Iterable[list[str]]:
    """The contract's CSV: a header, then one row per student and assignment."""
    yield list(CSV_COLUMNS)
    for row in dashboard.rows():
        yield [row.assignment, row.student, f"{org}/{row.repo}" if row.repo else "",
               row.sha or "", row.state or "", f"{row.score:.2f}" if row.score is not None else "",
               str(row.pushes),
               row.pushed_at.strftime("%Y-%m-%dT%H:%M:%SZ") if row.pushed_at else "",
               "true" if row.late else "false"]
