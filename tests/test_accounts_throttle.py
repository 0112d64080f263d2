"""The sign-in throttle and the session cookie, in process: a clock we move by hand shows that
every lock lets go by itself, which a test against a real server could only show by waiting
five minutes. (End to end: tests/test_accounts.py.)
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import pytest
from starlette.responses import Response

from gitserver.core.throttle import Throttle, Throttled
from gitserver.web.sessions import Session, SessionStore


class Clock:  # pylint: disable=too-few-public-methods  # a callable with a settable time
    """A monotonic clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: Throttle, account: str, address: str, times: int) -> None:
    for _ in range(times):
        throttle.check(account, address)
        throttle.failed(account, address)


def test_throttle_locks_after_ten_failures_and_lets_go_after_the_window() -> None:
    clock = Clock()
    throttle = Throttle(window_s=300, clock=clock)
    fail(throttle, "rex", "10.0.0.1", 10)
    with pytest.raises(Throttled) as caught:
        throttle.check("rex", "10.0.0.1")
    assert caught.value.retry_after == 300
    clock.now += 299
    with pytest.raises(Throttled):
        throttle.check("REX", "10.0.0.1")  # names are compared in lower case
    clock.now += 1
    throttle.check("rex", "10.0.0.1")  # the window passed: no permanent lock


def test_throttle_window_slides_one_failure_at_a_time() -> None:
    clock = Clock()
    throttle = Throttle(window_s=300, clock=clock)
    for _ in range(10):
        throttle.failed("rex", "10.0.0.1")
        clock.now += 10
    clock.now = 1000 + 300  # the first failure has aged out, nine remain
    throttle.check("rex", "10.0.0.1")
    throttle.failed("rex", "10.0.0.1")
    with pytest.raises(Throttled) as caught:
        throttle.check("rex", "10.0.0.1")
    assert caught.value.retry_after == 10  # until the second failure ages out


def test_throttle_pair_lock_spares_other_addresses_and_accounts() -> None:
    throttle = Throttle(clock=Clock())
    fail(throttle, "rex", "10.0.0.1", 10)
    throttle.check("rex", "10.0.0.2")
    throttle.check("sam", "10.0.0.1")


def test_throttle_success_forgives_the_pair_but_not_the_address() -> None:
    throttle = Throttle(per_pair=3, per_address=5, clock=Clock())
    fail(throttle, "rex", "10.0.0.1", 2)
    throttle.succeeded("rex", "10.0.0.1")
    fail(throttle, "rex", "10.0.0.1", 2)  # would be 4 > 3 without the success
    fail(throttle, "sam", "10.0.0.1", 1)
    with pytest.raises(Throttled):
        throttle.check("tia", "10.0.0.1")  # 5 failures from this address in all


def test_throttle_many_addresses_against_one_account_delay_only_the_guessers() -> None:
    clock = Clock()
    throttle = Throttle(account_delay_from=20, clock=clock)
    for i in range(100):
        throttle.check("rex", f"10.0.1.{i}")  # each address's first guess goes through
        throttle.failed("rex", f"10.0.1.{i}")
    throttle.check("rex", "10.0.2.1")  # a clean address (the real user) is never held up
    with pytest.raises(Throttled) as caught:
        throttle.check("rex", "10.0.1.7")  # a guesser waits, exponentially, at most 300 s
    assert caught.value.retry_after == 300
    clock.now += 300
    throttle.check("rex", "10.0.1.7")


def test_throttle_account_delay_doubles_with_each_failure() -> None:
    clock = Clock()
    throttle = Throttle(account_delay_from=3, clock=clock)
    waits = []
    for _ in range(5):
        while True:
            try:
                throttle.check("rex", "10.0.0.1")
                break
            except Throttled as exc:
                waits.append(exc.retry_after)
                clock.now += exc.retry_after
        throttle.failed("rex", "10.0.0.1")
    assert waits == [2, 4]  # after the 3rd and 4th failure; no block, only a growing delay


def test_session_cookie_is_secure_only_for_https() -> None:
    for secure in (False, True):
        response = Response()
        SessionStore("key", secure=secure).write(response, Session(user_id=7))
        header = response.headers["set-cookie"].lower()
        assert "httponly" in header and "samesite=lax" in header and "path=/" in header
        assert ("; secure" in header) is secure


def test_session_cookie_signed_with_another_key_is_ignored() -> None:
    mine, theirs = SessionStore("key", secure=False), SessionStore("other", secure=False)
    forged = theirs.dump(Session(user_id=1))
    assert mine.load(forged).user_id is None
    assert mine.load(mine.dump(Session(user_id=1))).user_id == 1
    assert mine.load("garbage").user_id is None
