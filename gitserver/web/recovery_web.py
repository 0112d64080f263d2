"""Account recovery and address change: /password/reset and /settings/email.

- `/password/reset` asks for an address and answers the same whether or not an account uses it;
  the account's owner gets a link that works once, for an hour. Setting the new password ends
  every session of the account (whoever else was signed in is out) and sends this browser on
  to sign in with it.
- `/settings/email` (signed in, with the current password) mails a link to the new address;
  the account uses the new address only once that link is followed, and then the old address
  is told.

Mails cost the server and land in someone's mailbox: both forms are limited per address asked
for and per client address (`MAIL_PER_*`), whether or not the address is known.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core import account_keys, accounts
from gitserver.core.account_keys import KeyProblem, KeyState
from gitserver.core.auth import check_password
from gitserver.core.models import User
from gitserver.core.throttle import Throttle, Throttled
from gitserver.core.urls import login_url, settings_url
from gitserver.web import sessions
from gitserver.web.account_mail import (
    send_email_changed,
    send_email_confirmation,
    send_password_reset,
)
from gitserver.web.page_access import session_page
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute, client_address, field, redirect

logger = logging.getLogger(__name__)

# Per hour: 3 mails for one address from one client, 5 for one address in all, 20 from one
# client. Enough for "it did not arrive, send it again"; too few to flood a mailbox.
MAIL_WINDOW_S = 3600.0
MAIL_PER_PAIR, MAIL_PER_EMAIL, MAIL_PER_CLIENT = 3, 5, 20
KEY_STATUS = {KeyState.INVALID: 404, KeyState.USED: 410, KeyState.EXPIRED: 410}


def mail_throttle(request: Request) -> Throttle:
    """The counter of mails sent by these forms (one per app, made on first use)."""
    state = request.app.state
    throttle: Throttle | None = getattr(state, "mail_throttle", None)
    if throttle is None:
        throttle = state.mail_throttle = Throttle(
            window_s=MAIL_WINDOW_S, per_pair=MAIL_PER_PAIR, per_address=MAIL_PER_CLIENT,
            per_account=MAIL_PER_EMAIL)
    return throttle


def _count_mail(request: Request, email: str) -> int:
    """0 if a mail to `email` may go now (and count it), else the seconds to wait."""
    throttle, address = mail_throttle(request), client_address(request)
    try:
        throttle.check(email, address)
    except Throttled as exc:
        return exc.retry_after
    throttle.failed(email, address)
    return 0


def _wait_text(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return (f"Too many mails were asked for. Wait about {minutes} minute"
            f"{'s' if minutes != 1 else ''}, then try again.")


# -- password reset -----------------------------------------------------------------------------

def reset_form(request: Request, email: str = "", error: str = "",
               status_code: int = 200) -> Response:
    """The form asking for the address to mail a reset link to."""
    return render(request, "password_reset.html", {"email": email, "error": error},
                  status_code=status_code)


def reset_get(request: Request) -> Response:
    """GET /password/reset."""
    return reset_form(request)


def reset_post(request: Request, form: FormData) -> Response:
    """POST /password/reset: the same page whether or not an account uses the address."""
    email = field(form, "email", 254).strip().lower()
    if not email:
        return reset_form(request, error="Enter the address of your account.", status_code=400)
    wait = _count_mail(request, email)
    if wait:
        response = reset_form(request, email, _wait_text(wait), status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    found = account_keys.request_reset(email)
    response = render(request, "check_mail.html", {"email": email, "kind": "reset"})
    if found is not None:
        user, key = found
        # Sent after the answer: an SMTP round trip must not tell known addresses apart.
        response.background = BackgroundTask(send_password_reset, request.app.state.settings,
                                              user, key)
        logger.info("password reset asked for %s", user.username)
    return response


def _key_page(request: Request, problem: KeyProblem, kind: str) -> Response:
    return render(request, "account_key.html", {"result": problem.state.value, "kind": kind},
                  status_code=KEY_STATUS[problem.state])


def new_password_get(request: Request) -> Response:
    """GET /password/reset/{key}: the new-password form, or why the link does not work."""
    key = request.path_params["key"]
    try:
        row = account_keys.look_up(key, account_keys.RESET)
    except KeyProblem as exc:
        return _key_page(request, exc, "reset")
    return render(request, "password_new.html", {"key": key, "username": row.user.username,
                                                 "error": "",
                                                 "min_password": accounts.MIN_PASSWORD})


def new_password_post(request: Request, form: FormData) -> Response:
    """POST /password/reset/{key}: set it, use up the key, end every session of the account."""
    key = request.path_params["key"]
    password = field(form, "password", accounts.MAX_PASSWORD + 1)
    try:
        row = account_keys.look_up(key, account_keys.RESET)  # a dead key is told first
    except KeyProblem as exc:
        return _key_page(request, exc, "reset")
    try:
        user = account_keys.reset_password(key, password)
    except KeyProblem as exc:  # used in another tab a moment ago
        return _key_page(request, exc, "reset")
    except accounts.AccountError as exc:  # the key holds, the password does not
        return render(request, "password_new.html", {
            "key": key, "username": row.user.username, "error": f"Not changed: {exc}.",
            "min_password": accounts.MIN_PASSWORD}, status_code=400)
    sessions.end_sessions(user.id)
    sessions.sign_out(request)
    request.app.state.authenticator.forget()
    logger.info("password reset for %s", user.username)
    sessions.flash(request, "Your password is changed and every browser is signed out. Sign "
                            "in with the new password.", "success")
    return redirect(request, login_url(""))


# -- address change -----------------------------------------------------------------------------

def email_page(request: Request, user: User, error: str = "", value: str = "",
               status_code: int = 200) -> Response:
    """The form to change the account's address."""
    return render(request, "settings_email.html", {"user": user, "error": error,
                                                   "value": value}, status_code=status_code)


@session_page("/settings/email")
def email_get(request: Request, user: User) -> Response:
    """GET /settings/email."""
    return email_page(request, user)


@session_page("/settings/email")
def email_post(request: Request, user: User, form: FormData) -> Response:
    """POST /settings/email: check the password, mail a link to the new address."""
    new_email = field(form, "email", 254).strip()
    throttle, address = request.app.state.throttle, client_address(request)
    try:
        throttle.check(user.username, address)
    except Throttled as exc:
        return email_page(request, user, _wait_text(exc.retry_after), new_email, 429)
    if not check_password(user, field(form, "password")):
        throttle.failed(user.username, address)
        return email_page(request, user, "The password is wrong; the address is unchanged.",
                          new_email, 400)
    try:
        email, key = account_keys.request_email_change(user, new_email)
    except accounts.AccountError as exc:
        return email_page(request, user, f"Not changed: {exc}.", new_email, 400)
    wait = _count_mail(request, email)
    if wait:
        return email_page(request, user, _wait_text(wait), new_email, 429)
    send_email_confirmation(request.app.state.settings, user, email, key)
    logger.info("address change asked by %s", user.username)
    sessions.flash(request, f"We sent a link to {email}. Your address stays {user.email} until "
                            "you open it.", "info")
    return redirect(request, settings_url(""))


def email_confirm(request: Request) -> Response:
    """GET /settings/email/{key}: the link in the mail to the new address applies it."""
    try:
        user, old = account_keys.confirm_email_change(request.path_params["key"])
    except KeyProblem as exc:
        return _key_page(request, exc, "email")
    except accounts.AccountError as exc:
        return render(request, "account_key.html", {"result": "taken", "kind": "email",
                                                     "error": f"{exc}."}, status_code=409)
    send_email_changed(request.app.state.settings, user, old)
    logger.info("address changed for %s", user.username)
    return render(request, "account_key.html", {"result": "changed", "kind": "email",
                                                "email": user.email})


routes: list[BaseRoute] = [
    PageRoute("/password/reset", reset_get, reset_post),
    PageRoute("/password/reset/{key}", new_password_get, new_password_post),
    PageRoute("/settings/email", email_get, email_post),
    PageRoute("/settings/email/{key}", email_confirm),
]
