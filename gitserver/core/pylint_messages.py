"""pylint's own message definitions, read once from the installed pylint: what `/help/pylint/...`
and the repo lint settings know of each message.

Read from pylint's checkers (the same ones `checker/pylintrc` runs: no plugins), never from
pushed content, by a child Python, so the web process never imports pylint. Loading takes about
a second, so the web process starts it in the background when it starts (`start_loading`) and
the first page that needs it waits for it.
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from typing import Any

logger = logging.getLogger(__name__)

CATEGORIES = {"C": "convention", "R": "refactor", "W": "warning", "E": "error", "F": "fatal",
              "I": "info"}


@dataclass(frozen=True)
class MessageInfo:
    """One pylint message as pylint defines it."""
    msgid: str  # "E0602"
    symbol: str  # "undefined-variable"
    type: str  # error | warning | refactor | convention | fatal | info
    text: str  # the message template: "Undefined variable %r"
    description: str  # pylint's description of the message
    checker: str  # the pylint checker that emits it ("variables")
    old_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """Every message of the installed pylint, by symbol and by id (old names included)."""
    messages: tuple[MessageInfo, ...]
    pylint_version: str

    @functools.cached_property
    def _index(self) -> dict[str, MessageInfo]:
        found: dict[str, MessageInfo] = {}
        for info in self.messages:
            found[info.symbol] = info
            found[info.msgid.upper()] = info
            for name in info.old_names:
                found.setdefault(name, info)
        return found

    def find(self, name: str) -> MessageInfo | None:
        """The message named by its symbol, id (any case: e0602) or an old name."""
        return self._index.get(name) or self._index.get(name.upper())


@functools.lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The installed pylint's messages (loaded on first use, then kept).

    Read by a short-lived child Python: importing pylint and its checkers costs the process
    that does it ~40 MB it never gives back, which the web process, holding every push's
    buffers, should not carry.
    """
    result = subprocess.run([sys.executable, "-I", "-m", __name__], capture_output=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError("reading pylint's message definitions failed: "
                           + result.stderr.decode(errors="replace")[-500:])
    found = json.loads(result.stdout)
    messages = tuple(MessageInfo(**dict(m, old_names=tuple(m["old_names"])))
                     for m in found["messages"])
    logger.info("loaded %d pylint message definitions (pylint %s)", len(messages),
                found["version"])
    return Catalogue(messages, found["version"])


def read_definitions() -> dict[str, Any]:
    """pylint's message definitions as JSON-ready data (what the child Python prints)."""
    # pylint: disable=import-outside-toplevel  # only in the child that prints them
    from pylint import __version__, checkers
    from pylint.lint import PyLinter
    linter = PyLinter()
    checkers.initialize(linter)
    found = [asdict(MessageInfo(
        msgid=definition.msgid, symbol=definition.symbol,
        type=CATEGORIES.get(definition.msgid[0], "info"), text=definition.msg,
        description=" ".join(definition.description.split()),
        checker=definition.checker_name,
        old_names=tuple(name for old in definition.old_names for name in old)))
        for definition in linter.msgs_store.messages]
    found.sort(key=lambda m: m["msgid"])
    return {"version": __version__, "messages": found}


def start_loading() -> None:
    """Load the catalogue in the background, so the first help page does not wait."""
    threading.Thread(target=catalogue, name="pylint-messages", daemon=True).start()


if __name__ == "__main__":
    json.dump(read_definitions(), sys.stdout)
