"""The pure parts of the code host (and one page of diffs over a real repository): diffs and
their bounds, messages placed at diff lines, trend geometry, the API reference's type labels,
what a download is served as."""
# pylint: disable=missing-function-docstring  # the test name says it

from __future__ import annotations

from pathlib import Path

from gitserver.core.diffs import (
    KIND_ADD,
    KIND_CONTEXT,
    KIND_DEL,
    MAX_DIFF_BYTES,
    file_diff,
    hunks_of,
    place_messages,
    split_lines,
)
from gitserver.core.gitrepo import GitRepo
from gitserver.core.trends import TrendPoint, plot
from gitserver.web.api_docs import type_label
from gitserver.web.diffs import LARGE_DIFF, ShownDiff, file_diffs
from gitserver.web.downloads import disposition, is_text

from .support import commit_files, git, make_work_repo


def message(line: int, symbol: str, text: str) -> dict:
    return {"line": line, "column": 0, "symbol": symbol, "message": text, "type": "warning",
            "message_id": "W0000"}


def test_hunks_number_lines_like_git():
    old = [f"line {n}" for n in range(1, 21)]
    new = [*old[:9], "inserted", *old[9:]]
    (hunk,) = hunks_of(old, new)
    assert hunk.header == "@@ -7,6 +7,7 @@"
    added = [line for line in hunk.lines if line.kind == KIND_ADD]
    assert [(line.old, line.new, line.text) for line in added] == [(None, 10, "inserted")]
    assert hunk.lines[0].kind == KIND_CONTEXT and hunk.lines[0].old == hunk.lines[0].new == 7


def test_split_lines_counts_like_git():
    assert split_lines(b"") == [] and split_lines(b"a\nb") == ["a", "b"]
    assert split_lines(b"a\nb\n") == ["a", "b"] and split_lines(b"a\r\n") == ["a\r"]


def test_file_diff_of_an_added_file_and_of_binary_and_huge_content():
    added = file_diff("x.py", "added", old=None, new=b"a = 1\nb = 2\n")
    assert added.added == 2 and added.removed == 0 and added.hunks[0].header == "@@ -0,0 +1,2 @@"
    assert file_diff("x.py", "modified", old=b"a\0", new=b"b").binary
    huge = file_diff("x.py", "modified", old=b"a\n", new=b"b\n" * (MAX_DIFF_BYTES // 2 + 1))
    assert not huge.hunks and "too big" in huge.notice


def test_file_diff_is_cut_after_max_lines_with_a_notice():
    old = b"".join(f"{n}\n".encode() for n in range(400))
    new = b"".join(f"{n}{'x' if n % 20 == 0 else ''}\n".encode() for n in range(400))
    diff = file_diff("x.py", "modified", old=old, new=new, max_lines=50)
    assert sum(len(h.lines) for h in diff.hunks) == 50 and "cut after 50 lines" in diff.notice
    assert diff.added == diff.removed == 20  # counted in full


def test_place_messages_marks_new_ones_and_puts_fixed_ones_at_removed_lines():
    diff = file_diff("x.py", "modified", old=b"import os\nA = 1\n", new=b"import sys\nA = 1\n")
    place_messages(diff, [message(1, "unused-import", "Unused import sys")],
                   [message(1, "unused-import", "Unused import os")])
    lines = {(line.kind, line.old, line.new): line for line in diff.hunks[0].lines}
    (now,) = lines[(KIND_ADD, None, 1)].messages
    assert now["is_new"] and now["message"] == "Unused import sys"
    (fixed,) = lines[(KIND_DEL, 1, None)].messages
    assert fixed["is_fixed"] and fixed["message"] == "Unused import os"


def test_place_messages_marks_nothing_new_when_the_old_side_was_never_checked():
    diff = file_diff("x.py", "modified", old=b"A = 1\n", new=b"A = 2\n")
    place_messages(diff, [message(1, "invalid-name", "bad")], None)
    (placed,) = [m for line in diff.hunks[0].lines for m in line.messages]
    assert not placed["is_new"] and not diff.new_messages


def test_place_messages_lists_new_ones_outside_the_shown_lines():
    old = b"".join(f"X{n} = {n}\n".encode() for n in range(30))
    new = old.replace(b"X29 = 29", b"X29 = 30")
    diff = file_diff("x.py", "modified", old=old, new=new)
    place_messages(diff, [message(2, "unused-import", "far away")], [])
    assert [m["message"] for m in diff.outside] == ["far away"]


def test_plot_spans_the_width_and_scales_scores_from_0_to_10():
    chart = plot([TrendPoint("a", 10.0, "success", "/a"), TrendPoint("b", 0.0, "failure", "/b"),
                  TrendPoint("c", 5.0, "failure", "/c")], width=100, height=60, margin=10)
    assert chart is not None
    xs, ys = [p.x for p in chart.points], [p.y for p in chart.points]
    assert xs == [10.0, 50.0, 90.0]
    assert ys[0] == 5.0 and ys[1] == 55.0 and ys[2] == 30.0
    assert chart.line == "10.0,5.0 50.0,55.0 90.0,30.0"
    assert (chart.first, chart.last, chart.low, chart.high) == (10.0, 5.0, 0.0, 10.0)
    assert plot([]) is None


def test_type_label_reads_schemas_in_words():
    assert type_label({"$ref": "#/components/schemas/Status"}) == "Status"
    assert type_label({"type": "array", "items": {"$ref": "#/components/schemas/X"}}) == \
        "list of X"
    assert type_label({"type": ["integer", "null"]}) == "integer or null"
    assert type_label({"type": "string", "format": "date-time"}) == "string (date-time)"


def test_downloads_serve_utf8_as_text_and_name_files_safely():
    assert is_text("café".encode()) and not is_text(b"\xff\xfe") and not is_text(b"a\0b")
    assert disposition("attachment", 'a "b".py') == \
        "attachment; filename=\"a _b_.py\"; filename*=UTF-8''a%20%22b%22.py"


def test_a_large_diff_starts_folded_and_a_small_one_open():
    big = file_diff("x.py", "added", old=None, new=b"A = 1\n" * (LARGE_DIFF + 1))
    small = file_diff("x.py", "added", old=None, new=b"A = 1\n")
    assert ShownDiff(big, [], [], None).folded and not ShownDiff(small, [], [], None).folded


def test_one_page_of_diffs_is_bounded_in_lines_and_lists_the_rest(tmp_path: Path):
    git_dir = tmp_path / "r"
    work = make_work_repo(git_dir, {f"m{n}.py": "A = 1\n" for n in range(4)}, "one")
    old = git(work, "rev-parse", "HEAD").stdout.strip()
    new = commit_files(work, {f"m{n}.py": "B = 2\n" * 600 for n in range(4)}, "two")
    repo = GitRepo(str(work / ".git"))
    shown, more = file_diffs(repo, old, new, {}, None, page_lines=1000)
    assert [item.diff.path for item in shown] == ["m0.py", "m1.py"]
    assert more == ["m2.py", "m3.py"]
    assert shown[0].lines == 601 and shown[1].lines == 1000 - 601
    assert "cut after 399 lines" in shown[1].diff.notice
