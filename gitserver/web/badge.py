"""`/{owner}/{repo}/badge.svg`: the state and score of a branch's tip, as a README badge.

Caches (browsers, GitHub's image proxy) may keep a final verdict for a minute and must ask again
while checks are pending; the ETag lets them ask cheaply. A refused request gets a plain 404,
never a sign-in redirect or a password dialog: an `<img>` cannot sign in.
"""

from __future__ import annotations

import hashlib

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Repo
from gitserver.core.queries import (
    commit_checks,
    get_commit,
    resolve_ref,
)
from gitserver.core.states import NO_STATE_COLOUR, STATE_COLOURS, combined_state, commit_score
from gitserver.web.auth import repo_access
from gitserver.web.page_access import throttled

WORDS = {"success": "passing", "failure": "failing", "error": "error", "pending": "pending"}
_CHAR_PX = 6.8  # mean advance of Verdana 11px, which the SVG asks for
_PAD_PX = 10

TEMPLATE = """<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" \
role="img" aria-label="{label}: {text}">
<title>{label}: {text}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>\
<stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>\
<rect x="{left}" width="{right}" height="20" fill="{colour}"/>\
<rect width="{width}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" \
font-size="11">
<text x="{label_x}" y="14">{label}</text><text x="{text_x}" y="14">{text}</text></g>
</svg>
"""


def render_badge(label: str, text: str, colour: str) -> str:
    """The SVG of a two-part badge, sized for Verdana 11px."""
    left = round(len(label) * _CHAR_PX) + _PAD_PX
    right = round(len(text) * _CHAR_PX) + _PAD_PX
    return TEMPLATE.format(width=left + right, left=left, right=right, colour=colour,
                           label=escape(label), text=escape(text), label_x=left / 2,
                           text_x=left + right / 2)


def verdict(state: str | None, score: float | None) -> tuple[str, str]:
    """(text, colour) for a tip's state and score; state None: no commit yet."""
    if state is None:
        return "no commits", NO_STATE_COLOUR
    words = WORDS.get(state, state)
    text = words if score is None or state == "pending" else f"{score:.2f} {words}"
    return text, STATE_COLOURS.get(state, NO_STATE_COLOUR)


def _tip(request: Request, repo: Repo) -> tuple[str | None, str | None, float | None]:
    """(sha, state, score) of the tip of ?branch= (default: the default branch)."""
    branch = request.query_params.get("branch") or repo.default_branch
    sha = resolve_ref(GitRepo.find(request.app.state.settings.repos_dir, repo), repo, branch)
    commit = get_commit(repo, sha) if sha else None
    if commit is None:
        return sha, None, None
    checks = commit_checks(commit)
    return sha, combined_state([c.state for c in checks]), commit_score(checks)


def badge(request: Request) -> Response:
    """The badge of the default branch (or ?branch=) tip."""
    access = repo_access(request, write=False)
    if access.status == 429:  # as on the pages: wrong guesses must not go on unnoticed
        raise throttled(access.retry_after)
    if not access.allowed or access.repo is None:
        return PlainTextResponse("Not found.\n", status_code=404)
    repo = access.repo
    sha, state, score = _tip(request, repo)
    text, colour = verdict(state, score)
    etag = '"' + hashlib.sha256(f"{sha}:{text}".encode()).hexdigest()[:20] + '"'
    scope = "private" if repo.private else "public"
    cache = "no-cache" if state in (None, "pending") else f"{scope}, max-age=60"
    headers = {"Cache-Control": cache, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(render_badge("pylint", text, colour), media_type="image/svg+xml",
                    headers=headers)
