"""Python source as highlighted HTML lines (Pygments), cached by blob sha.

A blob's content never changes, so its highlighted lines are kept in an LRU cache: the blob page
of a popular file costs one highlight, not one per view. Each line is balanced HTML (Pygments
closes its spans at line ends), so the page can put messages between lines.
"""

from __future__ import annotations

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter  # pylint: disable=no-name-in-module  # lazy names
from pygments.lexers import PythonLexer  # pylint: disable=no-name-in-module

from gitserver.core.lru import LruCache

_formatter = HtmlFormatter(nowrap=True)
_cache: LruCache[list[Markup]] = LruCache(
    max_entries=256, max_weight=64 * 1024 * 1024,
    weigh=lambda lines: sum(len(line) for line in lines))


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
    """The highlighted lines of a blob, from the cache when it was shown before."""
    return _cache.get_or_make(blob_sha, lambda: highlight_lines(text))
