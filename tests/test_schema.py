"""Schema creation and the upgrade path from an older schema, on SQLite and PostgreSQL."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitserver.core import schema
from gitserver.core.models import Push, Repo, User, database, init_db

from .support import drop_postgres_database, fresh_postgres_database, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"], name="empty_database")
def fixture_empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url, name = fresh_postgres_database(postgres_url())
    try:
        yield url
    finally:
        database.close()
        drop_postgres_database(postgres_url(), name)


def index_names(table: str) -> set[str]:
    return {index.name for index in database.get_indexes(table)}


def test_schema_upgrades_an_older_schema_and_keeps_its_data(empty_database: str) -> None:
    init_db(empty_database)
    assert schema.migrate(target=1) == 0
    assert "push_recorded_at" not in index_names("push")
    user = User.create(username="old", email="old@example.com", password_hash="x",
                       is_active=True)
    repo = Repo.create(owner=user, name="kept")
    Push.create(repo=repo, pusher=user)

    assert schema.migrate() == 1  # what a new version does on start
    assert schema.current_version(database.obj) == schema.LATEST
    assert {"push_recorded_at", "push_report_state"} <= index_names("push")
    assert Repo.get(Repo.name == "kept").owner.username == "old"
    assert Push.select().count(database) == 1
    assert schema.migrate() == schema.LATEST  # a second start finds nothing to do
    database.close()


def test_schema_fresh_database_gets_every_step(tmp_path: Path) -> None:
    init_db(f"sqlite:///{tmp_path / 'new.db'}")
    assert schema.migrate() == 0
    versions = [row.version for row in schema.SchemaVersion.select().order_by(
        schema.SchemaVersion.version).iterator()]
    assert versions == sorted(schema.STEPS)
    database.close()
