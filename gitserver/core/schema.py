"""Schema creation and upgrades, run by every process on start before it serves.

Each upgrade is a numbered step; the applied number is kept in `schema_version`. Steps are plain
functions so the upgrade path from an older schema can be tested on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from peewee import CharField, DateTimeField, FloatField, IntegerField, TextField
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as apply_operations

from gitserver.core.models import (
    ALL_MODELS,
    BlobImports,
    LintClaim,
    SchemaVersion,
    User,
    database,
)

logger = logging.getLogger(__name__)


def _create_v1(db: Any) -> None:
    db.create_tables(ALL_MODELS, safe=True)


def _index_unfinished_pushes_v2(db: Any) -> None:
    """The requeuer asks every 2 s for unrecorded and unreported pushes: index those columns."""
    db.execute_sql('CREATE INDEX IF NOT EXISTS "push_recorded_at" ON "push" ("recorded_at")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "push_report_state" ON "push" ("report_state")')


def _result_keys_v3(db: Any) -> None:
    """Reuse by result key (blob, path, settings and the imported tree modules), the counts that
    make the commit score pylint's global evaluation, the lint claims of workers, and the
    import statements of blobs.

    Step 1 builds tables from the current models, so a fresh database has these columns
    already: each is added only where missing. Old rows keep an empty key, which no new check
    looks up, so no result of the old blob-only key is ever reused.
    """
    columns = {column.name for column in db.get_columns("check")}
    wanted = {"result_key": CharField(max_length=64, default=""),
              "statements": IntegerField(null=True), "fatal_count": IntegerField(null=True),
              "error_count": IntegerField(null=True), "warning_count": IntegerField(null=True),
              "refactor_count": IntegerField(null=True),
              "convention_count": IntegerField(null=True), "fail_under": FloatField(null=True)}
    migrator = SchemaMigrator.from_database(db)
    apply_operations(*(migrator.add_column("check", name, field)
                       for name, field in wanted.items() if name not in columns))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "check_result_key_state" '
                   'ON "check" ("result_key", "state")')
    db.create_tables([LintClaim, BlobImports], safe=True)


def _feedback_v8(db: Any) -> None:
    """Repo lint settings (disable, fail_under, gate) and the contract's names of the mail
    preference (every | changes | none; they were all | failures | off)."""
    columns = {column.name for column in db.get_columns("repo")}
    wanted = {"lint_disable": TextField(default="[]"), "lint_fail_under": FloatField(null=True),
              "lint_gate": CharField(max_length=8, default="all")}
    migrator = SchemaMigrator.from_database(db)
    apply_operations(*(migrator.add_column("repo", name, field)
                       for name, field in wanted.items() if name not in columns))
    for old, new in (("all", "every"), ("failures", "changes"), ("off", "none")):
        User.update(mail_reports=new).where(User.mail_reports == old).execute()


def _history_schedule_v10(db: Any) -> None:
    """When the checks behind a push's tips were queued and scheduled. Pushes recorded before
    this step scheduled everything while recording: they count as done."""
    columns = {column.name for column in db.get_columns("push")}
    migrator = SchemaMigrator.from_database(db)
    apply_operations(*(migrator.add_column("push", name, DateTimeField(null=True))
                       for name in ("history_queued_at", "history_at") if name not in columns))
    db.execute_sql('UPDATE "push" SET "history_at" = "recorded_at" '
                   'WHERE "history_at" IS NULL AND "recorded_at" IS NOT NULL')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "push_history_at" ON "push" ("history_at")')


# version -> step; append only, never edit a released step.
STEPS: dict[int, Callable[[Any], None]] = {1: _create_v1, 2: _index_unfinished_pushes_v2,
                                           3: _result_keys_v3, 8: _feedback_v8,
                                           10: _history_schedule_v10}
LATEST = max(STEPS)
_PG_LOCK_ID = 0x67697473  # "gits": serialises concurrent starts of web and workers on PostgreSQL


def current_version(db: Any) -> int:
    """The applied schema version; 0 before the first migration."""
    if not db.table_exists(SchemaVersion):
        return 0
    row = SchemaVersion.select(SchemaVersion.version).order_by(
        SchemaVersion.version.desc()).first()
    return row.version if row else 0


def migrate(target: int = LATEST) -> int:
    """Bring the schema to `target` (the newest by default); return the version found before."""
    db = database.obj
    postgres = "postgres" in type(db).__name__.lower()
    # IMMEDIATE on SQLite and an advisory lock on PostgreSQL: when web and workers start
    # together, one upgrades and the others wait, then find nothing left to do.
    with db.atomic() if postgres else db.atomic("IMMEDIATE"):
        if postgres:
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_ID,))
        found = current_version(db)
        for version in sorted(v for v in STEPS if found < v <= target):
            logger.info("schema: applying step %d", version)
            STEPS[version](db)
            SchemaVersion.create(version=version)
    return found
