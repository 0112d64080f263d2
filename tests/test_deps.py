"""The reuse key of a check (checker.deps), in-process: the import graph of a tree and what its
key covers. Each test builds trees as {path: source} and compares the keys of their files."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from checker.deps import (
    ImportStmt,
    importable_names,
    module_name,
    result_keys,
    scan_imports,
)
from checker.lint_child import _module_name as child_module_name

STDLIB = frozenset({"os", "random", "sys", "collections", "json"})


def keys(tree: dict[str, str], context: str = "settings:1",
         importable: frozenset[str] = STDLIB) -> dict[str, str]:
    blobs = {path: hashlib.sha1(source.encode()).hexdigest() for path, source in tree.items()}
    sources = {blobs[path]: source.encode() for path, source in tree.items()}
    return result_keys(blobs, context, lambda blob: scan_imports(sources[blob]), importable)


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """The files of `after` whose key differs from `before` (or that are new)."""
    old, new = keys(before), keys(after)
    return {path for path in new if old.get(path) != new[path]}


def with_changes(tree: dict[str, str], **changes: str | None) -> dict[str, str]:
    """The tree with files replaced (`a_py="..."` for a.py), or removed (None)."""
    result = dict(tree)
    for name, source in changes.items():
        path = name.replace("__", "/").removesuffix("_py") + ".py"
        if source is None:
            result.pop(path, None)
        else:
            result[path] = source
    return result


# -- scanning a module's imports --------------------------------------------------------------

def test_scan_imports_finds_every_form_at_any_depth() -> None:
    source = b"""
import os, a.b as c
from .x import y
from .. import z, w
from p.q import *
def f():
    if True:
        try:
            import inner
        except ImportError:
            from fallback import thing
    with open("x") as h:
        for i in h:
            import loop_mod
match 1:
    case 1:
        import matched
"""
    found = scan_imports(source)
    assert found is not None
    assert sorted((s.module, s.level, s.names, s.alias, s.is_from) for s in found) == sorted([
        ("os", 0, (), False, False), ("a.b", 0, (), True, False),
        ("x", 1, ("y",), False, True), ("", 2, ("z", "w"), False, True),
        ("p.q", 0, ("*",), False, True), ("inner", 0, (), False, False),
        ("fallback", 0, ("thing",), False, True), ("loop_mod", 0, (), False, False),
        ("matched", 0, (), False, False)])


def test_scan_imports_of_unparsable_source_is_empty() -> None:
    assert not scan_imports(b"import os\ndef broken(:\n")
    assert not scan_imports(b"x = 1\n")


def test_module_name_matches_the_lint_process(tmp_path: Path) -> None:
    trees = [
        {"a.py": ""}, {"pkg/__init__.py": "", "pkg/m.py": ""}, {"pkg/m.py": ""},
        {"top/pkg/__init__.py": "", "top/pkg/sub/__init__.py": "", "top/pkg/sub/m.py": ""},
        {"__init__.py": "", "x.py": ""}, {"a/b/__init__.py": "", "a/b/c.py": ""},
    ]
    for number, tree in enumerate(trees):
        root = tmp_path / str(number)
        for path in tree:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text("", encoding="utf-8")
        for path in tree:
            base, name = module_name(set(tree), path)
            assert child_module_name(str(root), path) == (
                str(root / base) if base else str(root), name), (tree, path)


# -- what a key covers ------------------------------------------------------------------------

FLAT = {"main.py": "import helper\nprint(helper.greet())\n",
        "helper.py": "def greet():\n    return 1\n",
        "alone.py": "print(1)\n"}


def test_key_changes_with_the_imported_module_only() -> None:
    assert changed(FLAT, with_changes(FLAT, helper_py="def hello():\n    return 1\n")) == {
        "main.py", "helper.py"}
    assert changed(FLAT, with_changes(FLAT, alone_py="print(2)\n")) == {"alone.py"}


def test_key_changes_when_an_imported_module_is_deleted_added_or_renamed() -> None:
    assert changed(FLAT, with_changes(FLAT, helper_py=None)) == {"main.py"}
    missing = with_changes(FLAT, helper_py=None)
    assert changed(missing, FLAT) == {"main.py", "helper.py"}
    renamed = with_changes(missing, helpers_py=FLAT["helper.py"])
    assert changed(FLAT, renamed) == {"main.py", "helpers.py"}


def test_key_follows_imports_transitively() -> None:
    tree = {"a.py": "import b\n", "b.py": "from c import x\n", "c.py": "x = 1\n",
            "d.py": "y = 2\n"}
    assert changed(tree, with_changes(tree, c_py="x = 2\n")) == {"a.py", "b.py", "c.py"}


def test_key_covers_imports_in_functions_and_try_blocks() -> None:
    tree = {"a.py": "def f():\n    try:\n        import b\n    except ImportError:\n"
                    "        b = None\n    return b\n", "b.py": "x = 1\n"}
    assert changed(tree, with_changes(tree, b_py="x = 2\n")) == {"a.py", "b.py"}


def test_key_of_a_package_module_covers_its_relative_imports() -> None:
    tree = {"pkg/__init__.py": "", "pkg/a.py": "from .b import greet\n",
            "pkg/b.py": "def greet():\n    return 1\n", "pkg/c.py": "z = 1\n"}
    assert changed(tree, with_changes(tree, pkg__b_py="def hello():\n    return 1\n")) == {
        "pkg/a.py", "pkg/b.py"}
    assert changed(tree, with_changes(tree, pkg__c_py="z = 2\n")) == {"pkg/c.py"}


def test_key_covers_absolute_imports_of_the_own_package() -> None:
    tree = {"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import greet\n",
            "pkg/b.py": "def greet():\n    return 1\n"}
    assert "pkg/a.py" in changed(tree, with_changes(tree, pkg__b_py="x = 1\n"))


def test_key_changes_when_init_appears_or_vanishes() -> None:
    loose = {"enc/encoding.py": "from .util import x\n", "enc/util.py": "x = 1\n"}
    package = dict(loose, **{"enc/__init__.py": ""})
    assert changed(loose, package) == {"enc/encoding.py", "enc/util.py", "enc/__init__.py"}
    assert changed(package, loose) == {"enc/encoding.py", "enc/util.py"}


def test_key_of_a_submodule_import_covers_the_package_folder() -> None:
    # `import pkg` then `pkg.sub.f()`: astroid loads pkg/sub.py through the module object.
    tree = {"main.py": "import pkg\nprint(pkg.sub.f())\n", "pkg/__init__.py": "",
            "pkg/sub.py": "def f():\n    return 1\n"}
    assert "main.py" in changed(tree, with_changes(tree, pkg__sub_py="def g():\n    pass\n"))
    assert "main.py" in changed(tree, with_changes(tree, pkg__new_py="x = 1\n"))


def test_key_of_a_from_import_of_a_plain_module_ignores_its_package_siblings() -> None:
    tree = {"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import greet\n",
            "pkg/b.py": "def greet():\n    return 1\n", "pkg/c.py": "z = 1\n"}
    assert "pkg/a.py" not in changed(tree, with_changes(tree, pkg__c_py="z = 2\n"))


def test_key_changes_for_every_file_when_a_stdlib_name_is_shadowed() -> None:
    shadowed = with_changes(FLAT, random_py="def randint():\n    return 4\n")
    assert changed(FLAT, shadowed) == {"main.py", "helper.py", "alone.py", "random.py"}
    edited = with_changes(shadowed, random_py="def randint():\n    return 5\n")
    assert changed(shadowed, edited) == set(shadowed)


def test_key_is_scoped_by_context_repository_and_path() -> None:
    one, other = keys(FLAT, "settings:1"), keys(FLAT, "settings:2")
    assert not set(one.values()) & set(other.values())
    moved = {"renamed.py" if p == "alone.py" else p: s for p, s in FLAT.items()}
    assert keys(moved)["renamed.py"] != keys(FLAT)["alone.py"]


def test_key_of_a_file_outside_packages_uses_its_own_folder_first() -> None:
    tree = {"hw1/main.py": "import helper\n", "hw1/helper.py": "x = 1\n",
            "hw2/helper.py": "x = 2\n", "helper.py": "x = 3\n"}
    assert changed(tree, with_changes(tree, hw1__helper_py="x = 9\n")) >= {"hw1/main.py"}
    # Also the root's helper.py: it is on the search path too (a namespace of its own).
    assert "hw1/main.py" in changed(tree, with_changes(tree, helper_py="x = 9\n"))
    assert "hw1/main.py" not in changed(tree, with_changes(tree, hw2__helper_py="x = 9\n"))


def test_key_of_a_module_that_does_not_parse_depends_on_no_other_module() -> None:
    tree = {"broken.py": "import helper\ndef f(:\n", "helper.py": "x = 1\n"}
    assert changed(tree, with_changes(tree, helper_py="x = 2\n")) == {"helper.py"}


def test_key_of_unknown_imports_covers_the_whole_tree() -> None:
    tree = {"a.py": "x = 1\n", "b.py": "y = 1\n"}
    blobs = {p: hashlib.sha1(s.encode()).hexdigest() for p, s in tree.items()}

    def unknown_for_a(blob: str) -> tuple[ImportStmt, ...] | None:
        return None if blob == blobs["a.py"] else ()
    before = result_keys(blobs, "c", unknown_for_a, STDLIB)
    blobs2 = dict(blobs, **{"b.py": hashlib.sha1(b"y = 2\n").hexdigest()})
    after = result_keys(blobs2, "c", unknown_for_a, STDLIB)
    assert before["a.py"] != after["a.py"]


def test_importable_names_cover_the_stdlib_and_installed_packages() -> None:
    names = importable_names()
    assert {"random", "json", "pylint", "astroid"} <= names
    assert "sys" not in names  # builtin: no file can hide it


def test_keys_of_a_large_interconnected_tree_are_quick() -> None:
    tree = {f"pkg/m{i}.py": "".join(f"from pkg import m{j}\n" for j in range(i % 7, 300, 37))
            for i in range(300)}
    tree["pkg/__init__.py"] = "from pkg.m1 import *\n"
    started = time.perf_counter()
    found = keys(tree)
    assert len(found) == 301
    assert time.perf_counter() - started < 10
