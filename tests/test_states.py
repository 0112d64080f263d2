"""States and score rules (gitserver.core.states), in-process: the rules every page, the API,
the push verdict, the badge and the mail render."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gitserver.core.states import (
    STATE_COLOURS,
    LintCounts,
    combined_state,
    commit_reason,
    commit_score,
    evaluation,
    file_state,
    reasons,
    status_description,
    why,
)
from gitserver.web.pages_format import states_css


@dataclass
class Row:  # pylint: disable=too-many-instance-attributes  # a check row's columns
    """What the rules read of a check row."""
    state: str
    score: float | None = None
    statements: int | None = None
    fatal_count: int | None = 0
    error_count: int | None = 0
    warning_count: int | None = 0
    refactor_count: int | None = 0
    convention_count: int | None = 0
    fail_under: float | None = 8.0
    error: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def message_list(self) -> list[dict[str, Any]]:
        return json.loads(json.dumps(self.messages))


def checked(statements: int, **counts: int) -> Row:
    values = LintCounts(statements, counts.get("fatal", 0), counts.get("error", 0),
                        counts.get("warning", 0), counts.get("refactor", 0),
                        counts.get("convention", 0))
    score = evaluation(values)
    return Row(state=file_state(score, values, 8.0), score=score, statements=statements,
               fatal_count=values.fatal, error_count=values.error,
               warning_count=values.warning, refactor_count=values.refactor,
               convention_count=values.convention)


def test_evaluation_is_pylints_formula() -> None:
    assert evaluation(LintCounts(16, error=1, warning=1, refactor=1, convention=1)) == 5.0
    assert evaluation(LintCounts(100, fatal=1)) == 0.0
    assert evaluation(LintCounts(2, error=1, warning=1)) == 0.0  # never below zero
    assert evaluation(LintCounts(3, convention=1)) == 6.67


def test_evaluation_without_statements_passes_only_without_messages() -> None:
    assert evaluation(LintCounts(0)) == 10.0
    assert evaluation(LintCounts(0, error=1)) == 0.0


def test_file_state_needs_the_score_and_no_error() -> None:
    assert file_state(8.0, LintCounts(10), 8.0) == "success"
    assert file_state(7.99, LintCounts(10), 8.0) == "failure"
    assert file_state(9.5, LintCounts(100, error=1), 8.0) == "failure"
    assert file_state(10.0, LintCounts(100, fatal=1), 0.0) == "failure"


def test_commit_score_is_statement_weighted_not_a_mean() -> None:
    big = checked(100, convention=10)  # 9.0
    small = checked(2, convention=1)  # 5.0
    assert (big.score, small.score) == (9.0, 5.0)
    # pylint over both: 10 - 11 / 102 * 10 = 8.92; the mean would be 7.0
    assert commit_score([big, small]) == 8.92


def test_commit_score_ignores_an_empty_module() -> None:
    code = checked(10, warning=3)
    assert commit_score([code]) == commit_score([code, checked(0)]) == 7.0


def test_commit_score_skips_errors_and_pending_and_is_none_without_results() -> None:
    code = checked(10, warning=3)
    assert commit_score([code, Row("error", error="timed out"), Row("pending")]) == 7.0
    assert commit_score([Row("pending")]) is None
    assert commit_score([]) is None


def test_commit_score_of_results_without_counts_is_the_old_mean() -> None:
    assert commit_score([Row("success", 9.0, None), Row("failure", 5.0, None)]) == 7.0


def test_commit_score_fatal_anywhere_is_zero() -> None:
    assert commit_score([checked(100), checked(10, fatal=1)]) == 0.0


def test_combined_state_is_githubs() -> None:
    assert combined_state([]) == "pending"
    assert combined_state(["success", "pending"]) == "pending"
    assert combined_state(["success", "error"]) == "failure"
    assert combined_state(["pending", "failure"]) == "failure"
    assert combined_state(["success", "success"]) == "success"


def test_reasons_say_why_a_file_fails() -> None:
    one_error = checked(20, error=1)  # 7.5
    assert reasons(one_error) == ["1 error", "score 7.50 < 8.00"]
    assert why(checked(100, error=2)) == "2 errors"
    assert why(checked(10, convention=3)) == "score 7.00 < 8.00"
    assert why(checked(10)) == ""
    assert why(Row("error", error="pylint timed out after 3 s on this file")) == \
        "pylint timed out after 3 s on this file"
    assert why(Row("pending")) == "waiting for pylint"


def test_reasons_of_a_result_without_counts_come_from_its_messages() -> None:
    row = Row("failure", 9.5, None, error_count=None, fail_under=None,
              messages=[{"type": "error"}, {"type": "warning"}])
    assert why(row) == "1 error"


def test_status_description_says_why_before_the_score() -> None:
    row = checked(20, error=1)
    row.messages = [{"type": "error"}]
    assert status_description(row) == "1 error, score 7.50 < 8.00 (pylint 7.50/10, 1 message)"
    assert status_description(checked(10)) == "pylint 10.00/10, 0 messages"
    assert status_description(Row("pending")) == "pylint is checking this file"
    assert len(status_description(Row("error", error="x" * 500))) == 140


def test_commit_reason_counts_failing_and_unchecked_files() -> None:
    assert commit_reason(["success", "failure", "error", "failure"]) == \
        "2 of 4 files failing, 1 not checked (error)"
    assert commit_reason([]) == "no files checked yet"


def test_one_palette_for_pages_mail_and_badge() -> None:
    css = states_css()
    for state, colour in STATE_COLOURS.items():
        assert f".state-bg-{state} {{ background-color: {colour};" in css
    assert STATE_COLOURS["error"] != STATE_COLOURS["failure"]
