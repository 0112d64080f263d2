"""The lint worker process: one warm PyLinter checking the files that the parent sends.

Started by `checker.runner` as `python -I -X utf8 lint_child.py --rcfile ... --memory-mb ...`
with an empty environment and a private HOME. `-I` keeps the pushed tree, the working
directory and any PYTHON* variable off `sys.path`; for the same reason this file imports
nothing of ours (putting checker/ on sys.path would let a user's `import tasks` resolve to
our module), only the standard library, pylint and astroid.

Protocol, one JSON object per line: the child first writes `{"ready": true, "base_rss_kb", ...}`
(or `{"ready": false, "error": ...}`), then answers each request `{"root", "path", "cpu_s",
"tree"}` with `{"started": true, "pid"}` as it starts on it (`pid`: the tree process checking
it), then `{"ok": true, "messages", "counts", "statement", "rss_kb", "base_rss_kb"}` or, when
pylint itself crashed, `{"ok": false, "kind", "detail"}` and exits so that the parent starts
afresh. A request `{"end": true}` ends the tree under way; it answers `{"ok": true, "rss_kb",
"base_rss_kb"}`.

The process is a fork server (`ForkServer`): it holds the warm baseline and forks a tree
process for each tree, which checks the tree's files and exits at the tree's end.

With `--warm` it also checks small modules using the standard library that pushed code
commonly imports, one at a time while no request waits and no tree is under way
(WARM_UP_USES).

Warm means astroid keeps the modules it built for the builtins and the warm-up: the baseline,
whose RSS is `base_rss_kb`. Within a tree (consecutive requests with the same `tree` token and
root) astroid also keeps what it built for earlier files, with each file's result still that of
the file checked alone (see `TreeForgetter`); when the tree ends, its process exits with all of
it, so that results do not depend on what was checked before and memory does not grow with
every tree.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import functools
import gc
import importlib.machinery
import io
import json
import math
import os
import resource
import select
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import IO, Any

MESSAGE_TYPES = ("convention", "refactor", "warning", "error", "fatal", "info")
# Open files: pylint reads one source file at a time; the interpreter needs some dozens.
MAX_OPEN_FILES = 256
# Only C-level diagnostics reach fd 2 (a file in the child's private folder).
MAX_WRITTEN_BYTES = 1 << 20
# The parent's name for the private folder (HOME, PYLINTHOME, ...) it makes for us.
PRIVATE_DIR_PREFIX = "gitserver-lint-"
# With --warm, the lint process checks these small modules while it waits for requests (one at a
# time, a request first whenever one is waiting), so that astroid has built, and keeps, the
# standard library modules that pushed code commonly uses: the first check after a start is then
# as quick as the hundredth. Each use makes astroid infer into the module, which builds what a
# real check would otherwise build on its first use.
WARM_UP_USES = {
    "os": "print(os.path.join(os.getcwd(), 'x'), os.listdir('.'), os.environ.get('X'))",
    "sys": "print(sys.argv, sys.exit, sys.stdin.readline())",
    "math": "print(math.sqrt(2.0) + math.floor(1.5) + math.pi)",
    "random": "print(random.randint(1, 6), random.choice([1]), random.shuffle([1]))",
    "time": "print(time.time(), time.sleep(0), time.perf_counter())",
    "datetime": "print(datetime.datetime.now() + datetime.timedelta(days=1),"
                " datetime.date.today())",
    "json": "print(json.loads(json.dumps({'a': 1})), json.load, json.dump)",
    "re": "print(re.match(r'[0-9]+', 'x'), re.compile('x').findall('x'), re.sub('a', 'b', 'c'))",
    "collections": "print(collections.Counter('ab').most_common(1), collections.defaultdict(int),"
                   " collections.deque([1]).popleft(), collections.namedtuple('P', 'x')(1))",
    "itertools": "print(list(itertools.product(range(2), repeat=2)), itertools.chain([1], [2]))",
    "functools": "print(functools.reduce(max, [1, 2]), functools.lru_cache(maxsize=1),"
                 " functools.partial(print))",
    "typing": "X: typing.List[typing.Optional[typing.Dict[str, typing.Any]]] = []\nprint(X)",
    "dataclasses": "@dataclasses.dataclass\nclass P:\n    x: int = 0\n\n\nprint(P(1).x)",
    "enum": "class C(enum.Enum):\n    RED = 1\n\n\nprint(C.RED.name, C(1).value)",
    "abc": "class B(abc.ABC):\n    @abc.abstractmethod\n    def f(self): ...\n\n\nprint(B)",
    "pathlib": "print(pathlib.Path('x').with_suffix('.txt').read_text(encoding='utf-8').split())",
    "string": "print(string.ascii_letters, string.digits, string.Template('$a').substitute(a=1))",
    "csv": "print(list(csv.reader([])), csv.writer, csv.DictReader([]))",
    "statistics": "print(statistics.mean([1, 2]), statistics.median([1]),"
                  " statistics.stdev([1, 2]))",
    "copy": "print(copy.deepcopy([1]), copy.copy({}))",
    "operator": "print(operator.add(1, 2), operator.itemgetter(0))",
    "heapq": "H = [2, 1]\nheapq.heapify(H)\nprint(heapq.heappop(H), heapq.nlargest(1, H))",
    "bisect": "print(bisect.bisect([1, 2], 1), bisect.insort)",
    "fractions": "print(fractions.Fraction(1, 3) + 1)",
    "decimal": "print(decimal.Decimal('1.5') + 1)",
    "argparse": "P = argparse.ArgumentParser()\nP.add_argument('--n', type=int)\n"
                "print(P.parse_args().n)",
    "logging": "logging.basicConfig(level=logging.INFO)\nlogging.getLogger(__name__).info('%s', 1)",
    "textwrap": "print(textwrap.dedent('x'), textwrap.fill('x', 10))",
    "pprint": "pprint.pprint([1])",
    "shutil": "print(shutil.rmtree, shutil.copy('a', 'b'), shutil.which('x'))",
    "subprocess": "print(subprocess.run(['true'], check=False, capture_output=True).stdout)",
    "unittest": "class T(unittest.TestCase):\n    def test(self):\n        self.assertEqual(1, 1)",
}
# Below the pushes and pages, not the nicest there is: at nice 19 thirty fixes pushed at once
# while checks ran took 2.8-3.3 s at the median instead of 3.7 s, but a lint process sliced that
# thin by every wake-up of the server spent 15% more CPU per file (pylint's sources, 2 workers:
# 1.21-1.25x bare pylint's CPU per file against 1.05-1.09x at 10).
LINT_NICENESS = 10
# A check's CPU limit is reset per request; a warm-up step gets this much.
WARM_UP_CPU_S = 30.0
# The token of a warm-up step's tree: what it builds outside the tree joins the baseline.
WARM_UP_TREE = "\0warm-up"

_PR_SET_PDEATHSIG = 1

_MALLOC_TRIM: Callable[[int], int] | None
_PRCTL: Callable[..., int] | None
try:
    # By its soname: ctypes.util.find_library would run ldconfig in a subprocess.
    _LIBC = ctypes.CDLL("libc.so.6")
    _MALLOC_TRIM, _PRCTL = _LIBC.malloc_trim, _LIBC.prctl
except (OSError, AttributeError):  # no glibc here: nothing to trim
    _MALLOC_TRIM = _PRCTL = None


def _set_limits(memory_mb: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_WRITTEN_BYTES, MAX_WRITTEN_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # A write past RLIMIT_FSIZE should fail with EFBIG, not kill the checker.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # Pushes and pages first: a lint is throughput, a push is somebody waiting. On a busy
    # machine the kernel gives the web process and git the CPU before the lint processes; a
    # check's timeout is of its CPU time (checker.runner), so that waiting costs no verdict.
    os.nice(LINT_NICENESS)


def _limit_tree_process() -> None:
    """What only a tree process (the fork that checks a tree's files) gets: pylint runs with
    jobs=1 and never needs a process of its own (ignored for root); it dies with its parent."""
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _limit_cpu(seconds: float) -> None:
    """RLIMIT_CPU counts the whole life of the process, so allow `seconds` more from now."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(used + seconds)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _rss_kb() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _release_free_memory() -> None:
    """glibc's malloc_trim(0): give the C heap's free pages back (the same as
    gitserver.core.memory, which this process may not import)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _settle_baseline() -> int:
    """Freeze what astroid knows now as long-lived (the collector then skips it), give the
    rest back; the RSS (KiB) a process knowing just that has."""
    gc.collect()
    # Every later collection, and the one at the end of each tree, would walk the warm
    # caches again; frozen, they are left alone.
    gc.freeze()
    _release_free_memory()
    return _rss_kb()


def _is_under(path: str | None, root: str) -> bool:
    return bool(path) and (path == root or path.startswith(root + os.sep))  # type: ignore[union-attr]


class ImportShield:  # pylint: disable=too-few-public-methods  # a meta path finder
    """Keeps Python's own imports out of the pushed tree while it is on sys.path.

    astroid finds the user's modules through sys.path, so the tree must be on it during a
    check. But pylint, astroid and the stdlib import modules lazily too; astroid even
    imports stdlib C extensions to inspect them, and `_pickle` then imports
    `_compat_pickle`. Without this finder, a pushed _compat_pickle.py would run in the
    checker. First on sys.meta_path, it answers every import while `roots` is set, from
    sys.path without the tree (builtin and frozen modules as usual).
    """

    def __init__(self) -> None:
        self.roots: tuple[str, ...] = ()

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        """The module's spec as if the tree were not on sys.path; None when no tree is."""
        if not self.roots:
            return None
        for finder in (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter):
            found = finder.find_spec(name, path, target)
            if found is not None:
                return found
        clean = [entry for entry in (sys.path if path is None else path)
                 if not any(_is_under(os.path.abspath(entry), root) for root in self.roots)]
        found = importlib.machinery.PathFinder.find_spec(name, clean, target)
        if found is None:
            # Not None: the finders after this one would search the tree.
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return found


class Linter:  # pylint: disable=too-few-public-methods  # one job: check()
    """A PyLinter built once from our rcfile, checking one file at a time."""

    def __init__(self, rcfile: str, disable: list[str]) -> None:
        # pylint: disable=import-outside-toplevel
        # Imported here, once the rlimits are in place.
        from pylint.config.config_initialization import _config_initialization
        from pylint.lint import PyLinter
        from pylint.reporters import CollectingReporter

        self.reporter = CollectingReporter()
        self.linter = PyLinter()
        self.linter.load_default_plugins()
        args = [f"--disable={','.join(disable)}"] if disable else []
        _config_initialization(self.linter, args, self.reporter, config_file=rcfile)
        config = self.linter.config
        if config.load_plugins or self.linter._dynamic_plugins or config.unsafe_load_any_extension:
            raise RuntimeError("the rcfile must not load plugins or C extensions")
        # Messages raised while reading the options (an unknown symbol in `disable`).
        if self.reporter.messages:
            raise RuntimeError("; ".join(m.msg for m in self.reporter.messages))
        self.linter.initialize()
        # The checkers are fixed once the linter is built (there are no plugins), but pylint
        # sorts them again on each file, comparing them by formatting their message tables:
        # a third of the time of a small file. Sort once.
        checkers = self.linter.get_checkers()
        self.linter.get_checkers = lambda: list(checkers)  # type: ignore[method-assign]
        self.forgetter = TreeForgetter()
        self._report_parser_exhaustion()
        self.shield = ImportShield()
        sys.meta_path.insert(0, self.shield)
        # (tree token, root, search path) of the tree astroid knows now; None: the baseline.
        self.tree: tuple[str | None, str, tuple[str, ...]] | None = None
        self.base_rss_kb = _settle_baseline()

    def check(self, root: str, relpath: str, tree: str | None = None) -> dict[str, Any]:
        """Lint root/relpath (posix) with the tree's own modules importable; one reply.

        Consecutive files of the same `tree` (a token naming one materialised commit) share
        what astroid learnt of it; another tree, or another folder put on sys.path, ends it
        first. Without a token the tree ends after this file.
        """
        # pylint: disable=import-outside-toplevel
        from pylint.typing import FileItem
        from pylint.utils import LinterStats

        filepath = os.path.join(root, *relpath.split("/"))
        base, modname = _module_name(root, relpath)
        search_path = list(dict.fromkeys([base, root]))
        context = (tree, root, tuple(search_path))
        if tree is None or context != self.tree:
            same_tree = tree is not None and self.tree is not None and self.tree[:2] == (tree, root)
            if not (same_tree and self.forgetter.switch(search_path)):
                self.end_tree()
                self.forgetter.start(root, search_path, learning=tree == WARM_UP_TREE)
            self.tree = context
        self.linter.stats = LinterStats()
        self.linter.msg_status = 0
        self.reporter.reset()
        self.linter.open()
        saved_path = sys.path[:]
        self.shield.roots = (root,)
        sys.path[:0] = search_path
        try:
            self.linter.check_single_file_item(FileItem(modname, filepath, modname))
        finally:
            sys.path[:] = saved_path
            self.shield.roots = ()
            self.forgetter.after_file()
            self._reset_checker_state()
        stats = self.linter.stats
        reply = {
            "ok": True,
            "messages": [_message_dict(m, root) for m in self.reporter.messages],
            "counts": {kind: getattr(stats, kind) for kind in MESSAGE_TYPES},
            "statement": stats.statement,
        }
        if tree is None:
            self.end_tree()
        reply["rss_kb"] = _rss_kb()
        return reply

    def end_tree(self) -> None:
        """Forget the tree astroid knows (back to the baseline) and give the memory back."""
        if self.tree is None:
            return
        learnt = self.tree[0] == WARM_UP_TREE
        self.tree = None
        self.forgetter.finish()
        if learnt:
            self.base_rss_kb = _settle_baseline()
        else:
            gc.collect()
            _release_free_memory()

    def warm_up(self, private_dir: str, module: str) -> None:
        """Check a small module using `module`, keeping what astroid built for it."""
        root = os.path.join(private_dir, "warm-up")
        os.mkdir(root, 0o700)
        with open(os.path.join(root, "warm_up.py"), "w", encoding="utf-8") as handle:
            handle.write(f'"""Warm-up."""\nimport {module}\n\n{WARM_UP_USES[module]}\n')
        try:
            self.check(root, "warm_up.py", WARM_UP_TREE)
        finally:
            self.end_tree()
            shutil.rmtree(root, ignore_errors=True)

    def _report_parser_exhaustion(self) -> None:
        """Let a parser that ran out of memory crash the check instead of faking a verdict.

        astroid turns a MemoryError of Python's parser into a syntax error, and pylint would
        report `syntax-error` on a file that is fine. We build the tree first (pylint then
        finds it in astroid's cache) and let that MemoryError through; a real syntax error
        goes on to pylint's own handling.
        """
        # pylint: disable=import-outside-toplevel
        from astroid import MANAGER
        from astroid.exceptions import AstroidBuildingError

        get_ast = self.linter.get_ast

        def get_ast_or_raise(filepath: str, modname: str, data: str | None = None) -> Any:
            try:
                MANAGER.ast_from_file(filepath, modname, source=True)
            except AstroidBuildingError as exc:
                cause = getattr(exc, "error", None)
                if isinstance(cause, MemoryError):
                    raise cause from exc
                # Anything else pylint reports itself (syntax-error, parse-error).
            return get_ast(filepath, modname, data)

        self.linter.get_ast = get_ast_or_raise  # type: ignore[method-assign]

    def _reset_checker_state(self) -> None:
        """Drop what checkers keep from one module to the next.

        pylint 4.1's ClassChecker never empties its map of accessed attributes, which holds
        every class it has seen and so every checked tree; a fresh map per file is what a
        fresh pylint would start with.
        """
        for checker in self.linter.get_checkers():
            accessed = getattr(checker, "_accessed", None)
            if accessed is not None:
                setattr(checker, "_accessed", type(accessed)())  # noqa: B010  # private to pylint


def _module_name(root: str, relpath: str) -> tuple[str, str]:
    """The sys.path entry and dotted name Python would use, never looking above root."""
    parts = relpath.split("/")
    top = len(parts) - 1
    while top > 0 and os.path.isfile(os.path.join(root, *parts[:top], "__init__.py")):
        top -= 1
    stem = parts[-1].removesuffix(".py")
    names = parts[top:-1] if stem == "__init__" and top < len(parts) - 1 else [*parts[top:-1], stem]
    return os.path.join(root, *parts[:top]), ".".join(names)


def _top_level_names(folders: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for folder in folders:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        names.update(entry.removesuffix(".py") for entry in entries)
    # Builtin modules cannot be shadowed by a file, in Python or in astroid.
    return names - set(sys.builtin_module_names)


class TreeForgetter:
    """Lets astroid learn one tree at a time, and forget it once the tree is done.

    A tree (one materialised commit) is checked file by file, and astroid keeps what it built
    for one file of the tree (the tree's modules and any others) for the next file of the same
    tree, as one pylint run over the tree would. Yet each file's result must be what a check of
    that file alone gives, and each tree must start from the same warm state, the *baseline*
    (the builtins and the warm-up's stdlib modules), whatever was checked before.

    Within a tree, file by file:
    - Building a module runs astroid's `delayed_assattr`, which adds `obj.attr = value` to the
      class or module of `obj`, even one of another module (a stdlib one, or another file of the
      tree). A check of a file alone sees such an addition only once it has asked astroid for
      the module making it (which builds it). So additions across modules are recorded per
      module and taken back after each file; when a later file asks for that module, from
      astroid's cache, they are made again, with those of every module its build asked for,
      as building it would.
    - astroid's lookup and inference caches are cleared: what an inference finds can depend on
      where it started (astroid cuts cycles), so every file starts with them empty.
    - A check may replace a baseline module: a relative import in a module outside any package
      asks astroid for the module named "" (a stub of astroid's string brain, built with the
      builtins). Each baseline module is put back.

    Once per tree (`start`, `finish`):
    - A user's random.py hides the stdlib's random for that tree, as it would for a cold pylint;
      cached modules of a hidden name are dropped when the tree starts.
    - When the tree is done, astroid's cache goes back to the baseline: the tree's modules go
      (astroid caches modules by name, so one commit's `helper` would answer for the next
      commit's), and so does every module first built for the tree (which may have bound to the
      user's files, and would make the process grow with every tree); hidden ones come back.
    - Python's import system keeps a finder per sys.path entry it has seen; the tree's go.
    - A file whose folder puts another entry on sys.path (no `__init__.py`) makes the tree's
      modules go at once (`switch`), since their names may now resolve to other files; the
      others stay unless the tree hides a name (then the tree is forgotten and started anew).
    """

    def __init__(self) -> None:
        self.root = ""
        self.hidden: set[str] = set()
        self.learning = False  # a warm-up step: what it builds outside the tree joins the baseline
        self.replay = AdditionReplay()
        # Names a user module could hide: the stdlib and whatever is installed.
        self.importable = _top_level_names(p for p in sys.path if os.path.isdir(p))
        self.importable.update(sys.stdlib_module_names)
        self._record_delayed_assattr()
        self._record_requests()
        # Built before any check, so that no check counts them as its own: the builtins and,
        # with them, the stub module "" of astroid's string brain.
        from astroid import MANAGER  # pylint: disable=import-outside-toplevel

        MANAGER.ast_from_module_name("builtins")
        self.baseline: dict[str, Any] = dict(MANAGER.astroid_cache)

    def start(self, root: str, search_path: list[str], learning: bool = False) -> None:
        """Before the first file of `root`, checked with `search_path` in front of sys.path."""
        from astroid import MANAGER  # pylint: disable=import-outside-toplevel

        self.root, self.learning = root, learning
        self.hidden = _top_level_names(search_path) & self.importable
        cache = MANAGER.astroid_cache
        for name in [n for n in cache if n.partition(".")[0] in self.hidden]:
            del cache[name]

    def switch(self, search_path: list[str]) -> bool:
        """Another folder of the tree goes on sys.path (one without `__init__.py`): forget the
        tree's modules, whose names may now resolve to other files, but keep the others; False
        (forget all) when either folder hides a name, which the others may have bound to."""
        from astroid import MANAGER  # pylint: disable=import-outside-toplevel

        if self.hidden or _top_level_names(search_path) & self.importable:
            return False
        cache = MANAGER.astroid_cache
        for name in [n for n, module in cache.items() if self._in_tree(module)]:
            del cache[name]
        return True

    def after_file(self) -> None:
        """After each file: take back additions across modules, restore the baseline's modules,
        clear the lookup caches."""
        from astroid import MANAGER  # pylint: disable=import-outside-toplevel

        self.replay.take_back()
        cache = MANAGER.astroid_cache
        for name, module in self.baseline.items():
            if cache.get(name) is not module and name.partition(".")[0] not in self.hidden:
                cache[name] = module
        _clear_lookup_caches()
        _release_object_models()

    def finish(self) -> None:
        """After the tree's last file: astroid's cache back to the baseline (a warm-up step
        adds to the baseline what it built outside the tree)."""
        from astroid import MANAGER  # pylint: disable=import-outside-toplevel

        self.after_file()
        self.replay = AdditionReplay()
        cache = MANAGER.astroid_cache
        if self.learning and not self.hidden:
            for name in [n for n, module in cache.items() if self._in_tree(module)]:
                del cache[name]
            self.baseline = dict(cache)
        else:
            cache.clear()
            cache.update(self.baseline)
        for entry in [e for e in sys.path_importer_cache if _is_under(e, self.root)]:
            del sys.path_importer_cache[entry]
        self.root, self.hidden, self.learning = "", set(), False
        _clear_lookup_caches()
        _release_object_models()

    def _in_tree(self, module: Any) -> bool:
        # Namespace packages (folders without __init__.py) have no file, only a path.
        return _is_under(module.file, self.root) or any(
            _is_under(entry, self.root) for entry in (module.path or ()))

    def _record_requests(self) -> None:
        """Follow each request for a module (astroid's three ways in) within a tree."""
        from astroid.manager import AstroidManager  # pylint: disable=import-outside-toplevel

        def following(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def request(manager: AstroidManager, *args: Any, **kwargs: Any) -> Any:
                if not self.root or self.learning:
                    return original(manager, *args, **kwargs)
                with self.replay.request() as asked:
                    module = original(manager, *args, **kwargs)
                self.replay.asked_for(module, asked)
                return module
            return request

        for name in ("ast_from_file", "ast_from_module_name", "ast_from_module"):
            setattr(AstroidManager, name, following(getattr(AstroidManager, name)))

    def _record_delayed_assattr(self) -> None:
        # pylint: disable=import-outside-toplevel
        from astroid.builder import AstroidBuilder
        from astroid.exceptions import InferenceError

        original = AstroidBuilder.delayed_assattr

        def delayed_assattr(builder: AstroidBuilder, node: Any) -> None:
            original(builder, node)
            if not self.root:
                return  # building the baseline
            module = node.root()
            if self.learning and not _is_under(module.file, self.root):
                return  # the warm-up's stdlib modules keep theirs, as part of the baseline
            try:
                # Cached: astroid inferred the same expression a moment ago.
                targets = list(node.expr.infer())
            except InferenceError:
                return
            for target in targets:
                for owner in (target, getattr(target, "_proxied", None)):
                    if owner is None or owner.root() is module:
                        continue  # an addition to the module's own names: part of its build
                    for attrs in (getattr(owner, "instance_attrs", None),
                                  getattr(owner, "locals", None)):
                        if isinstance(attrs, dict) and any(
                                value is node for value in attrs.get(node.attrname, ())):
                            self.replay.added(module, (attrs, node.attrname, node))

        AstroidBuilder.delayed_assattr = delayed_assattr


# (names of a module or class, attribute name, the AssignAttr node added to them)
_Addition = tuple[dict[str, list[Any]], str, Any]


class AdditionReplay:
    """What building each module of a tree added to other modules' names, taken back after
    each file and made again when a later file asks astroid for that module (see
    `TreeForgetter`)."""

    def __init__(self) -> None:
        # By id of the module whose build made them.
        self.additions: dict[int, list[_Addition]] = {}
        # By id of each module asked for in the tree: the module, and those its build asked for.
        self.asked: dict[int, tuple[Any, list[Any]]] = {}
        self.asking: list[list[Any]] = []  # requests under way, innermost last
        self.asked_now: set[int] = set()  # modules asked for during the current file
        self.applied: list[_Addition] = []  # to take back after the file

    def added(self, module: Any, addition: _Addition) -> None:
        """Building `module` made `addition` (to another module's names)."""
        self.additions.setdefault(id(module), []).append(addition)
        self.applied.append(addition)

    @contextlib.contextmanager
    def request(self) -> Iterator[list[Any]]:
        """Around a request for a module: collects the modules asked for on its way."""
        asked: list[Any] = []
        self.asking.append(asked)
        try:
            yield asked
        finally:
            self.asking.pop()

    def asked_for(self, module: Any, asked: list[Any]) -> None:
        """A request returned `module`, asking for `asked` on its way (when it built it)."""
        if self.asking:
            self.asking[-1].append(module)
        if id(module) not in self.asked:  # built just now (or from the baseline)
            self.asked[id(module)] = (module, asked)
            self.asked_now.add(id(module))
            return
        # From the cache: what building it would have done in this file, it does again, in
        # the same order (the modules its build asked for first, then its own additions).
        pending: list[tuple[Any, bool]] = [(module, False)]
        while pending:
            current, visited = pending.pop()
            if visited:
                self._add_again(current)
            elif id(current) not in self.asked_now:
                self.asked_now.add(id(current))
                pending.append((current, True))
                pending.extend((asked, False) for asked in
                               reversed(self.asked.get(id(current), (None, []))[1]))

    def take_back(self) -> None:
        """After each file: no addition stays for the next file until it asks for its maker."""
        for attrs, name, node in reversed(self.applied):
            values = attrs.get(name, [])
            values[:] = [value for value in values if value is not node]
            if not values:
                attrs.pop(name, None)
        self.applied.clear()
        self.asked_now.clear()

    def _add_again(self, module: Any) -> None:
        for attrs, name, node in self.additions.get(id(module), ()):
            values = attrs.setdefault(name, [])
            if not any(value is node for value in values):
                values.append(node)
                self.applied.append((attrs, name, node))


def _clear_lookup_caches() -> None:
    # These are private to astroid, but astroid's own MANAGER.clear_cache() clears exactly
    # them (and the whole module cache with them, which is what we want to keep warm).
    # pylint: disable=import-outside-toplevel,protected-access
    from astroid import MANAGER
    from astroid.context import _invalidate_cache as clear_inference_context_cache
    from astroid.inference_tip import clear_inference_tip_cache
    from astroid.interpreter import objectmodel
    from astroid.interpreter._import import spec, util
    from astroid.modutils import _cache_normalize_path_, _has_init, cached_os_path_isfile
    from astroid.nodes import ClassDef
    from astroid.nodes._base_nodes import LookupMixIn
    from pylint.checkers.clear_lru_cache import clear_lru_caches

    MANAGER._mod_file_cache.clear()  # keyed by (module name, importing file)
    clear_inference_tip_cache()
    clear_inference_context_cache()
    # The same list as astroid's MANAGER.clear_cache(), which would also drop the stdlib.
    lru_caches: list[Callable[..., Any]] = [
        LookupMixIn.lookup, ClassDef._metaclass_lookup_attribute,
        objectmodel.ObjectModel.attributes, util.is_namespace, spec._find_spec,
        spec._is_setuptools_namespace, _cache_normalize_path_, _has_init, cached_os_path_isfile,
        *(finder.find_module for finder in spec._SPEC_FINDERS),
    ]
    for lru_cache in lru_caches:
        lru_cache.cache_clear()  # type: ignore[attr-defined]
    clear_lru_caches()


def _release_object_models() -> None:
    """Let go of the last node each of astroid's special-attribute models described.

    The models (`Module.special_attributes` and the like) are class-level singletons that
    keep the last node they were called with, and with it that node's whole tree.
    """
    # pylint: disable=import-outside-toplevel,protected-access
    from astroid import bases, nodes
    from astroid.interpreter.objectmodel import ObjectModel

    pending: list[type] = [nodes.NodeNG, bases.Proxy]
    seen: set[type] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        model = vars(cls).get("special_attributes")
        if isinstance(model, ObjectModel):
            model._instance = None
        pending.extend(cls.__subclasses__())


def _message_dict(message: Any, root: str) -> dict[str, Any]:
    # The tree's temporary folder means nothing to the user, and differs from run to run.
    text = message.msg.replace(root + os.sep, "")
    return {
        "line": message.line,
        "column": message.column,
        "end_line": message.end_line,
        "end_column": message.end_column,
        "type": message.category,
        "symbol": message.symbol,
        "message_id": message.msg_id,
        "message": text,
    }


def _root_cause(exc: BaseException) -> BaseException:
    """pylint wraps crashes in AstroidError; the innermost exception names the real cause."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def _crash(exc: BaseException) -> dict[str, Any]:
    cause = _root_cause(exc)
    if isinstance(cause, MemoryError) or isinstance(exc, MemoryError):
        kind = "memory"
    elif isinstance(cause, RecursionError):
        kind = "recursion"
    else:
        kind = "crash"
    return {"ok": False, "kind": kind, "detail": f"{type(cause).__name__}: {cause}"[:500]}


class WarmUp:
    """The warm-up steps left, and the lock that keeps them out of the way of checks.

    The lint processes of one worker share a lock file: a check holds it shared, a warm-up
    step exclusively and only when it is free. So a process warms up only while no process of
    its worker is checking a file, and a check waits for at most the step under way.
    """

    def __init__(self, step: Callable[[str], None], lock_path: str) -> None:
        self.steps = list(WARM_UP_USES)
        self._step = step
        self._lock_path = lock_path
        self._lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600) if lock_path else -1

    def reopen(self) -> None:
        """In a tree process: a lock of its own (a forked descriptor shares its parent's)."""
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = os.open(self._lock_path, os.O_RDWR)

    def take_step(self) -> bool:
        """Take the next step unless a check holds the lock; whether it did."""
        if self._lock >= 0:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        try:
            _warm_up_step(self._step, self.steps.pop(0))
        finally:
            if self._lock >= 0:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
        return True

    @contextlib.contextmanager
    def checking(self) -> Iterator[None]:
        """Hold the lock shared while a file is checked."""
        if self._lock >= 0:
            fcntl.flock(self._lock, fcntl.LOCK_SH)
        try:
            yield
        finally:
            if self._lock >= 0:
                fcntl.flock(self._lock, fcntl.LOCK_UN)


def _read_line(fd: int) -> bytes:
    """One request line from `fd`, read a byte at a time: nothing after the line is taken
    from the pipe, which a tree process and its parent read in turn."""
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            return b""
        line += byte
    return bytes(line)


class ForkServer:  # pylint: disable=too-few-public-methods  # one job: serve()
    """The lint process as a fork server: it stays at the warm baseline and checks no file
    itself. The first request of a tree forks a *tree process*, which answers that request and
    the next ones of the tree, then exits at the tree's end (`{"end": true}`), so every tree
    starts from the same warm state for the cost of a fork, and whatever a tree built goes with
    its process, memory included.

    A tree process that crashed, or was killed (the CPU limit, the kernel's OOM killer), takes
    this process with it, as the one lint process of earlier did, so that the parent sees the
    same exit status and starts afresh.
    """

    def __init__(self, linter: Linter, requests: int, replies: IO[str],
                 warm_up: WarmUp | None = None) -> None:
        self.linter = linter
        self.requests = requests
        self.replies = replies
        self.warm_up = warm_up

    def serve(self) -> None:
        """Answer requests until our input closes; between trees, take the warm-up steps."""
        poller = select.poll()
        poller.register(self.requests, select.POLLIN)
        while True:
            # The parent sends one request and waits for its reply, so poll sees the next one
            # as soon as it is written.
            warm_up = self.warm_up
            if warm_up is not None and warm_up.steps and not poller.poll(0):
                if not warm_up.take_step():
                    poller.poll(100)  # another process is checking: look again shortly
                continue
            line = _read_line(self.requests)
            if not line:
                return
            request = json.loads(line)
            if request.get("end"):  # no tree under way here: its process has ended it
                self._answer_end()
                continue
            ended = self._fork_tree(request)
            if ended is None:
                return
            if ended.get("end"):
                self._answer_end()

    def _answer_end(self) -> None:
        _reply(self.replies, {"ok": True, "rss_kb": _rss_kb(),
                              "base_rss_kb": self.linter.base_rss_kb})

    def _fork_tree(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """Fork a tree process for `request` and what follows of its tree; its last word
        (`{"end": ...}`), or None when our input closed meanwhile."""
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the tree process: never returns
            os.close(read_end)
            code = 1
            try:
                code = self._tree_process(request, write_end)
            finally:
                if sys.__stderr__ is not None:
                    sys.__stderr__.flush()
                os._exit(code)  # pylint: disable=protected-access  # no cleanup of the parent's
        os.close(write_end)
        with os.fdopen(read_end, "rb") as said:
            last = said.read()  # until the tree process exits: before waiting, so it never blocks
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            died = os.WTERMSIG(status)
            if died not in (signal.SIGKILL, signal.SIGSTOP):  # these have no handler to reset
                signal.signal(died, signal.SIG_DFL)
            os.kill(os.getpid(), died)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(os.waitstatus_to_exitcode(status))
        return json.loads(last) if last else None

    def _tree_process(self, request: dict[str, Any], said: int) -> int:
        """Answer the tree's requests; 0 at the tree's end, 1 after a crash."""
        _limit_tree_process()
        if self.warm_up is not None:
            self.warm_up.reopen()
        linter = self.linter
        while True:
            if request.get("end"):
                os.write(said, b'{"end": true}')
                return 0
            with self.warm_up.checking() if self.warm_up is not None \
                    else contextlib.nullcontext():
                # Tell the parent the check starts now (its wall clock for the file starts here).
                _reply(self.replies, {"started": True, "pid": os.getpid()})
                if not _answer(linter, request, self.replies):
                    return 1
            if request.get("tree") is None:  # a file alone: its tree ended with it
                os.write(said, b'{"end": false}')
                return 0
            line = _read_line(self.requests)
            if not line:
                return 0
            request = json.loads(line)


def _reply(replies: IO[str], reply: dict[str, Any]) -> None:
    replies.write(json.dumps(reply) + "\n")
    replies.flush()


def _answer(linter: Linter, request: dict[str, Any], replies: IO[str]) -> bool:
    """Check the requested file and write the reply; False after a crash (then exit)."""
    _limit_cpu(float(request["cpu_s"]))
    # Tracebacks pylint prints on its way to raising land here, not in the parent's logs.
    sys.stderr = io.StringIO()
    try:
        reply = linter.check(request["root"], request["path"], request.get("tree"))
    except (Exception, RecursionError, MemoryError) as exc:  # pylint: disable=broad-except
        # The linter's state after a crash cannot be trusted: answer, then exit so the
        # parent starts a fresh process for the next file.
        _reply(replies, _crash(exc))
        return False
    finally:
        sys.stderr = sys.__stderr__
    reply["base_rss_kb"] = linter.base_rss_kb
    _reply(replies, reply)
    return True


def _warm_up_step(warm_up: Callable[[str], None], module: str) -> None:
    _limit_cpu(WARM_UP_CPU_S)
    sys.stderr = io.StringIO()
    try:
        warm_up(module)
    except (Exception, RecursionError, MemoryError) as exc:  # pylint: disable=broad-except
        # Only astroid's cache of a stdlib module is lost; checks go on without it.
        print(f"warm-up of {module} failed: {type(exc).__name__}: {exc}", file=sys.__stderr__)
    finally:
        sys.stderr = sys.__stderr__


def main(argv: list[str] | None = None) -> int:
    """Set the limits, build the linter, then answer requests until stdin closes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rcfile", required=True)
    parser.add_argument("--disable", default="")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--private-dir", default="")
    parser.add_argument("--warm", action="store_true",
                        help="warm up on WARM_UP_USES between requests")
    parser.add_argument("--warm-lock", default="",
                        help="lock file shared with the worker's other lint processes")
    args = parser.parse_args(argv)
    _set_limits(args.memory_mb)
    sys.dont_write_bytecode = True
    # The protocol keeps the real stdout; anything else printing to fd 1 goes to stderr.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    disable = [name for name in args.disable.split(",") if name]
    try:
        linter = Linter(args.rcfile, disable)
    except Exception as exc:  # pylint: disable=broad-except
        replies.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        replies.flush()
        return 1
    # pylint: disable-next=import-outside-toplevel
    from pylint import __version__ as pylint_version

    _reply(replies, {"ready": True, "pylint": pylint_version, "base_rss_kb": linter.base_rss_kb})
    try:
        warm = WarmUp(functools.partial(linter.warm_up, args.private_dir), args.warm_lock) \
            if args.warm and args.private_dir else None
        ForkServer(linter, sys.stdin.fileno(), replies, warm).serve()
    finally:
        # The parent removes the folder too, unless it died first (killed workers do): the
        # end of our input is then the only sign, and nobody else would clean up.
        if os.path.basename(args.private_dir).startswith(PRIVATE_DIR_PREFIX):
            shutil.rmtree(args.private_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
