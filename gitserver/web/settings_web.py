"""/settings: access tokens (create, list, revoke), report mails, password. Signed-in users only."""

from __future__ import annotations

import logging

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gitserver.core import accounts
from gitserver.core.auth import check_password
from gitserver.core.models import User
from gitserver.core.throttle import Throttle, Throttled
from gitserver.web import sessions
from gitserver.web.templating import render
from gitserver.web.webforms import SyncForm, client_address, field, login_url, page, redirect

logger = logging.getLogger(__name__)

MAIL_REPORT_LABELS = {
    "all": "Every push: one report mail per push",
    "failures": "Only pushes with a failing or broken check",
    "off": "None: no report mails",
}


def settings_page(request: Request, user: User, status_code: int = 200,
                  **messages: str) -> Response:
    """The settings page; `messages`: new_token, token_error, password_error."""
    return render(request, "settings.html", {
        "user": user, "tokens": accounts.list_tokens(user), "new_token": "",
        "token_error": "", "password_error": "", **messages,
        "mail_choices": MAIL_REPORT_LABELS, "min_password": accounts.MIN_PASSWORD,
    }, status_code=status_code)


def settings_get(request: Request) -> Response:
    """GET /settings, for signed-in users; others go to sign in first."""
    user = sessions.current_user(request)
    if user is None:
        return redirect(request, login_url("/settings"))
    return settings_page(request, user)


def signed_in(post: SyncForm) -> SyncForm:
    """A POST handler for signed-in users; others are sent to sign in first."""
    def handler(request: Request, form: FormData) -> Response:
        if sessions.current_user(request) is None:
            return redirect(request, login_url("/settings"))
        return post(request, form)
    return handler


def _user(request: Request) -> User:
    user = sessions.current_user(request)
    assert user is not None  # signed_in() checked
    return user


@signed_in
def create_token(request: Request, form: FormData) -> Response:
    """POST /settings/tokens: the new token is shown once, in this response."""
    user = _user(request)
    try:
        token = accounts.issue_token(user, field(form, "name"))
    except accounts.AccountError as exc:
        return settings_page(request, user, token_error=str(exc), status_code=400)
    logger.info("token created for %s", user.username)
    # Shown in this response only: it is stored hashed and no later page can show it again.
    return settings_page(request, user, new_token=token)


@signed_in
def revoke_token(request: Request, _form: FormData) -> Response:
    """POST /settings/tokens/{id}/revoke: the token stops working at once."""
    user = _user(request)
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


@signed_in
def mail_reports(request: Request, form: FormData) -> Response:
    """POST /settings/mail: all, failures or off."""
    user = _user(request)
    try:
        accounts.set_mail_reports(user, field(form, "mail_reports"))
    except accounts.AccountError as exc:
        sessions.flash(request, f"Report mails unchanged: {exc}.", "danger")
        return redirect(request, "/settings")
    sessions.flash(request, "Report mail setting saved.", "success")
    return redirect(request, "/settings")


@signed_in
def change_password(request: Request, form: FormData) -> Response:
    """POST /settings/password: needs the current one; ends other sessions."""
    user = _user(request)
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
    # Every other session of the user ends; this browser signs in again under the new version.
    sessions.bump_version(user.id)
    request.app.state.authenticator.forget()
    sessions.sign_in(request, user)
    logger.info("password changed for %s", user.username)
    sessions.flash(request, "Password changed. Other browsers have been signed out.", "success")
    return redirect(request, "/settings")


routes: list[BaseRoute] = [
    Route("/settings", page(settings_get)),
    Route("/settings/tokens", page(settings_get, create_token), methods=["GET", "POST"]),
    Route("/settings/tokens/{token_id}/revoke", page(settings_get, revoke_token),
          methods=["POST"]),
    Route("/settings/mail", page(settings_get, mail_reports), methods=["POST"]),
    Route("/settings/password", page(settings_get, change_password), methods=["POST"]),
]
