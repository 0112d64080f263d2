"""Running a receive hook as git's own child process: the fallback of `hook_client.py`
when the server's hook socket is not there (git run by hand on a repo, say)."""

from __future__ import annotations

from collections.abc import Callable

from gitserver.config import Settings, load_settings
from gitserver.models import init_db
from gitserver.schema import migrate

from .updates import HookCall, from_process


def run_as_process(run: Callable[[Settings, HookCall], int]) -> int:
    """Load the settings the server handed down, open the database, run the hook."""
    settings = load_settings()
    init_db(settings.database_url)
    migrate()  # git may run this on a data dir no server has opened yet
    return run(settings, from_process())
