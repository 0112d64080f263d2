"""The lint process learns a tree once for all its files: results stay those of a file checked
alone, trees never mix, and memory goes back when a tree ends. Real pylint in real processes.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import logging
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.runner import FileResult, LintRunner

from .test_runner import write_tree as write_files

HELPER = '"""Helper."""\n\n\ndef greet() -> str:\n    """Hi."""\n    return "hi"\n'
# setter.py adds EXTRA to helper (astroid's delayed_assattr): a module that builds setter sees
# it, one that does not must not, whatever was checked before in the same tree.
SETTING_TREE = {
    "helper.py": HELPER,
    "setter.py": '"""Set."""\nimport os\n\nimport helper\n\nhelper.EXTRA = 1\nos.invented = 2\n',
    "reader.py": '"""Read."""\nimport os\n\nimport helper\n\nprint(helper.EXTRA, os.invented)\n',
    "user.py": '"""Use."""\nimport os\n\nimport helper\nimport setter\n\n'
               'print(setter, helper.EXTRA, os.invented)\n',
}


@pytest.fixture(name="runner", scope="module")
def fixture_runner() -> Iterator[LintRunner]:
    with LintRunner(timeout_s=60) as lint_runner:
        yield lint_runner


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """`files` under root, in place of whatever root held (a folder another tree may reuse)."""
    shutil.rmtree(root, ignore_errors=True)
    return write_files(root, files)


def outcome(result: FileResult) -> tuple[object, ...]:
    return (result.path, result.state, result.score, result.error,
            tuple((m.line, m.column, m.symbol, m.message) for m in result.messages))


def alone(root: Path, paths: list[str]) -> dict[str, tuple[object, ...]]:
    """Each file checked by a lint process of its own, which knows nothing else."""
    results = {}
    for path in paths:
        with LintRunner(timeout_s=60) as fresh:
            (result,) = fresh.check_files(root, [path])
        results[path] = outcome(result)
    return results


def symbols(result: FileResult) -> list[str]:
    return sorted(m.symbol for m in result.messages)


def test_tree_files_checked_together_match_each_checked_alone(runner: LintRunner,
                                                              tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", SETTING_TREE)
    order = ["setter.py", "reader.py", "user.py", "reader.py", "helper.py", "setter.py"]
    together = [outcome(r) for r in runner.check_files(root, order[:3], tree_id="c1:m1")]
    together += [outcome(r) for r in runner.check_files(root, order[3:], tree_id="c1:m1")]
    expected = alone(root, sorted(set(order)))
    assert together == [expected[path] for path in order]
    # What the comparison covers: setter's additions reach user (which builds setter) only.
    assert [m[2] for m in expected["reader.py"][4]] == ["no-member", "no-member"]
    assert expected["user.py"][1] == "success"


def test_tree_forgotten_mid_tree_past_max_rss_gives_the_same_results(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", SETTING_TREE)
    order = ["setter.py", "user.py", "reader.py", "user.py"]
    with LintRunner(timeout_s=60) as roomy, LintRunner(timeout_s=60, max_rss_mb=1) as tight:
        expected = [outcome(r) for r in roomy.check_files(root, order, tree_id="c:1")]
        assert [outcome(r) for r in tight.check_files(root, order, tree_id="c:1")] == expected


def test_a_new_tree_in_the_same_folder_is_not_taken_for_the_old_one(runner: LintRunner,
                                                                    tmp_path: Path) -> None:
    folder = tmp_path / "src"
    main = '"""Main."""\nfrom a import f\n\nprint(f(1))\n'
    takes_none = '"""A."""\n\n\ndef f() -> int:\n    """One."""\n    return 1\n'
    takes_one = '"""A."""\n\n\ndef f(x: int) -> int:\n    """Same."""\n    return x\n'
    write_tree(folder, {"a.py": takes_none, "main.py": main})
    first = list(runner.check_files(folder, ["a.py", "main.py"], tree_id="c1:m1"))
    assert symbols(first[1]) == ["too-many-function-args"]
    # The folder is deleted and another commit is materialised at the same path.
    write_tree(folder, {"a.py": takes_one, "main.py": main})
    (second,) = runner.check_files(folder, ["main.py"], tree_id="c2:m2")
    assert second.state == "success"
    # The first commit again, in a new folder, interleaved with the second.
    other = write_tree(tmp_path / "again", {"a.py": takes_none, "main.py": main})
    (again,) = runner.check_files(other, ["main.py"], tree_id="c1:m3")
    (second_again,) = runner.check_files(folder, ["main.py"], tree_id="c2:m2")
    assert symbols(again) == ["too-many-function-args"]
    assert second_again.state == "success"


def test_hidden_stdlib_module_stays_hidden_for_every_file_of_the_tree_only(
        runner: LintRunner, tmp_path: Path) -> None:
    uses_random = '"""Use."""\nimport random\n\nprint(random.special(), random.randint(1, 2))\n'
    own_random = '"""Own random."""\n\n\ndef special() -> int:\n    """Four."""\n    return 4\n'
    shadowing = write_tree(tmp_path / "shadowing", {
        "random.py": own_random, "use.py": uses_random, "again.py": uses_random})
    plain = write_tree(tmp_path / "plain", {"use.py": uses_random})
    results = list(runner.check_files(shadowing, ["use.py", "random.py", "again.py"],
                                      tree_id="s:1"))
    assert [symbols(r) for r in results] == [["no-member"], [], ["no-member"]]
    assert "randint" in results[0].messages[0].message
    (after,) = runner.check_files(plain, ["use.py"], tree_id="p:1")
    assert symbols(after) == ["no-member"]
    assert "special" in after.messages[0].message


# Random trees of modules that import each other, hide stdlib modules and add attributes to
# each other's names; every file checked in one tree (twice, in a random order, two trees
# interleaved) against the same file checked alone. Files in loose/ and tools/ (no __init__.py)
# put their own folder on sys.path, where `w` and `c` mean other files than at the root.
MODULES = ("a.py", "b.py", "c.py", "pkg/__init__.py", "pkg/x.py", "loose/w.py", "loose/c.py",
           "tools/w.py")
PARTS = ("def f():\n    return 1\n", "class K:\n    attr = 1\n", "VALUE = 'v'\n",
         "import a\na.ADDED = 1\n", "import b\nb.K.extra = 2\n", "from a import K\nK().dyn = 3\n",
         "import os\nos.invented = 4\n", "import json\njson.extra = 5\n",
         "import a\nprint(a.ADDED, a.f())\n", "import b\nprint(b.K.extra, b.K().dyn)\n",
         "from a import K\nprint(K().dyn, K.attr)\n", "import os\nprint(os.invented)\n",
         "import c\nprint(c.VALUE.upper(), c.f())\n",
         "import random\nprint(random.randint(1, 2))\n",
         "from pkg import x\nprint(x.f(), x.ADDED)\n", "import w\nprint(w.VALUE)\n",
         "import json\nprint(json.extra, json.dumps(1))\n")


def random_tree(rng: random.Random) -> dict[str, str]:
    modules = [*MODULES, "random.py"] if rng.random() < 0.3 else MODULES
    return {path: '"""Module."""\n' + "".join(rng.choice(PARTS) for _ in range(rng.randint(1, 3)))
            for path in modules if rng.random() < 0.8}


def test_random_trees_checked_together_match_each_file_checked_alone(tmp_path: Path) -> None:
    rng = random.Random(17)
    with LintRunner(timeout_s=60) as together, LintRunner(timeout_s=60) as single:
        for round_number in range(4):
            trees = {name: random_tree(rng) for name in ("one", "two")}
            roots = {name: write_tree(tmp_path / f"{name}{round_number}", files)
                     for name, files in trees.items()}
            expected = {}
            for name, root in roots.items():
                for path in trees[name]:  # without a tree_id: forgotten after each file
                    (result,) = single.check_files(root, [path])
                    expected[name, path] = outcome(result)
            visits = [(name, path) for name in trees for path in trees[name]] * 2
            rng.shuffle(visits)
            for name, path in visits:
                (result,) = together.check_files(roots[name], [path],
                                                 tree_id=f"{name}:{round_number}")
                assert outcome(result) == expected[name, path], (name, path, trees[name])


def test_lint_process_is_recycled_between_trees_only(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", {"a.py": HELPER, "b.py": HELPER})
    with LintRunner(recycle_after=1) as lint_runner:
        list(lint_runner.check_files(root, ["a.py"], tree_id="t:1"))
        pid = lint_runner.child_pid
        list(lint_runner.check_files(root, ["b.py", "a.py"], tree_id="t:1"))
        assert lint_runner.child_pid == pid  # due, but the tree is not done
        list(lint_runner.check_files(root, ["b.py"], tree_id="t:2"))
        assert lint_runner.child_pid not in (pid, None)


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    return int(status.split("VmRSS:")[1].split()[0])


# Big stdlib packages the warm-up leaves alone; astroid also imports their C extensions (and
# those import more), which a process would not give back.
HEAVY = ('"""Heavy."""\nimport asyncio\nimport email.message\nimport tkinter\nimport turtle\n\n'
         'print(asyncio.run, email.message.Message(), tkinter.Tk(), turtle.Pen())\n')


def test_what_a_tree_built_goes_with_its_tree_process(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", {"small.py": HELPER, "heavy.py": HEAVY})
    with LintRunner() as lint_runner:
        list(lint_runner.check_files(root, ["small.py"], tree_id="t:1"))
        server = lint_runner.child_pid
        assert server is not None
        lint_runner.end_tree()
        before = rss_kb(server)
        list(lint_runner.check_files(root, ["heavy.py", "small.py"], tree_id="t:2"))
        tree = lint_runner.tree_pid
        assert tree is not None
        assert rss_kb(tree) > before + 12 * 1024  # the tree process built the heavy modules
        lint_runner.end_tree()
        assert not Path(f"/proc/{tree}").exists()
        # The fork server never built them: no recycle needed, the same process serves on.
        assert rss_kb(server) < before + 4 * 1024
        assert lint_runner.child_pid == server


def test_file_out_of_memory_after_others_of_its_tree_is_tried_in_a_fresh_process(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = write_tree(tmp_path / "tree", {"huge.py": "ITEMS = [" + "1, " * 600_000 + "]\n",
                                          "clean.py": HELPER})
    with LintRunner(memory_mb=200) as lint_runner, caplog.at_level(logging.INFO):
        clean, huge = lint_runner.check_files(root, ["clean.py", "huge.py"], tree_id="t:1")
    assert clean.state == "success"
    assert (huge.state, huge.error) == ("error", "pylint ran out of memory on this file")
    assert "again in a fresh process" in caplog.text
