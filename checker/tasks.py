"""Huey tasks: check a commit's pending files; requeue what dead workers left; report a push.

At-least-once on top of Huey: the work itself lives in the database, one `Check` row per file.
A worker leases the pending rows of a commit (`lease_owner`, `lease_until`) before it lints them,
renews the lease after each file and writes each result only while it still holds the lease.
A worker killed mid-check (`kill -9`) leaves rows whose lease runs out; the requeuer, a thread in
every process that runs workers, enqueues their commit again. A duplicate delivery finds nothing
left to lease and does nothing, so a file never gets two results for one commit.

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
from gitserver.core.repos import repo_path
from gitserver.core.states import STATE_ERROR, STATE_FAILURE, STATE_PENDING, STATE_SUCCESS

from .lint_user import share_tree
from .runner import FileResult, LintRunner
from .schedule import result_values, reusable_results
from .tree import materialise_py_files

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a file whose lint killed its worker this often is marked `error`
_LEASE_MARGIN_S = 15
_STALE_QUEUE_S = 300  # a pending row nobody leased for this long lost its task: requeue it


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
    """What the tasks need in a worker process: settings and a pool of warm LintRunners."""

    def __init__(self, settings: Settings, size: int | None = None) -> None:
        self.settings = settings
        checker = settings.checker
        self._warm_lock = Path(tempfile.gettempdir()) / f"gitserver-warm-{uuid.uuid4().hex}.lock"
        self._runners = [LintRunner(disable=checker.disable, fail_under=checker.fail_under,
                                    timeout_s=checker.timeout_s, warm=True,
                                    warm_lock=str(self._warm_lock))
                         for _ in range(size or settings.queue.workers)]
        self._pool: queue.SimpleQueue[LintRunner] = queue.SimpleQueue()
        for runner in self._runners:
            self._pool.put(runner)

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
        """Stop the pool's lint processes."""
        for runner in self._runners:
            runner.close()
        self._warm_lock.unlink(missing_ok=True)

    def lease_delta(self) -> timedelta:
        """How long a lease lasts: the check timeout plus a margin."""
        return timedelta(seconds=self.settings.checker.timeout_s + _LEASE_MARGIN_S)

    def check_commit(self, commit_id: int) -> set[int]:
        """Lint the commit's pending files; return the ids of the pushes they belong to."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        now = utcnow()
        Check.update(lease_owner=owner, lease_until=now + self.lease_delta()).where(
            (Check.commit == commit_id) & (Check.state == STATE_PENDING)
            & (Check.lease_until.is_null() | (Check.lease_until < now))).execute()
        claimed = list(Check.select().where((Check.lease_owner == owner)
                                            & (Check.state == STATE_PENDING)))
        if not claimed:
            return set()
        pushes = {c.push_id for c in claimed if c.push_id}
        todo = self._finish_known(claimed, owner)
        if todo:
            pushes |= self._lint(commit_id, todo, owner)
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

    def _lint(self, commit_id: int, todo: list[Check], owner: str) -> set[int]:
        """Lint the files one by one; return the pushes whose rows the results also settled."""
        commit = Commit.get_by_id(commit_id)
        path = repo_path(self.settings.repos_dir, commit.repo.owner.username, commit.repo.name)
        # Another worker may be on a commit sharing most keys with this one (two pushes in a
        # row); a random order makes the two mostly lint different files, and each result
        # settles the other's rows of the same key (see _settle_key).
        random.shuffle(todo)
        touched: set[int] = set()
        with tempfile.TemporaryDirectory(prefix="gitserver-tree-") as tmp, \
                self.runner() as runner:
            root = Path(tmp) / "src"
            root.mkdir()
            materialise_py_files(path, commit.sha, root)
            share_tree(Path(tmp))
            # The lint process keeps what it learns of this tree from file to file; the folder
            # name alone could be reused by another tree.
            tree = _Tree(root, f"{commit.sha}:{uuid.uuid4().hex}")
            judge = _Judge(self.settings, commit, path, Path(tmp) / "parent", runner)
            try:
                for check in todo:
                    touched |= self._lint_one(runner, tree, check, owner, judge)
                    Check.update(lease_until=utcnow() + self.lease_delta()).where(
                        (Check.lease_owner == owner) & (Check.state == STATE_PENDING)).execute()
            finally:
                runner.end_tree()  # its memory back before the folder goes
        return touched

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments  # one lint's context
    def _lint_one(self, runner: LintRunner, tree: _Tree, check: Check, owner: str,
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
            return touched
        finally:
            if key:
                release_key(key, owner)


@dataclass(frozen=True)
class _Tree:
    """A commit's files materialised under `root`, named for the lint process by `tree_id`."""

    root: Path
    tree_id: str


class _Judge:  # pylint: disable=too-few-public-methods  # one job: values()
    """A raw lint result under the repository's lint settings (`core.lint_settings.judge`);
    under the gate `new`, with the first parent's messages of the same file as the baseline."""

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments  # one commit's
    def __init__(self, settings: Settings, commit: Commit, repo_dir: Path, parent_root: Path,
                 runner: LintRunner) -> None:
        self.lint = lint_settings.of(commit.repo)
        self.fail_under = (settings.checker.fail_under if self.lint.fail_under is None
                           else self.lint.fail_under)
        self.commit = commit
        self.repo_dir = repo_dir
        self.parent = _Tree(parent_root, f"{commit.parent_sha}:{uuid.uuid4().hex}")
        self.runner = runner
        self._parent_files: list[str] | None = None

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
        if self._parent_files is None:
            self.parent.root.mkdir()
            self._parent_files = materialise_py_files(self.repo_dir, parent_sha,
                                                      self.parent.root)
            share_tree(self.parent.root)
        if check.path not in self._parent_files:
            return []  # new in this commit: every message is new
        for result in self.runner.check_files(self.parent.root, [check.path],
                                              tree_id=self.parent.tree_id):
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
    """Enqueue again the commits whose checks lost their worker or their task; return count."""
    now = utcnow()
    expired = {c.commit_id for c in Check.select(Check.commit).where(
        (Check.state == STATE_PENDING) & (Check.lease_until < now)).distinct()}
    stale = {c.commit_id for c in Check.select(Check.commit).where(
        (Check.state == STATE_PENDING) & Check.lease_until.is_null()
        & (Check.queued_at < now - timedelta(seconds=_STALE_QUEUE_S))).distinct()}
    for commit_id in sorted(expired | stale):
        Check.update(queued_at=now).where((Check.commit == commit_id)
                                          & (Check.state == STATE_PENDING)).execute()
        logger.warning("requeueing the checks of commit %d (worker lost)", commit_id)
        tasks.check_commit(commit_id)
    lost_reports = Push.select(Push.id).where(
        (Push.report_state == "queued") & Push.reported_at.is_null()
        & (Push.created_at < now - timedelta(seconds=_STALE_QUEUE_S)))
    for push in lost_reports.iterator():
        tasks.send_report(push.id)
    return len(expired | stale)
