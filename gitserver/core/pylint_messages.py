"""pylint's own message definitions, read once from the installed pylint: what `/help/pylint/...`
and the repo lint settings know of each message.

Read from pylint's checkers (the same ones `checker/pylintrc` runs: no plugins), never from
pushed content. Loading takes about a second, so the web process starts it in the background
when it starts (`start_loading`) and the first page that needs it waits for it.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass

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
    """The installed pylint's messages (loaded on first use, then kept)."""
    # pylint: disable=import-outside-toplevel  # a second of imports, only where it is needed
    from pylint import __version__, checkers
    from pylint.lint import PyLinter
    linter = PyLinter()
    checkers.initialize(linter)
    found = []
    for definition in linter.msgs_store.messages:
        found.append(MessageInfo(
            msgid=definition.msgid, symbol=definition.symbol,
            type=CATEGORIES.get(definition.msgid[0], "info"), text=definition.msg,
            description=" ".join(definition.description.split()),
            checker=definition.checker_name,
            old_names=tuple(name for old in definition.old_names for name in old)))
    found.sort(key=lambda m: m.msgid)
    logger.info("loaded %d pylint message definitions (pylint %s)", len(found), __version__)
    return Catalogue(tuple(found), __version__)


def start_loading() -> None:
    """Load the catalogue in the background, so the first help page does not wait."""
    threading.Thread(target=catalogue, name="pylint-messages", daemon=True).start()
