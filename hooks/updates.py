"""The ref updates git hands a receive hook on stdin, parsed once."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

ZERO = "0" * 40


@dataclass(frozen=True)
class RefUpdate:
    """One line of a receive hook's stdin: `ref` moves from `old` to `new`."""
    old: str
    new: str
    ref: str

    @property
    def deleted(self) -> bool:
        """The push deletes the ref."""
        return self.new == ZERO

    @property
    def created(self) -> bool:
        """The push creates the ref."""
        return self.old == ZERO

    @property
    def branch(self) -> str | None:
        """The branch name of a refs/heads/ ref, else None."""
        return self.ref[len("refs/heads/"):] if self.ref.startswith("refs/heads/") else None


def read_updates(stream: TextIO = sys.stdin) -> list[RefUpdate]:
    """Parse git's `<old> <new> <ref>` lines, skipping malformed ones."""
    updates = []
    for line in stream:
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


@dataclass
class HookCall:
    """One run of a receive hook: git's environment, the ref updates, where output goes."""
    env: Mapping[str, str]
    updates: list[RefUpdate]
    out: Callable[[str], None]
    # Runs work after the hook has answered; in a hook process there is no after, so: now.
    defer: Callable[[Callable[[], object]], None] = field(default=lambda work: work())

    @property
    def git_dir(self) -> Path:
        """The repository the hook runs for (git sets GIT_DIR, or runs the hook in it)."""
        return Path(self.env.get("GIT_DIR") or self.env.get("PWD") or ".")

    def int_env(self, name: str) -> int | None:
        """An integer from the environment, or None when it is unset or empty."""
        value = self.env.get(name)
        return int(value) if value else None


def from_process() -> HookCall:
    """The call as git makes it when it runs the hook as a process."""
    env = dict(os.environ)
    env["GIT_DIR"] = str(Path(env.get("GIT_DIR", ".")).resolve())
    return HookCall(env=env, updates=read_updates(), out=say)


def say(text: str = "") -> None:
    """A line for the pusher: git shows a hook's output as `remote: ...`."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
