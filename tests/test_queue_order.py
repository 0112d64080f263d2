"""The check queue's order (`checker.lease`) on a real SQLite database, no server: lanes,
round-robin between users, newest push first, batches, leases never shared, superseded tips and
the history budget, and the place a push is told."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import threading
from datetime import timedelta

from checker import lease
from gitserver.core.models import (
    Check,
    Commit,
    Push,
    Repo,
    User,
    WorkerBeat,
    utcnow,
)
from gitserver.core.states import STATE_SUCCESS

MINUTE = timedelta(minutes=1)


class Course:
    """Users with a repo each; pushes of commits with a few pending files."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.users: dict[str, User] = {}
        self.commits = 0

    def repo(self, name: str) -> Repo:
        if name not in self.repos:
            user = User.create(username=name, email=f"{name}@example.com", password_hash="x")
            self.users[name] = user
            self.repos[name] = Repo.create(owner=user, name="hw", name_lower="hw")
        return self.repos[name]

    def push(self, name: str, files: int, lane: int = lease.LANE_TIP) -> Commit:
        repo = self.repo(name)
        push = Push.create(repo=repo, pusher=self.users[name])
        self.commits += 1
        commit = Commit.create(repo=repo, sha=f"{self.commits:040x}", message="m",
                               author_name=name, author_email="e", authored_at=utcnow(),
                               committed_at=utcnow(), push=push)
        for i in range(files):
            Check.create(repo=repo, commit=commit, push=push, path=f"f{i}.py", blob_sha="b",
                         change="added", settings_fp="s", result_key=f"{commit.sha}{i}",
                         lane=lane, queue_user=self.users[name].id)
        return commit


def owners_of(batch: list[Check]) -> set[str]:
    return {Commit.get_by_id(c.commit_id).author_name for c in batch}


def finish(batch: list[Check]) -> None:
    Check.update(state=STATE_SUCCESS, lease_until=None).where(
        Check.id.in_([c.id for c in batch])).execute()


def drain(threads: int = 1) -> list[tuple[str, int, int]]:
    """(user, commit id, files) of each batch, in the order the queue hands them out."""
    order = []
    while batch := lease.lease_batch("w", MINUTE, threads):
        order.append((owners_of(batch).pop(), batch[0].commit_id, len(batch)))
        finish(batch)
    return order


def test_users_take_turns_whatever_one_of_them_pushed(db: None) -> None:
    course = Course()
    for _ in range(3):
        course.push("ann", 1)
    course.push("bob", 1)
    course.push("cat", 1)
    users = [user for user, _, _ in drain()]
    assert users == ["ann", "bob", "cat", "ann", "ann"]


def test_a_users_newest_push_comes_first(db: None) -> None:
    course = Course()
    first = course.push("ann", 1)
    second = course.push("ann", 1)
    assert [commit for _, commit, _ in drain()] == [second.id, first.id]


def test_tips_before_superseded_tips_before_history_before_over_budget(db: None) -> None:
    course = Course()
    over = course.push("ann", 1, lane=lease.LANE_OVER_BUDGET)
    history = course.push("bob", 1, lane=lease.LANE_HISTORY)
    superseded = course.push("cat", 1, lane=lease.LANE_SUPERSEDED)
    tip = course.push("dan", 1)
    assert [commit for _, commit, _ in drain()] == [tip.id, superseded.id, history.id, over.id]


def test_a_big_commit_is_cut_in_batches_for_every_worker_thread(db: None) -> None:
    course = Course()
    course.push("ann", 30)
    course.push("bob", 6)
    assert lease.batch_size(30, 2, 0.1) == lease.MAX_BATCH and lease.batch_size(6, 2, 0.1) == 3
    assert lease.batch_size(30, 2, 1.0) == 2  # about BATCH_S of work per lease
    assert lease.batch_size(1, 4) == 1
    # enough users waiting to keep both threads busy: a commit is not split
    assert lease.batch_size(6, 2, 0.1, waiting_users=2) == 6
    order = drain(threads=2)
    assert sum(files for _, _, files in order) == 36
    assert max(files for _, _, files in order) <= lease.MAX_BATCH
    # bob's 6 files are not held back behind all of ann's 30
    assert [user for user, _, _ in order][:2] == ["ann", "bob"]


def test_a_small_commit_is_one_turn_and_a_big_one_goes_a_few_files_at_a_time(db: None) -> None:
    assert lease.batch_size(8, 2, 0.3, waiting_users=30) == 8  # 2.4 s of work: whole
    assert lease.batch_size(8, 2, 0.6, waiting_users=30) == 3  # 4.8 s: about BATCH_S
    assert lease.batch_size(30, 2, 0.1, waiting_users=30) == lease.MAX_BATCH
    assert lease.turn_limit_s(8, 0.3) == 2 * 8 * 0.3 and lease.turn_limit_s(1, 0.3) == lease.BATCH_S
    course = Course()
    timed = course.push("zed", 50)  # files linted before: 0.3 s each
    Check.update(state=STATE_SUCCESS, duration_ms=300).where(
        Check.commit == timed.id).execute()
    for name in ("ann", "bob", "cat"):
        course.push(name, 8)
    course.push("dan", 20)
    order = [(user, files) for user, _, files in drain(threads=2)]
    # each student's 8 files in one turn, so each verdict comes when its user is served
    assert order[:4] == [("ann", 8), ("bob", 8), ("cat", 8), ("dan", 6)]
    assert sum(files for user, files in order if user == "dan") == 20


def test_two_workers_never_hold_the_same_file(db: None) -> None:
    course = Course()
    for name in ("ann", "bob", "cat"):
        course.push(name, 20)
    taken: list[list[int]] = [[], [], [], []]

    def work(slot: int) -> None:
        while batch := lease.lease_batch(f"w{slot}", MINUTE, 4):
            taken[slot].extend(c.id for c in batch)
            finish(batch)

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    every = [i for ids in taken for i in ids]
    assert len(every) == len(set(every)) == 60


def test_a_lease_that_ran_out_is_taken_again_and_a_live_one_is_not(db: None) -> None:
    course = Course()
    course.push("ann", 2)
    held = lease.lease_batch("w1", MINUTE, 1)
    assert len(held) == 2 and lease.lease_batch("w2", MINUTE, 1) == []
    Check.update(lease_until=utcnow() - MINUTE).execute()
    assert {c.id for c in lease.lease_batch("w2", MINUTE, 1)} == {c.id for c in held}


def test_a_push_moves_the_tip_it_replaced_behind_every_newest_tip(db: None) -> None:
    course = Course()
    old = course.push("ann", 2)
    course.push("bob", 1)
    repo = course.repos["ann"]
    assert lease.supersede(repo.id, [old.sha], keep=[]) == 2
    assert lease.supersede(repo.id, [old.sha], keep=[old.sha]) == 0  # still a branch tip
    assert {c.lane for c in Check.select().where(Check.commit == old)} == {lease.LANE_SUPERSEDED}
    assert [user for user, _, _ in drain()] == ["bob", "ann"]


def test_history_past_its_budget_waits_behind_others_history(db: None) -> None:
    course = Course()
    ann = course.push("ann", 3, lane=lease.LANE_HISTORY)
    push_id = Commit.get_by_id(ann.id).push_id
    lease.charge_history(push_id, 4_000, budget_s=5)
    assert {c.lane for c in Check.select()} == {lease.LANE_HISTORY}
    lease.charge_history(push_id, 1_000, budget_s=5)
    assert {c.lane for c in Check.select()} == {lease.LANE_OVER_BUDGET}
    bob = course.push("bob", 1, lane=lease.LANE_HISTORY)
    assert [commit for _, commit, _ in drain()] == [bob.id, ann.id]


def test_the_place_counts_running_checks_and_one_turn_of_each_other_user(db: None) -> None:
    course = Course()
    course.push("bob", 10)
    course.push("cat", 1)
    running = lease.lease_batch("w", MINUTE, 4)  # bob's first batch (never served first: bob)
    mine = course.push("ann", 3)
    place = lease.place_of([mine.id], course.users["ann"].id)
    # running: bob's leased files; then per turn: up to 3 more of bob's, cat's one
    assert place.own == 3 and place.ahead == len(running) + 3 + 1
    assert place.position == place.ahead + 1
    before = lease.place_of([], course.users["ann"].id, own=1)
    assert before.own == 1 and before.ahead == len(running) + 1 + 1


def test_the_place_counts_other_users_pushes_not_scheduled_yet(db: None) -> None:
    course = Course()
    course.push("bob", 2)  # scheduled: its rows count as they are
    for name in ("cat", "dan", "ann"):  # recorded, rows not made yet (cat, dan: others)
        Push.create(repo=course.repo(name), pusher=course.users[name])
    old = Push.create(repo=course.repo("eve"), pusher=course.users["eve"])
    Push.update(created_at=utcnow() - 10 * MINUTE).where(Push.id == old.id).execute()
    done = Push.create(repo=course.repo("fay"), pusher=course.users["fay"], history_at=utcnow())
    assert done.history_at is not None
    ann = course.users["ann"].id
    # bob's 2, then up to 3 files for each of cat's and dan's pushes; not ann's own, not the
    # lost one (the requeuer finishes it), not one scheduled with nothing to check
    assert lease.place_of([], ann, own=3).ahead == 2 + 3 + 3
    assert lease.unscheduled_pushes(ann, utcnow()) == 2
    assert lease.place_of([], ann, own=0).ahead == 0  # nothing of its own to wait for


def test_live_threads_count_recent_beats_only(db: None) -> None:
    assert lease.live_threads(default=2) == 2  # no worker ever beat: the configured count
    lease.beat("host:1", 3)
    lease.beat("host:2", 1)
    assert lease.live_threads(default=2) == 4
    WorkerBeat.update(seen_at=utcnow() - MINUTE).where(WorkerBeat.name == "host:2").execute()
    assert lease.live_threads(default=2) == 3
    WorkerBeat.update(seen_at=utcnow() - MINUTE).execute()
    assert lease.live_threads(default=2) == 0  # workers ran, none is alive now
