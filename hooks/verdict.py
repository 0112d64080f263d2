"""The lint verdict in the push itself: wait briefly for the tips' checks and print them.

The rule for waiting: only when the files left to lint could be done within
`checker.push_wait_s` by the configured workers at the recent mean check time (so a first push
of hundreds of files does not wait at all). The wait polls the database with plain reads: it
holds no lock, no worker slot and no transaction, and if the client disconnects the checks and
the report mail go on without it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from peewee import fn

from gitserver.core.config import Settings
from gitserver.core.models import Check, Commit
from gitserver.core.states import (
    STATE_ERROR,
    STATE_PENDING,
    STATE_SUCCESS,
    combined_state,
    commit_score,
    why,
)

MAX_MESSAGE_LINES = 20
_POLL_S = 0.03
_DEFAULT_CHECK_S = 0.15  # warm pylint on a small file, before any check has been timed here
_QUEUE_LATENCY_S = 0.15


def mean_check_seconds() -> float:
    """Mean lint time of one file over the last 50 files actually linted (not reused)."""
    # A peewee expression: `== False` builds the SQL comparison.
    not_reused = Check.reused == False  # noqa: E712  # pylint: disable=singleton-comparison
    recent = (Check.select(Check.duration_ms)
              .where(Check.duration_ms.is_null(False) & not_reused)
              .order_by(Check.id.desc()).limit(50))
    value = Check.select(fn.AVG(recent.c.duration_ms)).from_(recent).scalar()
    # float(): PostgreSQL's AVG is a Decimal
    return max(float(value) / 1000.0, 0.01) if value else _DEFAULT_CHECK_S


def worth_waiting(settings: Settings, pending: int) -> bool:
    """Whether `pending` files are likely checked within the push's wait."""
    wait = settings.checker.push_wait_s
    if wait <= 0:
        return False
    if pending == 0:
        return True
    estimate = _QUEUE_LATENCY_S + pending * mean_check_seconds() / settings.queue.workers
    return estimate <= wait


def wait_for(commits: Sequence[Commit], deadline: float) -> bool:
    """Poll until no check of `commits` is pending or the deadline passes; True if final."""
    ids = [c.id for c in commits]
    while True:
        pending = Check.select().where(Check.commit.in_(ids)
                                       & (Check.state == STATE_PENDING)).exists()
        if not pending:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


def _score(score: float | None) -> str:
    return "-" if score is None else f"{score:.2f}"


def verdict_lines(name: str, commit: Commit, url: str, lines_left: list[int]) -> list[str]:
    """The lines for one pushed tip; `lines_left`: message lines left for the whole push."""
    checks = list(Check.select().where(Check.commit == commit).order_by(Check.path))
    combined = combined_state(c.state for c in checks)
    lines = [f"{name} {commit.sha[:7]}: {combined}, score {_score(commit_score(checks))}/10 "
             f"({len(checks)} file{'s' if len(checks) != 1 else ''} checked)"]
    hidden = 0
    for check in checks:
        if check.state == STATE_SUCCESS:
            continue
        if check.state == STATE_ERROR:
            lines.append(f"  {check.path}: {check.state}, score {_score(check.score)}")
            lines.append(f"    {why(check)}")
        else:
            lines.append(f"  {check.path}: {check.state}, score {_score(check.score)} "
                         f"({why(check)})")
        for message in check.message_list:
            if lines_left[0] <= 0:
                hidden += 1
                continue
            lines_left[0] -= 1
            lines.append(f"    {check.path}:{message['line']}:{message['column']}: "
                         f"{message['symbol']} ({message['message_id']}) {message['message']}")
    if hidden:
        lines.append(f"    ... and {hidden} more: {url}")
    lines.append(f"  Status: {url}")
    return lines


def budget() -> list[int]:
    """A new message-line budget for one push (a list, so verdict_lines can spend it)."""
    return [MAX_MESSAGE_LINES]
