"""Delivering a built mail: `file` (Maildir), `smtp` or `console`, chosen by `mail.backend`.

Delivery guarantees. Sending a mail and recording that it was sent cannot be one atomic step,
so the caller (the Huey task that mails a push report) works like this:

1. skip the report if it is already recorded as mailed (and, for the file backend, if
   `already_delivered()` says the Maildir holds its Message-ID);
2. build the message: its Message-ID derives from the report id
   (`mailer.messages.report_message_id`), so every attempt carries the same one;
3. `send()`. `MailError` means "not delivered now": the task raises, Huey retries with
   back-off, nothing is recorded, and the mail is not lost while the SMTP server is down;
4. once `send()` returns, record `emailed_at` on the report's checks.

A crash between 3 and 4 runs the task again, so the mail goes out at least once, not at most
once. We choose that because a lost report is worse than a duplicate, and the duplicates left
are contained:

- file: delivery is idempotent by Message-ID. The Maildir file name is derived from it, so a
  second delivery of the same Message-ID adds nothing, even from two workers at once;
- smtp: exactly-once is impossible. SMTP has no "did you get this already?", and the server
  may take the DATA and the connection drop before its "250 OK" reaches us; retrying is then
  the only safe move. The stable Message-ID lets mail clients and many MTAs fold the copy;
- console: the mail is logged again.

`MailRejected` (a `MailError`) says the server refused this very mail for good (5xx to the
recipient or to the content); a caller may stop retrying it and record the failure instead.
Errors of our own configuration (auth refused, no STARTTLS offered) stay plain `MailError`,
so the mail waits until the operator fixes the settings.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from pathlib import Path

from gitserver.core.config import MailSettings

logger = logging.getLogger(__name__)

# Long enough for a slow server, short enough that a black-holed host does not hold a
# worker for minutes. A refused connection fails at once.
SMTP_TIMEOUT_S = 30.0
MAILDIR_NAME = "mail"
MAILDIR_SUBDIRS = ("tmp", "new", "cur")
# Maildir readers rename new/KEY to cur/KEY:2,FLAGS (Dovecot may add ,S=size first).
_MAILDIR_INFO_RE = re.compile(r"[:,]")


class MailError(Exception):
    """The mail was not delivered for now; the caller (a Huey task) retries later."""


class MailRejected(MailError):
    """The SMTP server refused this mail permanently (5xx): retrying it cannot succeed."""


def send(message: EmailMessage, *, mail: MailSettings, data_dir: Path,
         tls_context: ssl.SSLContext | None = None) -> None:
    """Deliver `message` with the configured backend; raise `MailError` to be retried.

    `tls_context` is for STARTTLS; the default trusts the system's CAs (set SSL_CERT_FILE
    for a private CA).
    """
    message_id = _message_id(message)
    if mail.backend == "file":
        _deliver_to_maildir(message, message_id, maildir_path(data_dir))
    elif mail.backend == "smtp":
        _send_smtp(message, message_id, mail, tls_context)
    elif mail.backend == "console":
        _log_message(message, message_id)
    else:
        raise ValueError(f"mail.backend = {mail.backend!r}; choose file, smtp or console")


def already_delivered(message_id: str, *, mail: MailSettings, data_dir: Path) -> bool:
    """True if the file backend's Maildir holds `message_id`.

    Only the file backend can know; for smtp and console this is always False and the
    caller's own record is what prevents a second send.
    """
    if mail.backend != "file":
        return False
    return _in_maildir(maildir_path(data_dir), maildir_key(message_id))


def maildir_path(data_dir: Path) -> Path:
    """Where the file backend keeps its Maildir: `{data_dir}/mail`."""
    return data_dir / MAILDIR_NAME


def maildir_key(message_id: str) -> str:
    """The Maildir file name for a Message-ID: one name per Message-ID, nothing else in it."""
    digest = hashlib.sha256(message_id.strip().encode("utf-8")).hexdigest()[:40]
    return f"{digest}.gitserver"


def _message_id(message: EmailMessage) -> str:
    message_id = message.get("Message-ID")
    if not message_id:
        raise ValueError("the message has no Message-ID; build it with mailer.messages")
    return str(message_id).strip()


def _create_maildir(root: Path) -> None:
    # Plain makedirs rather than mailbox.Maildir(create=True): that one fails when two
    # workers create the first Maildir at the same moment. 0700: activation links inside.
    root.parent.mkdir(parents=True, exist_ok=True)
    for path in (root, *(root / sub for sub in MAILDIR_SUBDIRS)):
        path.mkdir(mode=0o700, exist_ok=True)


def _in_maildir(root: Path, key: str) -> bool:
    if (root / "new" / key).exists():
        return True
    try:
        names = os.listdir(root / "cur")
    except FileNotFoundError:
        return False
    return any(_MAILDIR_INFO_RE.split(name, maxsplit=1)[0] == key for name in names)


def _deliver_to_maildir(message: EmailMessage, message_id: str, root: Path) -> None:
    """The Maildir protocol: write tmp/, fsync, then link into new/ under the key's name."""
    key = maildir_key(message_id)
    try:
        _create_maildir(root)
        if _in_maildir(root, key):
            logger.info("mail %s is already in %s; not adding a second copy", message_id, root)
            return
        tmp = root / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            added = _link_new(tmp, root / "new" / key)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(root / "new")
    except OSError as exc:
        raise MailError(f"cannot write mail {message_id} into {root}: {exc}") from exc
    if added:
        logger.info("mail %s delivered to %s", message_id, root / "new" / key)
    else:
        logger.info("mail %s was added to %s meanwhile; not adding a second copy",
                    message_id, root)


def _link_new(tmp: Path, target: Path) -> bool:
    """Put the written file in place; False if another delivery of it got there first."""
    try:
        # link() refuses to replace: of two workers delivering the same Message-ID, one wins.
        os.link(tmp, target)
    except FileExistsError:
        return False
    except PermissionError:
        # Some filesystems (certain network and container mounts) have no hard links.
        # Renaming over an existing copy of the same mail still leaves one copy.
        os.replace(tmp, target)
    return True


def _fsync_dir(path: Path) -> None:
    """Make the new directory entry durable, so a crash cannot lose a mail we reported sent."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _send_smtp(message: EmailMessage, message_id: str, mail: MailSettings,
               tls_context: ssl.SSLContext | None) -> None:
    server = f"{mail.smtp_host}:{mail.smtp_port}"
    try:
        smtp = smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=SMTP_TIMEOUT_S)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"cannot reach SMTP server {server}: {exc}") from exc
    try:
        if mail.smtp_starttls:
            smtp.starttls(context=tls_context or ssl.create_default_context())
        elif mail.smtp_user:
            logger.warning("mail.smtp_user is set without mail.smtp_starttls: the password "
                           "goes to %s unencrypted", server)
        if mail.smtp_user:
            smtp.login(mail.smtp_user, mail.smtp_password)
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        smtp.close()
        codes = [code for code, _ in exc.recipients.values()]
        error = MailRejected if all(500 <= code < 600 for code in codes) else MailError
        raise error(f"SMTP server {server} refused the recipient of {message_id}: "
                    f"{_describe_refusals(exc.recipients)}") from exc
    except smtplib.SMTPDataError as exc:
        smtp.close()
        error = MailRejected if 500 <= exc.smtp_code < 600 else MailError
        raise error(f"SMTP server {server} refused {message_id}: {exc.smtp_code} "
                    f"{_text(exc.smtp_error)}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        # Includes a refused login (535): our settings, not this mail, are wrong. The
        # exception text holds the server's reply, never the password.
        smtp.close()
        raise MailError(f"sending {message_id} via SMTP server {server} failed: "
                        f"{type(exc).__name__}: {exc}") from exc
    logger.info("mail %s sent via %s", message_id, server)
    _hang_up(smtp)


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT politely; the mail is accepted already, so a failure here must not cause a resend."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException) as exc:
        logger.debug("SMTP QUIT failed after delivery: %s", exc)
    finally:
        smtp.close()


def _describe_refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in
                     recipients.items())


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _log_message(message: EmailMessage, message_id: str) -> None:
    """Log the whole mail, decoded, so a developer can read it and click its links."""
    lines = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.is_multipart():
            continue
        lines += ["", f"--- {part.get_content_type()} ---", part.get_content().rstrip("\n")]
    logger.info("mail %s (console backend, not sent):\n%s", message_id, "\n".join(lines))
