"""Who the lint processes run as: never root.

Started as root (`make run` on a server, say), the service runs pylint on pushed code as the
unprivileged `nobody` instead: root ignores RLIMIT_NPROC and may read and write everything, so
a bug in the sandbox would be a bug as root. The lint process's private folder is handed to that
user, and each materialised tree is made readable to its group only for the check.

That user must be able to run this interpreter; when it cannot (Python installed under root's
own home, say), the lint processes keep running as root and the server logs a warning at start
that says what to change. Not started as root: nothing changes.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

LINT_USER = "nobody"


@dataclass(frozen=True)
class LintUser:
    """The account a lint process runs as."""
    uid: int
    gid: int

    def own(self, folder: Path) -> None:
        """Give `folder` and everything under it to this user (the process's private HOME)."""
        for path in (folder, *folder.rglob("*")):
            os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def share(self, folder: Path) -> None:
        """Let this user's group read `folder` (a materialised tree), not write it."""
        for path in (folder, *folder.rglob("*")):
            if path.is_symlink():
                continue
            os.chown(path, -1, self.gid)
            path.chmod(0o750 if path.is_dir() else 0o640)


@functools.cache
def lint_user() -> LintUser | None:
    """The unprivileged user to lint as when we are root; None to lint as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(LINT_USER)
    except KeyError:
        logger.warning("there is no user %r: pylint runs as root; create it, or run gitserver "
                       "as an unprivileged user", LINT_USER)
        return None
    user = LintUser(entry.pw_uid, entry.pw_gid)
    try:
        probe = subprocess.run([sys.executable, "-I", "-c", "import pylint"], cwd="/",
                               capture_output=True, timeout=120, check=False, env={},
                               user=user.uid, group=user.gid, extra_groups=[])
        failure = probe.stderr.decode(errors="replace").strip()[-300:] \
            if probe.returncode != 0 else ""
    except OSError as exc:
        failure = str(exc)
    if failure:
        logger.warning("pylint runs as root: the user %r cannot run %s (%s); install gitserver "
                       "where other users can read it, or run gitserver as an unprivileged "
                       "user", LINT_USER, sys.executable, failure)
        return None
    return user


def share_tree(folder: Path) -> None:
    """Let the lint user read `folder`, a fresh temporary folder with a tree to check; nothing
    to do when we lint as ourselves."""
    user = lint_user()
    if user is not None:
        user.share(folder)
