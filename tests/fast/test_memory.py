"""Freed C heap goes back to the system (glibc's malloc_trim), as after a big push."""

from __future__ import annotations

import threading
from pathlib import Path

from gitserver.core.memory import release_free_memory


def _anon_kib() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


def test_release_free_memory_gives_back_what_a_thread_freed() -> None:
    # ~200 MB of blocks made on another thread (its own malloc arena), as a hook thread reads a
    # push's trees and blobs; all freed but the last one, which pins the top of the heap, so
    # glibc keeps the pages until they are trimmed.
    kept: list[bytes] = []

    def churn() -> None:
        blocks = [bytes(20_000 + i) for i in range(10_000)]
        kept.append(blocks[-1])
        del blocks
    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()
    before = _anon_kib()
    assert release_free_memory()
    assert _anon_kib() < before - 50_000, "less than 50 MB of the freed 200 MB came back"
    assert kept
