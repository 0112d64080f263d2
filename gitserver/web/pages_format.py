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
from gitserver.core.states import NO_STATE_COLOUR, STATE_COLOURS, STATE_SUCCESS, why
from gitserver.core.urls import commit_url
from gitserver.web.templating import templates

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
    css = escape(state) if state in STATE_COLOURS else "none"
    return Markup(f'<span class="badge state-bg-{css} state-badge"{id_attr} '
                  f'data-state="{word}">{STATE_ICONS.get(state, "")} {word}</span>')


def score_text(value: float | None, state: str | None = None) -> Markup:
    """The score, in the colour of the state it goes with (a failing file's 8.50 is not green)."""
    if value is None:
        return Markup('<span class="score">\u2014</span>')
    css = f" state-fg-{escape(state)}" if state in STATE_COLOURS else ""
    return Markup(f'<span class="score{css}">{value:.2f}</span>')


def reason(check: Any, element_id: str = "") -> Markup:
    """Why a check is not `success` ("1 error, score 7.20 < 8.00"); nothing for success."""
    if check is None or check.state == STATE_SUCCESS:
        return Markup("")
    id_attr = f' id="{escape(element_id)}"' if element_id else ""
    return Markup(f'<span class="small state-reason state-fg-{escape(check.state)}"{id_attr}>'
                  f"{escape(why(check))}</span>")


def states_css() -> str:
    """The state colours of gitserver.core.states as CSS classes (the CSP allows no inline
    styles), served as /static/css/states.css."""
    rules = [f".state-bg-{state} {{ background-color: {colour}; color: #fff; }}\n"
             f".state-fg-{state} {{ color: {colour}; }}"
             for state, colour in STATE_COLOURS.items()]
    rules.append(f".state-bg-none {{ background-color: {NO_STATE_COLOUR}; color: #fff; }}")
    return "\n".join(rules) + "\n"


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


def plural(count: int, word: str, many: str = "") -> str:
    """ "1 message", "2 messages" ("0 messages")."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def urlpath(value: str) -> str:
    """A path or branch for a URL: `#`, `?`, spaces and the like percent-encoded, `/` kept."""
    return quote(value, safe="/")


def install() -> None:
    """Register the helpers on the shared Jinja2 environment."""
    env = templates.env
    env.filters.update(score=score, ago=ago, utc=utc, iso=iso, urlpath=urlpath)
    env.globals.update(type_class=TYPE_CLASSES, state_badge=state_badge, score_text=score_text,
                       reason=reason, when=when, short=short, commit_link=commit_link,
                       change_badge=change_badge, plural=plural)
