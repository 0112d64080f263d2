"""Security: nobody can lock someone else out by guessing (issue 14, finding 4).

The server trusts X-Forwarded-For from loopback (uvicorn's default for a proxy on the same
host), so one test client can speak from many addresses; the guessing addresses are from the
documentation ranges and never contacted.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import re
from pathlib import Path

import httpx

from .support import PASSWORD, Server, git, make_work_repo

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def as_from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def test_hundred_guesses_from_many_addresses_lock_nobody_out(server: Server,
                                                             tmp_path: Path) -> None:
    token = server.create_token("bob")
    work = make_work_repo(tmp_path / "w", {"b.py": "B = 1\n"})
    git(work, "push", "-q", server.url("bob/mine.git", "bob", token), "main")
    for i in range(100):
        answer = httpx.get(server.url("api/v1/user"), auth=("bob", f"guess-{i}"), timeout=30,
                           headers=as_from(f"198.51.100.{i + 1}"))
        assert answer.status_code in (401, 429)
    guesser = as_from("198.51.100.7")
    # The guessers themselves wait...
    late = httpx.get(server.url("api/v1/user"), auth=("bob", "guess-again"), headers=guesser,
                     timeout=30)
    assert late.status_code == 429 and int(late.headers["retry-after"]) >= 1
    # ...but bob's token works from anywhere, even from a guessing address, for git and API
    by_token = httpx.get(server.url("api/v1/user"), auth=("bob", token), headers=guesser,
                         timeout=30)
    assert by_token.status_code == 200 and by_token.json()["login"] == "bob"
    git(tmp_path, "clone", "-q", server.url("bob/mine.git", "bob", token), "copy")
    # and his password from an address that did not guess, for the API and the web form
    clean = as_from("203.0.113.50")
    by_password = httpx.get(server.url("api/v1/user"), auth=("bob", PASSWORD), headers=clean,
                            timeout=30)
    assert by_password.status_code == 200
    with httpx.Client(base_url=server.base_url, timeout=30, headers=as_from("203.0.113.51")) \
            as client:
        csrf = CSRF_RE.search(client.get("/login").text)
        assert csrf
        signed = client.post("/login", data={"csrf_token": csrf.group(1), "login": "bob",
                                             "password": PASSWORD, "next": ""})
        assert signed.status_code == 303, signed.text
