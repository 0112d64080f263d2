"""Slowing down password guessing: failed sign-ins counted in a sliding window.

Three counters, each over the last `window_s` seconds:
- per account *and* client address (10): one guesser is stopped without locking the real
  user, who signs in from another address, out at all;
- per client address (50): one address spraying many accounts;
- per account (100): many addresses guessing one account; the only counter an attacker can
  use to lock someone else out, so it is set high and, like the others, lets go by itself as
  the failures age out of the window (never a permanent lock).

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
MAX_PER_ACCOUNT = 100
# Memory bound: past this many tracked keys, keys with no failure left in the window go.
_MAX_KEYS = 100_000


class Throttled(Exception):
    """Too many failed sign-ins; `retry_after` is the seconds until the next attempt may go."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-in attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class Throttle:
    """Failed sign-in counters (see the module docstring); thread-safe."""
    def __init__(self, window_s: float = WINDOW_S, per_pair: int = MAX_PER_PAIR,
                 per_address: int = MAX_PER_ADDRESS, per_account: int = MAX_PER_ACCOUNT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._limits = {"pair": per_pair, "address": per_address, "account": per_account}
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
        with self._lock:
            for kind, key in self._keys(account, address).items():
                times = self._recent(key, now)
                limit = self._limits[kind]
                if len(times) >= limit:
                    # allowed again when enough of the failures have aged out of the window
                    wait = max(wait, times[len(times) - limit] + self.window_s - now)
        if wait > 0:
            raise Throttled(max(1, math.ceil(wait)))

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
