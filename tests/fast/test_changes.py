"""What a push changed, in the order the verdict and the report mail show it (pure logic)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gitserver.core.changes import compare, feedback, symbol_counts
from gitserver.core.lint_settings import GATE_NEW, LintSettings, judge
from gitserver.core.states import LintCounts, reasons
from hooks.verdict import feedback_lines


def msg(symbol: str, kind: str, line: int = 1, text: str = "", msgid: str = "X0000"
        ) -> dict[str, Any]:
    return {"line": line, "column": 0, "end_line": None, "end_column": None, "type": kind,
            "symbol": symbol, "message_id": msgid, "message": text or symbol}


@dataclass
class Row:  # what changes.* reads of a check
    path: str
    change: str
    state: str
    score: float | None
    messages: str
    blob_sha: str = ""
    error: str | None = None
    fail_under: float | None = 8.0

    @property
    def message_list(self) -> list[dict[str, Any]]:
        return json.loads(self.messages)


def row(path: str, change: str, state: str, score: float, *messages: dict[str, Any],
        blob: str = "") -> Row:
    return Row(path, change, state, score, json.dumps(list(messages)), blob or path + change)


def kept(parent_row: Row) -> Row:
    """The parent's file, unchanged in the child."""
    return Row(parent_row.path, "unchanged", parent_row.state, parent_row.score,
               parent_row.messages, parent_row.blob_sha)


LEGACY = [msg("missing-function-docstring", "convention", n, f"doc {n}") for n in range(1, 15)]
PARENT = [row("pkg/__init__.py", "added", "failure", 5.0, *LEGACY[:10], blob="i1"),
          row("pkg/util.py", "added", "failure", 6.0, *LEGACY[10:], blob="u1"),
          row("app.py", "added", "failure", 7.0,
              msg("unused-import", "warning", 1, "Unused import os"),
              msg("unused-import", "warning", 2, "Unused import sys"),
              msg("undefined-variable", "error", 9, "Undefined variable 'y'"), blob="a1")]


def test_feedback_new_error_comes_first_before_legacy_conventions() -> None:
    child = [kept(PARENT[0]), kept(PARENT[1]),
             row("app.py", "modified", "failure", 4.0,
                 msg("line-too-long", "convention", 3, "Line too long (120/100)"),
                 msg("unused-import", "warning", 1, "Unused import os"),
                 msg("unused-import", "warning", 2, "Unused import sys"),
                 msg("undefined-variable", "error", 9, "Undefined variable 'y'"),
                 msg("undefined-variable", "error", 12, "Undefined variable 'z'"), blob="a2")]
    found = feedback("c" * 40, "p" * 40, child, PARENT)
    assert [(p, m["symbol"], m["line"]) for p, m in found.new] == [
        ("app.py", "undefined-variable", 12), ("app.py", "line-too-long", 3)]
    assert found.new_counts() == "1 error, 1 convention"
    assert [ln.path for ln in found.changed] == ["app.py"]
    assert found.changed[0].delta == -3.0
    assert [ln.path for ln in found.still_failing] == ["pkg/__init__.py", "pkg/util.py"]
    assert found.first_new_error() == found.new[0][1]
    assert not found.fixed


def test_feedback_counts_what_was_fixed() -> None:
    child = [kept(PARENT[0]), kept(PARENT[1]),
             row("app.py", "modified", "success", 10.0, blob="a3")]
    found = feedback("c" * 40, "p" * 40, child, PARENT)
    assert not found.new
    assert found.fixed_summary() == "unused-import \u00d72, undefined-variable"
    assert len(found.fixed) == 3


def test_feedback_root_commit_shows_every_message_errors_first() -> None:
    found = feedback("c" * 40, None, PARENT, None)
    assert found.new[0][1]["symbol"] == "undefined-variable"
    assert {m["type"] for _, m in found.new[1:3]} == {"warning"}
    assert len(found.new) == 17


def test_compare_unparsed_file_makes_old_messages_unknown_not_fixed() -> None:
    child = [row("app.py", "modified", "failure", 0.0,
                 msg("syntax-error", "error", 4, "invalid syntax"), blob="a4")]
    diff = compare("p" * 40, child, [PARENT[2]])
    assert [m["symbol"] for _, m in diff.new] == ["syntax-error"]
    assert not diff.fixed and len(diff.unknown) == 3


def test_symbol_counts_most_frequent_first() -> None:
    found = [msg("b", "error"), msg("a", "warning"), msg("a", "warning")]
    assert symbol_counts(found) == "a \u00d72, b"


def test_verdict_lines_budget_goes_to_new_messages_and_says_what_it_cut() -> None:
    child = [kept(PARENT[0]), kept(PARENT[1]),
             row("app.py", "modified", "failure", 4.0, *PARENT[2].message_list,
                 msg("undefined-variable", "error", 12, "Undefined variable 'z'"), blob="a5")]
    found = feedback("c" * 40, "p" * 40, child, PARENT)
    lines = feedback_lines("main", found, "URL", [2])
    assert lines[0].startswith("main ccccccc: failure, score ")
    assert lines[1] == "  new since the parent: 1 error"
    assert lines[2] == "    app.py:12:0: undefined-variable (X0000) Undefined variable 'z'"
    assert lines[3].startswith("  app.py: failure, score 4.00 (-3.00)")
    # one old message of app.py still fits; the rest of app.py's and pkg's are cut
    assert lines[4].startswith("    app.py:")
    assert "  unchanged and still failing: 2 files: pkg/__init__.py" in lines[5]
    assert lines[-2] == "  \u2026 and 16 more messages in 3 files: URL"
    assert lines[-1] == "  Status: URL"


def test_judge_disable_drops_messages_and_rescores() -> None:
    messages = [msg("line-too-long", "convention", 1), msg("unused-import", "warning", 2)]
    counts = LintCounts(statements=4, convention=1, warning=1)
    judged = judge(messages, counts, LintSettings(disable=("line-too-long",)), 8.0, None)
    assert [m["symbol"] for m in judged.messages] == ["unused-import"]
    assert judged.counts.convention == 0 and judged.score == 7.5
    assert judged.state == "failure"
    assert judge(messages, counts, LintSettings(("line-too-long",), 7.0), 7.0,
                 None).state == "success"


def test_judge_gate_new_marks_old_messages_and_fails_only_on_new_ones() -> None:
    old = [msg("undefined-variable", "error", 3, "Undefined variable 'x'")]
    counts = LintCounts(statements=5, error=1)
    gated = LintSettings(gate=GATE_NEW)
    judged = judge(old, counts, gated, 8.0, baseline=old)
    assert judged.state == "success" and judged.messages[0]["baseline"] is True
    assert judged.score == 0.0  # pylint's score of every message stays the score
    grown = [*old, msg("unused-variable", "warning", 4, "Unused variable 'a'")]
    judged = judge(grown, LintCounts(statements=5, error=1, warning=1), gated, 8.0,
                   baseline=old)
    assert judged.state == "success"  # one new warning in 5 statements: 8.00
    added_error = [*old, msg("undefined-variable", "error", 9, "Undefined variable 'q'")]
    judged = judge(added_error, LintCounts(statements=5, error=2), gated, 8.0, baseline=old)
    assert judged.state == "failure"
    check = row("a.py", "modified", judged.state, judged.score, *judged.messages)
    assert reasons(check) == ["1 new error", "new messages: score 0.00 < 8.00"]
