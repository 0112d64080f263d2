"""How the pages show states, scores, times and commits: helpers on the shared Jinja2 environment.

Plain functions returning `Markup` (every value inside passes through `escape`) rather than Jinja
macros: the status page calls them a few hundred times, and a Python call costs a fraction of a
macro call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from gitserver.core.models import utcnow
from gitserver.core.urls import commit_url
from gitserver.web.templating import templates

STATE_CLASSES = {"success": "success", "failure": "danger", "error": "warning",
                 "pending": "secondary"}
STATE_ICONS = {"success": "\u2713", "failure": "\u2717", "error": "!", "pending": "\u25cf"}
TYPE_CLASSES = {"fatal": "danger", "error": "danger", "warning": "warning",
                "refactor": "info", "convention": "secondary", "info": "light"}
CHANGE_MARKS = {"added": "A", "modified": "M", "deleted": "D"}


def score(value: float | None) -> str:
    """A score as shown: two decimals, a dash when unknown."""
    return "\u2014" if value is None else f"{value:.2f}"


def ago(value: dt.datetime | None) -> str:
    """'3 minutes ago' for a naive-UTC timestamp."""
    if value is None:
        return ""
    seconds = int((utcnow() - value).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            if unit == "day" and count > 30:
                return value.strftime("on %Y-%m-%d")
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def utc(value: dt.datetime | None) -> str:
    """An absolute UTC time for titles and cached fragments."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: dt.datetime | None) -> str:
    """ISO 8601 UTC, for <time datetime>."""
    return "" if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def state_badge(state: str | None, element_id: str = "") -> Markup:
    """A coloured badge with the state; `data-state` lets scripts and tests read it."""
    id_attr = f' id="{escape(element_id)}"' if element_id else ""
    if not state:
        return Markup(f'<span class="badge text-bg-light border state-badge"{id_attr} '
                      'data-state="">not checked</span>')
    word = escape(state)
    return Markup(f'<span class="badge text-bg-{STATE_CLASSES.get(state, "secondary")} '
                  f'state-badge"{id_attr} data-state="{word}">{STATE_ICONS.get(state, "")} '
                  f"{word}</span>")


def score_text(value: float | None) -> Markup:
    """The score, green from 8 up, red below."""
    if value is None:
        return Markup('<span class="score">\u2014</span>')
    colour = "text-success" if value >= 8 else "text-danger"
    return Markup(f'<span class="score {colour}">{value:.2f}</span>')


def when(value: dt.datetime | None) -> Markup:
    """A relative time with the exact one as its title."""
    return Markup(f'<time datetime="{iso(value)}" title="{utc(value)}">{ago(value)}</time>')


def short(sha: str) -> Markup:
    """The abbreviated sha."""
    return Markup(f'<code class="sha">{escape(sha[:7])}</code>')


def commit_link(full_name: str, commit: Any) -> Markup:
    """The abbreviated sha linking to the commit's status page."""
    owner, _, name = full_name.partition("/")
    return Markup(f'<a href="{escape(commit_url("", owner, name, commit.sha))}" '
                  f'class="text-decoration-none">{short(commit.sha)}</a>')


def change_badge(change: str | None) -> Markup:
    """A/M/D for a file added, modified or deleted by the commit."""
    mark = CHANGE_MARKS.get(change or "")
    if not mark:
        return Markup("")
    return Markup(f'<span class="change change-{change}" title="{change}">{mark}</span>')


def urlpath(value: str) -> str:
    """A path or branch for a URL: `#`, `?`, spaces and the like percent-encoded, `/` kept."""
    return quote(value, safe="/")


def install() -> None:
    """Register the helpers on the shared Jinja2 environment."""
    env = templates.env
    env.filters.update(score=score, ago=ago, utc=utc, iso=iso, urlpath=urlpath)
    env.globals.update(type_class=TYPE_CLASSES, state_badge=state_badge, score_text=score_text,
                       when=when, short=short, commit_link=commit_link,
                       change_badge=change_badge)
