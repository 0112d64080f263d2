"""The mailer: messages built from templates, delivered to a real Maildir and a real SMTP server."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import email
import logging
import mailbox
import socket
import ssl
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gitserver.core.config import MailSettings
from mailer.backends import MailError, MailRejected, already_delivered, maildir_path, send
from mailer.messages import (
    MAX_TEXTS_PER_GROUP,
    PushReport,
    ReportFile,
    ReportMessage,
    build_activation,
    build_address_taken_notice,
    build_report,
    group_messages,
    report_message_id,
)

BASE_URL = "http://git.example.org:8000"
FROM = "gitserver@example.org"
STATUS_URL = f"{BASE_URL}/alice/demo/commit/1a2b3c4d5e6f"
PASSWORD = "s3cret-Pa55word"


def _report(**changes: Any) -> PushReport:
    parser = ReportFile(
        path="parser.py", state="failure", score=3.5, change="modified",
        messages=(
            ReportMessage(7, 4, "undefined-variable", "E0602", "Undefined variable 'bar'", "error"),
            ReportMessage(3, 0, "undefined-variable", "E0602", "Undefined variable 'foo'", "error"),
            ReportMessage(1, 0, "missing-function-docstring", "C0116",
                          "Missing function or method docstring", "convention"),
            ReportMessage(5, 0, "missing-function-docstring", "C0116",
                          "Missing function or method docstring", "convention"),
        ))
    main = ReportFile(path="main.py", state="success", score=10.0, change="added", messages=())
    report = PushReport(
        report_id="42", owner="alice", repo="demo", sha="1a2b3c4d5e6f", subject="Add parser",
        state="failure", score=6.75, status_url=STATUS_URL, files=(parser, main),
        to_addr="alice@example.org", to_name="Alice Liddell", ref="main", commits=2)
    return replace(report, **changes)


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def _file_settings() -> MailSettings:
    return MailSettings(backend="file", from_addr=FROM)


# --- messages ---------------------------------------------------------------------------


def test_build_report_subject_names_repo_state_sha_and_commit_subject():
    message = build_report(_report(), from_addr=FROM, base_url=BASE_URL)
    assert message["Subject"] == "[alice/demo] failure: 1a2b3c4 Add parser"


def test_build_report_parts_list_each_file_and_messages_grouped_by_symbol():
    text, html = _parts(build_report(_report(), from_addr=FROM, base_url=BASE_URL))
    assert "undefined-variable (E0602) — lines 3, 7" in text
    assert "missing-function-docstring (C0116) — lines 1, 5" in text
    assert (f'<a href="{BASE_URL}/help/pylint/undefined-variable" style="color:#0969da;">'
            "<strong>undefined-variable</strong></a> (E0602) — lines 3, 7") in html
    assert "<strong>missing-function-docstring</strong></a> (C0116) — lines 1, 5" in html
    assert f"explain: {BASE_URL}/help/pylint/missing-function-docstring" in text
    for part in (text, html):
        assert STATUS_URL in part
        for expected in ("parser.py", "failure", "3.50/10", "modified",
                         "main.py", "success", "10.00/10", "added",
                         "Undefined variable", "Missing function or method docstring"):
            assert expected in part, expected
    # The same text on several lines is written once; distinct texts keep their line.
    assert text.count("Missing function or method docstring") == 1
    assert "Undefined variable &#39;foo&#39; <span style=\"color:#656d76;\">(line 3)" in html


def test_build_report_shows_state_as_word_and_colour_in_html():
    _, html = _parts(build_report(_report(), from_addr=FROM, base_url=BASE_URL))
    assert "background:#cf222e;" in html and ">failure</span>" in html
    assert "background:#1a7f37;" in html and ">success</span>" in html
    assert "<style" not in html  # mail clients strip it: styles are inline


def test_build_report_text_part_fits_an_80_column_terminal():
    long_message = "Consider using 'with' for resource-allocating operations " * 4
    noisy = ReportFile(
        path="pkg/deeply/nested/module_with_a_long_name.py", state="failure", score=1.25,
        change="added",
        messages=tuple(ReportMessage(n, 0, "consider-using-with", "R1732", long_message,
                                     "refactor") for n in range(1, 60)))
    text, _ = _parts(build_report(_report(files=(noisy,), subject="Refactor " * 20),
                                  from_addr=FROM, base_url=BASE_URL))
    too_wide = [line for line in text.splitlines()
                if len(line) > 80 and not line.startswith("http")]
    assert not too_wide


def test_build_report_caps_distinct_texts_per_symbol():
    many = ReportFile(
        path="long.py", state="failure", score=5.0, change="added",
        messages=tuple(ReportMessage(n, 0, "line-too-long", "C0301",
                                     f"Line too long ({100 + n}/100)", "convention")
                       for n in range(1, 31)))
    text, html = _parts(build_report(_report(files=(many,)), from_addr=FROM, base_url=BASE_URL))
    hidden = 30 - MAX_TEXTS_PER_GROUP
    assert f"and {hidden} more on the status page" in text
    assert f"and {hidden} more on" in html
    assert "lines 1, 2, 3" in text  # the header still lists every line


def test_build_report_headers_and_stable_message_id():
    first = build_report(_report(), from_addr=FROM, base_url=BASE_URL)
    again = build_report(_report(), from_addr=FROM, base_url=BASE_URL)
    assert first["Message-ID"] == again["Message-ID"] == "<report-42@git.example.org>"
    assert first["Message-ID"] == report_message_id("42", BASE_URL)
    assert first["From"] == FROM
    assert first["To"] == "Alice Liddell <alice@example.org>"
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["Date"].datetime is not None
    assert "<demo.alice.git.example.org>" in first["List-Id"]


def test_build_report_escapes_user_content_in_html():
    evil = ReportFile(
        path="<b>x</b>.py", state="failure", score=0.0, change="added",
        messages=(ReportMessage(1, 0, "undefined-variable", "E0602",
                                "Undefined variable '<script>alert(1)</script>'", "error"),))
    text, html = _parts(build_report(_report(files=(evil,), subject="<img src=x onerror=y>"),
                                     from_addr=FROM, base_url=BASE_URL))
    assert "<script>" not in html and "<img" not in html and "<b>x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;.py" in html
    assert "<script>alert(1)</script>" in text  # plain text is not markup: shown as written


def test_build_report_drops_links_that_are_not_http():
    message = build_report(_report(status_url="javascript:alert(1)"), from_addr=FROM,
                           base_url=BASE_URL)
    text, html = _parts(message)
    assert "javascript:" not in html and "javascript:" not in text


def test_build_report_keeps_control_characters_and_newlines_out_of_headers():
    message = build_report(_report(subject="Fix\x1b[2J it\r\nBcc: mallory@example.org"),
                           from_addr=FROM, base_url=BASE_URL)
    assert message["Bcc"] is None
    assert "\x1b" not in message["Subject"]
    assert message["Subject"].startswith("[alice/demo] failure: 1a2b3c4 Fix")
    text, _ = _parts(message)
    assert "\x1b" not in text


def test_build_report_refuses_a_recipient_with_a_second_header():
    with pytest.raises(ValueError, match="CR or LF"):
        build_report(_report(to_addr="alice@example.org\r\nBcc: mallory@example.org"),
                     from_addr=FROM, base_url=BASE_URL)


def test_report_message_id_refuses_ids_that_would_break_the_header():
    with pytest.raises(ValueError, match="report id"):
        report_message_id("42>\r\nBcc: x", BASE_URL)


def test_group_messages_orders_by_type_then_line_and_folds_identical_texts():
    docstring = ("missing-function-docstring", "C0116", "Missing docstring", "convention")
    groups = group_messages([
        ReportMessage(9, 0, *docstring),
        ReportMessage(4, 0, *docstring),
        ReportMessage(4, 8, *docstring),
        ReportMessage(12, 0, "undefined-variable", "E0602", "Undefined variable 'x'", "error"),
    ])
    assert [g.symbol for g in groups] == ["undefined-variable", "missing-function-docstring"]
    assert groups[1].lines == (4, 9)
    assert [(t.text, t.lines) for t in groups[1].texts] == [("Missing docstring", (4, 9))]


def test_build_activation_carries_the_link_in_both_parts():
    link = f"{BASE_URL}/activate/abcDEF123"
    message = build_activation(to_addr="bob@example.org", username="bob", link=link,
                               from_addr=FROM, base_url=BASE_URL)
    assert message["To"] == "bob <bob@example.org>"
    assert message["Message-ID"].endswith("@git.example.org>")
    text, html = _parts(message)
    assert f"\n{link}\n" in text  # alone on its line, so terminals and clients linkify it
    assert f'href="{link}"' in html
    assert "24 hours" in text and "24 hours" in html


def test_build_address_taken_notice_tells_the_owner_what_to_do():
    message = build_address_taken_notice(to_addr="bob@example.org", username="bob",
                                         from_addr=FROM, base_url=BASE_URL)
    text, html = _parts(message)
    assert "Someone tried to register" in text and "Someone tried to register" in html
    assert f"{BASE_URL}/login" in text and f'href="{BASE_URL}/login"' in html
    assert "reset" not in text  # no reset page given: no dead link
    with_reset = build_address_taken_notice(to_addr="bob@example.org", username="bob",
                                            from_addr=FROM, base_url=BASE_URL,
                                            reset_url=f"{BASE_URL}/reset")
    assert f"{BASE_URL}/reset" in _parts(with_reset)[0]


# --- file backend -----------------------------------------------------------------------


def test_file_backend_writes_a_maildir_readable_by_mailbox(tmp_path: Path):
    message = build_report(_report(), from_addr=FROM, base_url=BASE_URL)
    send(message, mail=_file_settings(), data_dir=tmp_path)

    box = mailbox.Maildir(tmp_path / "mail", factory=None, create=False)
    stored = [email.message_from_bytes(box.get_bytes(key), policy=default_policy)
              for key in box.keys()]
    assert len(stored) == 1
    assert stored[0]["Subject"] == "[alice/demo] failure: 1a2b3c4 Add parser"
    assert stored[0]["Message-ID"] == "<report-42@git.example.org>"
    assert _parts(stored[0]) == _parts(message)


def test_file_backend_keeps_the_maildir_private(tmp_path: Path):
    send(build_report(_report(), from_addr=FROM, base_url=BASE_URL), mail=_file_settings(),
         data_dir=tmp_path)
    root = maildir_path(tmp_path)
    for path in (root, root / "new", root / "cur", root / "tmp"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    (written,) = (root / "new").iterdir()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_file_backend_adds_each_message_id_once(tmp_path: Path):
    settings = _file_settings()
    message_id = report_message_id("42", BASE_URL)
    assert not already_delivered(message_id, mail=settings, data_dir=tmp_path)

    send(build_report(_report(), from_addr=FROM, base_url=BASE_URL), mail=settings,
         data_dir=tmp_path)
    # A retry after a crash rebuilds the mail (new Date) with the same Message-ID.
    send(build_report(_report(), from_addr=FROM, base_url=BASE_URL), mail=settings,
         data_dir=tmp_path)
    box = mailbox.Maildir(maildir_path(tmp_path), create=False)
    assert len(box) == 1
    assert already_delivered(message_id, mail=settings, data_dir=tmp_path)

    # A mail reader moves it to cur/ and marks it seen: still recognised.
    (key,) = box.keys()
    seen = box.get_message(key)
    seen.set_subdir("cur")
    seen.add_flag("S")
    box[key] = seen
    assert not any((maildir_path(tmp_path) / "new").iterdir())
    send(build_report(_report(), from_addr=FROM, base_url=BASE_URL), mail=settings,
         data_dir=tmp_path)
    assert len(mailbox.Maildir(maildir_path(tmp_path), create=False)) == 1

    other = build_report(_report(report_id="43"), from_addr=FROM, base_url=BASE_URL)
    send(other, mail=settings, data_dir=tmp_path)
    assert len(mailbox.Maildir(maildir_path(tmp_path), create=False)) == 2


def test_file_backend_concurrent_deliveries_of_one_mail_leave_one_copy(tmp_path: Path):
    message = build_report(_report(), from_addr=FROM, base_url=BASE_URL)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: send(message, mail=_file_settings(), data_dir=tmp_path),
                      range(16)))
    assert len(mailbox.Maildir(maildir_path(tmp_path), create=False)) == 1
    assert not any((maildir_path(tmp_path) / "tmp").iterdir())  # no half-written leftovers


def test_file_backend_unwritable_maildir_is_a_mail_error(tmp_path: Path):
    (tmp_path / "mail").write_text("not a directory", encoding="utf-8")
    with pytest.raises(MailError, match="cannot write mail <report-42@"):
        send(build_report(_report(), from_addr=FROM, base_url=BASE_URL),
             mail=_file_settings(), data_dir=tmp_path)


def test_send_refuses_a_message_without_message_id(tmp_path: Path):
    bare = EmailMessage()
    bare["Subject"] = "hello"
    with pytest.raises(ValueError, match="Message-ID"):
        send(bare, mail=_file_settings(), data_dir=tmp_path)


# --- console backend --------------------------------------------------------------------


def test_console_backend_logs_the_whole_message_decoded(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="mailer.backends")
    link = f"{BASE_URL}/activate/" + "k" * 60  # long: must not be split by encoding
    message = build_activation(to_addr="bob@example.org", username="bob", link=link,
                               from_addr=FROM, base_url=BASE_URL)
    send(message, mail=MailSettings(backend="console"), data_dir=tmp_path)
    assert "Subject: Activate your gitserver account" in caplog.text
    assert f"Message-ID: {message['Message-ID']}" in caplog.text
    assert f"\n{link}\n" in caplog.text
    assert "--- text/html ---" in caplog.text
    assert not (tmp_path / "mail").exists()


# --- smtp backend against a real aiosmtpd server ------------------------------------------


@dataclass(frozen=True)
class Received:
    """What the test SMTP server accepted in one transaction."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    login: bytes | None


class Inbox:
    """aiosmtpd handler that keeps every mail it accepts."""

    def __init__(self) -> None:
        self.received: list[Received] = []

    # pylint: disable-next=invalid-name  # the hook names are aiosmtpd's
    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login if session.auth_data else None
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                      envelope.content, login))
        return "250 OK"

    def message_ids(self) -> list[str]:
        return [email.message_from_bytes(r.content, policy=default_policy)["Message-ID"]
                for r in self.received]


class RefusingInbox(Inbox):
    """Answers every RCPT TO as a server does for an unknown mailbox."""

    # pylint: disable-next=invalid-name
    async def handle_RCPT(self, *_hook_args: Any) -> str:
        return "550 5.1.1 no such user here"


class SocketController(Controller):
    """aiosmtpd's Controller serving on a socket the test bound itself (port 0): no fixed
    port, and the port is known (and refuses connections) before the server starts."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self.sock = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self.sock,
                                       ssl=self.ssl_context)


# name=: the function name differs from the fixture's, so pylint sees no shadowing.
@pytest.fixture(name="bound_socket")
def fixture_bound_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture(name="smtp_server")
def fixture_smtp_server(bound_socket: socket.socket) -> Iterator[Callable[..., SocketController]]:
    started: list[SocketController] = []

    def start(handler: Inbox, **kwargs: Any) -> SocketController:
        controller = SocketController(handler, bound_socket, **kwargs)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


def _smtp_settings(sock: socket.socket, **changes: Any) -> MailSettings:
    host, port = sock.getsockname()[:2]
    return MailSettings(backend="smtp", from_addr=FROM, smtp_host=host, smtp_port=port,
                        **changes)


@pytest.fixture(name="tls")
def fixture_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1 and a client context trusting it."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def _check_login(_server: Any, _session: Any, _envelope: Any, _mechanism: str,
                 auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"alice"
          and auth_data.password == PASSWORD.encode())
    # handled=False: aiosmtpd then answers a failure with 535 itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def test_smtp_backend_delivers_the_report(smtp_server, bound_socket, tmp_path: Path):
    inbox = Inbox()
    smtp_server(inbox)
    message = build_report(_report(), from_addr=FROM, base_url=BASE_URL)
    send(message, mail=_smtp_settings(bound_socket), data_dir=tmp_path)

    assert len(inbox.received) == 1
    received = inbox.received[0]
    assert received.mail_from == FROM
    assert received.rcpt_tos == ("alice@example.org",)
    delivered = email.message_from_bytes(received.content.replace(b"\r\n", b"\n"),
                                         policy=default_policy)
    assert delivered["Subject"] == "[alice/demo] failure: 1a2b3c4 Add parser"
    assert _parts(delivered) == _parts(message)
    assert not (tmp_path / "mail").exists()


def test_smtp_backend_server_down_fails_fast_then_delivers_once(smtp_server, bound_socket,
                                                                tmp_path: Path):
    settings = _smtp_settings(bound_socket)
    message = build_report(_report(), from_addr=FROM, base_url=BASE_URL)

    # Bound but not listening: connections are refused, as with a stopped server.
    started = time.monotonic()
    with pytest.raises(MailError, match="cannot reach SMTP server") as failure:
        send(message, mail=settings, data_dir=tmp_path)
    assert time.monotonic() - started < 5
    assert not isinstance(failure.value, MailRejected)  # retry later, do not give up

    inbox = Inbox()
    smtp_server(inbox)
    send(message, mail=settings, data_dir=tmp_path)
    assert inbox.message_ids() == ["<report-42@git.example.org>"]


def test_smtp_backend_starttls_and_login(smtp_server, bound_socket, tls, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    server_tls, client_tls = tls
    inbox = Inbox()
    smtp_server(inbox, tls_context=server_tls, require_starttls=True, auth_required=True,
                authenticator=_check_login)
    settings = _smtp_settings(bound_socket, smtp_starttls=True, smtp_user="alice",
                              smtp_password=PASSWORD)
    send(build_report(_report(), from_addr=FROM, base_url=BASE_URL), mail=settings,
         data_dir=tmp_path, tls_context=client_tls)

    assert [r.login for r in inbox.received] == [b"alice"]
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(settings)


def test_smtp_backend_checks_the_server_certificate(smtp_server, bound_socket, tls,
                                                    tmp_path: Path):
    server_tls, _ = tls
    inbox = Inbox()
    smtp_server(inbox, tls_context=server_tls, require_starttls=True)
    settings = _smtp_settings(bound_socket, smtp_starttls=True)
    with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
        send(build_report(_report(), from_addr=FROM, base_url=BASE_URL), mail=settings,
             data_dir=tmp_path)  # system CAs only: the test CA is not trusted
    assert not inbox.received


def test_smtp_backend_wrong_password_is_retried_not_rejected(smtp_server, bound_socket, tls,
                                                             tmp_path: Path):
    server_tls, client_tls = tls
    inbox = Inbox()
    smtp_server(inbox, tls_context=server_tls, require_starttls=True, auth_required=True,
                authenticator=_check_login)
    settings = _smtp_settings(bound_socket, smtp_starttls=True, smtp_user="alice",
                              smtp_password="wrong")
    with pytest.raises(MailError, match="SMTPAuthenticationError") as failure:
        send(build_report(_report(), from_addr=FROM, base_url=BASE_URL), mail=settings,
             data_dir=tmp_path, tls_context=client_tls)
    # Our settings are wrong, not the mail: it must wait for the operator, not be dropped.
    assert not isinstance(failure.value, MailRejected)
    assert "wrong" not in str(failure.value)
    assert not inbox.received


def test_smtp_backend_refused_recipient_is_rejected_for_good(smtp_server, bound_socket,
                                                             tmp_path: Path):
    inbox = RefusingInbox()
    smtp_server(inbox)
    with pytest.raises(MailRejected, match=r"550 5\.1\.1 no such user"):
        send(build_report(_report(), from_addr=FROM, base_url=BASE_URL),
             mail=_smtp_settings(bound_socket), data_dir=tmp_path)
    assert not inbox.received
