"""The check queue's order: which pending files a free worker takes next.

The work lives in the database, one `Check` row per file; a queued `check_commit` task only
wakes a worker, which then leases the best batch of files there is at that moment:

- by lane: 0 a branch's newest tip, 1 a tip a newer push superseded (`supersede`), 2 a commit
  behind a tip, 3 such a commit past its push's CPU budget (`charge_history`);
- within the lane, round-robin between users (the pusher; `QueueTurn` keeps when each was
  last served), so one big push or one busy user cannot starve the rest;
- within the user, the newest push first, and its newest commit first;
- a small commit whole, so that a student's push is one turn and its verdict comes when it is
  served, not a round later; a big one a few files at a time (`batch_size`), so that it spreads
  over every worker and other users' turns come round.

A lease is a row update guarded by the same condition that chose the row, so two workers never
hold one row; a worker killed mid-batch leaves rows whose lease runs out and are queued again
(`checker.tasks.requeue_lost_work`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from peewee import fn

from gitserver.core.models import Check, Commit, Push, QueueTurn, WorkerBeat, utcnow
from gitserver.core.states import STATE_PENDING

LANE_TIP = 0
LANE_SUPERSEDED = 1
LANE_HISTORY = 2
LANE_OVER_BUDGET = 3

MAX_BATCH = 8  # files per lease at most: a lease's files share one materialised tree
BATCH_S = 2.0  # about this much lint work per lease, so that turns come round quickly
# A commit estimated at no more lint work than this is leased whole (at most MAX_BATCH files).
WHOLE_COMMIT_S = 2 * BATCH_S
DEFAULT_CHECK_S = 0.15  # warm pylint on a small file, before any check has been timed here
_LEASE_TRIES = 4  # another worker may take the chosen rows first: choose again
_BEAT_STALE_S = 10.0  # a worker process beats every 2 s (checker.consumer)
# A push whose tips have no check rows yet is being recorded or scheduled, this long at most;
# an older one was lost, and the requeuer finishes it (hooks.enqueue.finish_unrecorded_pushes).
_UNSCHEDULED_S = 120.0


def free(now: datetime) -> object:
    """Pending rows no live worker holds."""
    return (Check.state == STATE_PENDING) & (Check.lease_until.is_null()
                                             | (Check.lease_until < now))


@dataclass(frozen=True)
class Choice:
    """The next work: a commit's free rows of one lane."""
    lane: int
    user: int
    commit_id: int
    free_rows: int
    waiting_users: int = 1  # users with free files in any lane


def choose(now: datetime) -> Choice | None:
    """The lane, user and commit whose files come next, or None when nothing is free."""
    groups = (Check.select(Check.lane, Check.queue_user)
              .where(free(now)).group_by(Check.lane, Check.queue_user))
    by_lane: dict[int, list[int]] = {}
    for group in groups:
        by_lane.setdefault(group.lane, []).append(group.queue_user)
    if not by_lane:
        return None
    lane = min(by_lane)
    users = by_lane[lane]
    served = {turn.user_id: turn.served_at for turn in QueueTurn.select().where(
        QueueTurn.user_id.in_(users)).iterator()}
    # Never served first, then the longest ago; the user id breaks ties.
    user = min(users, key=lambda u: (served.get(u) is not None, served.get(u) or now, u))
    newest = (Check.select(Check.commit).where(free(now) & (Check.lane == lane)
                                               & (Check.queue_user == user))
              .order_by(Check.push.desc(), Check.commit.desc()).limit(1).first())
    if newest is None:
        return None  # taken meanwhile
    count = Check.select().where(free(now) & (Check.lane == lane)
                                 & (Check.commit == newest.commit_id)).count()
    waiting = len({user for users_of_lane in by_lane.values() for user in users_of_lane})
    return Choice(lane, user, newest.commit_id, count, waiting)


def mean_check_seconds() -> float:
    """Mean lint time of one file over the last 50 files actually linted (not reused)."""
    # A peewee expression: `== False` builds the SQL comparison.
    not_reused = Check.reused == False  # noqa: E712  # pylint: disable=singleton-comparison
    recent = (Check.select(Check.duration_ms)
              .where(Check.duration_ms.is_null(False) & not_reused)
              .order_by(Check.id.desc()).limit(50))
    value = Check.select(fn.AVG(recent.c.duration_ms)).from_(recent).scalar()
    # float(): PostgreSQL's AVG is a Decimal
    return max(float(value) / 1000.0, 0.01) if value else DEFAULT_CHECK_S


def batch_size(free_rows: int, threads: int, mean_s: float = DEFAULT_CHECK_S,
               waiting_users: int = 1) -> int:
    """Files per lease: while fewer users wait than there are worker threads, the commit's
    free files spread over every thread, so one big commit keeps all workers busy. With more
    users waiting, their commits keep the threads busy and a commit is not split further (each
    thread that takes a part of it learns its tree anew): a small commit, up to WHOLE_COMMIT_S
    of work, is one lease, so that its user's verdict comes in one turn (thirty students'
    8-file pushes cut in two turns each all came at the end of the second round); a bigger one
    goes about BATCH_S at a time, so that another user's turn comes within seconds. Never more
    than MAX_BATCH files."""
    threads = max(1, threads)
    by_time = math.floor(BATCH_S / max(mean_s, 0.001))
    if waiting_users < threads:
        return max(1, min(MAX_BATCH, math.ceil(free_rows / threads), by_time))
    if free_rows <= MAX_BATCH and free_rows * mean_s <= WHOLE_COMMIT_S:
        return free_rows
    return max(1, min(MAX_BATCH, free_rows, by_time))


def turn_limit_s(files: int, mean_s: float) -> float:
    """How long a lease of `files` may lint before it gives the rest back to the queue: twice
    what it was sized for, at least BATCH_S (files slower than their estimate must not hold
    the other users' turns)."""
    return max(BATCH_S, 2 * files * mean_s)


def lease_batch(owner: str, lasting: timedelta, threads: int,
                mean_s: float | None = None) -> list[Check]:
    """Lease the next batch for `owner`, sized by `mean_s` (default: `mean_check_seconds`);
    [] when nothing is free."""
    mean_s = mean_check_seconds() if mean_s is None else mean_s
    for _ in range(_LEASE_TRIES):
        now = utcnow()
        choice = choose(now)
        if choice is None:
            return []
        size = batch_size(choice.free_rows, threads, mean_s, choice.waiting_users)
        wanted = [row.id for row in Check.select(Check.id).where(
            free(now) & (Check.lane == choice.lane) & (Check.commit == choice.commit_id))
            .order_by(Check.id).limit(size)]
        # The WHERE is checked again on each row as it is updated: a row another worker took
        # since the select stays theirs.
        taken = Check.update(lease_owner=owner, lease_until=now + lasting).where(
            Check.id.in_(wanted) & free(now)).execute()
        if taken:
            _served(choice.user, now)
            return list(Check.select().where(Check.id.in_(wanted) & (Check.lease_owner == owner)
                                             & (Check.state == STATE_PENDING)))
    return []


def _served(user: int, now: datetime) -> None:
    QueueTurn.insert(user_id=user, served_at=now).on_conflict(
        conflict_target=[QueueTurn.user_id], update={QueueTurn.served_at: now}).execute()


def commit_has_free(commit_id: int) -> bool:
    """Whether files of the commit wait for a worker."""
    return Check.select().where(free(utcnow()) & (Check.commit == commit_id)).exists()


def any_free() -> bool:
    """Whether a pending row waits for a worker (another wake-up is worth queueing)."""
    return Check.select().where(free(utcnow())).exists()


def supersede(repo_id: int, old_tips: list[str], keep: list[str]) -> int:
    """Move the pending rows of tips a push moved a branch away from (`old_tips`) behind every
    newest tip, unless they are still a tip somewhere (`keep`); return how many moved."""
    gone = sorted(set(old_tips) - set(keep))
    if not gone:
        return 0
    commits = Commit.select(Commit.id).where((Commit.repo == repo_id) & Commit.sha.in_(gone))
    return Check.update(lane=LANE_SUPERSEDED).where(
        (Check.commit.in_(commits)) & (Check.state == STATE_PENDING)
        & (Check.lane == LANE_TIP)).execute()


def charge_history(push_id: int, duration_ms: int, budget_s: int) -> None:
    """Count a lint of a commit behind the push's tips; past the budget, the push's remaining
    history waits behind everyone else's (it is still checked, when workers are idle)."""
    Push.update(history_ms=Push.history_ms + duration_ms).where(Push.id == push_id).execute()
    spent = Push.select(Push.history_ms).where(Push.id == push_id).scalar() or 0
    if spent >= budget_s * 1000:
        Check.update(lane=LANE_OVER_BUDGET).where(
            (Check.push == push_id) & (Check.lane == LANE_HISTORY)
            & (Check.state == STATE_PENDING)).execute()


def beat(name: str, threads: int) -> None:
    """Say that the worker process `name` is alive with `threads` threads."""
    now = utcnow()
    WorkerBeat.insert(name=name, threads=threads, seen_at=now).on_conflict(
        conflict_target=[WorkerBeat.name],
        update={WorkerBeat.threads: threads, WorkerBeat.seen_at: now}).execute()
    # A stopped process's beat stays (so that "no worker is running" can be told) for a day.
    WorkerBeat.delete().where(  # pylint: disable=no-value-for-parameter
        WorkerBeat.seen_at < now - timedelta(days=1)).execute()


def live_threads(default: int) -> int:
    """Worker threads alive now, by their beats: 0 when workers ran but none beats any more;
    `default` when none ever beat (a new installation's first seconds)."""
    since = utcnow() - timedelta(seconds=_BEAT_STALE_S)
    total = WorkerBeat.select(fn.SUM(WorkerBeat.threads)).where(
        WorkerBeat.seen_at >= since).scalar()
    if total:
        return int(total)
    ever = WorkerBeat.select().exists()  # pylint: disable=no-value-for-parameter  # peewee's
    return 0 if ever else default


@dataclass(frozen=True)
class Place:
    """Where a push's files stand in the queue: files to lint before the last of them."""
    ahead: int  # files other users' turns (and running checks) put before the push's own
    own: int  # the push's own pending files

    @property
    def position(self) -> int:
        """The push's place in the queue, 1 when nothing is ahead of it."""
        return self.ahead + 1


def unscheduled_pushes(user: int, now: datetime) -> int:
    """Other users' recent pushes whose check rows are not made yet: at a deadline, thirty
    pushes arrive in the same second, and each is recorded and scheduled while the others are
    told their place; their files join the round-robin moments later."""
    has_rows = Check.select(Check.id).where(Check.push == Push.id)
    return Push.select().where(
        (Push.created_at >= now - timedelta(seconds=_UNSCHEDULED_S)) & Push.history_at.is_null()
        & Push.pusher.is_null(False) & (Push.pusher != user)
        & ~fn.EXISTS(has_rows)).count()


def place_of(commit_ids: list[int], user: int, own: int | None = None) -> Place:
    """The queue ahead of these commits (a user's newest tips; `own`: their file count when
    they are not queued yet): running checks, plus, as the round-robin serves each other user
    with newest tips waiting about as many files as these commits have, up to that many files
    of each such user; a push of another user that is not scheduled yet counts as that many
    files too (its own count is not known before it is scheduled)."""
    now = utcnow()
    if own is None:
        own = Check.select().where(Check.commit.in_(commit_ids)
                                   & (Check.state == STATE_PENDING)).count()
    running = Check.select().where((Check.state == STATE_PENDING) & (Check.lease_until >= now)
                                   & ~Check.commit.in_(commit_ids)).count()
    others = (Check.select(Check.queue_user, fn.COUNT(Check.id).alias("n"))
              .where(free(now) & (Check.lane <= LANE_TIP) & (Check.queue_user != user))
              .group_by(Check.queue_user).dicts())
    # .dicts() rows, which peewee types as models
    ahead = running + sum(min(int(cast(dict[str, Any], row)["n"]), own) for row in others)
    if own:
        ahead += own * unscheduled_pushes(user, now)
    return Place(ahead=ahead, own=own)
