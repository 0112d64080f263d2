"""peewee models and the database they are bound to (`init_db(url)`).

The database is a `DatabaseProxy` bound once at start from `database.url`: SQLite (WAL, busy
timeout, foreign keys) by default, PostgreSQL for scale-out. Schema creation and upgrades live in
`gitserver.schema`.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
)
from playhouse.db_url import parse
from playhouse.pool import PooledPostgresqlDatabase

# The states live with their rules (gitserver.core.states); the models use them as defaults.
from gitserver.core.states import STATE_PENDING

database = DatabaseProxy()

CHANGE_ADDED = "added"
CHANGE_MODIFIED = "modified"
CHANGE_DELETED = "deleted"
CHANGE_UNCHANGED = "unchanged"



def utcnow() -> dt.datetime:
    """Naive UTC, the one timestamp convention of the database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# peewee reads each model's table options from an inner `class Meta` of attributes only.
# pylint: disable=too-few-public-methods


class BaseModel(Model):
    """Every model: in the proxied database, with an explicit integer id."""
    # Spelled out (peewee adds it anyway) so that pylint's no-member check knows it.
    id = AutoField()

    class Meta:
        """Tables in the proxied database, named in snake_case (`file_version`)."""
        database = database
        legacy_table_names = False


class User(BaseModel):
    """An account; it may push and sign in once activated (`is_active`)."""
    username = CharField(max_length=39, unique=True)
    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    is_active = BooleanField(default=False)
    # every | changes | none: which push reports this user gets by mail (core.accounts)
    mail_reports = CharField(max_length=16, default="every")
    created_at = DateTimeField(default=utcnow)
    # An organization's account (gitserver.core.orgs): it owns repos, nobody signs in as it.
    is_org = BooleanField(default=False)


class Token(BaseModel):
    """An access token; only its SHA-256 is stored (tokens are 160+ random bits)."""
    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    user_id: int  # the foreign key's column, for type checkers
    name = CharField(max_length=100)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)


class Repo(BaseModel):
    """A repository of one owner; private unless made public."""
    owner = ForeignKeyField(User, backref="repos", on_delete="CASCADE")
    owner_id: int  # the foreign key's column, for type checkers
    name = CharField(max_length=100)  # as created: the case shown on pages and in the API
    # What names are unique by and looked up by, as on GitHub: `My_Repo` is `my_repo`. A repo
    # that collided with another in case before names were case-insensitive has a marked
    # value here (`lower~id`, see schema step 9) and stays reachable by its exact name.
    name_lower = CharField(max_length=120, default="")
    private = BooleanField(default=True)
    default_branch = CharField(max_length=255, default="main")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # The owner's lint settings (core.lint_settings), kept here, never read from pushed content.
    lint_disable = TextField(default="[]")  # JSON list of pylint symbols
    lint_fail_under = FloatField(null=True)  # None: the server's checker.fail_under
    lint_gate = CharField(max_length=8, default="all")  # all | new

    class Meta:
        """One repository of a name per owner, in any case."""
        indexes = ((("owner", "name"), True), (("owner", "name_lower"), True))

    def save(self, *args: Any, **kwargs: Any) -> Any:
        """Fill `name_lower` from the name on the first save."""
        if not self.name_lower:
            self.name_lower = str(self.name).lower()
        return super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        """The repo's "owner/name", as in URLs."""
        return f"{self.owner.username}/{self.name}"


class Push(BaseModel):
    """One accepted `git push` (or browser commit): what moved, who did it, its report mail."""
    repo = ForeignKeyField(Repo, backref="pushes", on_delete="CASCADE")
    repo_id: int  # the foreign key's column, for type checkers
    pusher = ForeignKeyField(User, null=True, on_delete="SET NULL")
    pusher_id: int | None  # the foreign key's column, for type checkers
    ref_updates = TextField(default="[]")  # JSON [[ref, old, new], ...]
    created_at = DateTimeField(default=utcnow)
    reported_at = DateTimeField(null=True)
    # "" | queued | sent | skipped | failed
    report_state = CharField(max_length=16, default="")
    report_attempts = IntegerField(default=0)
    # Set once its commits are recorded and its checks queued; a large push does that after
    # git's reply, and a push left unrecorded by a crash is finished by the requeuer.
    recorded_at = DateTimeField(null=True)
    # The checks of the commits behind the tips are scheduled by a queued task, not while git
    # waits: queued when the push is recorded, done when their rows exist (a push without
    # such commits is done at once). A push is final only once done.
    history_queued_at = DateTimeField(null=True)
    history_at = DateTimeField(null=True)
    # Pushed to an organization's assignment repo after the assignment's due time.
    late = BooleanField(default=False)
    # Lint time spent on the commits behind the tips (checker.history_cpu_s is the budget).
    history_ms = IntegerField(default=0)

    @property
    def updates(self) -> list[tuple[str, str, str]]:
        """The pushed (ref, old sha, new sha) triples."""
        return [tuple(u) for u in json.loads(self.ref_updates)]


class Commit(BaseModel):
    """A commit of a repo, recorded when it was first pushed."""
    repo = ForeignKeyField(Repo, backref="commits", on_delete="CASCADE")
    repo_id: int  # the foreign key's column, for type checkers
    sha = CharField(max_length=64)
    parent_sha = CharField(max_length=64, null=True)  # first parent
    message = TextField()
    author_name = CharField(max_length=255)
    author_email = CharField(max_length=255)
    authored_at = DateTimeField()
    committed_at = DateTimeField()
    push = ForeignKeyField(Push, null=True, backref="commits", on_delete="SET NULL")
    push_id: int | None  # the foreign key's column, for type checkers
    created_at = DateTimeField(default=utcnow)

    class Meta:
        """A sha once per repo; a repo's commits listed by date."""
        indexes = ((("repo", "sha"), True), (("repo", "committed_at"), False))

    @property
    def subject(self) -> str:
        """The first line of the message."""
        # str(): to pylint the class attribute is the TextField, which has no split()
        return str(self.message).split("\n", 1)[0].strip()


class FileVersion(BaseModel):
    """A .py file added, modified or deleted by a commit, relative to its first parent."""
    commit = ForeignKeyField(Commit, backref="files", on_delete="CASCADE")
    commit_id: int  # the foreign key's column, for type checkers
    path = CharField(max_length=4096)
    blob_sha = CharField(max_length=64, null=True)  # None when deleted
    change = CharField(max_length=16)

    class Meta:
        """A path once per commit."""
        indexes = ((("commit", "path"), True),)


class Check(BaseModel):
    """One pylint check of one file of one commit. Every check is kept: the file's check log."""
    repo = ForeignKeyField(Repo, on_delete="CASCADE")
    repo_id: int  # the foreign key's column, for type checkers
    commit = ForeignKeyField(Commit, backref="checks", on_delete="CASCADE")
    commit_id: int  # the foreign key's column, for type checkers
    push = ForeignKeyField(Push, null=True, backref="checks", on_delete="SET NULL")
    push_id: int | None  # the foreign key's column, for type checkers
    path = CharField(max_length=4096)
    blob_sha = CharField(max_length=64)
    change = CharField(max_length=16)  # added | modified | unchanged
    state = CharField(max_length=16, default=STATE_PENDING)
    score = FloatField(null=True)
    duration_ms = IntegerField(null=True)
    messages = TextField(default="[]")  # JSON list of message objects (contract shape)
    error = TextField(null=True)
    # pylint's counts for the file (None while pending, for `error`, and in results stored
    # before they were kept): the commit score sums them, as pylint's global evaluation does.
    statements = IntegerField(null=True)
    fatal_count = IntegerField(null=True)
    error_count = IntegerField(null=True)
    warning_count = IntegerField(null=True)
    refactor_count = IntegerField(null=True)
    convention_count = IntegerField(null=True)
    fail_under = FloatField(null=True)  # the threshold the state was decided with
    settings_fp = CharField(max_length=64)
    # What the result depends on: settings, repo, path, blob and the tree modules the file can
    # import (checker.deps.result_keys). A final check is reused for the same key only.
    result_key = CharField(max_length=64, default="")
    reused = BooleanField(default=False)  # result copied from a check with the same result_key
    created_at = DateTimeField(default=utcnow)
    checked_at = DateTimeField(null=True)
    emailed_at = DateTimeField(null=True)
    # At-least-once delivery: a worker leases a pending check; an expired lease is requeued.
    lease_until = DateTimeField(null=True)
    lease_owner = CharField(max_length=64, null=True)
    queued_at = DateTimeField(default=utcnow)
    attempts = IntegerField(default=0)
    # The queue's order (checker.lease): lane 0 a branch's newest tip, 1 a tip a newer push
    # superseded, 2 a commit behind a tip, 3 one past its push's CPU budget; within a lane,
    # round-robin between `queue_user`s (the pusher), newest push first.
    lane = IntegerField(default=0)
    queue_user = IntegerField(default=0)

    class Meta:
        """One check per file of a commit; indexes for reuse, leases and a file's check log."""
        indexes = (
            (("commit", "path"), True),
            (("blob_sha", "settings_fp", "state"), False),
            (("state", "lease_until"), False),
            (("state", "lane", "queue_user"), False),
            (("repo", "path"), False),
            (("result_key", "state"), False),
        )

    @property
    def message_list(self) -> list[dict[str, Any]]:
        """The pylint messages, decoded from JSON."""
        return json.loads(self.messages)


class LintClaim(BaseModel):
    """A worker linting one result key: others wait for its result instead of linting it too.

    One slow file carried by ten commits of a push is linted once, not once per commit (which
    could cost ten timeouts). `until` lets a claim of a dead worker run out.
    """
    result_key = CharField(max_length=64, unique=True)
    owner = CharField(max_length=64)
    until = DateTimeField()


class QueueTurn(BaseModel):
    """When the queue last served a user: the round-robin between users (checker.lease)."""
    user_id = IntegerField(primary_key=True)
    served_at = DateTimeField()


class WorkerBeat(BaseModel):
    """A live worker process and its threads, renewed every few seconds: how many checks run
    at once, for the push's estimate of its wait (hooks.verdict)."""
    name = CharField(max_length=128, primary_key=True)
    threads = IntegerField()
    seen_at = DateTimeField()


class BlobImports(BaseModel):
    """The import statements of a .py blob (JSON), as checker.deps scans them: a blob's never
    change, and a push needs those of every file of its tree, not only the changed ones."""
    blob_sha = CharField(max_length=64, unique=True)
    imports = TextField()  # JSON list of [module, level, names, alias, is_from]; null: unknown


class RejectedPush(BaseModel):
    """A push the policy refused (kept for /metrics and the operator; the objects are gone)."""
    repo = ForeignKeyField(Repo, null=True, on_delete="CASCADE")
    pusher = ForeignKeyField(User, null=True, on_delete="SET NULL")
    pusher_id: int | None  # the foreign key's column, for type checkers
    problems = IntegerField()
    created_at = DateTimeField(default=utcnow)


class SchemaVersion(BaseModel):
    """A schema version applied by `gitserver.schema.migrate()`."""
    version = BigIntegerField()
    applied_at = DateTimeField(default=utcnow)


def bulk_insert(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """Insert many rows with one prepared statement (executemany / execute_values).

    peewee's insert_many builds the SQL text value by value, which cost ~0.4 s for the 5,000
    check rows of a 1,600-file push; the driver's batch call takes a few milliseconds.
    """
    if not rows:
        return
    meta = model._meta  # pylint: disable=protected-access  # peewee's documented model metadata
    fields = [f for f in meta.sorted_fields if not f.primary_key]
    defaults = {f.name: f.default() if callable(f.default) else f.default for f in fields}
    values = [tuple(f.db_value(row.get(f.name, defaults[f.name])) for f in fields)
              for row in rows]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    table = f'"{meta.table_name}"'
    db = database.obj
    with db.atomic():
        cursor = db.cursor()
        if db.param == "?":
            marks = ", ".join("?" for _ in fields)
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
        else:
            from psycopg2.extras import execute_values  # pylint: disable=import-outside-toplevel
            execute_values(cursor, f"INSERT INTO {table} ({columns}) VALUES %s", values,
                           page_size=1000)


# SQLite has no sequences: peewee's SqliteDatabase leaves sequence_exists() abstract too.
class ImmediateSqliteDatabase(SqliteDatabase):  # pylint: disable=abstract-method
    """Write transactions that take SQLite's write lock when they begin.

    A deferred transaction that reads and then writes cannot wait for the lock in WAL mode:
    SQLite fails it at once with "database is locked" when another process wrote meanwhile,
    and busy_timeout does not help. BEGIN IMMEDIATE waits (up to busy_timeout) instead.
    """

    def begin(self, lock_type: str | None = None) -> None:
        super().begin(lock_type or "IMMEDIATE")


class PostgresThreadPool(PooledPostgresqlDatabase):  # pylint: disable=abstract-method  # peewee's own
    """peewee's pool, which also takes back the connection of a thread that ended without
    closing it.

    Each thread holds its own connection until it closes it; the threads that run Starlette's
    sync endpoints and our hooks come and go (anyio ends a thread idle for 10 s), and a thread
    that ended still counted against `max_connections`: after ~32 of them every request waited
    for a connection and failed. A new connection first closes those of ended threads.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._owners: dict[int, threading.Thread] = {}
        super().__init__(*args, **kwargs)

    def _connect(self) -> Any:
        with self._pool_lock:
            for key, owner in list(self._owners.items()):
                if not owner.is_alive():
                    del self._owners[key]
                    pooled = self._in_use.pop(key, None)
                    if pooled is not None:
                        self._close_raw(pooled.connection)
            conn = super()._connect()
            self._owners[self.conn_key(conn)] = threading.current_thread()
            return conn


def init_db(url: str) -> Any:
    """Bind the proxy to the database at `url` and return it."""
    if url.startswith("sqlite"):
        db = ImmediateSqliteDatabase(url[len("sqlite:///"):], pragmas={
            "journal_mode": "wal",
            "busy_timeout": 10000,
            "foreign_keys": 1,
            "synchronous": "normal",
        }, timeout=10)
    else:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        # Pooled connections: one per thread, returned on close, reconnected when stale.
        db = PostgresThreadPool(**parse(url), max_connections=32, stale_timeout=300, timeout=10)
    database.initialize(db)
    return db


# -- accounts (sign-up and web sessions) ------------------------------------------------------

class ActivationKey(BaseModel):
    """A mailed activation link; only the SHA-256 of its 256-bit key is stored. Single use."""
    user = ForeignKeyField(User, backref="activation_keys", on_delete="CASCADE")
    user_id: int  # the foreign key's column, for type checkers
    key_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class SessionVersion(BaseModel):
    """Sessions before schema step 6 (a per-user version bumped on sign-out). No longer read:
    `WebSession` rows replaced it; the table stays so older databases keep their shape."""
    user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
    version = IntegerField(default=0)


class WebSession(BaseModel):
    """One signed-in browser. Its cookie holds a 256-bit key of which only the SHA-256 is
    stored: signing out deletes this row only; "sign out everywhere" deletes all of the user's."""
    user = ForeignKeyField(User, backref="web_sessions", on_delete="CASCADE")
    user_id: int  # the foreign key's column, for type checkers
    key_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)


class AccountKey(BaseModel):
    """A mailed key of an account change: a password reset or a new address to confirm.

    Only the SHA-256 of the 256-bit key is stored; single use (`used_at`), valid until
    `expires_at`. `new_email`: the address an email change applies once its key is followed.
    """
    user = ForeignKeyField(User, backref="account_keys", on_delete="CASCADE")
    user_id: int  # the foreign key's column, for type checkers
    purpose = CharField(max_length=16)  # reset | email
    key_hash = CharField(max_length=64, unique=True)
    new_email = CharField(max_length=254, default="")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


# -- organizations (courses: gitserver.core.orgs) ---------------------------------------------

class Organization(BaseModel):
    """The settings of an organization; its name and repos are those of its `account`."""
    account = ForeignKeyField(User, unique=True, on_delete="CASCADE")
    account_id: int  # the foreign key's column, for type checkers
    digest = BooleanField(default=False)  # a daily digest mail to the staff
    digest_sent_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)


class Membership(BaseModel):
    """A user's role in an organization: `staff` or `student`."""
    org = ForeignKeyField(User, backref="members", on_delete="CASCADE")
    org_id: int  # the foreign key's column, for type checkers
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    user_id: int  # the foreign key's column, for type checkers
    role = CharField(max_length=16)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        """One role per user and organization."""
        indexes = ((("org", "user"), True),)


class Assignment(BaseModel):
    """An assignment of an organization; each student pushes to `{org}/{name}-{username}`."""
    org = ForeignKeyField(User, backref="assignments", on_delete="CASCADE")
    org_id: int  # the foreign key's column, for type checkers
    name = CharField(max_length=50)
    due_at = DateTimeField(null=True)  # naive UTC; pushes after it are marked late
    created_at = DateTimeField(default=utcnow)

    class Meta:
        """One assignment of a name per organization."""
        indexes = ((("org", "name"), True),)


ORG_MODELS = (Organization, Membership, Assignment)
ALL_MODELS = (User, Token, Repo, Push, Commit, FileVersion, Check, RejectedPush, SchemaVersion,
              ActivationKey, SessionVersion, LintClaim, BlobImports, WebSession, AccountKey,
              QueueTurn, WorkerBeat, *ORG_MODELS)
