"""Check states and score rules: the one definition that pages, API, push verdict, badge and mail
render.

- A file's score is pylint's evaluation of that file alone; its state is `success` when the
  score reaches `fail_under` and no error or fatal message was raised, else `failure`; `error`
  when the checker could not check it (crash, timeout), `pending` until a result exists.
- A commit's score is pylint's *global* evaluation over its checked files: the message counts
  and statements of every file summed, then one evaluation, which is the figure `pylint` prints
  as "Your code has been rated at" for the same files (statement-weighted, not a mean).
- A commit's combined state is GitHub's: `failure` if any file is failure or error, `pending`
  if any is pending or there are none, else `success`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STATE_PENDING = "pending"
STATE_SUCCESS = "success"
STATE_FAILURE = "failure"
STATE_ERROR = "error"
FINAL_STATES = (STATE_SUCCESS, STATE_FAILURE, STATE_ERROR)

# Worst first: how mails and lists order files and message groups.
STATE_ORDER = {STATE_ERROR: 0, STATE_FAILURE: 1, STATE_PENDING: 2, STATE_SUCCESS: 3}
TYPE_ORDER = {"fatal": 0, "error": 1, "warning": 2, "refactor": 3, "convention": 4, "info": 5}
# One palette for pages, mails and the badge. Colour is never the only signal: every place that
# paints a state also prints its word.
STATE_COLOURS = {STATE_SUCCESS: "#1a7f37", STATE_FAILURE: "#cf222e", STATE_ERROR: "#bc4c00",
                 STATE_PENDING: "#6e7781"}
NO_STATE_COLOUR = "#6e7781"


@dataclass(frozen=True)
class LintCounts:
    """What pylint counted in the checked code: its statements and messages by type."""

    statements: int = 0
    fatal: int = 0
    error: int = 0
    warning: int = 0
    refactor: int = 0
    convention: int = 0

    @property
    def penalty(self) -> int:
        """The numerator of pylint's default evaluation."""
        return 5 * self.error + self.warning + self.refactor + self.convention

    @property
    def errors(self) -> int:
        """Messages that fail a file whatever its score (error and fatal)."""
        return self.error + self.fatal

    def __add__(self, other: LintCounts) -> LintCounts:
        return LintCounts(self.statements + other.statements, self.fatal + other.fatal,
                          self.error + other.error, self.warning + other.warning,
                          self.refactor + other.refactor, self.convention + other.convention)

    @classmethod
    def of(cls, counts: Mapping[str, int], statements: int) -> LintCounts:
        """From pylint's stats by message type (`{"error": 1, ...}`)."""
        return cls(statements, counts.get("fatal", 0), counts.get("error", 0),
                   counts.get("warning", 0), counts.get("refactor", 0),
                   counts.get("convention", 0))


def evaluation(counts: LintCounts) -> float:
    """pylint's default evaluation, rounded to two decimals as pylint prints it.

    `max(0, 0 if fatal else 10 - (5*error + warning + refactor + convention) / statement * 10)`.
    With no statements pylint gives no score; we give 10.0 when nothing counts against the code
    and 0.0 otherwise (an empty module passes; a file that does not parse fails).
    """
    if counts.fatal:
        return 0.0
    if counts.statements <= 0:
        return 10.0 if counts.penalty == 0 else 0.0
    return round(max(0.0, 10.0 - counts.penalty / counts.statements * 10.0), 2)


def file_score(counts: Mapping[str, int], statement: int) -> float:
    """pylint's evaluation of one file from its stats by message type."""
    return evaluation(LintCounts.of(counts, statement))


def file_state(score: float, counts: LintCounts, fail_under: float) -> str:
    """`success` when the score reaches `fail_under` and no error or fatal message was raised."""
    return STATE_SUCCESS if score >= fail_under and not counts.errors else STATE_FAILURE


def combined_state(states: Iterable[str]) -> str:
    """GitHub's combined status of a commit's file states."""
    found = list(states)
    if any(s in (STATE_FAILURE, STATE_ERROR) for s in found):
        return STATE_FAILURE
    if not found or STATE_PENDING in found:
        return STATE_PENDING
    return STATE_SUCCESS


# -- rows: Check models and the pages' light rows alike ---------------------------------------

COUNT_COLUMNS = ("statements", "fatal_count", "error_count", "warning_count", "refactor_count",
                 "convention_count")


def counts_of(check: Any) -> LintCounts | None:
    """The counts stored with a check; None while pending, for `error`, and for results stored
    before counts were kept."""
    values: list[int] = []
    for name in COUNT_COLUMNS:
        value = getattr(check, name, None)
        if value is None:
            return None
        values.append(int(value))
    return LintCounts(*values)


def commit_score(checks: Iterable[Any]) -> float | None:
    """pylint's global evaluation over the commit's checked files (None before any is known).

    Files the checker could not check (`error`) and files still pending are not in it. Results
    stored before statement counts were kept fall back to the old mean of file scores.
    """
    scored = [c for c in checks if c.score is not None]
    if not scored:
        return None
    counts = [counts_of(c) for c in scored]
    if any(c is None for c in counts):
        return round(sum(c.score for c in scored) / len(scored), 2)
    return evaluation(sum((c for c in counts if c is not None), LintCounts()))


def reasons(check: Any) -> list[str]:
    """Why a check is not `success`, as short phrases: ["1 error", "score 7.20 < 8.00"]."""
    if check.state == STATE_PENDING:
        return ["waiting for pylint"]
    if check.state == STATE_ERROR:
        return [check.error or "the checker failed"]
    if check.state != STATE_FAILURE:
        return []
    gated = gated_counts(check)
    if gated is not None:
        return _gated_reasons(check, gated)
    found = []
    counts = counts_of(check)
    errors = counts.errors if counts is not None else _errors_in(check)
    if errors:
        found.append(f"{errors} error{'s' if errors != 1 else ''}")
    fail_under = getattr(check, "fail_under", None)
    if check.score is not None and fail_under is not None and check.score < fail_under:
        found.append(f"score {check.score:.2f} < {fail_under:.2f}")
    if not found and check.score is not None:
        found.append(f"score {check.score:.2f} below the threshold")
    return found


def gated_counts(check: Any) -> LintCounts | None:
    """Under the repo gate `new` (`core.lint_settings`): the counts of the messages that are
    not marked `baseline`, which decided the state; None for a check that was not gated."""
    messages = getattr(check, "message_list", [])
    if not any(m.get("baseline") for m in messages):
        return None
    types = Counter(str(m.get("type")) for m in messages if not m.get("baseline"))
    return LintCounts(int(getattr(check, "statements", 0) or 0), types["fatal"], types["error"],
                      types["warning"], types["refactor"], types["convention"])


def _gated_reasons(check: Any, gated: LintCounts) -> list[str]:
    found = []
    if gated.errors:
        found.append(f"{gated.errors} new error{'s' if gated.errors != 1 else ''}")
    fail_under = getattr(check, "fail_under", None)
    score = evaluation(gated)
    if fail_under is not None and score < fail_under:
        found.append(f"new messages: score {score:.2f} < {fail_under:.2f}")
    return found or ["new messages"]


def why(check: Any) -> str:
    """The reasons as one phrase; empty for `success`."""
    return ", ".join(reasons(check))


def _errors_in(check: Any) -> int:
    messages = getattr(check, "message_list", [])
    return sum(1 for m in messages if m.get("type") in ("error", "fatal"))


def status_description(check: Any) -> str:
    """GitHub's one-line status description of a check (at most 140 characters)."""
    if check.state == STATE_PENDING:
        return "pylint is checking this file"
    if check.state == STATE_ERROR:
        return why(check)[:140]
    count = len(check.message_list)
    summary = f"pylint {check.score:.2f}/10, {count} message{'s' if count != 1 else ''}"
    if check.state == STATE_FAILURE:
        return f"{why(check)} ({summary})"[:140]
    return summary


def commit_reason(states: Iterable[str]) -> str:
    """Why a commit is not `success`: "2 of 5 files failing, 1 not checked (error)"."""
    found = list(states)
    parts = []
    failing = found.count(STATE_FAILURE)
    errors = found.count(STATE_ERROR)
    pending = found.count(STATE_PENDING)
    if failing:
        parts.append(f"{failing} of {len(found)} file{'s' if len(found) != 1 else ''} failing")
    if errors:
        parts.append(f"{errors} not checked (error)")
    if pending:
        parts.append(f"{pending} pending")
    if not found:
        parts.append("no files checked yet")
    return ", ".join(parts)
