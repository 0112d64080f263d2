"""The reuse key against real pylint: random trees of modules importing each other, mutated; a
file whose key is the same in both trees must get the same result in both.

A randomised differential test with a fixed seed. GITSERVER_TEST_DEPS_ROUNDS raises the number
of tree pairs (the suite runs a few; the key's design was checked with a few hundred).
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import hashlib
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.deps import result_keys, scan_imports
from checker.runner import FileResult, LintRunner

ROUNDS = int(os.environ.get("GITSERVER_TEST_DEPS_ROUNDS", "6"))
SEED = int(os.environ.get("GITSERVER_TEST_DEPS_SEED", "13"))
MODULES = ("a.py", "b.py", "random.py", "json.py", "pkg/__init__.py", "pkg/x.py", "pkg/y.py",
           "pkg/sub/__init__.py", "pkg/sub/z.py", "loose/w.py", "loose/v.py")
DEFINITIONS = ("def f():\n    return 1\n", "def g():\n    return 'x'\n",
               "class K:\n    attr = 1\n", "f = None\n", "def randint():\n    return 4\n")
USES = ("from pkg.x import f\nprint(f())\n", "import pkg\nprint(pkg.x.f(), pkg.y.g())\n",
        "from pkg import sub\nprint(sub.z.K.attr)\n", "import a\nprint(a.f() + a.K.attr)\n",
        "from b import *\nprint(g())\n", "import random\nprint(random.randint(1, 2))\n",
        "from pkg.sub.z import K\nprint(K().attr.real)\n", "import w\nprint(w.f())\n",
        "from loose import w\nprint(w.f())\n", "import loose.v as lv\nprint(lv.g())\n",
        "import json\nprint(json.dumps(1).upper())\n", "from pkg import *\nprint(f(), x)\n")
RELATIVE_USES = ("from . import x\nprint(x.f())\n", "from .x import f\nprint(f())\n",
                 "from .. import y\nprint(y.g())\n", "from .y import g as h\nprint(h())\n")


def random_module(rng: random.Random, path: str) -> str:
    parts = [rng.choice(DEFINITIONS) for _ in range(rng.randint(0, 2))]
    parts += [rng.choice(USES) for _ in range(rng.randint(0, 2))]
    if "/" in path:
        parts += [rng.choice(RELATIVE_USES) for _ in range(rng.randint(0, 1))]
    return '"""Module."""\n' + "".join(parts)


def random_tree(rng: random.Random) -> dict[str, str]:
    return {path: random_module(rng, path) for path in MODULES if rng.random() < 0.7}


def mutate(rng: random.Random, tree: dict[str, str]) -> dict[str, str]:
    result = dict(tree)
    for _ in range(rng.randint(1, 2)):
        path = rng.choice(MODULES)
        if path in result and rng.random() < 0.4:
            del result[path]
        else:
            result[path] = random_module(rng, path)
    return result


def tree_keys(tree: dict[str, str]) -> dict[str, str]:
    blobs = {path: hashlib.sha1(source.encode()).hexdigest() for path, source in tree.items()}
    sources = {blobs[path]: source.encode() for path, source in tree.items()}
    return result_keys(blobs, "test", lambda blob: scan_imports(sources[blob]))


def write(root: Path, tree: dict[str, str]) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    for path, source in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(source, encoding="utf-8")
    return root


def outcome(result: FileResult) -> tuple[object, ...]:
    return (result.state, result.score,
            tuple((m.line, m.column, m.symbol, m.message) for m in result.messages))


@pytest.fixture(name="runner", scope="module")
def fixture_runner() -> Iterator[LintRunner]:
    with LintRunner(timeout_s=60) as lint_runner:
        yield lint_runner


def test_same_key_means_same_pylint_result(runner: LintRunner, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    compared = reused = 0
    for round_number in range(ROUNDS):
        before = random_tree(rng)
        after = mutate(rng, before)
        old, new = tree_keys(before), tree_keys(after)
        same = sorted(p for p in set(old) & set(new) if old[p] == new[p])
        if not same:
            continue
        root_before = write(tmp_path / f"before{round_number}", before)
        root_after = write(tmp_path / f"after{round_number}", after)
        results_before = dict(zip(same, runner.check_files(root_before, same), strict=True))
        results_after = dict(zip(same, runner.check_files(root_after, same), strict=True))
        for path in same:
            compared += 1
            assert outcome(results_before[path]) == outcome(results_after[path]), (
                path, before, after)
        reused += len(same)
    assert compared > 0, "no key stayed the same: the test proves nothing"
    assert reused == compared
