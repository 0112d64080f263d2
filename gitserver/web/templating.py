"""The one Jinja2 environment of the web pages and `render()`, which every page handler uses.

`render(request, "page.html", {...})` adds `current_user` (the session's user, from
`request.user`), `csrf_token`, `base_url` and the flashed messages to the context, sends the
session cookie when it changed, and sets the security headers of our pages. The
Content-Security-Policy allows scripts and styles from our own origin only (`/static`): no
inline `<script>`, no `on...=` attributes, no CDN.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from gitserver.core.resources import template_dir
from gitserver.web import sessions
from gitserver.web.auth import visitor_of

TEMPLATE_DIR = template_dir("web")
STATIC_DIR = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                                "form-action 'self'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Activation links carry their key in the URL: never hand it to another site.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True))


@jinja2.pass_context
def csrf_input(context: Mapping[str, Any]) -> markupsafe.Markup:
    """`{{ csrf_input() }}` inside every `<form method="post">`."""
    return markupsafe.Markup('<input type="hidden" name="{}" value="{}">').format(
        context["csrf_field"], context["csrf_token"])


templates.env.globals["csrf_input"] = csrf_input


def render(request: Request, name: str, context: Mapping[str, Any] | None = None,
           status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """The HTML response of template `name` (under templates/web/) with the common context."""
    settings = request.app.state.settings
    context = dict(context or {})
    full: dict[str, Any] = {
        "request": request,
        # the navigation bar shows who is signed in on this browser (Basic credentials are
        # not a browser session: they cannot sign out); the 500 page passes None
        "current_user": context.pop("current_user") if "current_user" in context
        else visitor_of(request).session_user,
        "csrf_token": sessions.csrf_token(request),
        "csrf_field": sessions.CSRF_FIELD,
        "base_url": settings.server.base_url,
        "flashes": sessions.pop_flashes(request),
    }
    full.update(context)
    response = templates.TemplateResponse(request, name, full, status_code=status_code,
                                          headers={**SECURITY_HEADERS, **(headers or {})})
    return sessions.save(request, response)
