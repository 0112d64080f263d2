"""Import scanning from many threads at once, as thirty pushes at a deadline do it."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from checker.deps import scan_imports

# Nested lists make the AST constructor recurse; CPython 3.11 keeps its depth counter per
# interpreter, so a thread switch inside it (a garbage collection running a callback) upsets
# another thread's parse.
SOURCE = b"import os\n" + b"\n".join(
    b"X%d = " % i + b"[" * 30 + b"1" + b"]" * 30 for i in range(300))


@contextmanager
def switching_often() -> Iterator[None]:
    """Thread switches as often as CPython allows, inside garbage collections too."""
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()

    def switch(_phase: str, _info: dict[str, int]) -> None:
        time.sleep(0)

    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 5, 5)
    gc.callbacks.append(switch)
    try:
        yield
    finally:
        gc.callbacks.remove(switch)
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)


def test_threads_scanning_at_once_all_get_the_imports() -> None:
    failures: list[BaseException] = []

    def scan() -> None:
        try:
            for _ in range(15):
                found = scan_imports(SOURCE)
                assert found is not None and [s.module for s in found] == ["os"]
        except BaseException as exc:  # pylint: disable=broad-exception-caught  # reported below
            failures.append(exc)

    with switching_often():
        threads = [threading.Thread(target=scan) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures, failures[0]
