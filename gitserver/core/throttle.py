"""Slowing down password guessing: failed sign-ins counted in a sliding window.

Three counters, each over the last `window_s` seconds:
- per account *and* client address (10): one guesser is stopped without locking the real
  user, who signs in from another address, out at all;
- per client address (50): one address spraying many accounts;
- per account (from 20 on): many addresses guessing one account. This one never blocks the
  account: it only delays the next attempt of an address that has itself failed for the account
  recently, by 2, 4, 8 ... seconds (at most `max_delay_s`) after the account's last failure. An
  address without such failures (the real user at home) is never held up by what others did,
  so nobody can lock someone else out; a guesser with many addresses gets one try from each.

Access tokens are not counted per account at all (`core.auth` looks them up first): guessing a
192-bit token is hopeless, and a token must keep working while someone guesses the password.

Web sign-in and HTTP Basic auth (git, API) share one `Throttle`. It lives in the memory of the
web process: `gitserver serve` is one process, so that is where every sign-in is checked; a
restart forgets the counts (an attacker gains one window's worth of guesses per restart).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 300.0
MAX_PER_PAIR = 10
MAX_PER_ADDRESS = 50
ACCOUNT_DELAY_FROM = 20
MAX_DELAY_S = 300.0
# Memory bound: past this many tracked keys, keys with no failure left in the window go.
_MAX_KEYS = 100_000


class Throttled(Exception):
    """Too many failed sign-ins; `retry_after` is the seconds until the next attempt may go."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-in attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class Throttle:
    """Failed sign-in counters (see the module docstring); thread-safe."""
    # pylint: disable-next=too-many-arguments  # keyword defaults, one per limit
    def __init__(self, window_s: float = WINDOW_S, per_pair: int = MAX_PER_PAIR,
                 per_address: int = MAX_PER_ADDRESS, *, per_account: int | None = None,
                 account_delay_from: int = ACCOUNT_DELAY_FROM,
                 clock: Callable[[], float] = time.monotonic,
                 max_delay_s: float = MAX_DELAY_S) -> None:
        self.window_s = window_s
        self._limits = {"pair": per_pair, "address": per_address}
        if per_account is not None:  # a hard limit: for mails sent, never for sign-ins
            self._limits["account"] = per_account
        self._account_delay_from = account_delay_from
        self._max_delay_s = max_delay_s
        self._clock = clock
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(account: str, address: str) -> dict[str, tuple[str, ...]]:
        account = account.strip().lower()
        return {"pair": ("pair", account, address), "address": ("address", address),
                "account": ("account", account)}

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def check(self, account: str, address: str) -> None:
        """Raise Throttled if an attempt for this account from this address must wait."""
        now = self._clock()
        wait = 0.0
        keys = self._keys(account, address)
        with self._lock:
            for kind, limit in self._limits.items():
                times = self._recent(keys[kind], now)
                if len(times) >= limit:
                    # allowed again when enough of the failures have aged out of the window
                    wait = max(wait, times[len(times) - limit] + self.window_s - now)
            wait = max(wait, self._account_delay(keys, now))
        if wait > 0:
            raise Throttled(max(1, math.ceil(wait)))

    def _account_delay(self, keys: dict[str, tuple[str, ...]], now: float) -> float:
        """How long this address waits because of the account's failures from everywhere: only
        an address that failed for the account itself, exponentially in their number."""
        if not self._recent(keys["pair"], now):
            return 0.0
        times = self._recent(keys["account"], now)
        over = len(times) - self._account_delay_from
        if over < 0:
            return 0.0
        delay = min(2.0 ** min(over + 1, 30), self._max_delay_s)
        return times[-1] + delay - now

    def failed(self, account: str, address: str) -> None:
        """Count a failed attempt for the account from the address."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > _MAX_KEYS:
                self._prune(now)
            for key in self._keys(account, address).values():
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str, address: str) -> None:
        """The right password from this address: its own failures for the account are forgiven."""
        with self._lock:
            self._failures.pop(self._keys(account, address)["pair"], None)

    def _prune(self, now: float) -> None:
        for key in [k for k, times in self._failures.items() if not self._recent(k, now)]:
            del self._failures[key]


class RateLimit:
    """At most `limit` events per key in any `window_s` seconds; thread-safe, in memory (the
    web process is the one place that counts them; a restart forgets)."""

    def __init__(self, limit: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str) -> int:
        """Seconds until `key` may have its next event; 0 when it may now."""
        now = self._clock()
        with self._lock:
            times = self._events.get(key)
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if not times or len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[len(times) - self.limit] + self.window_s - now))

    def add(self, key: str) -> None:
        """Count an event for `key`."""
        now = self._clock()
        with self._lock:
            if len(self._events) > _MAX_KEYS:
                for stale in [k for k, t in self._events.items()
                              if not t or t[-1] <= now - self.window_s]:
                    del self._events[stale]
            self._events.setdefault(key, deque()).append(now)

    def allow(self, key: str) -> bool:
        """Count an event for `key` if it may happen now; whether it may."""
        if self.wait_s(key):
            return False
        self.add(key)
        return True
