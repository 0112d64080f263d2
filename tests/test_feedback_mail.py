"""Report mails that respect attention (issue 15): they lead with what changed, follow the
user's preference (`every`, `changes`, `none`), carry RFC 8058 one-click unsubscribe headers,
and quick pushes to one branch make one mail. Real pushes, real workers, the Maildir."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import base64
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from gitserver.core.models import Push, User

from .support import (
    PASSWORD,
    Server,
    commit_files,
    git,
    make_work_repo,
    report_mails,
    server_db,
    start_server,
    wait_until,
)
from .test_accounts import browser, post_form, sign_in, text_of

CLEAN = '"""A clean module."""\n\nANSWER = 42\n'
CLEAN_TOO = '"""A clean module."""\n\nANSWER = 43\n'
BROKEN = '"""A clean module."""\n\nANSWER = fourty_two\n'
LEGACY = ("import os\nimport sys\n\n\ndef Add(a, b):\n    return a + b\n\n\n"
          "def scale(values, factor):\n    return [v * factor for v in values]\n")


@pytest.fixture(scope="module", name="srv")
def fixture_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("mail"), {"GITSERVER_CHECKER_PUSH_WAIT_S": "0"})
    try:
        srv.add_user("alice")
        yield srv
    finally:
        srv.stop()


def push(srv: Server, work: Path, repo: str, *options: str) -> str:
    args = [arg for option in options for arg in ("-o", option)]
    git(work, "push", "-q", *args, srv.url(f"alice/{repo}.git", "alice"), "main")
    return git(work, "rev-parse", "HEAD").stdout.strip()


def settled(srv: Server, sha: str) -> str:
    """The report state of the push that brought `sha`, once its report is decided."""
    def probe() -> str | None:
        with server_db(srv):
            for found in Push.select().order_by(Push.id.desc()).limit(20):
                if any(new == sha for _, _, new in found.updates) and found.report_state in (
                        "sent", "skipped", "failed", "superseded"):
                    return str(found.report_state)
        return None
    return wait_until(f"the report of {sha[:7]} to be settled", probe)


def choose(srv: Server, preference: str) -> None:
    client = browser(srv)
    assert sign_in(client, "alice").status_code == 303
    assert post_form(client, "/settings", "/settings/mail",
                     {"mail_reports": preference}).status_code == 303
    assert f'value="{preference}" checked' in client.get("/settings").text


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return body.get_content()


def test_feedback_mail_leads_with_the_new_error_and_carries_one_click_unsubscribe(
        srv: Server, tmp_path: Path) -> None:
    choose(srv, "every")
    work = make_work_repo(tmp_path / "w", {"legacy.py": LEGACY, "ok.py": CLEAN})
    first = push(srv, work, "ordered")
    assert settled(srv, first) == "sent"
    commit_files(work, {"ok.py": BROKEN}, "Break ok")
    sha = push(srv, work, "ordered")
    assert settled(srv, sha) == "sent"
    mail = report_mails(srv, "ordered")[-1]
    assert str(mail["Subject"]) == f"[alice/ordered] failure: {sha[:7]} Break ok"
    text = text_of(mail)
    new_at = text.index("New since the parent (1):")
    error_at = text.index("ok.py:3:9: undefined-variable (E0602)")
    still_at = text.index("Unchanged and still failing: 1 file (legacy.py).")
    assert new_at < error_at < still_at
    assert text.index("Status page:") > still_at
    assert f"explain: {srv.base_url}/help/pylint/undefined-variable" in text
    assert "unused-import" not in text.split("Status page:")[0]  # legacy: one line only
    html = html_of(mail)
    assert f'href="{srv.base_url}/help/pylint/undefined-variable"' in html
    assert f"{srv.base_url}/settings#mail" in text and f"{srv.base_url}/settings#mail" in html

    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(mail["List-Unsubscribe"]).strip().strip("<>")
    assert link.startswith(f"{srv.base_url}/unsubscribe/")
    shown = httpx.get(link, timeout=30)  # a mail scanner following the link changes nothing
    assert shown.status_code == 200 and "Stop report mails" in shown.text
    with server_db(srv):
        assert User.get(User.username == "alice").mail_reports == "every"
    # RFC 8058: the mail client POSTs this body, with no cookie and no sign-in
    done = httpx.post(link, content=b"List-Unsubscribe=One-Click", timeout=30,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "No more report mails" in done.text
    with server_db(srv):
        assert User.get(User.username == "alice").mail_reports == "none"
    forged = httpx.post(link[:-3] + "xyz", content=b"List-Unsubscribe=One-Click", timeout=30)
    assert forged.status_code == 404

    commit_files(work, {"ok.py": CLEAN}, "Fix ok")
    assert settled(srv, push(srv, work, "ordered")) == "skipped"


def test_feedback_mail_changes_only_when_the_state_flips_or_new_messages(
        srv: Server, tmp_path: Path) -> None:
    choose(srv, "changes")
    work = make_work_repo(tmp_path / "w", {"a.py": CLEAN})
    assert settled(srv, push(srv, work, "flips")) == "sent"  # a new branch: its first state
    commit_files(work, {"a.py": CLEAN_TOO}, "Still clean")
    assert settled(srv, push(srv, work, "flips")) == "skipped"
    commit_files(work, {"a.py": BROKEN}, "Break it")
    broken = push(srv, work, "flips")
    assert settled(srv, broken) == "sent"
    commit_files(work, {"a.py": CLEAN}, "Fix it")
    fixed = push(srv, work, "flips")
    assert settled(srv, fixed) == "sent"
    subjects = [str(m["Subject"]) for m in report_mails(srv, "flips")]
    assert subjects[1:] == [f"[alice/flips] failure: {broken[:7]} Break it",
                            f"[alice/flips] success: {fixed[:7]} Fix it"]
    assert "You fixed 1: undefined-variable" in text_of(report_mails(srv, "flips")[-1])
    assert len(subjects) == 3


def test_feedback_mail_quick_pushes_make_one_mail_about_the_newest(srv: Server,
                                                                   tmp_path: Path) -> None:
    choose(srv, "every")
    work = make_work_repo(tmp_path / "w", {"a.py": CLEAN})
    assert settled(srv, push(srv, work, "quick")) == "sent"
    shas = []
    for number in range(3):
        commit_files(work, {"a.py": f'"""Edit {number}."""\n\nANSWER = {number}\n'},
                     f"Edit {number}")
        shas.append(push(srv, work, "quick"))
    assert [settled(srv, sha) for sha in shas] == ["superseded", "superseded", "sent"]
    mails = report_mails(srv, "quick")
    assert [str(m["Subject"]) for m in mails[1:]] == [
        f"[alice/quick] success: {shas[-1][:7]} Edit 2"]
    assert "covers your last 3 pushes" in " ".join(text_of(mails[-1]).split())


def test_feedback_push_option_notify_none_sends_no_mail(srv: Server, tmp_path: Path) -> None:
    choose(srv, "every")
    work = make_work_repo(tmp_path / "w", {"a.py": BROKEN})
    sha = push(srv, work, "silent", "notify=none")
    assert settled(srv, sha) == "skipped"
    assert report_mails(srv, "silent") == []


def test_feedback_mail_three_quick_edits_in_the_browser_make_one_mail(srv: Server,
                                                                      tmp_path: Path) -> None:
    # The contents API commits as the browser's edit form does (hooks/browser_commit.py).
    choose(srv, "every")
    work = make_work_repo(tmp_path / "w", {"a.py": CLEAN})
    assert settled(srv, push(srv, work, "edits")) == "sent"
    url = srv.url("api/v1/repos/alice/edits/contents/a.py")
    blob = httpx.get(url, auth=("alice", PASSWORD), timeout=30).json()["sha"]
    shas = []
    for number in range(3):
        source = f'"""Edit {number}."""\n\nANSWER = {number}\n'
        saved = httpx.put(url, auth=("alice", PASSWORD), timeout=30, json={
            "message": f"Edit {number} in the browser", "sha": blob,
            "content": base64.b64encode(source.encode()).decode()})
        assert saved.status_code == 200, saved.text
        blob = saved.json()["content"]["sha"]
        shas.append(saved.json()["commit"]["sha"])
    assert settled(srv, shas[-1]) == "sent"
    assert [settled(srv, sha) for sha in shas[:2]] == ["superseded", "superseded"]
    subjects = [str(m["Subject"]) for m in report_mails(srv, "edits")]
    assert subjects[1:] == [f"[alice/edits] success: {shas[-1][:7]} Edit 2 in the browser"]
