"""The mails of sign-up: activation link, "address taken" note, "username taken" note.

Sent at once from the request (the file backend is a local write; an SMTP failure is logged and
the page still answers as usual, because the page must not reveal what was mailed to whom: the
user can ask for a new activation link from the sign-in page).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from gitserver.core.account_keys import EMAIL, RESET, VALID
from gitserver.core.accounts import ACTIVATION_VALID, Outcome, Registration
from gitserver.core.config import Settings
from gitserver.core.models import User
from gitserver.core.urls import (
    activate_url,
    email_change_url,
    password_reset_url,
    register_url,
)
from mailer.backends import MailError, send
from mailer.messages import build_account_mail, build_activation, build_address_taken_notice

logger = logging.getLogger(__name__)


def _deliver(settings: Settings, message: EmailMessage, kind: str) -> bool:
    try:
        send(message, mail=settings.mail, data_dir=settings.data_dir)
    except (MailError, OSError, ValueError):
        # the address is personal data: the log names the kind of mail only
        logger.exception("could not send the %s mail", kind)
        return False
    return True


def send_activation(settings: Settings, user: User, key: str) -> bool:
    """Mail `{base_url}/activate/{key}`; False (logged) when the mail could not go out."""
    base = settings.server.base_url
    message = build_activation(to_addr=user.email, username=user.username,
                               link=activate_url(base, key), from_addr=settings.mail.from_addr,
                               base_url=base,
                               valid_hours=int(ACTIVATION_VALID.total_seconds() // 3600))
    return _deliver(settings, message, "activation")


def send_registration_mail(settings: Settings, registration: Registration, user: User | None
                           ) -> bool:
    """The one mail each /register outcome sends; `user` is the new account when CREATED."""
    base = settings.server.base_url
    if registration.outcome is Outcome.CREATED and user is not None:
        return send_activation(settings, user, registration.key)
    if registration.outcome is Outcome.EMAIL_TAKEN and registration.owner is not None:
        owner = registration.owner
        message = build_address_taken_notice(to_addr=owner.email, username=owner.username,
                                             from_addr=settings.mail.from_addr, base_url=base,
                                             reset_url=password_reset_url(base))
        return _deliver(settings, message, "address-taken")
    return _deliver(settings, username_taken_notice(settings, registration), "username-taken")


def username_taken_notice(settings: Settings, registration: Registration) -> EmailMessage:
    """To the address given with a name that belongs to someone else: choose another name.

    Names are public (every user has a page), so telling the mailbox owner costs nothing.
    """
    base = settings.server.base_url
    message = EmailMessage()
    message["Subject"] = "Choose another username for gitserver"
    message["From"] = settings.mail.from_addr
    message["To"] = registration.email
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid("username-taken",
                                       domain=urlsplit(base).hostname or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(
        "Hello,\n\n"
        f"Someone, hopefully you, tried to register the username \"{registration.username}\"\n"
        f"with this address on gitserver at {base}.\n"
        "That username belongs to another account, so no account was made.\n\n"
        "Register again with another username:\n\n"
        f"{register_url(base)}\n\n"
        "If it was not you, there is nothing to do.\n\n"
        f"-- \ngitserver at {base}\n", cte="quoted-printable")
    return message


def send_password_reset(settings: Settings, user: User, key: str) -> bool:
    """Mail `{base_url}/password/reset/{key}` to the account's address."""
    base = settings.server.base_url
    message = build_account_mail(
        template="password_reset", subject="Reset your gitserver password", to_addr=user.email,
        username=user.username, from_addr=settings.mail.from_addr, base_url=base,
        context={"reset_link": password_reset_url(base, key),
                 "valid_minutes": int(VALID[RESET].total_seconds() // 60)})
    return _deliver(settings, message, "password-reset")


def send_email_confirmation(settings: Settings, user: User, new_email: str, key: str) -> bool:
    """Mail the confirmation link to the new address (the account keeps the old one till then)."""
    base = settings.server.base_url
    message = build_account_mail(
        template="email_confirm", subject="Confirm your new gitserver address",
        to_addr=new_email, username=user.username, from_addr=settings.mail.from_addr,
        base_url=base, context={"confirm_link": email_change_url(base, key),
                                "valid_hours": int(VALID[EMAIL].total_seconds() // 3600)})
    return _deliver(settings, message, "email-confirmation")


def send_email_changed(settings: Settings, user: User, old_email: str) -> bool:
    """Tell the old address that the account now uses `user.email`."""
    message = build_account_mail(
        template="email_changed", subject="Your gitserver address was changed",
        to_addr=old_email, username=user.username, from_addr=settings.mail.from_addr,
        base_url=settings.server.base_url, context={"new_email": user.email})
    return _deliver(settings, message, "email-changed")
