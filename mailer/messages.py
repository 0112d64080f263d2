"""The mails gitserver sends: plain data in, `EmailMessage` (text + HTML part) out.

No database access here: the caller gathers a `PushReport` (or the activation details) and
hands the built message to `mailer.backends.send()`. Layout lives in `templates/mail/`;
`.html` templates are autoescaped, `.txt` templates are not (they are never rendered as
markup) but every string that came from a user is stripped of control characters first, so
a crafted path or commit subject cannot move a terminal's cursor.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jinja2

from gitserver.core.resources import template_dir
from gitserver.core.states import NO_STATE_COLOUR, STATE_COLOURS, STATE_ORDER, TYPE_ORDER
from gitserver.core.urls import login_url

TEMPLATE_DIR = template_dir("mail")

SHORT_SHA_LENGTH = 7
# A commit subject can be any length; a mail subject past this is unreadable anyway.
MAX_SUBJECT_CHARS = 200
# Distinct message texts shown per symbol; the status page has the rest. Keeps the mail of
# a file with 400 `line-too-long` messages readable.
MAX_TEXTS_PER_GROUP = 10
TEXT_WIDTH = 78


REPORT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAK_RE = re.compile(r"\s*[\r\n]+\s*")


@dataclass(frozen=True)
class ReportMessage:
    """One pylint message, as the checks API shows it."""

    line: int
    column: int
    symbol: str
    message_id: str
    message: str
    type: str


@dataclass(frozen=True)
class ReportFile:  # pylint: disable=too-many-instance-attributes  # plain data, one field each
    """One checked file of the pushed tip."""

    path: str
    state: str
    score: float | None
    change: str
    messages: tuple[ReportMessage, ...]
    error: str | None = None  # why the checker crashed or timed out (state "error")
    url: str = ""  # absolute link to the file's page; optional
    reason: str = ""  # why a failure fails: "1 error, score 7.20 < 8.00"


@dataclass(frozen=True)
class PushReport:  # pylint: disable=too-many-instance-attributes  # plain data, one field each
    """Everything the report mail shows, gathered by the caller once the checks are final."""

    report_id: str  # stable id of the push report, used for the Message-ID
    owner: str
    repo: str
    sha: str
    subject: str  # first line of the commit message
    state: str  # success | failure | error (combined)
    score: float | None  # the commit score: pylint's global evaluation of its files
    status_url: str  # absolute link to the status page
    files: tuple[ReportFile, ...]
    to_addr: str
    to_name: str
    ref: str = ""  # e.g. "main"
    commits: int = 1  # how many commits the push carried


@dataclass(frozen=True)
class MessageText:
    """One distinct message text of a symbol and the lines it occurs on."""

    text: str
    lines: tuple[int, ...]


@dataclass(frozen=True)
class SymbolGroup:
    """All messages of one symbol in one file: `undefined-variable (E0602) — lines 3, 7`."""

    symbol: str
    message_id: str
    type: str
    lines: tuple[int, ...]
    texts: tuple[MessageText, ...]
    more_texts: int  # distinct texts left out after MAX_TEXTS_PER_GROUP


@dataclass(frozen=True)
class FileView:  # pylint: disable=too-many-instance-attributes  # plain data, one field each
    """A `ReportFile` cleaned for the templates, with its messages grouped."""

    path: str
    state: str
    score: float | None
    change: str
    error: str
    url: str
    groups: tuple[SymbolGroup, ...]
    reason: str = ""


def clean_line(text: str) -> str:
    """One line of user text for a header or a table cell: no control characters."""
    return _CONTROL_RE.sub("\N{REPLACEMENT CHARACTER}", _LINE_BREAK_RE.sub(" ", text)).strip()


def clean_text(text: str) -> str:
    """User text that may span lines (pylint's duplicate-code, say): keep the line breaks."""
    return "\n".join(clean_line(line) for line in text.splitlines())


def group_messages(messages: Iterable[ReportMessage]) -> tuple[SymbolGroup, ...]:
    """Group by symbol, worst type first; lines ascending; identical texts folded together."""
    by_symbol: dict[str, list[ReportMessage]] = {}
    for message in sorted(messages, key=lambda m: (m.line, m.column)):
        by_symbol.setdefault(message.symbol, []).append(message)
    groups = []
    for symbol, found in by_symbol.items():
        texts: dict[str, list[int]] = {}
        for message in found:
            lines = texts.setdefault(clean_text(message.message), [])
            if message.line not in lines:
                lines.append(message.line)
        shown = [MessageText(text, tuple(lines)) for text, lines in texts.items()]
        groups.append(SymbolGroup(
            symbol=clean_line(symbol), message_id=clean_line(found[0].message_id),
            type=clean_line(found[0].type), lines=tuple(sorted({m.line for m in found})),
            texts=tuple(shown[:MAX_TEXTS_PER_GROUP]),
            more_texts=max(0, len(shown) - MAX_TEXTS_PER_GROUP)))
    groups.sort(key=lambda g: (TYPE_ORDER.get(g.type, len(TYPE_ORDER)), g.lines[0], g.symbol))
    return tuple(groups)


def report_message_id(report_id: str, base_url: str) -> str:
    """The Message-ID of a report's mail: the same on every attempt, so resends fold away."""
    if not REPORT_ID_RE.fullmatch(report_id):
        raise ValueError(f"report id {report_id!r} must be 1-128 of A-Z a-z 0-9 . _ -")
    return f"<report-{report_id}@{_mail_domain(base_url)}>"


def build_report(report: PushReport, *, from_addr: str, base_url: str) -> EmailMessage:
    """The push report: one mail to the pusher once every check of the push is final."""
    short_sha = clean_line(report.sha)[:SHORT_SHA_LENGTH]
    subject = _shorten(clean_line(report.subject.split("\n", 1)[0]), MAX_SUBJECT_CHARS)
    files = sorted((_file_view(f) for f in report.files),
                   key=lambda f: (STATE_ORDER.get(f.state, len(STATE_ORDER)), f.path))
    counts: dict[str, int] = {}
    for view in files:
        counts[view.state] = counts.get(view.state, 0) + 1
    owner, repo = clean_line(report.owner), clean_line(report.repo)
    context = {
        "owner": owner, "repo": repo, "sha": clean_line(report.sha), "short_sha": short_sha,
        "subject": subject, "state": clean_line(report.state), "score": report.score,
        "status_url": _safe_url(report.status_url), "ref": _branch_name(report.ref),
        "commits": report.commits, "files": files,
        "counts": ", ".join(f"{n} {state}" for state, n in counts.items()),
        "base_url": base_url,
    }
    headers = {
        # Lets people filter report mails per repository, as GitHub's notifications do.
        "List-Id": f"{owner}/{repo} <{_list_label(repo)}.{_list_label(owner)}."
                   f"{_mail_domain(base_url).strip('[]').replace(':', '-')}>",
        "X-Gitserver-State": clean_line(report.state),
    }
    return compose(
        subject=f"[{owner}/{repo}] {clean_line(report.state)}: {short_sha} {subject}".rstrip(),
        from_addr=from_addr, to=_address(report.to_addr, report.to_name),
        message_id=report_message_id(report.report_id, base_url),
        template="report", context=context, headers=headers)


# pylint: disable-next=too-many-arguments  # keyword-only, one per field of the mail
def build_activation(*, to_addr: str, username: str, link: str, from_addr: str,
                     base_url: str, valid_hours: int = 24) -> EmailMessage:
    """The mail with the `{base_url}/activate/{key}` link sent after /register."""
    context = {"username": clean_line(username), "link": _safe_url(link),
               "base_url": base_url, "valid_hours": valid_hours}
    return compose(
        subject="Activate your gitserver account", from_addr=from_addr,
        to=_address(to_addr, username),
        message_id=make_msgid("activation", domain=_mail_domain(base_url)),
        template="activation", context=context)


# pylint: disable-next=too-many-arguments  # keyword-only, one per field of the mail
def build_address_taken_notice(*, to_addr: str, username: str, from_addr: str, base_url: str,
                               reset_url: str = "") -> EmailMessage:
    """Mailed to the owner of an address someone tried to register again.

    The register form answers exactly as for a fresh address (no user enumeration); only
    the owner of the mailbox learns that the address is taken.
    """
    context = {"username": clean_line(username), "base_url": base_url,
               "login_url": login_url(base_url), "reset_url": _safe_url(reset_url)}
    return compose(
        subject="Someone tried to register with your address", from_addr=from_addr,
        to=_address(to_addr, username),
        message_id=make_msgid("address-taken", domain=_mail_domain(base_url)),
        template="address_taken", context=context)


# pylint: disable-next=too-many-arguments  # keyword-only, one per field of the mail
def build_account_mail(*, template: str, subject: str, to_addr: str, username: str,
                       from_addr: str, base_url: str, context: Mapping[str, Any]
                       ) -> EmailMessage:
    """A mail about the account (password reset, address change) from templates/mail/
    `{template}.txt` and `.html`; `context` adds to username and base_url (links: `*_link`)."""
    full = {key: _safe_url(value) if key.endswith("_link") else value
            for key, value in context.items()}
    full.update({"username": clean_line(username), "base_url": base_url})
    return compose(
        subject=subject, from_addr=from_addr, to=_address(to_addr, username),
        message_id=make_msgid(template.replace("_", "-"), domain=_mail_domain(base_url)),
        template=template, context=full)


# pylint: disable-next=too-many-arguments  # keyword-only, one per field of the mail
def compose(*, subject: str, from_addr: str, to: Address, message_id: str, template: str,
            context: Mapping[str, Any], headers: Mapping[str, str] | None = None
            ) -> EmailMessage:
    """A mail of `template` (its .txt and .html under templates/mail/) with our headers."""
    env = _environment()
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = from_addr
    message["To"] = to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    # RFC 3834: auto-responders (vacation replies) must not answer robots.
    message["Auto-Submitted"] = "auto-generated"
    # Exchange ignores Auto-Submitted; this keeps its out-of-office replies away.
    message["X-Auto-Response-Suppress"] = "All"
    for name, value in (headers or {}).items():
        message[name] = value
    # Quoted-printable always: the heuristic would pick base64 for a text with one long
    # line, which no one can read in a Maildir file, and 8bit needs 8BITMIME on the way.
    message.set_content(env.get_template(f"{template}.txt").render(context),
                        cte="quoted-printable")
    message.add_alternative(env.get_template(f"{template}.html").render(context),
                            subtype="html", cte="quoted-printable")
    return message


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters["fill"] = _fill
    env.filters["score"] = _format_score
    env.filters["lines"] = _format_lines
    env.filters["colour"] = lambda state: STATE_COLOURS.get(state, NO_STATE_COLOUR)
    return env


def _file_view(file: ReportFile) -> FileView:
    return FileView(path=clean_line(file.path), state=clean_line(file.state), score=file.score,
                    change=clean_line(file.change), error=clean_text(file.error or ""),
                    url=_safe_url(file.url), groups=group_messages(file.messages),
                    reason=clean_line(file.reason))


def _address(addr: str, name: str) -> Address:
    # Address() parses addr_spec strictly: a newline or a second address raises ValueError
    # here instead of smuggling a Bcc: header into the mail.
    return Address(display_name=clean_line(name), addr_spec=addr.strip())


def _mail_domain(base_url: str) -> str:
    host = urlsplit(base_url).hostname or "localhost"
    return f"[{host}]" if ":" in host else host  # an IPv6 literal needs brackets


def _list_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", text) or "-"


def _branch_name(ref: str) -> str:
    return clean_line(ref.removeprefix("refs/heads/"))


def _safe_url(url: str) -> str:
    """Only http(s) links reach a template: no `javascript:` in an href."""
    url = clean_line(url)
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _fill(text: str, indent: str = "", width: int = TEXT_WIDTH) -> str:
    """Wrap each line of `text` for an 80-column terminal, indenting every line."""
    return "\n".join(
        textwrap.fill(line, width=width, initial_indent=indent, subsequent_indent=indent,
                      break_long_words=False, break_on_hyphens=False) or indent.rstrip()
        for line in text.splitlines() or [""])


def _format_score(score: float | None) -> str:
    return "—" if score is None else f"{score:.2f}/10"


def _format_lines(lines: tuple[int, ...]) -> str:
    return ("line " if len(lines) == 1 else "lines ") + ", ".join(str(n) for n in lines)
