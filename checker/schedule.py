"""Which checks a push needs: one row per .py file of each tip and of its newest new commits.

Runs in post-receive. Each row gets its result key (`checker.deps`): the checker settings, the
repository, the file's path and bytes, and the tree modules it can import, at any depth. A
result stored in the same repository under the same key is copied at once (reused), so an
incremental push leaves pending only the files whose verdict may have changed: those edited,
and those importing (or shadowed by) an edited, added or removed module.

Error results (timeouts, crashes) are reused too, after one retry: the first `error` of a key
is tried once more by a later push (the machine may have been busy), the second stands. Within
one push a key is linted once (`checker.tasks` copies its result, error or not, to the push's
other rows of that key), so a slow file carried by ten commits costs one timeout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from dulwich.objects import Blob
from dulwich.objects import Commit as GitCommit
from dulwich.repo import Repo as GitRepo

from gitserver.core.config import Settings
from gitserver.core.lint_settings import GATE_NEW, LintSettings
from gitserver.core.lru import LruCache
from gitserver.core.models import (
    CHANGE_UNCHANGED,
    BlobImports,
    Check,
    Commit,
    FileVersion,
    Push,
    Repo,
    bulk_insert,
    utcnow,
)
from gitserver.core.states import COUNT_COLUMNS, FINAL_STATES, STATE_ERROR, STATE_PENDING

from .deps import Imports, ImportStmt, gated_keys, result_keys, scan_imports, settings_context
from .lease import LANE_TIP
from .runner import settings_fingerprint

ERROR_RETRIES = 1  # a key that errored is linted once more before its error is reused
# The result of a check, as copied to another row of the same key.
RESULT_FIELDS = ("state", "score", "duration_ms", "messages", "error", "checked_at",
                 "fail_under", *COUNT_COLUMNS)

# Import statements by blob sha: a push of one changed file still needs the imports of every
# file of the tree; they never change for a blob. Kept in the database (BlobImports), so that a
# restart does not parse a whole tree again, and here for the threads of this process.
_imports_cache: LruCache[Imports] = LruCache(
    max_entries=200_000, max_weight=64 * 1024 * 1024,
    weigh=lambda found: 64 + 96 * len(found))
_NO_IMPORTS: Imports = (ImportStmt("\0unknown"),)  # stands for None, which a cache cannot hold
_BATCH = 500


def current_fingerprint(settings: Settings) -> str:
    """The fingerprint of these checker settings; part of every result key."""
    checker = settings.checker
    return settings_fingerprint(checker.disable, checker.fail_under, checker.timeout_s)


def repo_fingerprint(settings: Settings, lint: LintSettings) -> str:
    """The fingerprint of the checker settings with a repository's lint settings."""
    return settings_context(current_fingerprint(settings),
                            "" if lint == LintSettings() else lint.key_part())


def py_files(git: GitRepo, sha: str) -> dict[str, str]:
    """path -> blob sha of every .py file in the commit's tree."""
    commit = git[sha.encode()]
    assert isinstance(commit, GitCommit)
    return {entry.path.decode("utf-8"): entry.sha.decode()
            for entry in git.object_store.iter_tree_contents(commit.tree)
            if entry.path.endswith(b".py")}


def tree_imports(git: GitRepo, blobs: Iterable[str]) -> dict[str, Imports | None]:
    """blob sha -> its import statements (None: they cannot be known), for many blobs."""
    found: dict[str, Imports] = {}
    missing = []
    for sha in set(blobs):
        cached = _imports_cache.get(sha)
        if cached is None:
            missing.append(sha)
        else:
            found[sha] = cached
    missing.sort()
    for start in range(0, len(missing), _BATCH):
        query = BlobImports.select().where(BlobImports.blob_sha.in_(missing[start:start + _BATCH]))
        for row in query.iterator():
            found[row.blob_sha] = _imports_cache.put(row.blob_sha, _decode(row.imports))
    scanned = {sha: _scan(git, sha) for sha in missing if sha not in found}
    rows = [{"blob_sha": sha, "imports": _encode(statements)}
            for sha, statements in scanned.items()]
    for start in range(0, len(rows), _BATCH):
        BlobImports.insert_many(rows[start:start + _BATCH]).on_conflict_ignore().execute()
    for sha, statements in scanned.items():
        found[sha] = _imports_cache.put(sha, statements)
    return {sha: None if value is _NO_IMPORTS else value for sha, value in found.items()}


def _scan(git: GitRepo, sha: str) -> Imports:
    blob = git[sha.encode()]
    assert isinstance(blob, Blob)
    scanned = scan_imports(blob.as_raw_string())
    return _NO_IMPORTS if scanned is None else scanned


def _encode(statements: Imports) -> str:
    if statements is _NO_IMPORTS:
        return "null"
    return json.dumps([[s.module, s.level, list(s.names), s.alias, s.is_from]
                       for s in statements])


def _decode(text: str) -> Imports:
    found = json.loads(text)
    if found is None:
        return _NO_IMPORTS
    return tuple(ImportStmt(module, level, tuple(names), alias, is_from)
                 for module, level, names, alias, is_from in found)


def tree_keys(git: GitRepo, files: Mapping[str, str], repo_id: int,
              fingerprint: str) -> dict[str, str]:
    """path -> result key of each file of a tree of the repository."""
    imports = tree_imports(git, files.values())
    return result_keys(files, f"{fingerprint}:{repo_id}", imports.__getitem__)


def reusable_results(keys: Iterable[str]) -> dict[str, Check]:
    """result key -> the check whose result a new row of that key takes over, where one exists.

    The newest final result other than `error`; else an `error` once the key has errored more
    than ERROR_RETRIES times (each a lint of its own, not a copy).
    """
    chosen: dict[str, Check] = {}
    errors: dict[str, list[Check]] = {}
    key_list = sorted({key for key in keys if key})
    for start in range(0, len(key_list), 500):
        # Originals only (a copy repeats one); a key has one, or a few errors and retries.
        query = (Check.select().where(
            Check.result_key.in_(key_list[start:start + 500])
            & Check.state.in_(list(FINAL_STATES)) & ~Check.reused)
            .order_by(Check.id.desc()))
        for check in query.iterator():
            if check.state == STATE_ERROR:
                errors.setdefault(check.result_key, []).append(check)
            else:
                chosen.setdefault(check.result_key, check)
    for key, found in errors.items():
        if key not in chosen and len(found) > ERROR_RETRIES:
            chosen[key] = found[0]
    return chosen


def result_values(check: Check) -> dict[str, Any]:
    """The result fields of a check, to copy into another row of the same key."""
    return {name: getattr(check, name) for name in RESULT_FIELDS}


def commit_keys(git: GitRepo, commit: Commit, files: Mapping[str, str], fingerprint: str,
                lint: LintSettings) -> dict[str, str]:
    """path -> result key of each file of the commit, under the repository's settings."""
    keys = tree_keys(git, files, commit.repo_id, fingerprint)
    if lint.gate != GATE_NEW:
        return keys
    parent: dict[str, str] = {}
    if commit.parent_sha and commit.parent_sha.encode() in git:
        parent = tree_keys(git, py_files(git, commit.parent_sha), commit.repo_id, fingerprint)
    return gated_keys(keys, parent)


# pylint: disable-next=too-many-arguments  # one commit's rows and where they queue
def schedule_commit(git: GitRepo, push: Push, commit: Commit, fingerprint: str,
                    lint: LintSettings | None = None, *, lane: int = LANE_TIP) -> int:
    """Create the commit's check rows in the queue's `lane` (`checker.lease`); return how many
    are pending (0: nothing to enqueue)."""
    if Check.select().where(Check.commit == commit).exists():
        return 0  # checked before (the same commit pushed to another branch)
    files = py_files(git, commit.sha)
    keys = commit_keys(git, commit, files, fingerprint, lint or LintSettings())
    changes = {fv.path: fv.change for fv in FileVersion.select().where(
        FileVersion.commit == commit).iterator()}
    reuse = reusable_results(keys.values())
    common = {"repo": commit.repo_id, "commit": commit.id, "push": push.id,
              "settings_fp": fingerprint, "state": STATE_PENDING, "created_at": utcnow(),
              "lane": lane, "queue_user": queue_user(push)}
    rows = [{**common, "path": path, "blob_sha": blob,
             "change": changes.get(path, CHANGE_UNCHANGED), "result_key": keys[path],
             **_reused(reuse.get(keys[path]))} for path, blob in sorted(files.items())]
    bulk_insert(Check, rows)
    return sum(1 for row in rows if row["state"] == STATE_PENDING)


def _reused(previous: Check | None) -> dict[str, Any]:
    """The fields a new row takes over from a stored result of its key (none without one)."""
    return {} if previous is None else {**result_values(previous), "reused": True}


def queue_user(push: Push) -> int:
    """Whose turn a push's checks take in the queue's round-robin: the pusher's, else the
    repository owner's."""
    if push.pusher_id is not None:
        return push.pusher_id
    return Repo.select(Repo.owner).where(Repo.id == push.repo_id).scalar() or 0


def recheck_commit(git: GitRepo, commit: Commit, fingerprint: str, lint: LintSettings) -> int:
    """Check the commit's files again under new repo settings: each row takes its new result
    key, and the stored result of that key or becomes pending; return how many are pending.

    The rows are the commit's own (one per file), so their earlier results give way.
    """
    files = py_files(git, commit.sha)
    keys = commit_keys(git, commit, files, fingerprint, lint)
    reuse = reusable_results(keys.values())
    pending = 0
    empty = dict.fromkeys(RESULT_FIELDS) | {"messages": "[]"}
    for check in Check.select().where(Check.commit == commit).iterator():
        key = keys.get(check.path, "")
        if key == check.result_key and check.settings_fp == fingerprint:
            continue
        previous = reuse.get(key)
        values = (result_values(previous) | {"reused": True} if previous is not None
                  else empty | {"state": STATE_PENDING, "reused": False, "attempts": 0})
        pending += previous is None
        Check.update(settings_fp=fingerprint, result_key=key, lease_until=None,
                     lease_owner=None, queued_at=utcnow(), lane=LANE_TIP, **values).where(
            Check.id == check.id).execute()
    return pending
