"""`/unsubscribe/{token}`: the one-click link of report mails (RFC 8058 `List-Unsubscribe`).

The signed token (`core.unsubscribe`) is the credential: no sign-in, and no CSRF token, since a
mail client POSTs `List-Unsubscribe=One-Click` from the inbox without any cookie of ours. A
forged POST can at worst turn off someone's report mails, and only with a token the server
signed for that user. GET shows a confirmation button and changes nothing (mail scanners follow
links); POST sets the user's report mails to `none`. The body is never read.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gitserver.core import accounts
from gitserver.core.models import User
from gitserver.core.unsubscribe import unsubscribe_user_id
from gitserver.core.urls import mail_settings_url
from gitserver.web.templating import render

logger = logging.getLogger(__name__)


def unsubscribe(request: Request) -> Response:
    """GET: confirm; POST (one click from the mail client, or the button): stop report mails."""
    secret = request.app.state.settings.server.secret_key
    user_id = unsubscribe_user_id(secret, request.path_params["token"])
    user = User.get_or_none(User.id == user_id) if user_id is not None else None
    if user is None:
        return render(request, "unsubscribe.html", {"user": None, "done": False},
                      status_code=404)
    done = request.method == "POST"
    if done:
        accounts.set_mail_reports(user, accounts.MAIL_NONE)
        logger.info("report mails turned off for %s by its unsubscribe link", user.username)
    return render(request, "unsubscribe.html", {
        "user": user, "done": done, "settings_url": mail_settings_url("")})


routes: list[BaseRoute] = [
    Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
]
