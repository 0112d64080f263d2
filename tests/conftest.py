"""Shared fixtures: one real server per test module, work repos in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitserver.core.models import database, init_db
from gitserver.core.schema import migrate

from .support import Server, make_work_repo, start_server


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Iterator[None]:
    """A fresh SQLite database at the newest schema, bound for in-process tests (no server)."""
    init_db(f"sqlite:///{tmp_path / 'gitserver.db'}")
    migrate()
    try:
        yield
    finally:
        database.close()


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


@pytest.fixture(name="dedicated")
def fixture_dedicated(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Server]]:
    """Start a server of its own with extra settings (and user alice); stopped afterwards."""
    started: list[Server] = []

    def start(extra: dict[str, str]) -> Server:
        folder = tmp_path / f"server{len(started)}"
        folder.mkdir()
        srv = start_server(folder, extra)
        started.append(srv)
        srv.add_user("alice")
        return srv
    try:
        yield start
    finally:
        for srv in started:
            srv.stop()
