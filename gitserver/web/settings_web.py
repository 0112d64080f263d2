"""/settings: access tokens (create, list, revoke), report mails, password, sessions.

Only for the user signed in on this browser (`@session_page`): Basic credentials do not open
these pages, so a leaked access token cannot mint new tokens that outlive its revocation.
"""

from __future__ import annotations

import logging

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core import accounts
from gitserver.core.auth import check_password
from gitserver.core.models import User
from gitserver.core.throttle import Throttle, Throttled
from gitserver.core.urls import login_url
from gitserver.web import sessions
from gitserver.web.page_access import session_page, session_user
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute, client_address, field, redirect

logger = logging.getLogger(__name__)

MAIL_REPORT_LABELS = {
    accounts.MAIL_EVERY: "Every push: one report mail per push",
    accounts.MAIL_CHANGES: "Only changes: when a branch's state changes (failing \u2192 passing, "
                           "or back) or a push brings new messages",
    accounts.MAIL_NONE: "None: no report mails",
}


def settings_page(request: Request, user: User, status_code: int = 200,
                  **messages: str) -> Response:
    """The settings page; `messages`: new_token, token_error, password_error."""
    return render(request, "settings.html", {
        "user": user, "tokens": accounts.list_tokens(user), "new_token": "",
        "token_error": "", "password_error": "", **messages,
        "mail_choices": MAIL_REPORT_LABELS, "min_password": accounts.MIN_PASSWORD,
    }, status_code=status_code)


@session_page("/settings")
def settings_get(request: Request, user: User) -> Response:
    """GET /settings, for signed-in users; others go to sign in first."""
    return settings_page(request, user)


@session_page("/settings")
def create_token(request: Request, user: User, form: FormData) -> Response:
    """POST /settings/tokens: the new token is shown once, in this response."""
    try:
        token = accounts.issue_token(user, field(form, "name"))
    except accounts.AccountError as exc:
        return settings_page(request, user, token_error=str(exc), status_code=400)
    logger.info("token created for %s", user.username)
    # Shown in this response only: it is stored hashed and no later page can show it again.
    return settings_page(request, user, new_token=token)


@session_page("/settings")
def revoke_token(request: Request, user: User, _form: FormData) -> Response:
    """POST /settings/tokens/{id}/revoke: the token stops working at once."""
    try:
        token_id = int(request.path_params["token_id"])
    except ValueError:
        token_id = 0
    name = accounts.revoke_token(user, token_id)
    if name is None:
        sessions.flash(request, "That token does not exist (any more).", "warning")
    else:
        # The authenticator remembers recent successes for a minute; the token must die now.
        request.app.state.authenticator.forget()
        logger.info("token revoked for %s", user.username)
        sessions.flash(request, f"The token \u201c{name}\u201d is revoked: it no longer works.",
                       "success")
    return redirect(request, "/settings")


@session_page("/settings")
def mail_reports(request: Request, user: User, form: FormData) -> Response:
    """POST /settings/mail: every, changes or none."""
    try:
        accounts.set_mail_reports(user, field(form, "mail_reports"))
    except accounts.AccountError as exc:
        sessions.flash(request, f"Report mails unchanged: {exc}.", "danger")
        return redirect(request, "/settings")
    sessions.flash(request, "Report mail setting saved.", "success")
    return redirect(request, "/settings")


@session_page("/settings")
def change_password(request: Request, user: User, form: FormData) -> Response:
    """POST /settings/password: needs the current one; ends other sessions."""
    throttle: Throttle = request.app.state.throttle
    address = client_address(request)
    try:
        throttle.check(user.username, address)
    except Throttled as exc:
        return settings_page(request, user, status_code=429, password_error=(
            f"Too many wrong passwords; wait {exc.retry_after} seconds and try again."))
    if not check_password(user, field(form, "current_password")):
        throttle.failed(user.username, address)
        return settings_page(request, user, password_error="The current password is wrong.",
                             status_code=400)
    try:
        accounts.change_password(user, field(form, "new_password"))
    except accounts.AccountError as exc:
        return settings_page(request, user, password_error=f"Not changed: {exc}.",
                             status_code=400)
    # Every other session of the user ends; this browser stays signed in.
    sessions.end_sessions(user.id, keep=request)
    request.app.state.authenticator.forget()
    logger.info("password changed for %s", user.username)
    sessions.flash(request, "Password changed. Other browsers have been signed out.", "success")
    return redirect(request, "/settings")


@session_page("/settings")
def sign_out_everywhere(request: Request, user: User, _form: FormData) -> Response:
    """POST /settings/sessions: end every session of the user, this browser's included."""
    ended = sessions.end_sessions(user.id)
    sessions.sign_out(request)
    logger.info("%s signed out everywhere (%d sessions)", user.username, ended)
    sessions.flash(request, "You are signed out in every browser. Access tokens keep working; "
                            "revoke them on this page after you sign in again.", "success")
    return redirect(request, login_url(""))


routes: list[BaseRoute] = [
    PageRoute("/settings", settings_get),
    PageRoute("/settings/tokens", settings_get, create_token, guard=session_user),
    PageRoute("/settings/tokens/{token_id}/revoke", post=revoke_token, guard=session_user),
    PageRoute("/settings/mail", post=mail_reports, guard=session_user),
    PageRoute("/settings/password", post=change_password, guard=session_user),
    PageRoute("/settings/sessions", post=sign_out_everywhere, guard=session_user),
]
