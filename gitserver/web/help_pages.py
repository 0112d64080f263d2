"""`/help/pylint` and `/help/pylint/{symbol}`: what each pylint message means, why it matters,
how to fix it, an example, and where the signed-in user's own code has it.

pylint's description comes from the installed pylint (`core.pylint_messages`); the advice and
examples are ours (`core.pylint_examples`). A message id (`E0602`) or an old name
(`missing-docstring`) redirects to the symbol's page, so every link has one address.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from gitserver.core.models import Check, Commit, Repo, User
from gitserver.core.pylint_examples import advice
from gitserver.core.pylint_messages import CATEGORIES, catalogue
from gitserver.core.urls import blob_url, help_url
from gitserver.web.page_access import page_viewer
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute

MAX_NAME = 64  # the longest pylint symbol is ~40 characters
OCCURRENCES_SHOWN = 30
_CHECKS_SCANNED = 300


@page_viewer
def help_index(request: Request, _me: User | None) -> Response:
    """/help/pylint: every message of the installed pylint, by category."""
    found = catalogue()
    groups: dict[str, list[Any]] = {kind: [] for kind in CATEGORIES.values()}
    for info in found.messages:
        groups.setdefault(info.type, []).append(info)
    return render(request, "help_index.html", {
        "groups": [(kind, infos) for kind, infos in groups.items() if infos],
        "pylint_version": found.pylint_version})


@page_viewer
def help_message(request: Request, me: User | None) -> Response:
    """/help/pylint/{symbol}: one message explained."""
    name = request.path_params["symbol"][:MAX_NAME + 1]
    info = catalogue().find(name) if len(name) <= MAX_NAME else None
    if info is None:
        raise HTTPException(404, f"pylint has no message {name[:MAX_NAME]!r}. The list of "
                                 "every message is at /help/pylint.")
    if name != info.symbol:
        return RedirectResponse(help_url("", info.symbol), status_code=301)
    text, own = advice(info.symbol, info.type)
    return render(request, "help_message.html", {
        "info": info, "advice": text, "own_example": own,
        "occurrences": _occurrences(me, info.symbol) if me is not None else None})


def _occurrences(user: User, symbol: str) -> list[dict[str, Any]]:
    """Where the message is in the newest check of each file of the user's own repos."""
    # The JSON text of a check's messages holds `"symbol": "<symbol>"`: a LIKE finds the rows
    # that may hold it, the decoded messages decide.
    query = (Check.select(Check, Commit, Repo).join(Commit).switch(Check).join(Repo)
             .where((Repo.owner == user) & Check.messages.contains(f'"symbol": "{symbol}"'))
             .order_by(Check.id.desc()).limit(_CHECKS_SCANNED))
    seen: set[tuple[int, str]] = set()
    found: list[dict[str, Any]] = []
    for check in query:
        if (check.repo_id, check.path) in seen:
            continue
        seen.add((check.repo_id, check.path))
        for message in check.message_list:
            if message.get("symbol") == symbol and len(found) < OCCURRENCES_SHOWN:
                found.append({
                    "repo": check.repo.name, "path": check.path, "line": message.get("line"),
                    "message": message.get("message"), "sha": check.commit.sha,
                    "url": blob_url("", user.username, check.repo.name, check.commit.sha,
                                    check.path) + f"#L{message.get('line')}"})
    return found


routes: list[BaseRoute] = [
    PageRoute("/help/pylint", help_index),
    PageRoute("/help/pylint/{symbol}", help_message),
]
