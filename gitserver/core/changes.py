"""What a commit changed in its lint results: the one comparison pages, push verdict and mail use.

Pure: it takes check rows (models or the pages' light rows: anything with `path`, `blob_sha`,
`change`, `state`, `score`, `messages`/`message_list`) and returns data; no database, no HTTP.

- `compare()`: messages new, fixed and unknown since the first parent (`ParentDiff`).
- `feedback()`: a commit's results ordered by what the push changed (`Feedback`): new messages
  first (errors, then warnings, refactors, conventions), then the changed files with their score
  and its delta, then the unchanged files that still fail, and what was fixed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitserver.core.states import (
    STATE_ERROR,
    STATE_SUCCESS,
    TYPE_ORDER,
    combined_state,
    commit_score,
    why,
)

Located = tuple[str, dict[str, Any]]  # (path, message)

# pylint's messages for a module it could not build: nothing else is checked in it.
UNPARSED_SYMBOLS = frozenset({"syntax-error", "parse-error", "astroid-error"})
CHANGED = ("added", "modified")


def message_key(message: dict[str, Any]) -> tuple[str, str]:
    """What identifies a lint message when a commit is compared with its parent."""
    # Without the line: a message that only moved because lines were added above it is
    # neither new nor fixed.
    return (str(message.get("symbol")), str(message.get("message")))


def message_changes(now: list[dict[str, Any]], before: list[dict[str, Any]]
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(messages only in `now`, messages only in `before`), counting repeats."""
    def only_in(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> list:
        left = Counter(message_key(m) for m in second)
        found = []
        for message in first:
            key = message_key(message)
            if left[key] > 0:
                left[key] -= 1
            else:
                found.append(message)
        return found
    return only_in(now, before), only_in(before, now)


def not_looked_into(check: Any) -> bool:
    """Whether pylint could not look into the file's code: it does not parse, or the checker
    failed on it. Its earlier messages are then unknown, not fixed."""
    if check.state == STATE_ERROR:
        return True
    return any(m.get("symbol") in UNPARSED_SYMBOLS for m in check.message_list)


def severity(message: dict[str, Any]) -> int:
    """Worst first: fatal, error, warning, refactor, convention, info."""
    return TYPE_ORDER.get(str(message.get("type")), len(TYPE_ORDER))


def worst_first(found: Iterable[Located]) -> list[Located]:
    """Messages by type (errors first), then path and position."""
    return sorted(found, key=lambda item: (severity(item[1]), item[0],
                                           item[1].get("line") or 0,
                                           item[1].get("column") or 0))


@dataclass
class ParentDiff:
    """What changed in the lint messages since the commit's first parent."""
    sha: str
    checked: bool  # False: the parent has no checks (it was not a checked commit of its push)
    state: str | None = None
    score: float | None = None
    new: list[Located] = field(default_factory=list)
    fixed: list[Located] = field(default_factory=list)
    # The parent's messages of files pylint could not look into now (they stopped parsing, or
    # the checker failed on them): neither fixed nor still there, as far as anyone knows.
    unknown: list[Located] = field(default_factory=list)


def compare(parent_sha: str, checks: Sequence[Any], before: Sequence[Any]) -> ParentDiff:
    """New, fixed and unknown messages of `checks` against the parent's checks `before`."""
    diff = ParentDiff(sha=parent_sha, checked=bool(before))
    if not before:
        return diff
    diff.state = combined_state([c.state for c in before])
    diff.score = commit_score(before)
    mine = {c.path: c for c in checks}
    theirs = {c.path: c for c in before}
    for path in sorted(set(mine) | set(theirs)):
        now, old = mine.get(path), theirs.get(path)
        if now is not None and old is not None and now.blob_sha == old.blob_sha \
                and now.messages == old.messages:
            continue
        new, fixed = message_changes(now.message_list if now is not None else [],
                                     old.message_list if old is not None else [])
        diff.new.extend((path, m) for m in new)
        (diff.unknown if now is not None and not_looked_into(now) else diff.fixed).extend(
            (path, m) for m in fixed)
    return diff


# -- feedback: a commit's results, what changed first -----------------------------------------

@dataclass(frozen=True)
class FileLine:  # pylint: disable=too-many-instance-attributes  # plain data, one field each
    """One file of the commit as the feedback lists it."""
    path: str
    change: str  # added | modified | unchanged
    state: str
    score: float | None
    before: float | None  # the parent's score of the file; None when it had none
    reason: str  # why it is not `success` ("1 error, score 7.20 < 8.00"); "" for success
    error: str | None = None
    messages: int = 0

    @property
    def delta(self) -> float | None:
        """The score's change since the parent (None when either is unknown)."""
        if self.score is None or self.before is None:
            return None
        return round(self.score - self.before, 2)


@dataclass
class Feedback:  # pylint: disable=too-many-instance-attributes  # plain data, one field each
    """A commit's results, ordered by what the push changed."""
    sha: str
    parent_sha: str | None  # None: a root commit
    parent_checked: bool  # False: no results of the parent to compare with
    state: str
    score: float | None
    parent_score: float | None
    new: list[Located]  # worst first; every message of the changed files when nothing compares
    fixed: list[Located]
    changed: list[FileLine]  # added or modified files, worst first
    still_failing: list[FileLine]  # unchanged files that are not `success`
    # Messages of failing files that are not new (old ones, and those of unchanged files).
    old: list[Located]
    total_files: int

    @property
    def score_delta(self) -> float | None:
        """The commit score's change since the parent."""
        if self.score is None or self.parent_score is None:
            return None
        return round(self.score - self.parent_score, 2)

    def fixed_summary(self) -> str:
        """The fixed messages by symbol, most first."""
        return symbol_counts(m for _, m in self.fixed)

    def new_counts(self) -> str:
        """"1 error, 2 conventions": the new messages by type, worst first."""
        counts = Counter(str(m.get("type")) for _, m in self.new)
        return ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in
                         sorted(counts.items(), key=lambda t: TYPE_ORDER.get(t[0], 9)))

    def first_new_error(self) -> dict[str, Any] | None:
        """The first new error or fatal message: the one the push output explains."""
        for _, message in self.new:
            if message.get("type") in ("error", "fatal"):
                return message
        return None


def symbol_counts(messages: Iterable[dict[str, Any]]) -> str:
    """Symbols with their counts, most frequent first ("unused-import, 2 times")."""
    counts = Counter(str(m.get("symbol")) for m in messages)
    return ", ".join(symbol if n == 1 else f"{symbol} \u00d7{n}"
                     for symbol, n in sorted(counts.items(), key=lambda t: (-t[1], t[0])))


def _file_line(check: Any, before: Any | None) -> FileLine:
    return FileLine(path=check.path, change=check.change, state=check.state, score=check.score,
                    before=before.score if before is not None else None,
                    reason=why(check), error=getattr(check, "error", None),
                    messages=len(check.message_list))


def _state_rank(line: FileLine) -> tuple[int, str]:
    return (0 if line.state != STATE_SUCCESS else 1, line.path)


def feedback(sha: str, parent_sha: str | None, checks: Sequence[Any],
             before: Sequence[Any] | None) -> Feedback:
    """The commit's results ordered by what changed; `before`: the parent's checks (None or
    empty when there is no parent, or it was never checked)."""
    theirs = {c.path: c for c in before or ()}
    diff = compare(parent_sha, checks, before) if parent_sha and before else None
    changed_paths = {c.path for c in checks if c.change in CHANGED}
    if diff is not None:
        new = worst_first(diff.new)
    else:  # a root commit, or a parent without results: every message of a changed file is new
        new = worst_first((c.path, m) for c in checks if c.path in changed_paths
                          for m in c.message_list)
    lines = [_file_line(c, theirs.get(c.path)) for c in checks]
    changed = sorted((ln for ln in lines if ln.path in changed_paths), key=_state_rank)
    still = sorted((ln for ln in lines if ln.path not in changed_paths
                    and ln.state != STATE_SUCCESS), key=_state_rank)
    return Feedback(
        sha=sha, parent_sha=parent_sha, parent_checked=bool(before),
        state=combined_state(c.state for c in checks), score=commit_score(checks),
        parent_score=commit_score(before) if before else None, new=new,
        fixed=worst_first(diff.fixed) if diff is not None else [],
        changed=changed, still_failing=still, old=_old_messages(checks, changed_paths, new),
        total_files=len(checks))


def _old_messages(checks: Sequence[Any], changed_paths: set[str],
                  new: list[Located]) -> list[Located]:
    """The messages of failing files that are not new: changed files first."""
    left = Counter((path, message_key(m)) for path, m in new)
    old = []
    for check in sorted(checks, key=lambda c: (c.path not in changed_paths, c.path)):
        if check.state == STATE_SUCCESS:
            continue
        for message in check.message_list:
            key = (check.path, message_key(message))
            if left[key] > 0:
                left[key] -= 1
            else:
                old.append((check.path, message))
    return old
