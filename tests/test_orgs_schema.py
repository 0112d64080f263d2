"""The organizations' schema step on a database of the step before, SQLite and PostgreSQL."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from playhouse.migrate import SchemaMigrator, migrate

from gitserver.core import schema
from gitserver.core.models import Push, Repo, User, database, init_db

# The SQLite and PostgreSQL databases of the schema tests (a fixture, used by name).
from .test_schema import fixture_empty_database  # noqa: F401  # pylint: disable=unused-import

STEP = 7  # the organizations' step (the lead may renumber it on merge)


def test_schema_organizations_step_adds_organizations_and_keeps_data(empty_database: str) -> None:
    init_db(empty_database)
    before = max(v for v in schema.STEPS if v < STEP)
    schema.migrate(target=before)
    # Step 1 builds today's models: take away what step 7 brings, as an older schema was.
    migrator = SchemaMigrator.from_database(database.obj)
    migrate(migrator.drop_column("user", "is_org"), migrator.drop_column("push", "late"))
    for table in ("membership", "assignment", "organization"):
        database.execute_sql(f'DROP TABLE "{table}"')
    database.execute_sql('INSERT INTO "user" (username, email, password_hash, is_active, '
                         "mail_reports, created_at) VALUES ('old', 'old@example.com', 'x', "
                         "TRUE, 'all', CURRENT_TIMESTAMP)")

    assert schema.migrate() == before
    assert {"membership", "assignment", "organization"} <= set(database.get_tables())
    old = User.get(User.username == "old")
    assert old.is_org is False
    Push.create(repo=Repo.create(owner=old, name="kept"), pusher=old)
    assert Push.get().late is False
    assert schema.migrate() == schema.LATEST  # nothing left to do
    database.close()
