"""What a file's check depends on in its commit's tree, and the reuse key that covers it.

pylint checks a file against the tree it was pushed with: astroid follows the file's imports
into the tree's other modules, and theirs in turn. A stored result may stand for another commit
only if everything the check can observe of the tree is the same there. `result_keys()` hashes
an over-approximation of that, computed from the tree alone (no pylint run):

- the file's path, bytes and module name (which of its folders hold an `__init__.py`);
- every import statement of the file and of each tree module it can reach, at any depth (in
  functions, in `try`, under `if TYPE_CHECKING`): for each module name the statement can make
  astroid look up, on the file's search path (the folder above its top package, then the tree's
  root, as `checker/lint_child.py` sets sys.path): whether `name.py`, `name/__init__.py` and the
  folder `name/` exist, and the bytes of those that do. Absence counts: adding, renaming or
  deleting an imported module changes the key, and so does an `__init__.py` appearing;
- relative imports resolved as astroid resolves them (by package name, and its fallback for
  modules outside a package), both ways;
- a module object reached by name (`import pkg`, `from pkg import sub`) lets astroid load any
  submodule through attribute access (`pkg.sub.mod`), so its whole folder counts;
- the tree's modules that hide a stdlib or installed module of the same name (`random.py`):
  astroid may reach them from any stdlib code it infers, so every file on that search path
  depends on them;
- a module Python cannot parse has no imports (astroid cannot build it either); one that our
  parser gives up on for another reason (recursion, memory) makes the key cover the whole tree.

Why this is enough: given the settings, a check reads the tree only through module look-ups
and the modules it builds (our rcfile turns off the cross-file checks; isort runs from an empty
working folder; the lint process drops everything it learnt of a tree after each check). Each
look-up is of a name derived from an import statement of a module already read, or an attribute
of a module object, and both are covered above with their outcome. If two trees give a file
the same key, the check makes the same observations with the same outcomes in both, step by
step, and so gives the same result.

The key is also scoped to one repository and the checker settings (`context`), so a result is
never reused in another repository.
"""

from __future__ import annotations

import ast
import bisect
import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

# How strongly a statement uses a module it names.
READ = 0  # a package on the way to the target (`a` in `from a.b import c`): its __init__ is read
BUILT = 1  # the module is built and its names inferred: its own imports count
SUBTREE = 2  # the module object is reachable: any submodule may be loaded by attribute access

SHADOW_NODE = "\0shadow"  # the virtual module of a search path's shadowing modules
_ABSENT = "-"


@dataclass(frozen=True)
class ImportStmt:
    """One import statement as written."""

    module: str  # dotted; "" for `from . import x`
    level: int = 0  # leading dots of a relative import
    names: tuple[str, ...] = ()  # what `from ... import` names ("*" for a star); () for `import`
    alias: bool = False  # `import a.b as c` binds a.b; `import a.b` binds a
    is_from: bool = False


Imports = tuple[ImportStmt, ...]
_PARSE_LOCK = threading.Lock()
ImportReader = Callable[[str], Imports | None]  # blob sha -> its imports (None: unknown)


def scan_imports(source: bytes) -> Imports | None:
    """Every import statement of a module, at any depth; () when Python cannot parse it.

    None when our parser gave up for another reason (recursion, memory): then nothing is known.
    """
    if b"import" not in source:
        return ()  # no statement can import without the keyword; saves the parse
    try:
        # As astroid parses: the whole text and a final newline. One parse at a time: CPython
        # 3.11's AST constructor keeps its recursion depth per interpreter, and two threads
        # parsing at once (thirty pushes at a deadline) fail with "AST constructor recursion
        # depth mismatch".
        with _PARSE_LOCK:
            tree = ast.parse(source + b"\n")
    except (SyntaxError, ValueError):
        return ()  # astroid cannot build it either, so it imports nothing
    except (RecursionError, MemoryError):
        return None
    found: list[ImportStmt] = []
    # Imports are statements: walk statement lists only, not expressions (3x faster).
    pending: list[list[ast.stmt]] = [tree.body]
    while pending:
        for node in pending.pop():
            if isinstance(node, ast.Import):
                found.extend(ImportStmt(alias.name, alias=alias.asname is not None)
                             for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.append(ImportStmt(node.module or "", node.level,
                                        tuple(alias.name for alias in node.names),
                                        is_from=True))
            else:
                pending.extend(_statement_lists(node))
    return tuple(found)


def _statement_lists(node: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        value = getattr(node, name, None)
        if isinstance(value, list):
            yield value
    for name in ("handlers", "cases"):  # try/except, match/case
        for part in getattr(node, name, None) or ():
            yield part.body


def module_name(files: Mapping[str, str] | set[str], path: str) -> tuple[str, str]:
    """(folder on sys.path, dotted name) of a tree file: `checker/lint_child._module_name`."""
    parts = path.split("/")
    top = len(parts) - 1
    while top > 0 and "/".join([*parts[:top], "__init__.py"]) in files:
        top -= 1
    stem = parts[-1].removesuffix(".py")
    names = parts[top:-1] if stem == "__init__" and top < len(parts) - 1 else [*parts[top:-1], stem]
    return "/".join(parts[:top]), ".".join(names)


@lru_cache(maxsize=1)
def importable_names() -> frozenset[str]:
    """Top-level names a tree module could hide: the stdlib and whatever is installed.

    The same rule as the lint process's (`TreeForgetter`), computed in this process; ours has
    at least its sys.path, so this is a superset.
    """
    names = set(sys.stdlib_module_names)
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        names.update(entry.removesuffix(".py") for entry in entries)
    # Builtin modules cannot be hidden by a file, in Python or in astroid.
    return frozenset(names - set(sys.builtin_module_names))


class TreeModules:  # pylint: disable=too-few-public-methods  # one job: keys()
    """The .py files of one tree as astroid finds them, and the dependency graph between them."""

    def __init__(self, files: Mapping[str, str], imports: ImportReader,
                 importable: frozenset[str] | None = None) -> None:
        self.files = dict(files)
        self.paths = sorted(self.files)
        self.folders = {""}
        for path in self.paths:
            parts = path.split("/")
            self.folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        self._imports = imports
        self._importable = importable_names() if importable is None else importable
        self._top: dict[str, frozenset[str]] = {}
        self._resolved: dict[tuple[str, int, tuple[str, ...]], tuple[list[str], list[str]]] = {}

    def keys(self, context: str) -> dict[str, str]:
        """path -> the result key of every file, scoped by `context` (settings and repo)."""
        groups: dict[tuple[str, ...], list[str]] = {}
        names: dict[str, tuple[str, str]] = {}
        for path in self.paths:
            base, modname = module_name(self.files, path)
            names[path] = (base, modname)
            groups.setdefault(_entries(base), []).append(path)
        found = {}
        for entries, paths in groups.items():
            reach = _Graph(self, entries).reach_digests(paths)
            for path in paths:
                base, modname = names[path]
                found[path] = _digest(["key", context, path, self.files[path], base, modname,
                                       reach[path]])
        return found

    # -- one module's direct dependencies, for a given search path -------------------------

    def direct(self, node: str, entries: tuple[str, ...]) -> tuple[list[str], set[str]]:
        """(facts observed, tree modules it leads to) of one module or the shadow node."""
        facts: list[str] = []
        deps: set[str] = set()
        if node == SHADOW_NODE:
            for entry in entries:
                for name in sorted(self._top_names(entry) & self._importable):
                    facts.append(f"shadow\t{entry}\t{name}")
                    self._resolve(name, SUBTREE, entries, facts, deps)
            return facts, deps
        statements = self._imports(self.files[node])
        if statements is None:
            return ["unknown imports"], set(self.paths)
        is_package = node.rsplit("/", 1)[-1] == "__init__.py"
        own_names = [_dotted(node, entry) for entry in entries if _is_under(node, entry)]
        for statement in statements:
            for module, mode in self._targets(node, statement, own_names, is_package, facts):
                self._resolve(module, mode, entries, facts, deps)
        deps.add(SHADOW_NODE)
        return facts, deps

    def _targets(self, node: str, statement: ImportStmt, own_names: list[str],
                 is_package: bool, facts: list[str]) -> Iterator[tuple[str, int]]:
        bases = {statement.module}  # absolute; or astroid's fallback for a relative one
        if statement.level:
            for name in own_names:
                resolved = _relative(name, is_package, statement.level, statement.module)
                if resolved is not None:
                    bases.add(resolved)
            if not is_package:
                # astroid's fallback looks at the importing module's own folder.
                folder = node.rpartition("/")[0]
                first = statement.module.split(".")[0]
                init = f"{folder}/__init__.py" if folder else "__init__.py"
                facts.append(f"fallback\t{init in self.files}\t"
                             f"{_join(folder, first) in self.folders if first else True}")
        for base in bases:
            yield from _prefixes(base)
            if not statement.is_from:
                yield (base if statement.alias else base.split(".")[0]), SUBTREE
                continue
            yield base, BUILT
            for name in statement.names:
                yield (base, SUBTREE) if name == "*" else (_join_dotted(base, name), SUBTREE)

    def _resolve(self, module: str, mode: int, entries: tuple[str, ...], facts: list[str],
                 deps: set[str]) -> None:
        """Add what looking up `module` on the search path observes, and the modules it
        leads to (memoised: many modules of a tree import the same names)."""
        memo = (module, mode, entries)
        found = self._resolved.get(memo)
        if found is None:
            found = self._resolved[memo] = self._look_up(module, mode, entries)
        facts.extend(found[0])
        deps.update(found[1])

    def _look_up(self, module: str, mode: int, entries: tuple[str, ...]
                 ) -> tuple[list[str], list[str]]:
        parts = module.split(".")
        if not all(parts):
            return [], []
        facts: list[str] = []
        deps: list[str] = []
        for entry in entries:
            rel = _join(entry, "/".join(parts))
            as_module, as_package = f"{rel}.py", f"{rel}/__init__.py"
            is_folder = rel in self.folders
            facts.append(f"{rel}\t{self.files.get(as_module, _ABSENT)}\t"
                         f"{self.files.get(as_package, _ABSENT)}\t{is_folder}")
            if mode >= BUILT:
                deps.extend(p for p in (as_module, as_package) if p in self.files)
            if mode == SUBTREE and is_folder:
                deps.extend(self._under(rel))
        return facts, deps

    def _under(self, folder: str) -> list[str]:
        prefix = folder + "/"
        start = bisect.bisect_left(self.paths, prefix)
        end = bisect.bisect_left(self.paths, prefix + "\U0010ffff")
        return self.paths[start:end]

    def _top_names(self, entry: str) -> frozenset[str]:
        """The module and package names directly in a folder of the search path."""
        if entry not in self._top:
            names = set()
            for path in self._under(entry) if entry else self.paths:
                head, slash, _ = (path[len(entry) + 1:] if entry else path).partition("/")
                names.add(head if slash else head.removesuffix(".py"))
            self._top[entry] = frozenset(names)
        return self._top[entry]


class _Graph:  # pylint: disable=too-few-public-methods  # one job: reach_digests()
    """The modules reachable from a group of files sharing one search path, condensed."""

    def __init__(self, tree: TreeModules, entries: tuple[str, ...]) -> None:
        self.tree = tree
        self.entries = entries
        self.index: dict[str, int] = {}
        self.nodes: list[str] = []
        self.digests: list[str] = []
        self.edges: list[list[int]] = []

    def reach_digests(self, roots: Iterable[str]) -> dict[str, str]:
        """root path -> digest of every module it reaches (itself included)."""
        for root in roots:
            self._add(root)
        component, order = _strongly_connected(self.edges)
        # Tarjan numbers components in reverse topological order: successors come first.
        reach: list[int] = [0] * len(order)
        for number, members in enumerate(order):
            bits = 0
            for member in members:
                bits |= 1 << member
                for successor in self.edges[member]:
                    if component[successor] != number:
                        bits |= reach[component[successor]]
            reach[number] = bits
        memo: dict[int, str] = {}
        found = {}
        for root in roots:
            bits = reach[component[self.index[root]]]
            if bits not in memo:
                memo[bits] = _digest(sorted(self.digests[i] for i in _members(bits)))
            found[root] = memo[bits]
        return found

    def _add(self, start: str) -> None:
        """Number every module reachable from `start` that is not numbered yet."""
        pending = [start]
        added: list[tuple[int, list[str]]] = []
        while pending:
            node = pending.pop()
            if node in self.index:
                continue
            self.index[node] = len(self.nodes)
            self.nodes.append(node)
            facts, direct_deps = self.tree.direct(node, self.entries)
            ordered = sorted(direct_deps)
            self.digests.append(_digest([node, self.tree.files.get(node, ""), *facts, "deps",
                                         *ordered]))
            self.edges.append([])
            added.append((self.index[node], ordered))
            pending.extend(d for d in ordered if d not in self.index)
        for number, targets in added:
            self.edges[number] = [self.index[d] for d in targets]


def _members(bits: int) -> Iterator[int]:
    """The indexes of the set bits, low to high."""
    text = bin(bits)[:1:-1]
    return (i for i, c in enumerate(text) if c == "1")


# pylint: disable-next=too-many-locals  # Tarjan's bookkeeping, kept in one place
def _strongly_connected(edges: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Tarjan's algorithm, iterative: (component of each node, members of each component)."""
    count = len(edges)
    index = [-1] * count
    low = [0] * count
    on_stack = [False] * count
    component = [-1] * count
    stack: list[int] = []
    order: list[list[int]] = []
    counter = 0
    for start in range(count):
        if index[start] != -1:
            continue
        work = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            if position < len(edges[node]):
                work.append((node, position + 1))
                successor = edges[node][position]
                if index[successor] == -1:
                    work.append((successor, 0))
                elif on_stack[successor]:
                    low[node] = min(low[node], index[successor])
                continue
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component[member] = len(order)
                    members.append(member)
                    if member == node:
                        break
                order.append(members)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return component, order


def _entries(base: str) -> tuple[str, ...]:
    """A file's search path in the tree: the folder above its top package, then the root."""
    return (base, "") if base else ("",)


def _is_under(path: str, entry: str) -> bool:
    return not entry or path.startswith(entry + "/")


def _dotted(path: str, entry: str) -> str:
    rel = path[len(entry) + 1:] if entry else path
    rel = rel.removesuffix(".py").removesuffix("/__init__")
    return rel.replace("/", ".")


def _relative(name: str, is_package: bool, level: int, module: str) -> str | None:
    """The absolute name astroid gives `from .<level> module` in module `name`; None if too
    many levels (astroid's `relative_to_absolute_name` without its fallback)."""
    if is_package:
        level -= 1
    if level and name.count(".") < level:
        return None
    package = name.rsplit(".", level)[0] if level else name
    return _join_dotted(package, module)


def _prefixes(module: str) -> Iterator[tuple[str, int]]:
    parts = module.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end]), READ


def _join(folder: str, rel: str) -> str:
    return f"{folder}/{rel}" if folder else rel


def _join_dotted(package: str, name: str) -> str:
    return f"{package}.{name}" if package and name else package or name


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def result_keys(files: Mapping[str, str], context: str, imports: ImportReader,
                importable: frozenset[str] | None = None) -> dict[str, str]:
    """path -> result key of every file of a tree (`files`: path -> blob sha)."""
    return TreeModules(files, imports, importable).keys(context)


def settings_context(fingerprint: str, lint_key: str) -> str:
    """The checker fingerprint with a repository's lint settings (`core.lint_settings`): the
    settings part of every result key of that repository. Default settings add nothing, so
    results stored before repo settings existed stay reusable."""
    return fingerprint if not lint_key else _digest([fingerprint, "lint", lint_key])


def gated_keys(keys: Mapping[str, str], parent_keys: Mapping[str, str]) -> dict[str, str]:
    """Result keys under the gate `new`: a file's verdict also depends on what its first
    parent's version of the same path yields (its messages are the baseline), so the parent's
    key of the path (or its absence) is part of the key."""
    return {path: _digest([key, "gate-new", parent_keys.get(path, _ABSENT)])
            for path, key in keys.items()}
