"""A receive hook run as git's own child process: the fallback of `hooks/hook_client.py`
when the server's hook socket is not there (git run by hand on a repo, say).

`python -m gitserver.hook_process pre-receive|post-receive`: loads the settings the server
handed down, opens (and if need be migrates) the database, and runs the hook with the runtime's
task queue.
"""

from __future__ import annotations

import os
import sys

from gitserver.core.config import load_settings
from gitserver.core.models import init_db
from gitserver.core.schema import migrate
from gitserver.runtime import build_tasks
from hooks import post_receive, pre_receive
from hooks.updates import from_process


def main(hook: str) -> int:
    """Run `hook` on git's stdin and environment; return its exit code."""
    os.umask(0o077)  # as `gitserver` itself: what the hook writes is for this account only
    settings = load_settings()
    init_db(settings.database_url)
    migrate()  # git may run this on a data dir no server has opened yet
    if hook == "pre-receive":
        return pre_receive.run(settings, from_process())
    if hook == "post-receive":
        return post_receive.run(settings, from_process(), build_tasks(settings))
    sys.stderr.write(f"unknown hook {hook!r}: use pre-receive or post-receive\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
