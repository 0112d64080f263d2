"""Schema creation and upgrades, run by every process on start before it serves.

Each upgrade is a numbered step; the applied number is kept in `schema_version`. Steps are plain
functions so the upgrade path from an older schema can be tested on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    FloatField,
    IntegerField,
    PostgresqlDatabase,
    TextField,
)
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as apply_operations

from gitserver.core.models import (
    ALL_MODELS,
    ORG_MODELS,
    AccountKey,
    BlobImports,
    LintClaim,
    QueueTurn,
    Repo,
    SchemaVersion,
    User,
    WebSession,
    WorkerBeat,
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


def _sessions_and_account_keys_v4(db: Any) -> None:
    """Server-side session rows (sign out here or everywhere) and mailed account keys
    (password reset, email change). Sessions of the old per-user version end once."""
    db.create_tables([WebSession, AccountKey], safe=True)


def _case_insensitive_repo_names_v5(db: Any) -> None:
    """Repo names unique and looked up in any case, as on GitHub.

    Fills `repo.name_lower`; of repos of one owner whose names differ only in case, the oldest
    gets the plain lowercase name and the others `lower~id` (no real name holds a `~`), so all
    stay reachable by their exact names and the unique index holds. Idempotent: rows already
    filled are left alone.
    """
    if "name_lower" not in {column.name for column in db.get_columns("repo")}:
        migrator = SchemaMigrator.from_database(db)
        apply_operations(migrator.add_column("repo", "name_lower",
                                             CharField(max_length=120, default="")))
    rows = db.execute_sql('SELECT "id", "owner_id", "name", "name_lower" FROM "repo" '
                          'ORDER BY "id"').fetchall()
    taken = {(owner, lower) for _, owner, _, lower in rows if lower}
    for repo_id, owner, name, lower in rows:
        if lower:
            continue
        value = name.lower() if (owner, name.lower()) not in taken else f"{name.lower()}~{repo_id}"
        taken.add((owner, value))
        Repo.update(name_lower=value).where(Repo.id == repo_id).execute()
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS "repo_owner_id_name_lower" '
                   'ON "repo" ("owner_id", "name_lower")')


def _history_schedule_v6(db: Any) -> None:
    """When the checks behind a push's tips were queued and scheduled. Pushes recorded before
    this step scheduled everything while recording: they count as done."""
    columns = {column.name for column in db.get_columns("push")}
    migrator = SchemaMigrator.from_database(db)
    apply_operations(*(migrator.add_column("push", name, DateTimeField(null=True))
                       for name in ("history_queued_at", "history_at") if name not in columns))
    db.execute_sql('UPDATE "push" SET "history_at" = "recorded_at" '
                   'WHERE "history_at" IS NULL AND "recorded_at" IS NOT NULL')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "push_history_at" ON "push" ("history_at")')


def _organizations_v7(db: Any) -> None:
    """Organizations (courses): the account flag, members, assignments, late pushes.

    Each column and table is added only where missing (step 1 on a fresh database has them).
    """
    migrator = SchemaMigrator.from_database(db)
    operations = []
    if "is_org" not in {column.name for column in db.get_columns("user")}:
        operations.append(migrator.add_column("user", "is_org", BooleanField(default=False)))
    if "late" not in {column.name for column in db.get_columns("push")}:
        operations.append(migrator.add_column("push", "late", BooleanField(default=False)))
    apply_operations(*operations)
    db.create_tables(ORG_MODELS, safe=True)


def _fair_queue_v9(db: Any) -> None:
    """The queue's lanes and round-robin (checker.lease), the CPU spent on a push's history,
    and the live workers' beats. Rows queued before this step wait in lane 0."""
    migrator = SchemaMigrator.from_database(db)
    operations = []
    columns = {column.name for column in db.get_columns("check")}
    for name in ("lane", "queue_user"):
        if name not in columns:
            operations.append(migrator.add_column("check", name, IntegerField(default=0)))
    if "history_ms" not in {column.name for column in db.get_columns("push")}:
        operations.append(migrator.add_column("push", "history_ms", IntegerField(default=0)))
    apply_operations(*operations)
    db.execute_sql('CREATE INDEX IF NOT EXISTS "check_state_lane_queue_user" '
                   'ON "check" ("state", "lane", "queue_user")')
    db.create_tables([QueueTurn, WorkerBeat], safe=True)


# version -> step; append only, never edit a released step.
STEPS: dict[int, Callable[[Any], None]] = {1: _create_v1, 2: _index_unfinished_pushes_v2,
                                           3: _result_keys_v3, 4: _sessions_and_account_keys_v4,
                                           5: _case_insensitive_repo_names_v5,
                                           6: _history_schedule_v6, 7: _organizations_v7,
                                           8: _feedback_v8, 9: _fair_queue_v9}
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
    postgres = isinstance(db, PostgresqlDatabase)
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
