"""Unified diffs of a file between two versions, bounded, with the lint messages at their lines.

Pure: bytes and message lists in, hunks out. What an attacker controls is bounded before it
costs CPU: a side over `MAX_DIFF_BYTES` is not compared at all (difflib is quadratic at worst),
and a diff longer than `MAX_DIFF_LINES` is cut with a notice. Binary content is named as such.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitserver.core.queries import message_changes

CONTEXT = 3
MAX_DIFF_BYTES = 512 * 1024  # per side
MAX_DIFF_LINES = 2000  # shown per file
SNIFF = 8000  # like git: a NUL byte in the first 8000 bytes makes a file binary

KIND_CONTEXT, KIND_ADD, KIND_DEL = "context", "add", "del"


@dataclass
class DiffLine:
    """One line of a hunk: `old`/`new` are its line numbers on either side (None if absent)."""
    kind: str
    old: int | None
    new: int | None
    text: str
    messages: list[dict[str, Any]] = field(default_factory=list)  # at this line: now, or fixed


@dataclass
class Hunk:
    """A run of changed lines with their context, as `@@ -a,b +c,d @@` says."""
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: list[DiffLine]

    @property
    def header(self) -> str:
        """The hunk header, as git prints it."""
        return f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@"


@dataclass
class FileDiff:  # pylint: disable=too-many-instance-attributes  # one per part shown
    """What changed in one file; `notice` says why hunks are missing or cut."""
    path: str
    change: str  # added | modified | deleted
    old_blob: str | None
    new_blob: str | None
    hunks: list[Hunk] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    binary: bool = False
    notice: str = ""
    new_messages: list[dict[str, Any]] = field(default_factory=list)  # new since `old`
    fixed_messages: list[dict[str, Any]] = field(default_factory=list)
    outside: list[dict[str, Any]] = field(default_factory=list)  # new ones on lines not shown


def is_binary(data: bytes) -> bool:
    """Not text: a NUL byte in the head, or not UTF-8."""
    if b"\0" in data[:SNIFF]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def split_lines(data: bytes) -> list[str]:
    """The lines of a text as git counts them: split at "\n" only, no empty last line."""
    text = data.decode("utf-8")
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") or not text else lines


def hunks_of(old: Sequence[str], new: Sequence[str], context: int = CONTEXT) -> list[Hunk]:
    """The hunks of a unified diff of two line lists."""
    found = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        lines = [line for opcode in group for line in _opcode_lines(opcode, old, new)]
        old_count, new_count = group[-1][2] - group[0][1], group[-1][4] - group[0][3]
        found.append(Hunk(group[0][1] + (1 if old_count else 0), old_count,
                          group[0][3] + (1 if new_count else 0), new_count, lines))
    return found


def _opcode_lines(opcode: tuple[str, int, int, int, int], old: Sequence[str],
                  new: Sequence[str]) -> list[DiffLine]:
    tag, i1, i2, j1, j2 = opcode
    if tag == "equal":
        return [DiffLine(KIND_CONTEXT, i + 1, j + 1, old[i])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
    return [*(DiffLine(KIND_DEL, i + 1, None, old[i]) for i in range(i1, i2)),
            *(DiffLine(KIND_ADD, None, j + 1, new[j]) for j in range(j1, j2))]


# pylint: disable-next=too-many-arguments  # keyword-only, each side of the comparison
def file_diff(path: str, change: str, *, old: bytes | None, new: bytes | None,
              old_blob: str | None = None, new_blob: str | None = None,
              max_lines: int = MAX_DIFF_LINES) -> FileDiff:
    """The diff of one file from `old` to `new` (None: absent on that side)."""
    diff = FileDiff(path, change, old_blob, new_blob)
    sides = [data for data in (old, new) if data is not None]
    if any(len(data) > MAX_DIFF_BYTES for data in sides):
        diff.notice = (f"This file is over {MAX_DIFF_BYTES // 1024} KB, too big to show as a "
                       "diff: open it, or download it raw.")
        return diff
    if any(is_binary(data) for data in sides):
        diff.binary = True
        diff.notice = "Binary file: not shown."
        return diff
    hunks = hunks_of(split_lines(old or b""), split_lines(new or b""))
    shown = 0
    for hunk in hunks:
        diff.added += sum(1 for line in hunk.lines if line.kind == KIND_ADD)
        diff.removed += sum(1 for line in hunk.lines if line.kind == KIND_DEL)
        if shown >= max_lines:
            continue
        if shown + len(hunk.lines) > max_lines:
            hunk.lines = hunk.lines[:max_lines - shown]
            diff.notice = (f"The diff is cut after {max_lines} lines: open the file to see "
                           "the rest.")
        diff.hunks.append(hunk)
        shown += len(hunk.lines)
    return diff


def place_messages(diff: FileDiff, now: list[dict[str, Any]],
                   before: list[dict[str, Any]] | None) -> None:
    """Put the new version's messages at their lines, marking those new since `before`, and the
    fixed ones at their old lines. `before` None: the old version was never checked, so nothing
    is marked (an added file has `before` = [])."""
    new, fixed = message_changes(now, before) if before is not None else ([], [])
    new_ids = {id(m) for m in new}
    diff.new_messages = [{**m, "is_new": True} for m in new]
    diff.fixed_messages = fixed
    by_new: dict[int, list[dict[str, Any]]] = {}
    for message in now:
        by_new.setdefault(int(message.get("line") or 0), []).append(
            {**message, "is_new": id(message) in new_ids})
    by_old: dict[int, list[dict[str, Any]]] = {}
    for message in fixed:
        by_old.setdefault(int(message.get("line") or 0), []).append({**message, "is_fixed": True})
    placed: set[int] = set()
    for hunk in diff.hunks:
        for line in hunk.lines:
            if line.new is not None and line.new in by_new:
                line.messages.extend(by_new[line.new])
                placed.add(line.new)
            if line.kind == KIND_DEL and line.old in by_old:
                line.messages.extend(by_old[line.old])
    diff.outside = [m for number, found in sorted(by_new.items()) if number not in placed
                    for m in found if m["is_new"]]
    for hunk in diff.hunks:
        for line in hunk.lines:
            line.messages.sort(key=lambda m: m.get("column") or 0)
