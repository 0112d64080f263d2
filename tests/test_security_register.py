"""Security: /register cannot be used as a mail cannon, a memory bomb or a name squatter, and
an account that is not active is nowhere to be found (issue 14, finding 6)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gitserver.core.models import ActivationKey, User
from gitserver.core.throttle import RateLimit

from .support import PASSWORD, Server, maildir_messages, server_db, wait_until

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def register(server: Server, username: str, email: str, address: str) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=60,
                      headers={"X-Forwarded-For": address}) as client:
        token = CSRF_RE.search(client.get("/register").text)
        assert token
        return client.post("/register", data={"csrf_token": token.group(1),
                                               "username": username, "email": email,
                                               "password": PASSWORD})


def mails_to(server: Server, address: str) -> list[str]:
    return [str(m["Subject"]) for m in maildir_messages(server) if address in str(m["To"])]


def vm_kb(server: Server, name: str) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text(encoding="utf-8")
    match = re.search(rf"^{name}:\s+(\d+) kB", status, re.M)
    assert match
    return int(match.group(1))


def test_register_for_one_mailbox_is_limited_and_mails_it_little(server: Server) -> None:
    victim = "victim@example.org"
    answers = [register(server, f"squat{i}", victim, f"198.51.100.{i + 1}").status_code
               for i in range(6)]
    assert answers[:3] == [200, 200, 200]
    assert answers[3:] == [429, 429, 429]
    wait_until("the activation mail", lambda: mails_to(server, victim))
    subjects = mails_to(server, victim)
    # one activation, one "someone used your address" at most: not a mail per attempt
    assert len(subjects) <= 2, subjects
    assert subjects.count("Activate your gitserver account") == 1


def test_register_limit_per_client_address_counts_in_a_window() -> None:
    now = [0.0]
    limit = RateLimit(3, 3600, clock=lambda: now[0])
    assert [limit.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b")
    assert limit.wait_s("a") == 3600
    now[0] += 3600
    assert limit.allow("a")


def test_password_hashing_bursts_do_not_take_gigabytes(server: Server) -> None:
    before = vm_kb(server, "VmRSS")

    def guess(i: int) -> int:
        return httpx.get(server.url("api/v1/user"), auth=(f"nobody{i}", "wrong"), timeout=120,
                         headers={"X-Forwarded-For": f"192.0.2.{i + 1}"}).status_code
    with ThreadPoolExecutor(max_workers=30) as pool:
        assert set(pool.map(guess, range(30))) == {401}
    # argon2 takes 64 MiB a check: 30 at once would be ~2 GB; four at a time stay far below
    assert vm_kb(server, "VmHWM") - before < 600 * 1024


def test_unactivated_account_goes_when_its_key_expires(server: Server) -> None:
    assert register(server, "lapsed", "lapsed@example.org", "203.0.113.80").status_code == 200
    with server_db(server):
        user = User.get(User.username == "lapsed")
        assert not user.is_active
        # inactive: every view of the user answers 404
        for path in ("api/v1/users/lapsed", "api/v1/users/lapsed/repos"):
            assert httpx.get(server.url(path), timeout=30).status_code == 404, path
        assert httpx.get(server.url("lapsed"), timeout=30).status_code == 404
        ActivationKey.update(expires_at=dt.datetime(2000, 1, 1)).where(
            ActivationKey.user == user).execute()
    with server_db(server):
        wait_until("the lapsed registration to go",
                   lambda: User.get_or_none(User.username == "lapsed") is None)
    # the name and the address are free again
    assert register(server, "lapsed", "lapsed@example.org", "203.0.113.81").status_code == 200
    with server_db(server):
        assert User.get(User.username == "lapsed").email == "lapsed@example.org"


@pytest.mark.parametrize("path", ["api/v1/users/alice/repos", "api/v1/users/alice"])
def test_active_users_are_still_found(server: Server, path: str) -> None:
    assert httpx.get(server.url(path), timeout=30).status_code == 200
