"""Lint processes run at a lower CPU priority than the server: at a deadline the kernel serves
the pushes (somebody waits for each) before the checks (throughput); a check's timeout is of its
own CPU time, so that a busy machine does not turn it into a timeout."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

from checker.lint_child import LINT_NICENESS
from checker.lint_user import share_tree
from checker.runner import WALL_CAP_FACTOR, LintRunner


def test_the_lint_process_yields_the_cpu_to_the_server(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text('"""Fine."""\n', encoding="utf-8")
    share_tree(tmp_path)
    with LintRunner(timeout_s=30) as runner:
        (result,) = runner.check_files(tmp_path, ["ok.py"])
        assert result.state == "success"
        pid = runner.child_pid
        assert pid is not None
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, ours + LINT_NICENESS)


def _check_while_stopped(root: Path, timeout_s: float, stop_s: float | None) -> tuple[str, str]:
    """(state, error) of one check whose tree process gets no CPU for `stop_s` seconds (None:
    never again), as on a machine busy with work the kernel serves first."""
    with LintRunner(timeout_s=timeout_s) as runner:
        results: list[tuple[str, str]] = []

        def check() -> None:
            (result,) = runner.check_files(root, ["busy.py"])
            results.append((result.state, result.error or ""))

        thread = threading.Thread(target=check)
        thread.start()
        while runner.tree_pid is None and thread.is_alive():
            time.sleep(0.005)
        pid = runner.tree_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        if stop_s is not None:
            time.sleep(stop_s)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        thread.join(timeout=120)
        return results[0]


def _busy_tree(root: Path) -> Path:
    """A file of ~1 s of CPU here (pylint's invalid-name check is quadratic in module-level
    constants): still being checked when the test stops its process."""
    (root / "busy.py").write_text(
        '"""Busy."""\n' + "".join(f"CONSTANT_{i} = {i}\n" for i in range(600)),
        encoding="utf-8")
    share_tree(root)
    return root


def test_a_check_starved_of_the_cpu_past_its_timeout_still_gets_its_result(
        tmp_path: Path) -> None:
    _busy_tree(tmp_path)
    started = time.monotonic()
    state, error = _check_while_stopped(tmp_path, timeout_s=4, stop_s=6)
    assert (state, error) == ("success", "")
    assert time.monotonic() - started >= 6


def test_a_check_that_never_gets_the_cpu_again_times_out_at_the_wall_clock_cap(
        tmp_path: Path) -> None:
    _busy_tree(tmp_path)
    started = time.monotonic()
    state, error = _check_while_stopped(tmp_path, timeout_s=1, stop_s=None)
    assert (state, error) == ("error", "pylint timed out after 1 s on this file")
    assert WALL_CAP_FACTOR * 1 <= time.monotonic() - started < WALL_CAP_FACTOR * 1 + 10
