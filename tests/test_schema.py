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


def test_schema_step_3_adds_result_keys_counts_claims_and_imports(empty_database: str) -> None:
    from playhouse.migrate import SchemaMigrator, migrate  # pylint: disable=import-outside-toplevel
    init_db(empty_database)
    schema.migrate(target=2)
    # Step 1 builds today's models: take away what step 3 brings, as a version-2 schema was.
    new_columns = ["result_key", "statements", "fatal_count", "error_count", "warning_count",
                   "refactor_count", "convention_count", "fail_under"]
    migrator = SchemaMigrator.from_database(database.obj)
    database.execute_sql('DROP INDEX IF EXISTS "check_result_key_state"')
    migrate(*(migrator.drop_column("check", name) for name in new_columns))
    database.execute_sql('DROP TABLE "lint_claim"')
    database.execute_sql('DROP TABLE "blob_imports"')
    user = User.create(username="old", email="old@example.com", password_hash="x")
    Repo.create(owner=user, name="kept")

    assert schema.migrate() == 2
    columns = {column.name for column in database.get_columns("check")}
    assert set(new_columns) <= columns
    assert "check_result_key_state" in index_names("check")
    assert database.table_exists("lint_claim") and database.table_exists("blob_imports")
    assert Repo.get(Repo.name == "kept").owner.username == "old"
    database.close()


def test_schema_step_8_adds_repo_lint_settings_and_renames_mail_preferences(
        empty_database: str) -> None:
    from playhouse.migrate import SchemaMigrator, migrate  # pylint: disable=import-outside-toplevel
    init_db(empty_database)
    schema.migrate(target=7)
    # Step 1 builds today's models: take away what step 8 brings, as a version-7 schema was.
    migrator = SchemaMigrator.from_database(database.obj)
    migrate(*(migrator.drop_column("repo", name)
              for name in ("lint_disable", "lint_fail_under", "lint_gate")))
    for name, old in (("all", "all"), ("fail", "failures"), ("off", "off")):
        user = User.create(username=name, email=f"{name}@example.com", password_hash="x")
        User.update(mail_reports=old).where(User.id == user.id).execute()
    database.execute_sql('INSERT INTO "repo" ("owner_id", "name", "name_lower", "private", '
                         '"default_branch", "created_at", "updated_at") '
                         'VALUES (?, ?, ?, ?, ?, ?, ?)'
                         .replace("?", "%s" if "postgres" in empty_database else "?"),
                         (User.get(User.username == "all").id, "kept", "kept", True, "main",
                          "2026-01-01 00:00:00", "2026-01-01 00:00:00"))

    assert schema.migrate() == 7
    columns = {column.name for column in database.get_columns("repo")}
    assert {"lint_disable", "lint_fail_under", "lint_gate"} <= columns
    repo = Repo.get(Repo.name == "kept")
    assert (repo.lint_disable, repo.lint_fail_under, repo.lint_gate) == ("[]", None, "all")
    assert {u.username: u.mail_reports for u in User.select()} == {
        "all": "every", "fail": "changes", "off": "none"}
    assert schema.migrate() == schema.LATEST  # idempotent: nothing left to do
    database.close()
