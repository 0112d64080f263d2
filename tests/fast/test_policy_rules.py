"""The push policy in process, no server: each rule and alias, and how each audience words it.

test_policy.py proves the same rules end to end through `git push`; these run in milliseconds,
so every spelling and every rendering gets its own case. The walker runs over objects that real
`git` wrote in tmp_path, with a quarantine made the way git makes one (GIT_OBJECT_DIRECTORY).
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from pathlib import Path

import pytest

from gitserver.core.gitbatch import GitBatch
from gitserver.web.api.files import refusal_description
from hooks.browser_commit import ChangesRefused, browser_words
from hooks.policy import (
    Problem,
    Rule,
    blob_problem,
    file_problem,
    is_dotgit_alias,
    mode_problem,
    name_problem,
)
from hooks.pre_receive import collect_problems, push_line
from hooks.updates import ZERO, RefUpdate

from ..support import commit_files, git, make_work_repo

SHA = "0123456789abcdef0123456789abcdef01234567"

# -- names -----------------------------------------------------------------------------------

DOTGIT_ALIASES = (".git", ".GIT", ".Git", ".git.", ".git ", ".git. .", ".git::$DATA", "git~1",
                  "GIT~1", ".g\u200cit", "\ufeff.git", ".gi\u200dt", ".git\u206f")


@pytest.mark.parametrize("name", DOTGIT_ALIASES)
def test_policy_dotgit_aliases_are_refused(name: str) -> None:
    assert is_dotgit_alias(name)
    problem = name_problem(f"pkg/{name}", name)
    assert problem == Problem(Rule.DOTGIT, f"pkg/{name}", value=name)
    assert problem.what == f"{name!r} is reserved for git's own data"


@pytest.mark.parametrize("name", ("git", ".gitignore.py", "dot.git.py", ".github", "git~2",
                                  "x.git", "_git.py"))
def test_policy_names_like_dotgit_pass(name: str) -> None:
    assert not is_dotgit_alias(name)
    assert name_problem(name, name) is None


@pytest.mark.parametrize("name", (".", ".."))
def test_policy_dot_components_are_refused(name: str) -> None:
    assert name_problem(f"a/{name}", name) == Problem(Rule.DOT_PATH, f"a/{name}", value=name)


def test_policy_backslash_in_name_is_refused() -> None:
    assert name_problem("a\\b.py", "a\\b.py") == Problem(Rule.BACKSLASH, "a\\b.py")


# -- modes -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "mode", "rule"), [
    ("link.py", 0o120000, Rule.SYMLINK),
    ("sub", 0o160000, Rule.SUBMODULE),
    ("sub.py", 0o160000, Rule.SUBMODULE),
    ("notes.txt", 0o100644, Rule.NOT_PYTHON),
    ("Makefile", 0o100755, Rule.NOT_PYTHON),
    ("script.PY", 0o100644, Rule.NOT_PYTHON),
    ("group.py", 0o100664, Rule.FILE_MODE),
])
def test_policy_mode_rules(path: str, mode: int, rule: Rule) -> None:
    problem = mode_problem(path, mode)
    assert problem is not None and problem.rule == rule and problem.path == path


@pytest.mark.parametrize(("path", "mode"), [("a.py", 0o100644), ("run.py", 0o100755),
                                            ("pkg", 0o040000), ("odd.name", 0o040000)])
def test_policy_regular_py_files_and_folders_pass(path: str, mode: int) -> None:
    assert mode_problem(path, mode) is None


# -- content ---------------------------------------------------------------------------------

def test_policy_size_limit_is_inclusive() -> None:
    assert blob_problem("a.py", b"x" * 10, 10) is None
    assert blob_problem("a.py", b"x" * 11, 10) == Problem(Rule.TOO_LARGE, "a.py", value=11,
                                                          limit=10)


def test_policy_nul_and_non_utf8_are_refused() -> None:
    assert blob_problem("a.py", b"X = 1\n\0", 100) == Problem(Rule.NUL, "a.py")
    assert blob_problem("a.py", "N = 'Mü'\n".encode("latin-1"), 100) == Problem(
        Rule.NOT_UTF8, "a.py", value=6)
    assert blob_problem("a.py", "TEXT = 'é ✓'\n".encode(), 100) is None


def test_policy_size_is_checked_before_content() -> None:
    problem = blob_problem("a.py", b"\0" * 20, 10)
    assert problem is not None and problem.rule == Rule.TOO_LARGE


# -- a file changed on the server (browser, API) ---------------------------------------------

@pytest.mark.parametrize(("path", "data", "rule", "value"), [
    ("notes.txt", b"x", Rule.NOT_PYTHON, None),
    ("a/../b.py", b"x", Rule.DOT_PATH, ".."),
    ("a/./b.py", b"x", Rule.DOT_PATH, "."),
    (".git/hooks.py", b"x", Rule.DOTGIT, ".git"),
    ("pkg/GIT~1/x.py", b"x", Rule.DOTGIT, "GIT~1"),
    ("x/.GIT", b"x", Rule.DOTGIT, ".GIT"),
    ("big.py", b"a" * 2000, Rule.TOO_LARGE, 2000),
    ("nul.py", b"\0", Rule.NUL, None),
    ("Makefile", None, Rule.NOT_PYTHON, None),  # a delete is held to the names too
])
def test_policy_file_problem(path: str, data: bytes | None, rule: Rule,
                             value: str | int | None) -> None:
    problem = file_problem(path, data, 1000)
    assert problem is not None
    assert (problem.rule, problem.path, problem.value, problem.commit) == (rule, path, value,
                                                                          None)


def test_policy_file_problem_names_first_bad_folder() -> None:
    problem = file_problem("../.git/x.txt", b"x", 1000)
    assert problem is not None and (problem.rule, problem.value) == (Rule.DOT_PATH, "..")


def test_policy_file_problem_accepts_python() -> None:
    assert file_problem("pkg/sub/données.py", "X = 'é'\n".encode(), 1000) is None
    assert file_problem("gone.py", None, 1000) is None


# -- wording: push, browser, API -------------------------------------------------------------

PUSH_LINES = [
    (Problem(Rule.EMPTY_NAME, "a//b.py", SHA),
     "  0123456 a//b.py: empty folder or file names ('//') are not allowed; remove the extra '/'"),
    (Problem(Rule.DOT_PATH, "a/..", SHA, value=".."),
     "  0123456 a/..: the path component '..' is not allowed; rename the folder"),
    (Problem(Rule.DOTGIT, ".GIT", SHA, value=".GIT"),
     "  0123456 .GIT: '.GIT' is reserved for git's own data; rename it "
     "(`git mv '.GIT' <new name>`)"),
    (Problem(Rule.BACKSLASH, "a\\b.py", SHA),
     "  0123456 a\\b.py: backslashes in file names are not allowed; rename it"),
    (Problem(Rule.SYMLINK, "link.py", SHA),
     "  0123456 link.py: symbolic links are not accepted; commit the real .py file instead"),
    (Problem(Rule.SUBMODULE, "lib/sub", SHA),
     "  0123456 lib/sub: submodules are not accepted; copy the .py files in instead "
     "(`git rm --cached lib/sub`, then add the files)"),
    (Problem(Rule.NOT_PYTHON, "pkg/notes.txt", SHA),
     "  0123456 pkg/notes.txt: only .py files are accepted; untrack it with "
     "`git rm --cached pkg/notes.txt`"),
    (Problem(Rule.FILE_MODE, "group.py", SHA, value=0o100664),
     "  0123456 group.py: file mode 100664 is not a regular file; use 100644"),
    (Problem(Rule.TOO_LARGE, "big.py", SHA, value=2007, limit=1000),
     "  0123456 big.py: 2,007 bytes is over the 1,000-byte file limit; split the module or "
     "leave generated files out"),
    (Problem(Rule.NUL, "nul.py", SHA),
     "  0123456 nul.py: contains NUL bytes, so it is not Python source; leave binary files out"),
    (Problem(Rule.NOT_UTF8, "latin.py", SHA, value=6),
     "  0123456 latin.py: is not UTF-8 (byte 6); save it as UTF-8 (most editors: "
     "'Save with encoding')"),
    (Problem(Rule.REF_TARGET, "refs/tags/sneaky", value="blob"),
     "  refs/tags/sneaky must point at a commit, not a blob"),
]


@pytest.mark.parametrize(("problem", "line"), PUSH_LINES)
def test_push_line_words_each_rule(problem: Problem, line: str) -> None:
    assert push_line(problem) == line


def test_every_rule_has_a_push_line_case() -> None:
    assert {problem.rule for problem, _ in PUSH_LINES} == set(Rule)


@pytest.mark.parametrize(("problem", "words"), [
    (Problem(Rule.NOT_PYTHON, "notes.txt"), "notes.txt: only .py files are accepted"),
    (Problem(Rule.DOTGIT, ".git/x.py", value=".git"),
     ".git/x.py: '.git' is reserved for git's own data; rename it"),
    (Problem(Rule.SUBMODULE, "sub"), "sub: submodules are not accepted; "
                                     "copy the .py files in instead"),
    (Problem(Rule.NOT_UTF8, "l.py", value=0),
     "l.py: is not UTF-8 (byte 0); save it as UTF-8 (most editors: 'Save with encoding')"),
])
def test_browser_words_carry_no_git_commands(problem: Problem, words: str) -> None:
    assert browser_words(problem) == words
    assert "`" not in browser_words(problem)


def test_refused_changes_keep_their_order_in_the_browser_and_the_api() -> None:
    reasons: list[Problem | str] = [
        Problem(Rule.NOT_PYTHON, "notes.txt"),
        "a.py is a folder; choose another name",
        Problem(Rule.TOO_LARGE, "big.py", value=11, limit=10)]
    refused = ChangesRefused(reasons)
    assert str(refused) == (
        "notes.txt: only .py files are accepted; a.py is a folder; choose another name; "
        "big.py: 11 bytes is over the 10-byte file limit; split the module or leave generated "
        "files out. Nothing was committed.")
    assert refused.reasons == reasons
    assert refusal_description(reasons) == (
        "notes.txt: only .py files are accepted (rule not-python); "
        "a.py is a folder; choose another name; "
        "big.py: 11 bytes is over the 10-byte file limit (rule too-large); split the module or "
        "leave generated files out. Nothing was committed.")


# -- the walker over real objects ------------------------------------------------------------

def _mktree(work: Path, entries: list[tuple[str, str, str, str]]) -> str:
    text = "".join(f"{mode} {kind} {sha}\t{name}\0" for mode, kind, sha, name in entries)
    return git(work, "mktree", "-z", input_text=text).stdout.strip()


def test_policy_checker_blames_the_commit_that_brings_each_path(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"ok.py": "OK = 1\n"})
    base = git(work, "rev-parse", "HEAD").stdout.strip()
    bad = commit_files(work, {"notes.txt": "x\n", "pkg/data.py": b"\xff\n"}, "bad")
    tip = commit_files(work, {"clean.py": "C = 1\n"}, "clean, still carries notes.txt")
    git(work, "tag", "-a", "v1", "-m", "tag", tip)
    tag = git(work, "rev-parse", "v1").stdout.strip()
    problems = collect_problems(work / ".git", None, 1000, [
        RefUpdate(ZERO, tip, "refs/heads/main"), RefUpdate(ZERO, tag, "refs/tags/v1")])
    # No quarantine: every object counts as new, the root commit too, each path blamed once.
    assert [(p.commit, p.path, p.rule) for p in problems] == [
        (bad, "notes.txt", Rule.NOT_PYTHON), (bad, "pkg/data.py", Rule.NOT_UTF8)]
    assert base not in {p.commit for p in problems}


def test_policy_checker_reads_only_what_the_quarantine_brings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = make_work_repo(tmp_path / "w", {"ok.py": "OK = 1\n"})
    # Content is read only for blobs the push brings: this one arrived (somehow) long ago.
    old_bad = commit_files(work, {"old.py": b"\xff in the repository already\n"}, "long ago")
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    # As receive-pack does: new objects go to the quarantine, old ones are read from the repo.
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(quarantine))
    monkeypatch.setenv("GIT_ALTERNATE_OBJECT_DIRECTORIES", str(work / ".git" / "objects"))
    new_bad = commit_files(work, {"new.cfg": "[x]\n"}, "new")
    monkeypatch.delenv("GIT_OBJECT_DIRECTORY")
    monkeypatch.delenv("GIT_ALTERNATE_OBJECT_DIRECTORIES")
    # As during pre-receive: the branch does not point at the pushed commit yet.
    git(work, "update-ref", "refs/heads/main", old_bad)
    problems = collect_problems(work / ".git", quarantine, 1000,
                                [RefUpdate(old_bad, new_bad, "refs/heads/main")])
    assert [(p.commit, p.path, p.rule) for p in problems] == [
        (new_bad, "new.cfg", Rule.NOT_PYTHON)]
    with GitBatch(work / ".git") as batch:
        brought = batch.object_ids(quarantine)
        assert brought[new_bad].type == "commit"
        assert old_bad not in brought
        assert {info.type for info in brought.values()} == {"commit", "tree", "blob"}
        assert all(info.size > 0 for info in brought.values())


def test_policy_checker_refuses_a_ref_to_a_blob_and_reserved_trees(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"ok.py": "OK = 1\n"})
    blob = git(work, "hash-object", "-w", "--stdin", input_text="# x\n").stdout.strip()
    inner = _mktree(work, [("100644", "blob", blob, "hook.py")])
    tree = _mktree(work, [("040000", "tree", inner, name) for name in (".git", "git~1", "..")])
    sha = git(work, "commit-tree", tree, "-m", "reserved").stdout.strip()
    problems = collect_problems(work / ".git", None, 1000, [
        RefUpdate(ZERO, sha, "refs/heads/main"), RefUpdate(ZERO, blob, "refs/tags/blob")])
    assert problems[0] == Problem(Rule.REF_TARGET, "refs/tags/blob", value="blob")
    assert sorted((p.path, p.rule, p.value) for p in problems[1:]) == [
        ("..", Rule.DOT_PATH, ".."), (".git", Rule.DOTGIT, ".git"),
        ("git~1", Rule.DOTGIT, "git~1")]
    assert {p.commit for p in problems[1:]} == {sha}
