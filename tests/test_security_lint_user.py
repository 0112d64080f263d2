"""Security: started as root, pylint on pushed code does not run as root (issue 14, finding 8).

Here the tests run as root; whether `nobody` can run this interpreter depends on where Python is
installed (not under root's 0700 home). When it can, the lint process must run as `nobody`; when
it cannot, the server must say so loudly rather than quietly lint as root.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import pytest

from checker.lint_user import lint_user, share_tree
from checker.runner import LintRunner


def uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    match = re.search(r"^Uid:\s+(\d+)", status, re.M)
    assert match
    return int(match.group(1))


def test_lint_child_never_runs_as_root() -> None:
    lint_user.cache_clear()
    user = lint_user()
    if os.geteuid() == 0 and user is None:
        pytest.skip("the unprivileged user cannot run this interpreter here; see the next test")
    with tempfile.TemporaryDirectory(prefix="gitserver-tree-") as tmp:
        (Path(tmp) / "mod.py").write_text('"""A module."""\nVALUE = 1\n', encoding="utf-8")
        share_tree(Path(tmp))
        with LintRunner() as runner:
            [result] = list(runner.check_files(Path(tmp), ["mod.py"]))
            assert runner.child_pid is not None
            assert uid_of(runner.child_pid) != 0
            if user is not None:
                assert uid_of(runner.child_pid) == user.uid
    assert result.state == "success", result


def test_linting_as_root_is_never_silent(caplog: pytest.LogCaptureFixture) -> None:
    if os.geteuid() != 0:
        pytest.skip("not root: the lint processes run as this user")
    lint_user.cache_clear()
    with caplog.at_level(logging.WARNING, logger="checker.lint_user"):
        user = lint_user()
    if user is None:
        assert "pylint runs as root" in caplog.text
        assert "install gitserver where other users can read it" in caplog.text
    else:
        assert user.uid != 0 and not caplog.text
