"""The status page of a commit: summary, what changed since the parent, every file's messages.

Built to stay fast for big commits (50 files, 500 messages render in a few ms): one query for
the commit's checks and one for its parent's; the messages of a final check never change (a
result is written once, while the row is pending), so their rendered HTML and counts are kept
in an LRU cache keyed by the check, and a warm page parses no JSON and loops over no message.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gitserver.core.access import Access
from gitserver.core.gitrepo import GitRepo
from gitserver.core.lru import LruCache
from gitserver.core.models import CHANGE_UNCHANGED, Check, Commit
from gitserver.core.queries import (
    FULL_SHA_RE,
    ParentDiff,
    deleted_files,
    get_commit,
    resolve_ref,
    since_parent,
)
from gitserver.core.states import (
    COUNT_COLUMNS,
    FINAL_STATES,
    STATE_PENDING,
    TYPE_ORDER,
    combined_state,
    commit_reason,
    commit_score,
)
from gitserver.core.urls import api_checks_url, commit_url
from gitserver.web.diffs import diffs_html, file_diffs
from gitserver.web.page_access import page_repo, repo_context
from gitserver.web.templating import render, templates


@dataclass(frozen=True)
class FileCard:
    """A file's rendered card with what the summary counts of it."""
    html: Markup  # the file's card: header, messages grouped by symbol, footer
    count: int
    types: Counter[str]


_fragments: LruCache[Any] = LruCache(
    max_entries=8192, max_weight=48 * 1024 * 1024,
    # a since-parent entry holds its HTML and the diff it shows, about as big again
    weigh=lambda value: len(value.html) if isinstance(value, FileCard) else 2 * len(value[1]))

@dataclass
class CheckRow:  # pylint: disable=too-many-instance-attributes  # one per column shown
    """What the page shows of a check, read as plain tuples (a peewee model per row costs more
    than the rest of the page); `messages` is read only for cards not in the cache."""
    id: int
    path: str
    blob_sha: str
    change: str
    state: str
    score: float | None
    duration_ms: int | None
    error: str | None
    reused: bool
    checked_at: dt.datetime | None
    emailed_at: dt.datetime | None
    statements: int | None
    fatal_count: int | None
    error_count: int | None
    warning_count: int | None
    refactor_count: int | None
    convention_count: int | None
    fail_under: float | None
    messages: str | None = None

    @property
    def message_list(self) -> list[dict[str, Any]]:
        """The messages, as Check.message_list has them."""
        return json.loads(self.messages or "[]")


_COLUMNS = [Check.id, Check.path, Check.blob_sha, Check.change, Check.state, Check.score,
            Check.duration_ms, Check.error, Check.reused, Check.checked_at, Check.emailed_at,
            *[getattr(Check, name) for name in COUNT_COLUMNS], Check.fail_under]


def grouped(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages grouped by symbol, worst type first, each group in line order."""
    groups: dict[str, dict[str, Any]] = {}
    for message in messages:
        symbol = message.get("symbol") or "?"
        group = groups.setdefault(symbol, {
            "symbol": symbol, "type": message.get("type") or "",
            "message_id": message.get("message_id") or "", "messages": []})
        group["messages"].append(message)
    for group in groups.values():
        group["messages"].sort(key=lambda m: (m.get("line") or 0, m.get("column") or 0))
    return sorted(groups.values(), key=lambda g: (TYPE_ORDER.get(g["type"], 9), g["symbol"]))


def _card_key(check: CheckRow, sha: str, index: int) -> tuple[Any, ...] | None:
    """The cache key of a final check's card; None while pending (it will change)."""
    if check.state not in FINAL_STATES:
        return None
    # checked_at and the path guard against a row id reused after a repository was deleted
    return ("card", check.id, sha, check.path, index, check.checked_at, check.emailed_at)


def _load_messages(checks: list[CheckRow]) -> None:
    """Fill in the `messages` of checks read without them, in one query."""
    if checks:
        rows = Check.select(Check.id, Check.messages).where(
            Check.id.in_([c.id for c in checks])).tuples()
        texts: dict[int, str] = dict(cast(Iterable[tuple[int, str]], rows))
        for check in checks:
            check.messages = texts[check.id]


def _file_cards(repo_url: str, sha: str, checks: list[CheckRow]) -> list[FileCard]:
    keys = [_card_key(check, sha, index) for index, check in enumerate(checks, 1)]
    cards: list[FileCard | None] = [_fragments.get(k) if k else None for k in keys]
    _load_messages([c for c, card in zip(checks, cards, strict=True) if card is None])
    template = templates.env.get_template("_file_card.html")
    for position, (check, key) in enumerate(zip(checks, keys, strict=True)):
        if cards[position] is not None:
            continue
        messages = check.message_list
        card = FileCard(Markup(template.render(
            repo_url=repo_url, sha=sha, check=check, index=position + 1,
            groups=grouped(messages), count=len(messages))), len(messages),
            Counter(m.get("type") or "" for m in messages))
        cards[position] = _fragments.put(key, card) if key else card
    return [card for card in cards if card is not None]


def _diff_html(repo_url: str, commit: Commit, checks: list[CheckRow],
               before: list[CheckRow] | None) -> tuple[ParentDiff | None, Markup]:
    def make() -> tuple[ParentDiff | None, Markup]:
        if before:  # without the parent's checks there is nothing to compare
            _load_messages([c for c in checks + before if c.messages is None])
        diff = since_parent(commit, checks, before)
        html = templates.env.get_template("_since_parent.html").render(
            repo_url=repo_url, sha=commit.sha, diff=diff) if diff else ""
        return diff, Markup(html)
    everything = checks + (before or [])
    if not before or any(c.state not in FINAL_STATES for c in everything):
        return make()
    stamp = max((c.checked_at for c in everything if c.checked_at), default=None)
    key = ("diff", commit.repo_id, commit.sha, commit.parent_sha, len(everything), stamp)
    found = _fragments.get(key)
    return found if found is not None else _fragments.put(key, make())


def _changed_first(cards: list[FileCard], checks: list[CheckRow]) -> dict[str, list[FileCard]]:
    """The cards of the files the commit changed, and the unchanged ones, listed apart."""
    pairs = list(zip(cards, checks, strict=True))
    return {"cards": [card for card, c in pairs if c.change != CHANGE_UNCHANGED],
            "unchanged_cards": [card for card, c in pairs if c.change == CHANGE_UNCHANGED]}


def _changes_html(request: Request, access: Access, commit: Commit, checks: list[CheckRow],
                  before: list[CheckRow] | None) -> Markup:
    """Each changed file's diff against the first parent, messages at their lines."""
    assert access.repo is not None
    git = GitRepo.find(request.app.state.settings.repos_dir, access.repo)
    if git is None:
        return Markup("")
    parent = commit.parent_sha or None
    shown, more = file_diffs(
        git, parent, commit.sha, {c.path: c for c in checks},
        {c.path: c for c in before} if before else None,
        load=lambda found: _load_messages([c for c in found if c.messages is None]))
    return diffs_html(repo_context(request, access, "commits")["repo_url"], commit.sha, parent,
                      shown, more)


def _light_checks(where: Any) -> list[CheckRow]:
    query = Check.select(*_COLUMNS).join(Commit).where(where).order_by(Check.path)
    return [CheckRow(*cast(tuple[Any, ...], row)) for row in query.tuples()]


@page_repo()
def commit_page(request: Request, access: Access) -> Response:
    """/{owner}/{repo}/commit/{sha}: the status page."""
    assert access.repo is not None
    ref = request.path_params["sha"]
    # The usual link holds the full sha: one query, no look at the refs on disk.
    commit = get_commit(access.repo, ref) if FULL_SHA_RE.fullmatch(ref) else None
    if commit is None:
        git = GitRepo.find(request.app.state.settings.repos_dir, access.repo)
        sha = resolve_ref(git, access.repo, ref)
        commit = get_commit(access.repo, sha) if sha else None
    if commit is None:
        raise HTTPException(404, f"There is no commit {ref!r} in {access.full_name}.")
    if ref != commit.sha:  # a branch or a short sha: one URL per commit
        return RedirectResponse(commit_url("", access.owner, access.repo.name, commit.sha),
                                status_code=302)
    context = repo_context(request, access, "commits")
    repo_url = context["repo_url"]
    checks = _light_checks(Check.commit == commit.id)
    cards = _file_cards(repo_url, commit.sha, checks)
    types: Counter[str] = Counter()
    for card in cards:
        types.update(card.types)
    before = None if not commit.parent_sha else _light_checks(
        (Commit.repo == commit.repo_id) & (Commit.sha == commit.parent_sha))
    diff, diff_html = _diff_html(repo_url, commit, checks, before)
    return render(request, "commit.html", {
        **context, "commit": commit, "checks": checks,
        "state": combined_state([c.state for c in checks]),
        "state_reason": commit_reason([c.state for c in checks]),
        "score": commit_score(checks),
        "changes_html": _changes_html(request, access, commit, checks, before),
        **_changed_first(cards, checks),
        "pending": any(c.state == STATE_PENDING for c in checks),
        "message_count": sum(types.values()),
        "types": sorted(types.items(), key=lambda t: TYPE_ORDER.get(t[0], 9)),
        "deleted": deleted_files(commit), "diff": diff, "diff_html": diff_html,
        "checks_url": api_checks_url("", access.owner, access.repo.name, commit.sha)})
