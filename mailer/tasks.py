"""Sending a push's report mail from a worker: gather, build, send, record.

Order of events, for "never lost, never twice": a report is claimed once (`Push.report_state`
'' -> 'queued', see checker.tasks.claim_report); the task skips a push already 'sent'; it sends,
and only then records `reported_at` and `emailed_at`. A crash between the two resends on retry
with the same Message-ID: the file backend then finds it already delivered, and mail clients
fold SMTP duplicates by Message-ID. A failed send retries with exponential back-off for a day.
"""

from __future__ import annotations

import logging

from huey.exceptions import RetryTask

from gitserver.core.config import Settings
from gitserver.core.models import Check, Commit, Push, User, utcnow
from gitserver.core.states import (
    STATE_FAILURE,
    STATE_SUCCESS,
    combined_state,
    commit_score,
    why,
)
from gitserver.core.urls import blob_url, commit_url

from .backends import MailError, MailRejected, already_delivered, send
from .messages import PushReport, ReportFile, ReportMessage, build_report, report_message_id

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 16  # 30 s doubling, capped at an hour: about a day of retries


def report_for(settings: Settings, push: Push) -> PushReport | None:
    """The report of the push's main tip, or None when the push moved no branch to a commit."""
    tips = [u for u in push.updates if u[2] != "0" * 40]
    if not tips:
        return None
    ref, _, sha = tips[0]
    commit = Commit.get_or_none((Commit.repo == push.repo) & (Commit.sha == sha))
    if commit is None:
        return None
    checks = list(Check.select().where(Check.commit == commit).order_by(Check.path))
    base = settings.server.base_url
    owner, repo = push.repo.owner.username, push.repo.name
    pusher = push.pusher
    if pusher is None:
        return None  # the pusher's account is gone: nobody to mail
    return PushReport(
        report_id=f"push-{push.id}", owner=owner, repo=repo, sha=sha, subject=commit.subject,
        state=combined_state([c.state for c in checks]),
        score=commit_score(checks),
        status_url=commit_url(base, owner, repo, sha),
        files=tuple(_report_file(base, owner, repo, sha, c) for c in checks),
        to_addr=pusher.email, to_name=pusher.username,
        ref=ref.rsplit("/", 1)[-1],
        commits=max(1, Commit.select().where(Commit.push == push).count()))


def _report_file(base: str, owner: str, repo: str, sha: str, check: Check) -> ReportFile:
    messages = tuple(ReportMessage(line=m["line"], column=m["column"], symbol=m["symbol"],
                                   message_id=m["message_id"], message=m["message"],
                                   type=m["type"]) for m in check.message_list)
    return ReportFile(path=check.path, state=check.state, score=check.score,
                      change=check.change, messages=messages, error=check.error,
                      url=blob_url(base, owner, repo, sha, check.path),
                      reason=why(check) if check.state == STATE_FAILURE else "")


def _wanted(user: User, state: str) -> bool:
    return user.mail_reports == "all" or (user.mail_reports == "failures"
                                          and state != STATE_SUCCESS)


def _record(push: Push, state: str) -> None:
    now = utcnow()
    Push.update(report_state=state, reported_at=now).where(Push.id == push.id).execute()
    if state == "sent":
        Check.update(emailed_at=now).where(Check.push == push.id).execute()
        sha = next((u[2] for u in push.updates if u[2] != "0" * 40), None)
        if sha:  # the tip's reused checks were covered by the same mail
            Check.update(emailed_at=now).where(
                (Check.commit == Commit.select(Commit.id).where(
                    (Commit.repo == push.repo) & (Commit.sha == sha)))
                & Check.emailed_at.is_null()).execute()


def send_push_report(settings: Settings, push_id: int) -> None:
    """Mail the push's report to its pusher unless unwanted; retried on mail errors."""
    push = Push.get_or_none(Push.id == push_id)
    if push is None or push.report_state in ("sent", "skipped", "failed"):
        return
    report = report_for(settings, push) if push.pusher is not None else None
    if report is None or push.pusher is None or not _wanted(push.pusher, report.state):
        _record(push, "skipped")
        return
    message = build_report(report, from_addr=settings.mail.from_addr,
                           base_url=settings.server.base_url)
    message_id = report_message_id(report.report_id, settings.server.base_url)
    try:
        if not already_delivered(message_id, mail=settings.mail, data_dir=settings.data_dir):
            send(message, mail=settings.mail, data_dir=settings.data_dir)
    except MailRejected as exc:
        logger.error("report mail for push %d refused by the mail server: %s", push_id, exc)
        _record(push, "failed")
        return
    except MailError as exc:
        attempts = push.report_attempts + 1
        Push.update(report_attempts=attempts).where(Push.id == push_id).execute()
        if attempts >= MAX_ATTEMPTS:
            logger.error("giving up on the report mail of push %d: %s", push_id, exc)
            _record(push, "failed")
            return
        delay = min(30 * 2 ** (attempts - 1), 3600)
        logger.warning("report mail for push %d failed (%s); retrying in %d s",
                       push_id, exc, delay)
        raise RetryTask(str(exc), delay=delay) from None
    _record(push, "sent")
    logger.info("report mail for push %d sent to %s", push_id, report.to_name)
