"""The Huey instance: SqliteHuey in the data dir by default, RedisHuey for `redis://` URLs.

Built from settings, never at import time, so the web process, the hooks and the workers each
build their own from the one Settings object they were given. The queue name carries a hash of
the database URL, so two installations (or two test servers) sharing one Redis never take each
other's tasks. A second queue of the same name plus REPO_QUEUE carries the work that reads the
repositories, which only the web node (`gitserver serve`) consumes: workers may run on hosts
that have none.
"""

from __future__ import annotations

import hashlib

from huey import Huey, RedisHuey, SqliteHuey

from gitserver.core.config import Settings

REPO_QUEUE = "-repo"


def queue_name(settings: Settings) -> str:
    """A queue name per database: servers sharing one Redis keep to their own tasks."""
    digest = hashlib.sha256(settings.database_url.encode()).hexdigest()[:10]
    return f"gitserver-{digest}"


def create_huey(settings: Settings, suffix: str = "") -> Huey:
    """The Huey instance of `queue.url`: Redis when it says so, else SQLite; `suffix`
    (REPO_QUEUE) names the repo queue on the same storage."""
    url = settings.queue_url
    name = queue_name(settings) + suffix
    if url.startswith("redis://"):
        # blocking=True: workers wait on BRPOP, so an idle queue hands a task over at once
        return RedisHuey(name, url=url, blocking=True, read_timeout=1, results=False)
    path = url[len("sqlite:///"):]  # sqlite:////abs/path or sqlite:///relative/path
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=path, results=False, timeout=10)
