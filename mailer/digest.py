"""The daily digest of an organization for its staff: who pushed since the last one, who is
failing, the class's most frequent messages. Staff get no mail per student push; an
organization turns this on on its page (`Organization.digest`).

`send_due_digests` is a maintenance job of the workers (it runs every few seconds and costs one
query when nothing is due). Each organization's digest is claimed by a conditional update, so
two worker processes never send it twice; a failed send is tried again ten minutes later.
"""

# peewee gives every model its `id` primary key when the class is made; pylint cannot see it.
# pylint: disable=no-member

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import urlsplit

from gitserver.core import org_dashboard, orgs
from gitserver.core.config import Settings
from gitserver.core.models import Organization, User, utcnow
from gitserver.core.states import STATE_ERROR, STATE_FAILURE
from gitserver.core.urls import org_dashboard_url, pylint_help_url, user_url

from .backends import MailError, send
from .messages import clean_line, compose

logger = logging.getLogger(__name__)

PERIOD = dt.timedelta(hours=24)
RETRY = dt.timedelta(minutes=10)  # after a failed send
TOP_MESSAGES = 5


@dataclass(frozen=True)
class Digest:
    """What one organization's digest says."""
    org: str
    since: dt.datetime
    pushed: list[org_dashboard.StudentRow]
    failing: list[org_dashboard.StudentRow]
    messages: list[org_dashboard.FrequentMessage]
    students: int


def digest_of(org: User, since: dt.datetime) -> Digest:
    """The digest of `org` covering the pushes after `since`."""
    board = org_dashboard.build(org)
    rows = list(board.rows())
    return Digest(
        org=org.username, since=since,
        pushed=[r for r in rows if r.pushed_at is not None and r.pushed_at > since],
        failing=[r for r in rows if r.state in (STATE_FAILURE, STATE_ERROR)],
        messages=board.messages[:TOP_MESSAGES], students=len(board.students))


def build_digest(digest: Digest, to: User, *, from_addr: str, base_url: str) -> EmailMessage:
    """The digest mail to one staff member."""
    org = clean_line(digest.org)
    day = utcnow().strftime("%Y-%m-%d")
    domain = urlsplit(base_url).hostname or "localhost"
    context = {
        "org": org, "digest": digest, "base_url": base_url,
        "dashboard_url": org_dashboard_url(base_url, org),
        "org_url": user_url(base_url, org),
        "help_urls": {m.symbol: pylint_help_url(base_url, m.symbol) for m in digest.messages},
        "since": digest.since.strftime("%Y-%m-%d %H:%M UTC"),
    }
    return compose(
        subject=f"[{org}] daily digest: {len(digest.pushed)} pushed, "
                f"{len(digest.failing)} failing",
        from_addr=from_addr, to=Address(display_name=to.username, addr_spec=to.email),
        message_id=f"<digest-{org}-{day}-{to.id}@{domain}>", template="digest",
        context=context, headers={"List-Id": f"{org} digest <digest.{org}.{domain}>"})


def send_digest(settings: Settings, org: User, since: dt.datetime) -> int:
    """Mail the digest of `org` to each of its staff; the number of mails sent."""
    digest = digest_of(org, since)
    staff = [m.user for m in orgs.members(org) if m.role == orgs.STAFF]
    for member in staff:
        send(build_digest(digest, member, from_addr=settings.mail.from_addr,
                          base_url=settings.server.base_url),
             mail=settings.mail, data_dir=settings.data_dir)
    return len(staff)


def send_due_digests(settings: Settings, now: dt.datetime | None = None) -> int:
    """Send every digest that is due (on, and not sent for a day); the number of orgs done."""
    now = now or utcnow()
    due = list(Organization.select(Organization, User).join(User).where(
        Organization.digest & (Organization.digest_sent_at.is_null()
                               | (Organization.digest_sent_at <= now - PERIOD))))
    done = 0
    for row in due:
        previous = row.digest_sent_at
        claimed = Organization.update(digest_sent_at=now).where(
            (Organization.id == row.id) & (Organization.digest_sent_at.is_null()
                                           if previous is None
                                           else Organization.digest_sent_at == previous)
        ).execute()
        if not claimed:
            continue  # another worker has it
        try:
            send_digest(settings, row.account, previous or now - PERIOD)
        except MailError:
            logger.exception("digest of %s not sent; retrying later", row.account.username)
            Organization.update(digest_sent_at=now - PERIOD + RETRY).where(
                Organization.id == row.id).execute()
            continue
        done += 1
    return done
