"""Schema creation and upgrades, run by every process on start before it serves.

Each upgrade is a numbered step; the applied number is kept in `schema_version`. Steps are plain
functions so the upgrade path from an older schema can be tested on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .models import ALL_MODELS, SchemaVersion, database

logger = logging.getLogger(__name__)


def _create_v1(db: Any) -> None:
    db.create_tables(ALL_MODELS, safe=True)


# version -> step; append only, never edit a released step.
STEPS: dict[int, Callable[[Any], None]] = {1: _create_v1}
LATEST = max(STEPS)
_PG_LOCK_ID = 0x67697473  # "gits": serialises concurrent starts of web and workers on PostgreSQL


def current_version(db: Any) -> int:
    if not db.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select(SchemaVersion.version).order_by(
        SchemaVersion.version.desc()).first()
    return row.version if row else 0


def migrate() -> int:
    """Bring the schema to LATEST; return the version found before."""
    db = database.obj
    with db.atomic():
        if db.__class__.__name__.lower().find("postgres") >= 0:
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_ID,))
        found = current_version(db)
        for version in sorted(v for v in STEPS if v > found):
            logger.info("schema: applying step %d", version)
            STEPS[version](db)
            SchemaVersion.create(version=version)
    return found
