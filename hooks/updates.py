"""The ref updates git hands a receive hook on stdin, parsed once."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

ZERO = "0" * 40


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def deleted(self) -> bool:
        return self.new == ZERO

    @property
    def created(self) -> bool:
        return self.old == ZERO

    @property
    def branch(self) -> str | None:
        return self.ref[len("refs/heads/"):] if self.ref.startswith("refs/heads/") else None


def read_updates(stream: TextIO = sys.stdin) -> list[RefUpdate]:
    updates = []
    for line in stream:
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


def say(text: str = "") -> None:
    """A line for the pusher: git shows a hook's output as `remote: ...`."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
