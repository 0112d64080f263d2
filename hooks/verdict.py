"""The lint verdict in the push itself: wait briefly for the tips' checks and print them,
what the push changed first (`gitserver.core.changes.feedback`).

The rule for waiting: only when the files left to lint, and the files the queue serves before
them (running checks, and the other users' turns of the round-robin, `checker.lease`), could be
done within `checker.push_wait_s` by the live worker threads at the recent mean check time. A
first push of hundreds of files, or a push at a deadline behind a long queue, does not wait at
all: it says its place in the queue and an estimate. The wait polls the database with plain
reads: it holds no lock, no worker slot and no transaction, and if the client disconnects the
checks and the report mail go on without it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checker import lease
from checker.lease import Place
from gitserver.core.changes import Feedback, FileLine
from gitserver.core.config import Settings
from gitserver.core.models import Check, Commit
from gitserver.core.states import STATE_ERROR, STATE_PENDING, STATE_SUCCESS
from gitserver.core.urls import help_url

MAX_MESSAGE_LINES = 20
_POLL_S = 0.03
_QUEUE_LATENCY_S = 0.15


@dataclass(frozen=True)
class QueueWait:
    """How long a push's files would take: the queue ahead of them and their own."""
    place: Place
    seconds: float

    def line(self) -> str | None:
        """What the pusher is told when files of others come first, or no worker runs; None
        otherwise."""
        if math.isinf(self.seconds):
            return (f"queue: position {self.place.position}; no worker is running right now, "
                    "so the checks start when one does (`gitserver worker`)")
        if self.place.ahead <= 0:
            return None
        own = self.place.own
        return (f"queue: position {self.place.position}, {self.place.ahead} "
                f"file{'s' if self.place.ahead != 1 else ''} ahead of this push's {own}; "
                f"about {math.ceil(self.seconds)} s")


def queue_wait(settings: Settings, commit_ids: list[int], user: int,
               own: int | None = None) -> QueueWait:
    """The queue ahead of these commits' files (`checker.lease.place_of`; `own` instead of
    their pending count, for files not queued yet), and the time all of them take at the
    recent mean check time on the worker threads alive now."""
    place = lease.place_of(commit_ids, user, own)
    threads = lease.live_threads(default=settings.queue.workers)
    files = place.ahead + place.own
    if not place.own:
        return QueueWait(place, 0.0)  # the push's verdict is there already
    if not threads:
        return QueueWait(place, math.inf)
    return QueueWait(place, _QUEUE_LATENCY_S + files * lease.mean_check_seconds() / threads)


def worth_waiting(settings: Settings, found: QueueWait, wait: float | None = None) -> bool:
    """Whether the files are likely checked within the push's wait (`wait`, else
    `checker.push_wait_s`), the queue ahead of them included."""
    wait = settings.checker.push_wait_s if wait is None else wait
    if wait <= 0:
        return False
    return found.seconds <= wait


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


def _delta(delta: float | None) -> str:
    return "" if delta is None else f" ({delta:+.2f})"


def message_line(path: str, message: dict[str, Any]) -> str:
    """`    path:line:col: symbol (message-id) message`, marked when a baseline message."""
    mark = " [old: does not fail]" if message.get("baseline") else ""
    return (f"    {path}:{message.get('line')}:{message.get('column')}: {message.get('symbol')} "
            f"({message.get('message_id')}) {message.get('message')}{mark}")


def _file_line(line: FileLine) -> list[str]:
    head = f"  {line.path}: {line.state}, score {_score(line.score)}{_delta(line.delta)}"
    if line.state == STATE_ERROR:
        return [head, f"    {line.reason}"]
    return [head + (f" ({line.reason})" if line.reason else "")]


def _new_header(found: Feedback) -> str:
    if found.parent_sha is None:
        where = "new in this first commit"
    elif not found.parent_checked:
        where = "in the changed files (the parent was not checked)"
    else:
        where = "new since the parent"
    return f"  {where}: {found.new_counts()}"


def _still_failing(found: Feedback) -> str:
    names = ", ".join(f"{ln.path} ({ln.state}, {_score(ln.score)})"
                      for ln in found.still_failing[:3])
    more = len(found.still_failing) - 3
    count = len(found.still_failing)
    return (f"  unchanged and still failing: {count} file{'s' if count != 1 else ''}: {names}"
            + (f" and {more} more" if more > 0 else ""))


def feedback_lines(name: str, found: Feedback, url: str, lines_left: list[int]) -> list[str]:
    """The lines for one pushed tip, what it changed first; `lines_left`: message lines left
    for the whole push (new messages spend it first)."""
    count = found.total_files
    lines = [f"{name} {found.sha[:7]}: {found.state}, score {_score(found.score)}/10"
             f"{_delta(found.score_delta)} ({count} file{'s' if count != 1 else ''} checked)"]
    cut: list[str] = []  # the path of each message left out

    def spend(path: str, message: dict[str, Any]) -> None:
        if lines_left[0] <= 0:
            cut.append(path)
            return
        lines_left[0] -= 1
        lines.append(message_line(path, message))

    if found.new:
        lines.append(_new_header(found))
        for path, message in found.new:
            spend(path, message)
    old: dict[str, list[dict[str, Any]]] = {}
    for path, message in found.old:
        old.setdefault(path, []).append(message)
    for line in found.changed:
        if line.state == STATE_SUCCESS and line.delta in (None, 0):
            continue  # a clean new file: nothing to say
        lines.extend(_file_line(line))
        for message in old.pop(line.path, []):
            spend(line.path, message)
    for path, messages in old.items():
        cut.extend(path for _ in messages)
    if found.still_failing:
        lines.append(_still_failing(found))
    if found.fixed:
        lines.append(f"  you fixed {len(found.fixed)}: {found.fixed_summary()}")
    if cut:
        files = len(set(cut))
        lines.append(f"  \u2026 and {len(cut)} more message{'s' if len(cut) != 1 else ''} in "
                     f"{files} file{'s' if files != 1 else ''}: {url}")
    lines.append(f"  Status: {url}")
    return lines


def explain_line(base_url: str, found: Feedback) -> str | None:
    """"explain: URL" for the first new error of a tip, or None when it has none."""
    first = found.first_new_error()
    if first is None:
        return None
    return f"explain: {help_url(base_url, str(first.get('symbol')))}"


def budget() -> list[int]:
    """A new message-line budget for one push (a list, so feedback_lines can spend it)."""
    return [MAX_MESSAGE_LINES]
