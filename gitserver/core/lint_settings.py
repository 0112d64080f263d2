"""A repository's lint settings, chosen by its owner (CONTRACT "Checks"): messages to
`disable`, its own `fail_under`, and the `gate`: `all` (every message counts) or `new` (a file
fails only on messages new since the commit's first parent; older ones are kept, marked
`baseline`, and do not fail it).

Kept in the database (`Repo.lint_*`), never read from pushed content. pylint itself runs with
the server's settings; a check's raw result is then filtered and judged here (`judge`), so a
lint process serves every repository. The settings are part of every result key
(`checker.deps.settings_context`): changing them re-checks the default branch's tip.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gitserver.core.changes import message_changes
from gitserver.core.models import Repo, database
from gitserver.core.pylint_messages import Catalogue
from gitserver.core.states import LintCounts, evaluation, file_state

GATE_ALL, GATE_NEW = "all", "new"
GATES = (GATE_ALL, GATE_NEW)
MAX_DISABLE = 200  # pylint has ~400 messages
MAX_NAME = 64


class LintSettingsError(ValueError):
    """Settings that cannot be saved; str(exc) says what to change."""


@dataclass(frozen=True)
class LintSettings:
    """The repository's choices; `fail_under` None: the server's `checker.fail_under`."""
    disable: tuple[str, ...] = ()
    fail_under: float | None = None
    gate: str = GATE_ALL

    def shape(self, server_fail_under: float) -> dict[str, Any]:
        """The API's shape: `{"disable": [...], "fail_under": 8.0, "gate": "all"}`."""
        return {"disable": list(self.disable),
                "fail_under": server_fail_under if self.fail_under is None else self.fail_under,
                "gate": self.gate}

    def key_part(self) -> str:
        """What the settings add to a result key."""
        return json.dumps([sorted(self.disable), self.fail_under, self.gate])


def of(repo: Repo) -> LintSettings:
    """The repository's stored settings."""
    try:
        disable = tuple(str(name) for name in json.loads(repo.lint_disable or "[]"))
    except ValueError:
        disable = ()
    gate = repo.lint_gate if repo.lint_gate in GATES else GATE_ALL
    return LintSettings(disable, repo.lint_fail_under, gate)


def save(repo: Repo, settings: LintSettings) -> None:
    """Store the settings on the repository."""
    with database.atomic():
        Repo.update(lint_disable=json.dumps(list(settings.disable)),
                    lint_fail_under=settings.fail_under,
                    lint_gate=settings.gate).where(Repo.id == repo.id).execute()
    repo.lint_disable = json.dumps(list(settings.disable))
    repo.lint_fail_under = settings.fail_under
    repo.lint_gate = settings.gate


def validated(current: LintSettings, changes: Mapping[str, Any],
              messages: Catalogue) -> LintSettings:
    """`current` with `changes` (a PATCH body or a form) applied, or LintSettingsError.

    `disable` takes pylint symbols or ids (E0602); they are stored as symbols.
    """
    unknown = set(changes) - {"disable", "fail_under", "gate"}
    if unknown:
        raise LintSettingsError(f"unknown setting {sorted(unknown)[0]!r}: the settings are "
                                "disable, fail_under and gate")
    result = current
    if "disable" in changes:
        result = replace(result, disable=_disable(changes["disable"], messages))
    if "fail_under" in changes:
        result = replace(result, fail_under=_fail_under(changes["fail_under"]))
    if "gate" in changes:
        if changes["gate"] not in GATES:
            raise LintSettingsError("gate must be \"all\" (every message counts) or \"new\" "
                                    "(only messages new since the parent fail a file)")
        result = replace(result, gate=str(changes["gate"]))
    return result


def _disable(value: Any, messages: Catalogue) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LintSettingsError("disable must be a list of pylint message names, "
                                "e.g. [\"line-too-long\", \"C0114\"]")
    if len(value) > MAX_DISABLE:
        raise LintSettingsError(f"disable lists {len(value)} messages; at most {MAX_DISABLE}")
    symbols: list[str] = []
    bad = []
    for name in (v.strip() for v in value):
        info = messages.find(name) if 0 < len(name) <= MAX_NAME else None
        if info is None:
            bad.append(name[:MAX_NAME])
        elif info.symbol not in symbols:
            symbols.append(info.symbol)
    if bad:
        raise LintSettingsError(
            f"not a pylint message: {', '.join(repr(b) for b in bad[:5])}"
            f"{' and more' if len(bad) > 5 else ''}. Use a message's symbol (line-too-long) "
            "or id (C0301); /help/pylint lists them all")
    return tuple(sorted(symbols))


def _fail_under(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0.0 <= float(value) <= 10.0:
        raise LintSettingsError("fail_under must be a number from 0 to 10 (or null for the "
                                "server's default)")
    return float(value)


# -- judging a raw result with the settings ------------------------------------------------------

@dataclass(frozen=True)
class Judged:
    """A check result under the repository's settings."""
    state: str
    score: float
    counts: LintCounts
    messages: list[dict[str, Any]]


def _without(counts: LintCounts, messages: Iterable[dict[str, Any]]) -> LintCounts:
    """`counts` less the messages' own (pylint counts each message under its type)."""
    less = Counter(str(m.get("type")) for m in messages)
    return LintCounts(counts.statements, max(0, counts.fatal - less["fatal"]),
                      max(0, counts.error - less["error"]),
                      max(0, counts.warning - less["warning"]),
                      max(0, counts.refactor - less["refactor"]),
                      max(0, counts.convention - less["convention"]))


def judge(messages: list[dict[str, Any]], counts: LintCounts, settings: LintSettings,
          fail_under: float, baseline: list[dict[str, Any]] | None) -> Judged:
    """The result of pylint's raw `messages`/`counts` under the repository's settings.

    `fail_under`: the threshold in force. `baseline`: the parent's messages of the same file
    under gate `new` (None otherwise; [] for a file new in the commit). Messages found there
    are marked `"baseline": true` and do not count towards the state; the score stays pylint's
    score of every message.
    """
    disabled = set(settings.disable)
    dropped = [m for m in messages if m.get("symbol") in disabled]
    kept = [dict(m) for m in messages if m.get("symbol") not in disabled]
    for message in kept:
        message.pop("baseline", None)
    counts = _without(counts, dropped)
    score = evaluation(counts)
    if settings.gate != GATE_NEW or baseline is None:
        return Judged(file_state(score, counts, fail_under), score, counts, kept)
    clean_baseline = [m for m in baseline if m.get("symbol") not in disabled]
    new, _ = message_changes(kept, clean_baseline)
    new_ids = {id(m) for m in new}
    old = [m for m in kept if id(m) not in new_ids]
    for message in old:
        message["baseline"] = True
    gated = _without(counts, old)
    return Judged(file_state(evaluation(gated), gated, fail_under), score, counts, kept)
