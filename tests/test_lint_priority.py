"""Lint processes run at a lower CPU priority than the server: at a deadline the kernel serves
the pushes (somebody waits for each) before the checks (throughput)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import os
from pathlib import Path

from checker.lint_child import LINT_NICENESS
from checker.lint_user import share_tree
from checker.runner import LintRunner


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
