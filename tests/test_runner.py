"""The sandboxed pylint runner and the commit materialiser, with real pylint and dulwich."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import os
import select
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from checker.runner import (
    FileResult,
    LintRunner,
    LintSetupError,
    file_score,
    settings_fingerprint,
)
from checker.tree import UnsafePath, materialise_py_files

CLEAN = ('"""A clean module."""\n\n\n'
         'def double(value: int) -> int:\n    """Twice value."""\n    return 2 * value\n')


@pytest.fixture(name="runner", scope="module")
def fixture_runner() -> Iterator[LintRunner]:
    """One warm runner for the tests of this module, as a worker keeps one."""
    with LintRunner(timeout_s=30) as lint_runner:
        yield lint_runner


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def check_one(runner: LintRunner, root: Path, path: str) -> FileResult:
    (result,) = runner.check_files(root, [path])
    return result


def symbols(result: FileResult) -> list[str]:
    return [m.symbol for m in result.messages]


def test_runner_clean_file_is_success_with_ten(runner: LintRunner, tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"clean.py": CLEAN})
    result = check_one(runner, root, "clean.py")
    assert (result.path, result.state, result.score, result.messages) == \
        ("clean.py", "success", 10.0, ())
    assert result.error is None
    assert result.duration_ms >= 0


def test_runner_reports_messages_at_their_lines(runner: LintRunner, tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"bad.py": '"""Bad."""\nimport os\n\nprint(missing)\n'})
    result = check_one(runner, root, "bad.py")
    assert result.state == "failure"
    by_symbol = {m.symbol: m for m in result.messages}
    assert set(by_symbol) == {"unused-import", "undefined-variable"}
    unused, undefined = by_symbol["unused-import"], by_symbol["undefined-variable"]
    assert (unused.line, unused.column, unused.message_id, unused.type) == \
        (2, 0, "W0611", "warning")
    assert unused.message == "Unused import os"
    assert (undefined.line, undefined.column, undefined.end_line, undefined.end_column) == \
        (4, 6, 4, 13)
    assert (undefined.message_id, undefined.type) == ("E0602", "error")
    # 2 statements, one error (5) and one warning (1): 10 - 6 / 2 * 10 < 0
    assert result.score == 0.0


def test_runner_error_message_fails_even_with_a_high_score(tmp_path: Path) -> None:
    body = "".join(f"VALUE_{i} = {i}\n" for i in range(60))
    root = write_tree(tmp_path, {"big.py": f'"""Many statements."""\n{body}print(missing)\n'})
    with LintRunner(fail_under=0.0) as lint_runner:
        result = check_one(lint_runner, root, "big.py")
    assert result.score is not None and result.score > 9
    assert result.state == "failure"
    assert symbols(result) == ["undefined-variable"]


def test_runner_syntax_error_is_failure_not_error(runner: LintRunner, tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"broken.py": '"""Broken."""\ndef f(:\n    pass\n'})
    result = check_one(runner, root, "broken.py")
    assert (result.state, result.score, result.error) == ("failure", 0.0, None)
    assert symbols(result) == ["syntax-error"]
    assert result.messages[0].line == 2


def test_runner_bad_encoding_cookie_is_a_syntax_error_without_server_paths(
        runner: LintRunner, tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"pkg/cookie.py": "# -*- coding: foobar -*-\nX = 1\n"})
    result = check_one(runner, root, "pkg/cookie.py")
    assert (result.state, result.score) == ("failure", 0.0)
    assert symbols(result) == ["syntax-error"]
    assert "'pkg/cookie.py': foobar" in result.messages[0].message
    assert str(tmp_path) not in result.messages[0].message


def test_runner_empty_file_scores_ten(runner: LintRunner, tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"empty.py": ""})
    result = check_one(runner, root, "empty.py")
    assert (result.state, result.score, result.messages) == ("success", 10.0, ())


def test_runner_crash_and_timeout_are_errors_and_the_next_file_goes_on(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        # astroid builds a 3,000-deep tree for this sum and runs out of recursion.
        "deep.py": "TOTAL = 1" + " + 1" * 3000 + "\n",
        # pylint's invalid-name check is quadratic in module-level constants: ~10 s here.
        "slow.py": "".join(f"CONSTANT_{i} = {i}\n" for i in range(2000)),
        "clean.py": CLEAN,
    })
    with LintRunner(timeout_s=2) as lint_runner:
        results = list(lint_runner.check_files(root, ["deep.py", "clean.py", "slow.py",
                                                      "clean.py"]))
    deep, after_deep, slow, after_slow = results
    assert (deep.state, deep.score, deep.messages) == ("error", None, ())
    assert deep.error is not None and "RecursionError" in deep.error
    assert (slow.state, slow.score) == ("error", None)
    assert slow.error == "pylint timed out after 2 s on this file"
    assert after_deep.state == after_slow.state == "success"
    assert [r.path for r in results] == ["deep.py", "clean.py", "slow.py", "clean.py"]


def test_tree_process_killed_mid_check_is_an_error_and_the_next_file_goes_on(
        tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        "slow.py": "".join(f"CONSTANT_{i} = {i}\n" for i in range(2000)), "clean.py": CLEAN})
    with LintRunner(timeout_s=60) as lint_runner:
        results = lint_runner.check_files(root, ["clean.py", "slow.py", "clean.py"],
                                          tree_id="t:1")
        first = next(results)
        server, killed = lint_runner.child_pid, lint_runner.tree_pid
        assert server is not None and killed is not None
        # What the kernel's OOM killer would do to the tree process, half a second into slow.py.
        threading.Timer(0.5, os.kill, (killed, signal.SIGKILL)).start()
        slow, after = list(results)
        assert lint_runner.child_pid not in (server, None)  # the worker started afresh
    assert first.state == after.state == "success"
    assert (slow.state, slow.error) == ("error", "pylint was killed (out of memory?)")


def test_runner_out_of_memory_is_an_error_not_a_syntax_error(tmp_path: Path) -> None:
    # Python's parser needs far more than 200 MiB for a list of 600,000 items; astroid
    # would report its MemoryError as a syntax error in the user's file.
    root = write_tree(tmp_path, {"huge.py": "ITEMS = [" + "1, " * 600_000 + "]\n",
                                 "clean.py": CLEAN})
    with LintRunner(memory_mb=200) as lint_runner:
        huge, clean = lint_runner.check_files(root, ["huge.py", "clean.py"])
    assert (huge.state, huge.score, huge.messages) == ("error", None, ())
    assert huge.error == "pylint ran out of memory on this file"
    assert clean.state == "success"


def test_runner_resolves_imports_between_user_modules(runner: LintRunner,
                                                      tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        "helper.py": '"""Helper."""\n\n\ndef greet() -> str:\n    """Hello."""\n    return "hi"\n',
        "main.py": '"""Main."""\nfrom helper import greet\n\nprint(greet())\n',
        "wrong.py": '"""Wrong."""\nfrom helper import greet, absent\n\nprint(greet(1), absent)\n',
        "pkg/__init__.py": '"""Package."""\n',
        "pkg/inner.py": '"""Inner."""\nfrom . import sibling\n\nprint(sibling.VALUE)\n',
        "pkg/sibling.py": '"""Sibling."""\nVALUE = 1\n',
    })
    assert check_one(runner, root, "main.py").state == "success"
    assert check_one(runner, root, "pkg/inner.py").state == "success"
    # Both messages need helper.py resolved and inferred.
    assert sorted(symbols(check_one(runner, root, "wrong.py"))) == \
        ["no-name-in-module", "too-many-function-args"]


def test_runner_does_not_mix_up_trees_of_different_commits(runner: LintRunner,
                                                           tmp_path: Path) -> None:
    main = '"""Main."""\nfrom helper import greet\n\nprint(greet())\n'
    first = write_tree(tmp_path / "first", {
        "helper.py": '"""Helper."""\n\n\ndef greet() -> str:\n    """Hi."""\n    return "hi"\n',
        "main.py": main,
    })
    second = write_tree(tmp_path / "second", {"helper.py": '"""Helper."""\n', "main.py": main})
    assert check_one(runner, first, "main.py").state == "success"
    assert symbols(check_one(runner, second, "main.py")) == ["no-name-in-module"]
    assert check_one(runner, first, "main.py").state == "success"


def test_runner_user_module_hides_stdlib_module_for_its_tree_only(runner: LintRunner,
                                                                  tmp_path: Path) -> None:
    uses_random = '"""Use."""\nimport random\n\nprint(random.special())\n'
    plain = write_tree(tmp_path / "plain", {"use.py": uses_random})
    shadowing = write_tree(tmp_path / "shadowing", {
        "random.py": ('"""Own random."""\n\n\n'
                      'def special() -> int:\n    """Four."""\n    return 4\n'),
        "use.py": uses_random,
    })
    assert symbols(check_one(runner, plain, "use.py")) == ["no-member"]
    assert check_one(runner, shadowing, "use.py").state == "success"
    assert symbols(check_one(runner, plain, "use.py")) == ["no-member"]


def test_runner_attributes_set_on_stdlib_objects_do_not_leak(runner: LintRunner,
                                                             tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        "setter.py": '"""Set."""\nimport os\n\nos.invented = 1\n',
        "reader.py": '"""Read."""\nimport os\n\nprint(os.invented)\n',
    })
    check_one(runner, root, "setter.py")
    assert symbols(check_one(runner, root, "reader.py")) == ["no-member"]


def test_runner_ignores_configuration_in_the_pushed_tree(runner: LintRunner,
                                                         tmp_path: Path) -> None:
    # Each of these files, read by a plain `pylint bad.py` in that folder, silences
    # every message and runs the hook.
    marker = tmp_path / "pushed-code-ran"
    code = f"open({str(marker)!r}, 'w').close()"
    quiet = f"[MAIN]\ninit-hook={code}\nload-plugins=evil_plugin\n" \
            "[MESSAGES CONTROL]\ndisable=all\n"
    root = write_tree(tmp_path / "src", {
        "pylintrc": quiet,
        ".pylintrc": quiet,
        "pyproject.toml": f"[tool.pylint.main]\ninit-hook = {code!r}\n"
                          '[tool.pylint."messages control"]\ndisable = ["all"]\n',
        "setup.cfg": "[pylint.messages_control]\ndisable=all\n",
        "evil_plugin.py": code + "\n",
        "sub/pylintrc": quiet,
        "sub/bad.py": '"""Bad."""\nimport os\n',
        "bad.py": '"""Bad."""\nimport os\n',
    })
    assert symbols(check_one(runner, root, "bad.py")) == ["unused-import"]
    assert symbols(check_one(runner, root, "sub/bad.py")) == ["unused-import"]
    assert not marker.exists()


def test_runner_never_runs_code_of_the_pushed_tree(tmp_path: Path) -> None:
    # To inspect the C extension _pickle, astroid imports it, and _pickle imports
    # _compat_pickle: from the pushed tree, were it not shielded.
    marker = tmp_path / "pushed-code-ran"
    payload = f"open({str(marker)!r}, 'w').close()\n"
    root = write_tree(tmp_path / "src", {
        "_compat_pickle.py": payload, "copyreg.py": payload, "numbers.py": payload,
        "main.py": '"""Main."""\nimport pickle\n\nprint(pickle.dumps(1))\n',
    })
    with LintRunner() as fresh_runner:  # a fresh process, which has not imported _pickle yet
        assert check_one(fresh_runner, root, "main.py").state == "success"
    assert not marker.exists()


def test_runner_child_has_private_home_and_no_parent_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITSERVER_FAKE_SECRET", "hunter2-do-not-leak")
    root = write_tree(tmp_path, {"clean.py": CLEAN})
    with LintRunner() as lint_runner:
        assert check_one(lint_runner, root, "clean.py").state == "success"
        pid = lint_runner.child_pid
        assert pid is not None
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        env = dict(item.split("=", 1) for item in raw.decode().split("\0") if item)
        assert Path(f"/proc/{pid}/cwd").resolve() != Path.cwd().resolve()
    assert "hunter2-do-not-leak" not in raw.decode()
    assert set(env) <= {"PATH", "LANG", "LC_ALL", "HOME", "PYLINTHOME", "TMPDIR",
                        "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"}
    home = Path(env["HOME"])
    assert home != Path.home()
    assert Path(env["PYLINTHOME"]).parent == home.parent
    # The private folder goes away with the runner.
    assert not home.parent.exists()


def test_runner_child_cleans_up_after_a_parent_that_died(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"clean.py": CLEAN})
    # A worker that is killed outright (SIGKILL) cannot close its runner.
    script = ("import os, pathlib, signal\n"
              "from checker.runner import LintRunner\n"
              "runner = LintRunner()\n"
              f"list(runner.check_files(pathlib.Path({str(root)!r}), ['clean.py']))\n"
              "home = pathlib.Path(f'/proc/{runner.child_pid}/environ').read_bytes()\n"
              "print(runner.child_pid, home.split(b'HOME=')[1].split(b'\\0')[0].decode())\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    parent = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parent.parent,
                            capture_output=True, text=True, timeout=60, check=False)
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    pid, home = parent.stdout.split()
    try:
        pidfd = os.pidfd_open(int(pid))
    except ProcessLookupError:
        pass  # it has already seen the end of its input and exited
    else:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        assert poller.poll(30_000), "the lint process outlived its parent"
        os.close(pidfd)
    assert Path(home).name == "home"
    assert not Path(home).parent.exists()


def limits_of(pid: int) -> dict[str, list[str]]:
    """/proc/<pid>/limits by name: [soft, hard, unit]."""
    limits = Path(f"/proc/{pid}/limits").read_text(encoding="ascii")
    return {line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}


def test_runner_child_runs_under_rlimits(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"clean.py": CLEAN})
    with LintRunner(memory_mb=700) as lint_runner:
        # Within a tree, its tree process lives on for the tree's next file.
        list(lint_runner.check_files(root, ["clean.py"], tree_id="t:1"))
        server, tree = lint_runner.child_pid, lint_runner.tree_pid
        assert server is not None and tree is not None and tree != server
        both = {"fork server": limits_of(server), "tree process": limits_of(tree)}
        lint_runner.end_tree()
        assert not Path(f"/proc/{tree}").exists()  # gone with its tree
    for rows in both.values():
        assert rows["Max address space"][0] == str(700 * 1024 * 1024)
        assert rows["Max file size"][0] == str(1 << 20)
        assert rows["Max core file size"][0] == "0"
    # What checks the pushed files: a CPU limit per file, and no process of its own.
    assert both["tree process"]["Max cpu time"][0] != "unlimited"
    assert both["tree process"]["Max processes"][:2] == ["0", "0"]


def test_runner_applies_disable_setting(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"bare.py": "import os\n"})
    with LintRunner(disable=["missing-module-docstring"]) as lint_runner:
        assert symbols(check_one(lint_runner, root, "bare.py")) == ["unused-import"]


def test_runner_unknown_disable_symbol_fails_to_start(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"clean.py": CLEAN})
    with LintRunner(disable=["no-such-message"]) as lint_runner, \
            pytest.raises(LintSetupError, match="no-such-message"):
        list(lint_runner.check_files(root, ["clean.py"]))
    with pytest.raises(ValueError, match="not a pylint message name"):
        LintRunner(disable=["--load-plugins=x"])


@pytest.mark.parametrize("path", ["../clean.py", "/etc/passwd.py", "missing.py", "notes.txt",
                                  "link.py"])
def test_runner_refuses_paths_outside_the_tree(runner: LintRunner, tmp_path: Path,
                                               path: str) -> None:
    root = write_tree(tmp_path / "src", {"clean.py": CLEAN, "notes.txt": "x"})
    (root / "link.py").symlink_to(root / "clean.py")
    with pytest.raises(ValueError):
        runner.check_files(root, [path])


def test_file_score_follows_pylint_evaluation() -> None:
    counts = {"convention": 1, "refactor": 1, "warning": 1, "error": 1, "fatal": 0}
    assert file_score(counts, 16) == 5.0  # 10 - (5 + 1 + 1 + 1) / 16 * 10
    assert file_score(dict(counts, fatal=1), 100) == 0.0
    assert file_score({}, 0) == 10.0
    assert file_score({"error": 1}, 0) == 0.0
    assert file_score({"convention": 1}, 3) == 6.67


def test_settings_fingerprint_is_stable_and_follows_settings() -> None:
    base = settings_fingerprint(["fixme", "invalid-name"], 8.0)
    assert base == settings_fingerprint(["invalid-name", "fixme", "fixme"], 8)
    assert base != settings_fingerprint(["fixme"], 8.0)
    assert base != settings_fingerprint(["fixme", "invalid-name"], 7.5)
    assert len(base) == 64


def make_commit(repo: Repo, entries: list[tuple[bytes, int, bytes]]) -> str:
    """A commit of a tree built from (path, mode, content) with nested subtrees."""
    trees: dict[bytes, Tree] = {b"": Tree()}
    for path, mode, content in entries:
        *folders, name = path.split(b"/")
        for depth in range(1, len(folders) + 1):
            trees.setdefault(b"/".join(folders[:depth]), Tree())
        blob = Blob.from_string(content)
        repo.object_store.add_object(blob)
        trees[b"/".join(folders)].add(name, mode, blob.id)
    for folder in sorted(trees, key=lambda f: f.count(b"/") if f else -1, reverse=True):
        if folder:
            parent, _, name = folder.rpartition(b"/")
            repo.object_store.add_object(trees[folder])
            trees[parent].add(name, stat.S_IFDIR, trees[folder].id)
    repo.object_store.add_object(trees[b""])
    commit = Commit()
    commit.tree = trees[b""].id
    commit.author = commit.committer = b"Test <test@example.com>"
    commit.author_time = commit.commit_time = 1700000000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"test\n"
    repo.object_store.add_object(commit)
    return str(commit.id, "ascii")


def test_materialise_writes_the_py_files_of_a_commit(tmp_path: Path) -> None:
    repo = Repo.init_bare(str(tmp_path / "repo.git"), mkdir=True)
    sha = make_commit(repo, [
        (b"main.py", 0o100644, b"import helper\n"),
        (b"pkg/deep/mod.py", 0o100755, b"X = 1\n"),
        (b"pkg/__init__.py", 0o100644, b""),
        (b"README.md", 0o100644, b"# readme\n"),
        (b"link.py", 0o120000, b"/etc/passwd"),
    ])
    dest = tmp_path / "tree"
    dest.mkdir()
    paths = materialise_py_files(tmp_path / "repo.git", sha, dest)
    assert sorted(paths) == ["main.py", "pkg/__init__.py", "pkg/deep/mod.py"]
    assert (dest / "main.py").read_bytes() == b"import helper\n"
    assert (dest / "pkg/deep/mod.py").read_bytes() == b"X = 1\n"
    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert written == sorted(paths)
    assert not any(p.is_symlink() for p in dest.rglob("*"))


@pytest.mark.parametrize("bad_path", [b"../escape.py", b"a/../../escape.py", b".git/hooks.py",
                                      b"pkg/.GIT/x.py", b"./x.py"])
def test_materialise_refuses_paths_escaping_dest(tmp_path: Path, bad_path: bytes) -> None:
    repo = Repo.init_bare(str(tmp_path / "repo.git"), mkdir=True)
    sha = make_commit(repo, [(bad_path, 0o100644, b"X = 1\n")])
    dest = tmp_path / "deep" / "tree"
    dest.mkdir(parents=True)
    with pytest.raises(UnsafePath):
        materialise_py_files(tmp_path / "repo.git", sha, dest)
    assert not (tmp_path / "escape.py").exists()
    assert not (tmp_path / "deep" / "escape.py").exists()


def test_materialise_never_writes_through_an_existing_symlink(tmp_path: Path) -> None:
    repo = Repo.init_bare(str(tmp_path / "repo.git"), mkdir=True)
    sha = make_commit(repo, [(b"pkg/mod.py", 0o100644, b"X = 1\n")])
    dest = tmp_path / "tree"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, dest / "pkg")
    with pytest.raises(UnsafePath):
        materialise_py_files(tmp_path / "repo.git", sha, dest)
    assert not (outside / "mod.py").exists()
