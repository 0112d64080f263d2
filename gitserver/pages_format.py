"""How the pages show states, scores and times: Jinja2 filters on the shared environment."""

from __future__ import annotations

import datetime as dt

from .models import utcnow
from .templating import templates

STATE_CLASSES = {"success": "success", "failure": "danger", "error": "warning",
                 "pending": "secondary"}
STATE_ICONS = {"success": "\u2713", "failure": "\u2717", "error": "!", "pending": "\u25cf"}
TYPE_CLASSES = {"fatal": "danger", "error": "danger", "warning": "warning",
                "refactor": "info", "convention": "secondary", "info": "light"}
CHANGE_MARKS = {"added": "A", "modified": "M", "deleted": "D", "unchanged": ""}


def score(value: float | None) -> str:
    return "\u2014" if value is None else f"{value:.2f}"


def ago(value: dt.datetime | None) -> str:
    """'3 minutes ago' for a naive-UTC timestamp."""
    if value is None:
        return ""
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            if unit == "day" and count > 30:
                return value.strftime("on %Y-%m-%d")
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def utc(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def install() -> None:
    env = templates.env
    env.filters.update(score=score, ago=ago, utc=utc, iso=iso)
    env.globals.update(state_class=STATE_CLASSES, state_icon=STATE_ICONS,
                       type_class=TYPE_CLASSES, change_mark=CHANGE_MARKS)
