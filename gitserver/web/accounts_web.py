"""Account pages: register, activate, login, logout (and, from `settings_web`, /settings).

Sign-in and sign-out are about this browser's session: `request.user` counts here only when it
came from the session cookie (`Visitor.session_user`), never from Basic credentials.
"""

# peewee gives every model its `id` primary key when the class is made; pylint cannot see it.
# pylint: disable=no-member

from __future__ import annotations

import logging

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core import accounts
from gitserver.core.accounts import Activation, Outcome
from gitserver.core.auth import check_password
from gitserver.core.models import User, utcnow
from gitserver.core.throttle import Throttle, Throttled
from gitserver.core.urls import login_url, user_url
from gitserver.web import recovery_web, sessions, settings_web
from gitserver.web.account_mail import send_activation, send_registration_mail
from gitserver.web.auth import visitor_of
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute, client_address, field, redirect, safe_next

logger = logging.getLogger(__name__)

RESEND_TICKET_AGE_S = 3600
# One activation mail a minute per account: the resend button must not become a mail cannon.
RESEND_INTERVAL_S = 60


# -- activation tickets ------------------------------------------------------------------------

def _tickets(request: Request) -> URLSafeTimedSerializer:
    """Signed "resend my activation link" tickets: proof the holder signed in or had a key."""
    return URLSafeTimedSerializer(request.app.state.settings.server.secret_key,
                                  salt="gitserver.resend-activation")


def resend_ticket(request: Request, user: User) -> str:
    """A signed ticket for the resend button: proof of a password or a mailed key."""
    return _tickets(request).dumps(user.id)


# -- register -----------------------------------------------------------------------------------

def register_form(request: Request, values: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    """The registration form, filled in again with every field's error (never the password)."""
    return render(request, "register.html", {"values": values or {}, "errors": errors or {},
                                             "min_password": accounts.MIN_PASSWORD},
                  status_code=status_code)


def register_get(request: Request) -> Response:
    """GET /register."""
    return register_form(request)


def _registrations_wait_s(request: Request, email: str) -> int:
    """Seconds until this address (and this mailbox) may register again; counts this one."""
    limits = request.app.state.register_limits
    keys = (client_address(request), email.strip().lower())
    wait = max(limit.wait_s(key) for limit, key in zip(limits, keys, strict=True))
    if not wait:
        for limit, key in zip(limits, keys, strict=True):
            limit.add(key)
    return wait


def register_post(request: Request, form: FormData) -> Response:
    """POST /register: the same answer whether or not the name or address is taken."""
    values = {"username": field(form, "username").strip(), "email": field(form, "email").strip()}
    password = field(form, "password", accounts.MAX_PASSWORD + 1)
    errors = accounts.registration_errors(values["username"], values["email"], password)
    if errors:
        return register_form(request, values, errors, status_code=400)
    wait = _registrations_wait_s(request, values["email"])
    if wait:
        minutes = max(1, round(wait / 60))
        response = register_form(request, values, {"form": "Too many registrations from here or "
                                 f"for this address. Try again in about {minutes} minutes."},
                                 429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        registration = accounts.register(values["username"], values["email"], password)
    except accounts.AccountError as exc:
        return register_form(request, values, {"form": str(exc)}, status_code=400)
    user = None
    if registration.outcome is Outcome.CREATED:
        user = User.get(User.username == registration.username)
        logger.info("registered %s", registration.username)
    # The owner of a taken address hears of it once a day at most, however often it is tried.
    if registration.outcome is not Outcome.EMAIL_TAKEN or \
            request.app.state.taken_mails.allow(registration.email):
        send_registration_mail(request.app.state.settings, registration, user)
    # Every outcome gets this very page: whether the name or address was taken shows only in
    # the mailbox of the address's owner.
    return render(request, "check_mail.html", {"email": registration.email, "kind": "register"})


# -- activation ---------------------------------------------------------------------------------

def activate_key(request: Request) -> Response:
    """GET /activate/{key}: activated, or a clear 4xx page saying what to do next."""
    result, user = accounts.activate(request.path_params["key"])
    if result is Activation.ACTIVATED and user is not None:
        logger.info("activated %s", user.username)
        return render(request, "activate.html", {"result": "activated", "user": user,
                                                 "ticket": ""})
    if result is Activation.INVALID or user is None:
        return render(request, "activate.html", {"result": "invalid", "user": None,
                                                 "ticket": ""}, status_code=404)
    if user.is_active:  # a used or replaced key of an account that is active anyway
        return render(request, "activate.html", {"result": "used", "user": user,
                                                 "ticket": ""}, status_code=410)
    return render(request, "activate.html", {"result": result.value, "user": user,
                                             "ticket": resend_ticket(request, user)},
                  status_code=410)


def resend_get(request: Request) -> Response:
    """GET /activate: the form asking for a new activation link."""
    return render(request, "resend.html", {"error": ""})


def resend_post(request: Request, form: FormData) -> Response:
    """A new activation link, for the holder of a ticket or whoever knows the address."""
    ticket, email = field(form, "ticket"), field(form, "email").strip().lower()
    user = None
    if ticket:
        try:
            user_id = _tickets(request).loads(ticket, max_age=RESEND_TICKET_AGE_S)
        except BadSignature:
            return render(request, "resend.html", {
                "error": "That button has expired. Enter your address to get a new link."},
                status_code=400)
        user = User.get_or_none(User.id == user_id)
    elif email:
        user = User.get_or_none(User.email == email)
    else:
        return render(request, "resend.html", {"error": "Enter the address you registered "
                                                        "with."}, status_code=400)
    kind = "resend"
    if user is not None and not user.is_active:
        last = accounts.last_key_sent_at(user)
        if last is None or (utcnow() - last).total_seconds() >= RESEND_INTERVAL_S:
            send_activation(request.app.state.settings, user,
                            accounts.new_activation_key(user))
        elif ticket:  # the ticket proves who asks; an address alone must not learn this
            kind = "recent"
    # Asked by address: the same answer whether or not an inactive account uses it.
    return render(request, "check_mail.html", {"email": user.email if ticket and user
                                               else email, "kind": kind})


# -- sign in and out ----------------------------------------------------------------------------

def login_form(request: Request, login: str = "", next_path: str = "", *, error: str = "",
               status_code: int = 200) -> Response:
    """The sign-in form, filled in again after a failure (never the password)."""
    return render(request, "login.html", {"login": login, "next": next_path, "error": error},
                  status_code=status_code)


def login_get(request: Request) -> Response:
    """GET /login; a signed-in user goes on to `next` at once."""
    next_path = safe_next(request.query_params.get("next", ""))
    if visitor_of(request).session_user is not None:
        return redirect(request, next_path or "/settings")
    return login_form(request, next_path=next_path)


def login_post(request: Request, form: FormData) -> Response:
    """POST /login: throttled per account and address; inactive accounts get told."""
    login, password = field(form, "login").strip(), field(form, "password")
    next_path = safe_next(field(form, "next"))
    throttle: Throttle = request.app.state.throttle
    address = client_address(request)
    user = accounts.find_login(login) if login else None
    account = user.username if user is not None else login.lower()
    try:
        throttle.check(account, address)
    except Throttled as exc:
        minutes = max(1, round(exc.retry_after / 60))
        response = login_form(request, login, next_path, error=(
            f"Too many failed sign-in attempts. Wait about {minutes} minute"
            f"{'s' if minutes != 1 else ''} and try again, or sign in from another device."),
            status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if not check_password(user, password) or user is None:
        throttle.failed(account, address)
        return login_form(request, login, next_path, error="Wrong username or password.",
                          status_code=401)
    throttle.succeeded(account, address)
    if not user.is_active:
        return render(request, "inactive.html", {"user": user,
                                                 "ticket": resend_ticket(request, user)},
                      status_code=403)
    sessions.sign_in(request, user)
    logger.info("signed in %s", user.username)
    return redirect(request, next_path or user_url("", user.username))


def logout_get(request: Request) -> Response:
    """GET /logout: a confirmation form (signing out is a POST, like every change)."""
    if visitor_of(request).session_user is None:
        return redirect(request, login_url(""))
    return render(request, "logout.html")


def logout_post(request: Request, _form: FormData) -> Response:
    """POST /logout: ends this browser's session; others stay (see /settings/sessions)."""
    sessions.sign_out(request)
    sessions.flash(request, "You are signed out.", "success")
    return redirect(request, login_url(""))


routes: list[BaseRoute] = [
    PageRoute("/register", register_get, register_post),
    PageRoute("/login", login_get, login_post),
    PageRoute("/logout", logout_get, logout_post),
    PageRoute("/activate", resend_get, resend_post),
    PageRoute("/activate/{key}", activate_key),
    *settings_web.routes,
    *recovery_web.routes,
]
