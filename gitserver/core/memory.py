"""Giving freed memory back to the operating system.

CPython hands large blocks (the bytes of a blob, a tree, a batch of rows) to the C library's
malloc, which keeps what is freed for reuse; with one malloc arena per thread, the hook threads
of a long-lived server can hold hundreds of MB they no longer use after a big push. glibc's
`malloc_trim(0)` returns the free pages of every arena; it takes a few milliseconds, so it runs
once per hook, not per object. Elsewhere (musl, macOS) there is nothing to call and it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = _libc.malloc_trim
except (OSError, AttributeError):  # no glibc here
    _trim = None


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system; True when that was possible."""
    if _trim is None:
        return False
    _trim(0)
    return True
