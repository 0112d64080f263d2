"""Huey tasks: check the queue's next files; requeue what dead workers left; report a push.

At-least-once on top of Huey: the work itself lives in the database, one `Check` row per file,
and a `check_commit` task only wakes a worker. The worker leases the queue's next batch of a few
files (`checker.lease`: newest tips first, round-robin between users; a big commit spreads over
every worker), wakes another worker while more waits, renews the lease after each file and writes
each result only while it still holds the lease. A worker killed mid-check (`kill -9`) leaves
rows whose lease runs out; the requeuer, a thread in every process that runs workers, wakes a
worker for them again. A duplicate wake-up finds nothing left to lease and does nothing, so a
file never gets two results for one commit.

One lint per result key at a time: a worker claims the key (`LintClaim`) before linting it, and
its result, `error` included, settles every pending row of that key. A worker that finds the key
claimed leaves those rows to the claimant's result, so a slow file that ten commits of a push
carry is linted once, and times out once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import random
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from huey import Huey

from gitserver.core import lint_settings
from gitserver.core.config import Settings
from gitserver.core.models import Check, Commit, LintClaim, Push, utcnow
from gitserver.core.states import STATE_ERROR, STATE_FAILURE, STATE_PENDING, STATE_SUCCESS

from . import lease
from .lint_user import share_tree
from .runner import FileResult, LintRunner
from .schedule import result_values, reusable_results
from .sources import TreeSource, tree_source
from .tree_cache import Tree, TreeCache

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a file whose lint killed its worker this often is marked `error`
_LEASE_MARGIN_S = 15
_STALE_QUEUE_S = 300  # a report queued this long ago and not sent lost its task: queue it again


@dataclass(frozen=True)
class Tasks:
    """The task wrappers of one Huey instance: calling one enqueues it."""
    huey: Huey
    check_commit: Callable[[int], object]
    send_report: Callable[[int], object]
    schedule_history: Callable[[int], object]
    # The report a few seconds later (mailer.tasks.COALESCE_S), so that a quick next push to
    # the branch can supersede it; None: at once.
    report_soon: Callable[[int], object] | None = None

    def report(self, push_id: int) -> None:
        """Enqueue the push's report mail, a few seconds later where that is wired."""
        (self.report_soon or self.send_report)(push_id)


class CheckWorker:
    """What the tasks need in a worker process: settings, a pool of warm LintRunners and where
    the trees come from (`source`; by default as `queue.web_url` says)."""

    def __init__(self, settings: Settings, size: int | None = None,
                 source: TreeSource | None = None) -> None:
        self.settings = settings
        self.source = source or tree_source(settings)
        checker = settings.checker
        self._warm_lock = Path(tempfile.gettempdir()) / f"gitserver-warm-{uuid.uuid4().hex}.lock"
        self._runners = [LintRunner(disable=checker.disable, fail_under=checker.fail_under,
                                    timeout_s=checker.timeout_s, warm=True,
                                    warm_lock=str(self._warm_lock))
                         for _ in range(size or settings.queue.workers)]
        self._pool: queue.SimpleQueue[LintRunner] = queue.SimpleQueue()
        for runner in self._runners:
            self._pool.put(runner)
        self.threads = len(self._runners)
        self.trees = TreeCache(self.source.materialise, keep=2 * self.threads)

    @contextlib.contextmanager
    def runner(self) -> Iterator[LintRunner]:
        """One runner for the calling task, back to the pool afterwards."""
        runner = self._pool.get()
        try:
            yield runner
        finally:
            self._pool.put(runner)

    def warm(self) -> None:
        """Start each lint process (which warms up on the stdlib) and lint a tiny file, so the
        first push meets warm pylint."""
        with tempfile.TemporaryDirectory(prefix="gitserver-warm-") as tmp:
            (Path(tmp) / "warm.py").write_text('"""Warm-up."""\n', encoding="utf-8")
            share_tree(Path(tmp))
            for _ in self._runners:
                with self.runner() as runner:
                    for _result in runner.check_files(Path(tmp), ["warm.py"]):
                        pass

    def close(self) -> None:
        """Stop the pool's lint processes; remove the trees."""
        for runner in self._runners:
            runner.close()
        self.trees.close()
        self._warm_lock.unlink(missing_ok=True)

    def lease_delta(self) -> timedelta:
        """How long a lease lasts: the check timeout plus a margin."""
        return timedelta(seconds=self.settings.checker.timeout_s + _LEASE_MARGIN_S)

    def check_next(self, wake: Callable[[], object] | None = None) -> set[int]:
        """Lease the queue's next batch of files (`checker.lease`) and lint it; return the ids
        of the pushes the results settled. `wake` queues another wake-up, called when more
        work waits, so that a free worker takes the next batch meanwhile."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        threads = lease.live_threads(default=self.settings.queue.workers)
        mean_s = lease.mean_check_seconds()
        claimed = lease.lease_batch(owner, self.lease_delta(), threads, mean_s)
        if not claimed:
            return set()
        if wake is not None and lease.any_free():
            wake()
        pushes = {c.push_id for c in claimed if c.push_id}
        todo = self._finish_known(claimed, owner)
        if todo:
            pushes |= self._lint(todo[0].commit_id, todo, owner, wake,
                                 lease.turn_limit_s(len(todo), mean_s))
        return pushes

    def _finish_known(self, claimed: list[Check], owner: str) -> list[Check]:
        """Settle rows whose key got a result meanwhile, or whose lint killed workers too often;
        return the rest."""
        reuse = reusable_results(c.result_key for c in claimed)
        todo = []
        for check in claimed:
            previous = reuse.get(check.result_key)
            if previous is not None:
                _store(check, owner, reused=True, **result_values(previous))
            elif check.attempts >= MAX_ATTEMPTS:
                _settle_key(check, owner, {
                    "state": STATE_ERROR, "score": None, "messages": "[]",
                    "error": f"the checker stopped {MAX_ATTEMPTS} times while checking this "
                             "file; it was not checked. Simplify the file and push again.",
                    "checked_at": utcnow()})
            else:
                todo.append(check)
        return todo

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments  # one lease's context
    def _lint(self, commit_id: int, todo: list[Check], owner: str,
              wake: Callable[[], object] | None, limit_s: float) -> set[int]:
        """Lint the batch's files one by one, giving the rest back past `limit_s`; return the
        pushes whose rows the results also settled."""
        commit = Commit.get_by_id(commit_id)
        # Another worker may be on a commit sharing most keys with this one (two pushes in a
        # row); a random order makes the two mostly lint different files, and each result
        # settles the other's rows of the same key (see _settle_key).
        random.shuffle(todo)
        touched: set[int] = set()
        started = time.monotonic()
        with self.trees.use(commit.repo, commit.sha) as tree, self.runner() as runner:
            judge = _Judge(self.settings, commit, self.trees, runner)
            for done, check in enumerate(todo, 1):
                touched |= self._lint_one(runner, tree, check, owner, judge)
                rest = todo[done:]
                if rest and time.monotonic() - started > limit_s:
                    # Slower files than the batch was sized for: the rest goes back to the
                    # queue, so that other users' turns come round (this worker may take it
                    # again, its tree still on disk).
                    Check.update(lease_until=None).where(
                        Check.id.in_([c.id for c in rest]) & (Check.lease_owner == owner)
                        & (Check.state == STATE_PENDING)).execute()
                    if wake is not None:
                        wake()
                    break
                Check.update(lease_until=utcnow() + self.lease_delta()).where(
                    (Check.lease_owner == owner) & (Check.state == STATE_PENDING)).execute()
            if not lease.commit_has_free(commit_id):
                # This worker's runner keeps what it learnt of the tree while more batches
                # of it may come; the last one ends it (memory back, a recycle if grown).
                runner.end_tree()
        return touched

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments  # one lint's context
    def _lint_one(self, runner: LintRunner, tree: Tree, check: Check, owner: str,
                  judge: _Judge) -> set[int]:
        """Lint one row unless its key is settled or being linted elsewhere (then its result
        settles this row too); return the pushes the result settled."""
        key = check.result_key
        if key and not claim_key(key, owner, self.lease_delta()):
            return set()  # another worker lints this key; its result will settle this row
        try:
            if Check.get_by_id(check.id).state != STATE_PENDING:
                return set()  # settled by another worker's result for this key
            Check.update(attempts=Check.attempts + 1).where(Check.id == check.id).execute()
            touched: set[int] = set()
            for result in runner.check_files(tree.root, [check.path], tree_id=tree.tree_id):
                touched |= _settle_key(check, owner, judge.values(check, result))
                if check.lane == lease.LANE_HISTORY and check.push_id:
                    lease.charge_history(check.push_id, result.duration_ms or 0,
                                         self.settings.checker.history_cpu_s)
            return touched
        finally:
            if key:
                release_key(key, owner)


class _Judge:  # pylint: disable=too-few-public-methods  # one job: values()
    """A raw lint result under the repository's lint settings (`core.lint_settings.judge`);
    under the gate `new`, with the first parent's messages of the same file as the baseline."""

    def __init__(self, settings: Settings, commit: Commit, trees: TreeCache,
                 runner: LintRunner) -> None:
        self.lint = lint_settings.of(commit.repo)
        self.fail_under = (settings.checker.fail_under if self.lint.fail_under is None
                           else self.lint.fail_under)
        self.commit = commit
        self.trees = trees
        self.runner = runner

    def values(self, check: Check, result: FileResult) -> dict[str, object]:
        """The row's result fields."""
        counts = result.counts
        messages = [asdict(m) for m in result.messages]
        state, score = result.state, result.score
        if counts is not None:
            judged = lint_settings.judge(messages, counts, self.lint, self.fail_under,
                                         self._baseline(check))
            state, score, counts, messages = (judged.state, judged.score, judged.counts,
                                              judged.messages)
        return {"state": state, "score": score, "messages": json.dumps(messages),
                "duration_ms": result.duration_ms, "error": result.error,
                "checked_at": utcnow(),
                "fail_under": None if counts is None else self.fail_under,
                "statements": None if counts is None else counts.statements,
                "fatal_count": None if counts is None else counts.fatal,
                "error_count": None if counts is None else counts.error,
                "warning_count": None if counts is None else counts.warning,
                "refactor_count": None if counts is None else counts.refactor,
                "convention_count": None if counts is None else counts.convention}

    def _baseline(self, check: Check) -> list[dict[str, Any]] | None:
        """The parent's messages of the file (None unless gated; [] for a new file): from the
        parent's own check under the same settings, else by linting the parent's version."""
        if self.lint.gate != lint_settings.GATE_NEW:
            return None
        parent_sha = self.commit.parent_sha
        if not parent_sha:
            return []
        stored = Check.select(Check).join(Commit).where(
            (Commit.repo == self.commit.repo_id) & (Commit.sha == parent_sha)
            & (Check.path == check.path)).first()
        if stored is not None and stored.settings_fp == check.settings_fp \
                and stored.state in (STATE_SUCCESS, STATE_FAILURE):
            return stored.message_list
        with self.trees.use(self.commit.repo, parent_sha) as parent:
            if check.path not in parent.files:
                return []  # new in this commit: every message is new
            for result in self.runner.check_files(parent.root, [check.path],
                                                  tree_id=parent.tree_id):
                return [asdict(m) for m in result.messages]
        return []


def claim_key(key: str, owner: str, lasting: timedelta) -> bool:
    """Whether `owner` may lint `key` now: no other live worker is linting it."""
    now = utcnow()
    LintClaim.insert(result_key=key, owner=owner, until=now + lasting).on_conflict_ignore() \
        .execute()
    # The claim of a worker that died runs out; one taker wins (the WHERE is checked again on
    # the locked row).
    LintClaim.update(owner=owner, until=now + lasting).where(
        (LintClaim.result_key == key) & (LintClaim.until < now)).execute()
    holder = LintClaim.get_or_none(LintClaim.result_key == key)
    return holder is not None and holder.owner == owner


def release_key(key: str, owner: str) -> None:
    """Let others lint `key` again (after this owner's result is stored)."""
    # peewee's Model.delete is a classmethod; pylint takes it for the instance method.
    LintClaim.delete().where(  # pylint: disable=no-value-for-parameter
        (LintClaim.result_key == key) & (LintClaim.owner == owner)).execute()


def _settle_key(check: Check, owner: str, values: dict[str, object]) -> set[int]:
    """Store the result; copy it to every other pending row of the key; return their pushes."""
    _store(check, owner, **values)
    if not check.result_key:
        return set()  # a row queued before result keys existed shares nothing
    same_key = ((Check.result_key == check.result_key) & (Check.state == STATE_PENDING)
                & (Check.id != check.id))
    pushes = {row.push_id for row in Check.select(Check.push).where(same_key).iterator()
              if row.push_id}
    Check.update(lease_until=None, reused=True, **values).where(same_key).execute()
    return pushes


def _store(check: Check, owner: str, **values: object) -> None:
    """Write a result only while this worker still holds the row's lease."""
    Check.update(lease_until=None, **values).where(
        (Check.id == check.id) & (Check.lease_owner == owner)
        & (Check.state == STATE_PENDING)).execute()


def push_is_final(push_id: int) -> bool:
    """Whether every check of the push exists (its history is scheduled) and none is pending."""
    if not Push.select().where((Push.id == push_id) & Push.history_at.is_null(False)).exists():
        return False
    return not Check.select().where((Check.push == push_id)
                                    & (Check.state == STATE_PENDING)).exists()


def claim_report(push_id: int) -> bool:
    """True for exactly one caller once every check of the push is final."""
    if not push_is_final(push_id):
        return False
    return Push.update(report_state="queued").where(
        (Push.id == push_id) & (Push.report_state == "")).execute() == 1


def requeue_lost_work(tasks: Tasks) -> int:
    """Give back the leases of workers that died, and wake a worker when files wait but no
    wake-up is queued (a task lost with a wiped queue, or a lease run out); return how many
    leases ran out."""
    now = utcnow()
    expired = Check.update(lease_until=None).where(
        (Check.state == STATE_PENDING) & (Check.lease_until < now)).execute()
    if expired:
        logger.warning("requeueing %d checks whose worker was lost", expired)
    if lease.any_free() and tasks.huey.pending_count() == 0:
        tasks.check_commit(0)
    lost_reports = Push.select(Push.id).where(
        (Push.report_state == "queued") & Push.reported_at.is_null()
        & (Push.created_at < now - timedelta(seconds=_STALE_QUEUE_S)))
    for push in lost_reports.iterator():
        tasks.send_report(push.id)
    return expired
