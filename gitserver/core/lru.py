"""A small thread-safe LRU cache bounded by entries and by total weight (e.g. bytes).

For values that never change once computed: highlighted blobs (keyed by blob sha) and the
rendered messages of a final check (keyed by check id).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """Least recently used entries go first when either bound is passed."""
    def __init__(self, max_entries: int, max_weight: int,
                 weigh: Callable[[V], int] = lambda _value: 1) -> None:
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._weigh = weigh
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The cached value, or None."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: V) -> V:
        """Keep value under key (unless it alone outweighs the cache); return it."""
        weight = self._weigh(value)
        if weight > self.max_weight:
            return value  # too big to keep: computed again next time
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._items[key] = (value, weight)
            self._weight += weight
            while len(self._items) > self.max_entries or self._weight > self.max_weight:
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        """The cached value, or make(), kept for next time."""
        found = self.get(key)
        return found if found is not None else self.put(key, make())
