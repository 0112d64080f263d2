"""Shared fixtures: one real server per test module, work repos in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import Server, make_work_repo, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A `gitserver serve` shared by the tests of one module, with users alice and bob."""
    srv = start_server(tmp_path_factory.mktemp("server"))
    try:
        srv.add_user("alice")
        srv.add_user("bob")
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def work_repo(tmp_path: Path) -> Path:
    return make_work_repo(tmp_path / "work")
