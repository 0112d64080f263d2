"""Accounts on the web (issue 5), end to end against a real `gitserver serve`: sign-up with the
activation mail read back from the Maildir, sign-in with the CSRF token of the form, tokens,
a real `git push` and its report mail; bad keys, enumeration, throttling, CSRF, sessions.

Each test registers users of its own, so the tests share the module's server without
interfering. Mails and results are awaited by polling against a deadline, never fixed sleeps.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from gitserver.core.models import ActivationKey, Push, User, database, init_db

from .support import (
    PASSWORD,
    Server,
    git,
    maildir_messages,
    make_work_repo,
    start_server,
    wait_until,
)

DEADLINE_S = 60.0
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK_RE = re.compile(r"(http://\S+?/activate/[A-Za-z0-9_-]+)")
TOKEN_RE = re.compile(r"<code>(gsp_[A-Za-z0-9_-]+)</code>")
CLEAN = '"""A clean module."""\n\nANSWER = 42\n'
BROKEN = '"""Broken."""\nimport os\n\n\ndef greet():\n    return undefined_name\n'


@pytest.fixture(scope="module", name="server")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own, with no users; this process opens its database too."""
    srv = start_server(tmp_path_factory.mktemp("accounts"))
    try:
        init_db(srv.database_url)  # this process reads and changes the server's database
        yield srv
    finally:
        if not database.is_closed():
            database.close()
        srv.stop()


# -- helpers ------------------------------------------------------------------------------------

def browser(server: Server, local_address: str | None = None) -> httpx.Client:
    """A client that keeps cookies and does not follow redirects, like a careful browser."""
    transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
    return httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30,
                        transport=transport, headers={"Accept": "text/html"})


def csrf(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = CSRF_RE.search(response.text)
    assert match, f"no CSRF token in the form of {path}"
    return match.group(1)


def post_form(client: httpx.Client, form_page: str, action: str,
              data: dict[str, str]) -> httpx.Response:
    return client.post(action, data={"csrf_token": csrf(client, form_page), **data})


def main_text(html: str) -> str:
    """The page's <main> as text, without tags: what a reader sees of the answer."""
    body = html.split("<main", 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def mails_to(server: Server, address: str) -> list[EmailMessage]:
    """The mails for `address` in the server's Maildir."""
    return [m for m in maildir_messages(server)
            if any(a.addr_spec == address for a in m["To"].addresses)]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return body.get_content()


def activation_link(server: Server, address: str, count: int = 1) -> str:
    """The link of the `count`-th activation mail to `address` (waits for it)."""
    def probe() -> list[str]:
        return [LINK_RE.search(text_of(m)).group(1) for m in mails_to(server, address)
                if str(m["Subject"]) == "Activate your gitserver account"]
    links = wait_until(f"activation mail {count} to {address}",
                       lambda: len(probe()) >= count and probe(), deadline_s=DEADLINE_S)
    assert len(links) == count, links
    # Mail order in a Maildir is not delivery order: the newest is the one not seen before.
    return links[-1] if count == 1 else sorted(links, key=_key_created)[-1]


def _key_created(link: str) -> dt.datetime:
    from gitserver.core.accounts import activation_key_hash  # pylint: disable=import-outside-toplevel
    return ActivationKey.get(ActivationKey.key_hash == activation_key_hash(
        link.rsplit("/", 1)[1])).created_at


def local(server: Server, link: str) -> str:
    assert link.startswith(server.base_url), link
    return link[len(server.base_url):]


def register(client: httpx.Client, username: str, email_addr: str,
             password: str = PASSWORD) -> httpx.Response:
    return post_form(client, "/register", "/register",
                     {"username": username, "email": email_addr, "password": password})


def sign_in(client: httpx.Client, login: str, password: str = PASSWORD,
            next_path: str = "") -> httpx.Response:
    return post_form(client, "/login", "/login",
                     {"login": login, "password": password, "next": next_path})


def signed_up(server: Server, client: httpx.Client, username: str) -> str:
    """Register, activate from the mail and sign in; return the address."""
    address = f"{username}@example.org"
    assert register(client, username, address).status_code == 200
    assert client.get(local(server, activation_link(server, address))).status_code == 200
    assert sign_in(client, username).status_code == 303
    return address


def new_token(client: httpx.Client, name: str) -> str:
    response = post_form(client, "/settings", "/settings/tokens", {"name": name})
    assert response.status_code == 200
    match = TOKEN_RE.search(response.text)
    assert match, "the new token is not shown"
    return match.group(1)


def push_as(server: Server, work: Path, credentials: tuple[str, str], repo: str) -> str:
    """Push main to the user's repo with the real git; return the pushed sha."""
    user, secret = credentials
    git(work, "push", "-q", server.url(f"{user}/{repo}.git", user, secret), "main")
    return git(work, "rev-parse", "HEAD").stdout.strip()


# -- the whole way: sign up, activate, token, push, report mail ----------------------------------

def test_accounts_signup_activate_token_push_and_report_mail(server: Server,
                                                             tmp_path: Path) -> None:
    client = browser(server)
    form = client.get("/register")
    assert form.status_code == 200 and "bootstrap.min.css" in form.text
    page = register(client, "carol", "carol@example.org")
    assert page.status_code == 200 and "Check your mail" in page.text

    link = activation_link(server, "carol@example.org")
    assert link.startswith(f"{server.base_url}/activate/")
    assert len(link.rsplit("/", 1)[1]) >= 22  # >= 128 bits in URL-safe base64
    activated = client.get(local(server, link))
    assert activated.status_code == 200 and "Your account is active" in activated.text

    signed = sign_in(client, "carol", next_path="/settings")
    assert signed.status_code == 303 and signed.headers["location"] == "/settings"
    settings = client.get("/settings")
    assert settings.status_code == 200 and "Settings for carol" in settings.text
    token = new_token(client, "laptop")
    assert token.startswith("gsp_")
    assert token not in client.get("/settings").text  # shown once only

    work = make_work_repo(tmp_path / "demo", {"greet.py": BROKEN}, "Add greeting")
    sha = push_as(server, work, ("carol", token), "demo")
    [report] = wait_until("carol's report mail", lambda: [
        m for m in mails_to(server, "carol@example.org") if str(m["Subject"]).startswith("[")],
        deadline_s=DEADLINE_S)
    assert str(report["Subject"]) == f"[carol/demo] failure: {sha[:7]} Add greeting"
    assert f"/carol/demo/commit/{sha}" in text_of(report)

    def mailed_checks() -> list[dict[str, str]]:
        files = httpx.get(server.url(f"api/v1/repos/carol/demo/commits/{sha}/checks"),
                          auth=("carol", token), timeout=30).json()["files"]
        return files if all(f["emailed_at"] for f in files) else []
    assert [f["path"] for f in wait_until("emailed_at on every check", mailed_checks,
                                          deadline_s=DEADLINE_S)] == ["greet.py"]

    tokens = client.get("/settings").text
    assert "laptop" in tokens and "never" not in tokens.split('id="token-list"')[1].split(
        "</table>")[0]


def test_accounts_report_mails_none_sends_none(server: Server, tmp_path: Path) -> None:
    client = browser(server)
    signed_up(server, client, "quiet")
    token = new_token(client, "ci")
    saved = post_form(client, "/settings", "/settings/mail", {"mail_reports": "none"})
    assert saved.status_code == 303
    assert 'value="none" checked' in client.get("/settings").text

    work = make_work_repo(tmp_path / "q", {"ok.py": CLEAN}, "Quiet push")
    push_as(server, work, ("quiet", token), "hush")
    user = User.get(User.username == "quiet")
    push = wait_until("the push's report to be settled", lambda: Push.get_or_none(
        (Push.pusher == user) & (Push.report_state.in_(("sent", "skipped", "failed")))),
        deadline_s=DEADLINE_S)
    assert push.report_state == "skipped"
    assert [str(m["Subject"]) for m in mails_to(server, "quiet@example.org")] == [
        "Activate your gitserver account"]


# -- activation keys -----------------------------------------------------------------------------

def test_accounts_used_key_gets_a_clear_410(server: Server) -> None:
    client = browser(server)
    register(client, "dora", "dora@example.org")
    link = local(server, activation_link(server, "dora@example.org"))
    assert client.get(link).status_code == 200
    again = client.get(link)
    assert again.status_code == 410
    assert "This link has been used already" in again.text and "/login" in again.text


@pytest.mark.parametrize("key", ["bogus", "A" * 43, "x" * 500, "%2e%2e"])
def test_accounts_bogus_key_gets_a_clear_404(server: Server, key: str) -> None:
    response = browser(server).get(f"/activate/{key}")
    assert response.status_code == 404
    assert "This activation link is not valid" in response.text
    assert 'href="/activate"' in response.text  # what to do next: ask for a new link


def test_accounts_expired_key_gets_410_and_a_new_link_replaces_it(server: Server) -> None:
    client = browser(server)
    register(client, "emil", "emil@example.org")
    old = local(server, activation_link(server, "emil@example.org"))
    ActivationKey.update(created_at=dt.datetime(2000, 1, 1),
                         expires_at=dt.datetime(2000, 1, 2)).where(
        ActivationKey.user == User.get(User.username == "emil")).execute()

    expired = client.get(old)
    assert expired.status_code == 410 and "This activation link has expired" in expired.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', expired.text).group(1)
    resent = client.post("/activate", data={"csrf_token": CSRF_RE.search(expired.text).group(1),
                                            "ticket": ticket})
    assert resent.status_code == 200 and "Check your mail" in resent.text

    new = local(server, activation_link(server, "emil@example.org", count=2))
    assert new != old
    assert client.get(old).status_code == 410
    assert client.get(new).status_code == 200
    assert User.get(User.username == "emil").is_active


def test_accounts_resend_replaces_the_live_key(server: Server) -> None:
    client = browser(server)
    register(client, "fay", "fay@example.org")
    first = local(server, activation_link(server, "fay@example.org"))
    # the key must be older than the resend interval, or no second mail goes out
    ActivationKey.update(created_at=dt.datetime(2000, 1, 1)).where(
        ActivationKey.user == User.get(User.username == "fay")).execute()
    answer = post_form(client, "/activate", "/activate", {"email": "fay@example.org"})
    assert answer.status_code == 200
    second = local(server, activation_link(server, "fay@example.org", count=2))
    assert client.get(first).status_code == 410  # one live key per user
    assert client.get(second).status_code == 200


# -- no user enumeration -------------------------------------------------------------------------

def test_accounts_taken_email_or_username_answers_like_a_fresh_one(server: Server) -> None:
    client = browser(server)
    signed_up(server, client, "gus")
    client = browser(server)
    answers = []
    for username, address in (("hana", "hana@example.org"),   # fresh
                              ("hana2", "gus@example.org"),   # taken address
                              ("gus", "other@example.org")):  # taken username
        response = register(client, username, address, "another-password")
        answers.append((response.status_code, main_text(response.text).replace(address, "@")))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 200

    notes = wait_until("the note to gus", lambda: [
        m for m in mails_to(server, "gus@example.org")
        if str(m["Subject"]) == "Someone tried to register with your address"],
        deadline_s=DEADLINE_S)
    assert len(notes) == 1
    wait_until("the note to the taken name's registrant", lambda: [
        m for m in mails_to(server, "other@example.org")
        if str(m["Subject"]) == "Choose another username for gitserver"],
        deadline_s=DEADLINE_S)
    assert not User.select().where(User.username == "hana2").exists()
    assert User.get(User.username == "gus").email == "gus@example.org"
    assert sign_in(browser(server), "gus").status_code == 303  # password unchanged


def test_accounts_invalid_registration_says_what_to_change(server: Server) -> None:
    client = browser(server)
    for data, text in ((("Bad Name", "x@example.org", PASSWORD), "is not allowed"),
                       (("login", "x@example.org", PASSWORD), "reserved"),
                       (("okname", "not-an-address", PASSWORD), "does not look like an email"),
                       (("okname", "x@example.org", "short"), "at least 8 characters")):
        response = register(client, *data)
        assert response.status_code == 400, data
        assert text in response.text, data
    assert not User.select().where(User.username == "okname").exists()


# -- inactive accounts ---------------------------------------------------------------------------

def test_accounts_inactive_user_cannot_sign_in_or_push(server: Server, tmp_path: Path) -> None:
    client = browser(server)
    register(client, "ivy", "ivy@example.org")
    activation_link(server, "ivy@example.org")
    page = sign_in(client, "ivy")
    assert page.status_code == 403
    assert "Activate your account first" in page.text and 'name="ticket"' in page.text
    assert client.get("/settings").status_code == 303  # not signed in
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.text).group(1)
    again = client.post("/activate", data={"csrf_token": CSRF_RE.search(page.text).group(1),
                                           "ticket": ticket})
    assert again.status_code == 200 and "less than a minute ago" in again.text
    activation_link(server, "ivy@example.org")  # still exactly one: no mail cannon

    refs = httpx.get(server.url("ivy/x.git/info/refs"), auth=("ivy", PASSWORD),
                     params={"service": "git-receive-pack"}, timeout=30)
    assert refs.status_code == 401
    work = make_work_repo(tmp_path / "ivy", {"a.py": CLEAN})
    pushed = git(work, "push", "-q", server.url("ivy/x.git", "ivy"), "main", check=False)
    assert pushed.returncode != 0 and "Authentication failed" in pushed.stderr


def test_accounts_wrong_password_of_inactive_user_does_not_reveal_it(server: Server) -> None:
    client = browser(server)
    register(client, "jon", "jon@example.org")
    activation_link(server, "jon@example.org")
    wrong = sign_in(client, "jon", "not-the-password")
    unknown = sign_in(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert main_text(wrong.text).replace("jon", "X") == \
        main_text(unknown.text).replace("nobody-here", "X")


# -- sessions, CSRF, tokens ----------------------------------------------------------------------

def test_accounts_form_without_csrf_token_gets_403(server: Server) -> None:
    client = browser(server)
    client.get("/login")
    missing = client.post("/login", data={"login": "carol", "password": PASSWORD})
    forged = client.post("/login", data={"login": "carol", "password": PASSWORD,
                                         "csrf_token": "forged"})
    other = browser(server)
    token = csrf(other, "/login")
    no_cookie = httpx.post(server.url("login"), data={"csrf_token": token, "login": "carol",
                                                      "password": PASSWORD},
                           headers={"Accept": "text/html"})
    for response in (missing, forged, no_cookie):
        assert response.status_code == 403
        assert "This form has expired" in response.text


def test_accounts_session_cookie_flags_and_sign_out_ends_it(server: Server) -> None:
    client = browser(server)
    signed_up(server, client, "kim")
    cookie = client.cookies.get("gitserver_session")
    assert cookie
    raw = sign_in(browser(server), "kim").headers["set-cookie"].lower()
    assert "httponly" in raw and "samesite=lax" in raw and "path=/" in raw
    assert "secure" not in raw  # base_url is http here

    out = post_form(client, "/settings", "/logout", {})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/settings").status_code == 303
    replay = httpx.get(server.url("settings"), cookies={"gitserver_session": cookie},
                       follow_redirects=False)
    assert replay.status_code == 303  # the old cookie died with the sign-out


def test_accounts_session_works_for_the_api(server: Server) -> None:
    client = browser(server)
    signed_up(server, client, "lea")
    me = client.get("/api/v1/user")
    assert me.status_code == 200 and me.json()["login"] == "lea"


def test_accounts_login_goes_to_local_next_only(server: Server) -> None:
    client = browser(server)
    signed_up(server, client, "max")
    for target, expected in (("//evil.example/x", "/max"), ("https://evil.example/", "/max"),
                             ("/\\evil.example", "/max"), ("/settings", "/settings")):
        fresh = browser(server)
        answer = sign_in(fresh, "max", next_path=target)
        assert answer.headers["location"] == expected, target


def test_accounts_revoked_token_stops_working_at_once(server: Server, tmp_path: Path) -> None:
    client = browser(server)
    signed_up(server, client, "nia")
    token = new_token(client, "short-lived")
    work = make_work_repo(tmp_path / "n", {"a.py": CLEAN})
    push_as(server, work, ("nia", token), "keep")
    listing = client.get("/settings").text
    token_id = re.search(r'action="/settings/tokens/(\d+)/revoke"', listing).group(1)
    revoked = post_form(client, "/settings", f"/settings/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 303
    assert "is revoked" in client.get("/settings").text
    refs = httpx.get(server.url("nia/keep.git/info/refs"), auth=("nia", token),
                     params={"service": "git-upload-pack"}, timeout=30)
    assert refs.status_code == 401


def test_accounts_password_change_ends_other_sessions(server: Server) -> None:
    first = browser(server)
    signed_up(server, first, "oli")
    second = browser(server)
    assert sign_in(second, "oli").status_code == 303
    changed = post_form(first, "/settings", "/settings/password",
                        {"current_password": PASSWORD, "new_password": "a-new-password"})
    assert changed.status_code == 303
    assert first.get("/settings").status_code == 200  # this browser stays signed in
    assert second.get("/settings").status_code == 303
    assert sign_in(browser(server), "oli", "a-new-password").status_code == 303


def test_accounts_cli_token_create_works_as_git_password(server: Server) -> None:
    client = browser(server)
    signed_up(server, client, "pia")
    token = server.create_token("pia", "from-cli")
    refs = httpx.get(server.url("api/v1/user"), auth=("pia", token), timeout=30)
    assert refs.status_code == 200 and refs.json()["login"] == "pia"
    assert "from-cli" in client.get("/settings").text


# -- throttling ----------------------------------------------------------------------------------

def test_accounts_ten_failed_logins_throttle_that_account_from_that_address(
        server: Server) -> None:
    server.add_user("rex", email="rex@example.org")
    attacker = browser(server)
    for _ in range(10):
        assert sign_in(attacker, "rex", "wrong-password").status_code == 401
    blocked = sign_in(attacker, "rex", "wrong-password")
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.text
    assert int(blocked.headers["Retry-After"]) > 0
    # even the right password waits, from this address: guessing it must not pay off
    assert sign_in(attacker, "rex").status_code == 429
    api = httpx.get(server.url("api/v1/user"), auth=("rex", PASSWORD), timeout=30)
    assert api.status_code == 429 and api.json()["errors"][0]["type"] == "rate_limited"

    # the real user, elsewhere, is not locked out; nor is another account from this address
    elsewhere = browser(server, local_address="127.0.0.2")
    assert sign_in(elsewhere, "rex").status_code == 303
    server.add_user("sam", email="sam@example.org")
    assert sign_in(attacker, "sam").status_code == 303


def test_accounts_failed_basic_auth_is_throttled_too(server: Server) -> None:
    server.add_user("tia", email="tia@example.org")
    url = server.url("tia/x.git/info/refs")
    params = {"service": "git-upload-pack"}
    statuses = [httpx.get(url, params=params, auth=("tia", f"guess-{i}"), timeout=30).status_code
                for i in range(11)]
    assert statuses == [401] * 10 + [429]
    assert sign_in(browser(server), "tia").status_code == 429  # web and git count together
