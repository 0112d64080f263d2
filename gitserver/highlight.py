"""Python source as highlighted HTML lines (Pygments), cached by blob sha.

A blob's content never changes, so its highlighted lines are kept in a small LRU cache: the blob
page of a popular file costs one highlight, not one per view. Each line is balanced HTML
(Pygments closes its spans at line ends), so the page can put messages between lines.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

CACHE_ENTRIES = 256
CACHE_MAX_CHARS = 256 * 1024  # larger files are highlighted on every view instead of kept

_cache: OrderedDict[str, list[Markup]] = OrderedDict()
_lock = threading.Lock()
_formatter = HtmlFormatter(nowrap=True)


def highlight_lines(text: str) -> list[Markup]:
    """One balanced HTML fragment per source line."""
    lexer = PythonLexer(stripnl=False, ensurenl=False)
    html = highlight(text, lexer, _formatter)
    count = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    lines = html.split("\n")[:count]
    lines += [""] * (count - len(lines))
    # Pygments output is escaped HTML made from our lexer's tokens: safe to mark as such.
    return [Markup(line) for line in lines]


def lines_for_blob(blob_sha: str, text: str) -> list[Markup]:
    with _lock:
        hit = _cache.get(blob_sha)
        if hit is not None:
            _cache.move_to_end(blob_sha)
            return hit
    lines = highlight_lines(text)
    if len(text) <= CACHE_MAX_CHARS:
        with _lock:
            _cache[blob_sha] = lines
            while len(_cache) > CACHE_ENTRIES:
                _cache.popitem(last=False)
    return lines


def stylesheet() -> str:
    """The CSS of the highlighting (written once to static/css/pygments.css)."""
    rules = HtmlFormatter(style="default").get_style_defs(".source").splitlines()
    return "\n".join(rule for rule in rules if rule.startswith(".source"))
