"""Sending a push's report mail from a worker: gather, build, send, record.

Order of events, for "never lost, never twice": a report is claimed once (`Push.report_state`
'' -> 'queued', see checker.tasks.claim_report); the task skips a push already 'sent'; it sends,
and only then records `reported_at` and `emailed_at`. A crash between the two resends on retry
with the same Message-ID: the file backend then finds it already delivered, and mail clients
fold SMTP duplicates by Message-ID. A failed send retries with exponential back-off for a day.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from huey.exceptions import RetryTask

from gitserver.core.accounts import MAIL_CHANGES, MAIL_EVERY
from gitserver.core.changes import Feedback
from gitserver.core.config import Settings
from gitserver.core.models import Check, Commit, Push, User, utcnow
from gitserver.core.queries import commit_checks, commit_feedback, commit_states, parent_checks
from gitserver.core.states import STATE_FAILURE, why
from gitserver.core.unsubscribe import unsubscribe_token
from gitserver.core.urls import blob_url, commit_url, mail_settings_url, unsubscribe_url

from .backends import MailError, MailRejected, already_delivered, send
from .messages import PushReport, ReportFile, ReportMessage, build_report, report_message_id

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 16  # 30 s doubling, capped at an hour: about a day of retries
# Pushes to one branch this close together get one report, about the newest: the report task
# runs this long after a push's checks are final (runtime.build_tasks), so a quick next push
# is there to supersede it.
COALESCE_S = 4
SUPERSEDED = "superseded"  # report_state of a push whose report a newer push's report covers
ZERO = "0" * 40
NEW_SINCE_PARENT = "new since the parent"


def report_for(settings: Settings, push: Push) -> PushReport | None:
    """The report of the push's main tip, or None when the push moved no branch to a commit."""
    tip = _tip(push)
    if tip is None:
        return None
    ref, commit = tip
    checks = commit_checks(commit)
    found = commit_feedback(commit, checks)
    before = {c.path: c.score for c in parent_checks(commit) or []}
    base = settings.server.base_url
    owner, repo, sha = push.repo.owner.username, push.repo.name, commit.sha
    pusher = push.pusher
    if pusher is None:
        return None  # the pusher's account is gone: nobody to mail
    return PushReport(
        report_id=f"push-{push.id}", owner=owner, repo=repo, sha=sha, subject=commit.subject,
        state=found.state, score=found.score,
        status_url=commit_url(base, owner, repo, sha),
        files=tuple(_report_file(c, blob_url(base, owner, repo, sha, c.path),
                                 before.get(c.path)) for c in checks),
        to_addr=pusher.email, to_name=pusher.username,
        ref=ref.rsplit("/", 1)[-1],
        commits=max(1, Commit.select().where(Commit.push == push).count()),
        new=tuple((path, _report_message(m)) for path, m in found.new),
        new_label=_new_label(found), fixed=len(found.fixed),
        fixed_summary=found.fixed_summary(), score_delta=found.score_delta,
        unsubscribe_url=unsubscribe_url(base, unsubscribe_token(settings.server.secret_key,
                                                                pusher.id)),
        settings_url=mail_settings_url(base))


def _tip(push: Push) -> tuple[str, Commit] | None:
    """The push's first updated ref that points at a recorded commit, and that commit."""
    tips = [u for u in push.updates if u[2] != ZERO]
    if not tips:
        return None
    ref, _, sha = tips[0]
    commit = Commit.get_or_none((Commit.repo == push.repo) & (Commit.sha == sha))
    return None if commit is None else (ref, commit)


def _new_label(found: Feedback) -> str:
    if found.parent_sha is None:
        return "messages of this first commit, errors first"
    if not found.parent_checked:
        return "messages of the changed files (the parent was not checked)"
    return NEW_SINCE_PARENT


def _report_message(message: dict) -> ReportMessage:
    return ReportMessage(line=message["line"], column=message["column"],
                         symbol=message["symbol"], message_id=message["message_id"],
                         message=message["message"], type=message["type"])


def _report_file(check: Check, url: str, before: float | None) -> ReportFile:
    return ReportFile(path=check.path, state=check.state, score=check.score,
                      change=check.change,
                      messages=tuple(_report_message(m) for m in check.message_list),
                      error=check.error, url=url,
                      reason=why(check) if check.state == STATE_FAILURE else "",
                      before=before)


def _branch_state_before(push: Push, commit: Commit) -> str | None:
    """The combined state the branch had before the push: of the ref's old commit, or of the
    tip's parent for a new branch; None when unknown."""
    tip = next((u for u in push.updates if u[2] == commit.sha), None)
    old = tip[1] if tip is not None and tip[1] != ZERO else commit.parent_sha
    if not old:
        return None
    previous = Commit.get_or_none((Commit.repo == push.repo_id) & (Commit.sha == old))
    if previous is None:
        return None
    return commit_states([previous.id]).get(previous.id)


def wanted(user: User, push: Push, report: PushReport) -> bool:
    """Whether the user's mail preference asks for this report.

    `changes`: only when the branch's state changed with this push (failing -> passing, or
    back; a first push counts) or the push brought new messages.
    """
    if user.mail_reports == MAIL_EVERY:
        return True
    if user.mail_reports != MAIL_CHANGES:
        return False
    if report.new and report.new_label == NEW_SINCE_PARENT:
        return True
    tip = _tip(push)
    if tip is None:
        return False
    return _branch_state_before(push, tip[1]) != report.state


def superseded_by(push: Push) -> Push | None:
    """A newer push to one of the push's branches that landed within COALESCE_S of it: its
    report covers this one (three quick browser edits make one mail, about the newest)."""
    refs = {ref for ref, _, new in push.updates if new != ZERO}
    # A newer push with `-o notify=none` (skipped from the start) mails nothing: it covers
    # nothing either.
    newer = (Push.select().where((Push.repo == push.repo_id) & (Push.id > push.id)
                                 & (Push.report_state != "skipped")
                                 & (Push.created_at <= push.created_at
                                    + timedelta(seconds=COALESCE_S)))
             .order_by(Push.id.desc()))
    for candidate in newer.iterator():
        if refs & {ref for ref, _, new in candidate.updates if new != ZERO}:
            return candidate
    return None


def coalesced_count(push: Push) -> int:
    """How many quick pushes to the push's branches this report covers (itself included)."""
    refs = {ref for ref, _, new in push.updates if new != ZERO}
    count = 1
    current = push
    while True:
        older = (Push.select().where((Push.repo == push.repo_id) & (Push.id < current.id)
                                     & (Push.created_at >= current.created_at
                                        - timedelta(seconds=COALESCE_S))
                                     # superseded, or about to be (its task
                                     # may run after this one's)
                                     & Push.report_state.in_(("", "queued", SUPERSEDED)))
                 .order_by(Push.id.desc()).first())
        if older is None or not refs & {ref for ref, _, new in older.updates if new != ZERO}:
            return count
        count += 1
        current = older


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
    if push is None or push.report_state in ("sent", "skipped", "failed", SUPERSEDED):
        return
    if superseded_by(push) is not None:
        _record(push, SUPERSEDED)
        return
    report = report_for(settings, push) if push.pusher is not None else None
    if report is None or push.pusher is None or not wanted(push.pusher, push, report):
        _record(push, "skipped")
        return
    pushes = coalesced_count(push)
    if pushes > 1:
        report = replace(report, pushes=pushes)
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
