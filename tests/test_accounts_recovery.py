"""Account recovery and sessions (issue 16), end to end against a real `gitserver serve`: the
password reset and address change mails read back from the Maildir, sessions of two clients,
the registration form's errors.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest

from gitserver.core.auth import token_hash
from gitserver.core.models import AccountKey, User, WebSession, database, init_db, utcnow

from .support import PASSWORD, Server, start_server, wait_until
from .test_accounts import browser, mails_to, main_text, post_form, sign_in, text_of

RESET_RE = re.compile(r"(http://\S+?/password/reset/[A-Za-z0-9_-]+)")
CONFIRM_RE = re.compile(r"(http://\S+?/settings/email/[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module", name="server")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own; this process opens its database too."""
    srv = start_server(tmp_path_factory.mktemp("recovery"))
    try:
        init_db(srv.database_url)
        yield srv
    finally:
        if not database.is_closed():
            database.close()
        srv.stop()


def user(server: Server, name: str) -> str:
    """An active user made with the CLI; returns the address."""
    address = f"{name}@example.org"
    server.add_user(name, email=address)
    return address


def signed_in(server: Server, name: str, password: str = PASSWORD) -> httpx.Client:
    client = browser(server)
    assert sign_in(client, name, password).status_code == 303
    assert client.get("/settings").status_code == 200
    return client


def is_signed_in(client: httpx.Client) -> bool:
    return client.get("/settings").status_code == 200


def links(server: Server, address: str, pattern: re.Pattern[str], count: int) -> list[str]:
    found = wait_until(f"{count} link(s) mailed to {address}", lambda: len(
        [m for m in mails_to(server, address) if pattern.search(text_of(m))]) >= count and [
        pattern.search(text_of(m)).group(1) for m in mails_to(server, address)
        if pattern.search(text_of(m))])
    assert len(found) == count, found
    return found


def local(server: Server, link: str) -> str:
    assert link.startswith(server.base_url), link
    return link[len(server.base_url):]


def ask_reset(client: httpx.Client, address: str) -> httpx.Response:
    return post_form(client, "/password/reset", "/password/reset", {"email": address})


# -- password reset -----------------------------------------------------------------------------

def test_reset_answers_the_same_for_known_and_unknown_addresses(server: Server) -> None:
    address = user(server, "rita")
    client = browser(server)
    assert 'href="/password/reset"' in client.get("/login").text
    known = ask_reset(client, address)
    unknown = ask_reset(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert main_text(known.text).replace(address, "X") == \
        main_text(unknown.text).replace("nobody@example.org", "X")
    links(server, address, RESET_RE, 1)
    assert not mails_to(server, "nobody@example.org")


def test_reset_link_works_once_for_an_hour_and_ends_every_session(server: Server) -> None:
    address = user(server, "sam")
    first, second = signed_in(server, "sam"), signed_in(server, "sam")
    assert ask_reset(browser(server), address).status_code == 200
    link = links(server, address, RESET_RE, 1)[0]
    key = link.rsplit("/", 1)[1]
    assert len(key) >= 22  # 128 bits and more, base64
    row = AccountKey.get(AccountKey.key_hash == token_hash(key))  # stored hashed, not as is
    assert row.expires_at - row.created_at == dt.timedelta(hours=1)
    assert not AccountKey.select().where(AccountKey.key_hash == key).exists()

    resetter = browser(server)
    form = resetter.get(local(server, link))
    assert form.status_code == 200 and "sam" in form.text
    short = post_form(resetter, local(server, link), local(server, link), {"password": "short"})
    assert short.status_code == 400 and "at least 8 characters" in short.text
    done = post_form(resetter, local(server, link), local(server, link),
                     {"password": "a-brand-new-password"})
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert not is_signed_in(first) and not is_signed_in(second)
    assert sign_in(browser(server), "sam").status_code == 401
    assert sign_in(browser(server), "sam", "a-brand-new-password").status_code == 303

    again = resetter.get(local(server, link))
    assert again.status_code == 410 and "used already" in again.text
    assert post_form(resetter, "/password/reset", local(server, link),
                     {"password": "yet-another-one"}).status_code == 410
    bogus = resetter.get("/password/reset/not-a-key")
    assert bogus.status_code == 404 and "not valid" in bogus.text
    bogus_post = post_form(resetter, "/password/reset", "/password/reset/not-a-key",
                           {"password": "short"})
    assert bogus_post.status_code == 404 and "not valid" in bogus_post.text


def test_reset_link_expires_and_a_newer_one_replaces_it(server: Server) -> None:
    address = user(server, "tia")
    client = browser(server)
    ask_reset(client, address)
    older = links(server, address, RESET_RE, 1)[0]
    ask_reset(client, address)
    newer = next(link for link in links(server, address, RESET_RE, 2) if link != older)
    assert client.get(local(server, older)).status_code == 410  # replaced
    AccountKey.update(expires_at=utcnow() - dt.timedelta(seconds=1)).where(
        AccountKey.key_hash == token_hash(newer.rsplit("/", 1)[1])).execute()
    expired = client.get(local(server, newer))
    assert expired.status_code == 410 and "expired" in expired.text


def test_reset_mails_are_limited_per_address(server: Server) -> None:
    address = user(server, "uma")
    client = browser(server)
    answers = [ask_reset(client, address).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    unknown = [ask_reset(client, "ghost@example.org").status_code for _ in range(4)]
    assert unknown == answers  # the limit says nothing about whether the address is known
    links(server, address, RESET_RE, 3)


# -- address change -----------------------------------------------------------------------------

def test_email_change_applies_after_the_link_and_tells_the_old_address(server: Server) -> None:
    old = user(server, "vic")
    client = signed_in(server, "vic")
    assert 'href="/settings/email"' in client.get("/settings").text
    wrong = post_form(client, "/settings/email", "/settings/email",
                      {"email": "vic@new.example.org", "password": "not-the-password"})
    assert wrong.status_code == 400 and "password is wrong" in wrong.text
    asked = post_form(client, "/settings/email", "/settings/email",
                      {"email": "Vic@New.example.org", "password": PASSWORD})
    assert asked.status_code == 303
    assert "Your address stays vic@example.org" in client.get("/settings").text
    link = links(server, "vic@new.example.org", CONFIRM_RE, 1)[0]
    assert User.get(User.username == "vic").email == old  # nothing changed yet

    confirmed = browser(server).get(local(server, link))  # any browser: the key is the proof
    assert confirmed.status_code == 200 and "vic@new.example.org" in confirmed.text
    assert User.get(User.username == "vic").email == "vic@new.example.org"
    told = wait_until("the mail to the old address", lambda: [
        m for m in mails_to(server, old) if "was changed" in str(m["Subject"])])
    assert "vic@new.example.org" in text_of(told[0])
    assert client.get(local(server, link)).status_code == 410  # single use
    assert sign_in(browser(server), "vic@new.example.org").status_code == 303


def test_email_change_to_an_address_taken_meanwhile_is_refused(server: Server) -> None:
    user(server, "wes")
    taken = user(server, "xia")
    client = signed_in(server, "wes")
    post_form(client, "/settings/email", "/settings/email",
              {"email": taken, "password": PASSWORD})
    link = links(server, taken, CONFIRM_RE, 1)[0]
    refused = client.get(local(server, link))
    assert refused.status_code == 409 and "belongs to another account" in refused.text
    assert User.get(User.username == "wes").email == "wes@example.org"


# -- sessions -----------------------------------------------------------------------------------

def test_logout_ends_this_session_only(server: Server) -> None:
    user(server, "yan")
    first, second = signed_in(server, "yan"), signed_in(server, "yan")
    cookie = first.cookies.get("gitserver_session")
    out = post_form(first, "/settings", "/logout", {})
    assert out.status_code == 303
    assert not is_signed_in(first)
    assert is_signed_in(second)
    replay = httpx.get(server.url("settings"), cookies={"gitserver_session": cookie},
                       follow_redirects=False)
    assert replay.status_code == 303  # the signed-out cookie is dead, not only forgotten


def test_sign_out_everywhere_ends_every_session(server: Server) -> None:
    user(server, "zoe")
    first, second = signed_in(server, "zoe"), signed_in(server, "zoe")
    assert "Sign out everywhere" in first.get("/settings").text
    out = post_form(first, "/settings", "/settings/sessions", {})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert not is_signed_in(first) and not is_signed_in(second)
    zoe = User.get(User.username == "zoe")
    assert not WebSession.select().where(WebSession.user == zoe).exists()


# -- registration -------------------------------------------------------------------------------

def test_registration_form_shows_every_field_error_at_once(server: Server) -> None:
    client = browser(server)
    page = post_form(client, "/register", "/register",
                     {"username": "Bad Name", "email": "not-an-address", "password": "short"})
    assert page.status_code == 400
    text = main_text(page.text)
    for expected in ("is not allowed", "does not look like an email", "at least 8 characters",
                     "Fix these 3 things"):
        assert expected in text, expected
    for name in ("username", "email", "password"):
        assert f'id="{name}-error"' in page.text
    assert 'value="not-an-address"' in page.text and "short" not in page.text.split(
        'name="password"')[1].split(">")[0]
