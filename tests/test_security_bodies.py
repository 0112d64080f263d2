"""Security: who asks is checked before a body is read, and every body is counted (issue 14,
finding 3); API writes by cookie need the CSRF token, private answers are not cached, /metrics
is not public (finding 8).

The big bodies are sent chunked over a raw socket, as an attacker would: the sender stops as
soon as the server answers (or closes), and the test measures the server's resident memory.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import base64
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import PASSWORD, Server, git, make_work_repo, start_server

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CHUNK = 1024 * 1024
TOTAL = 300 * CHUNK
RSS_SLACK_KB = 50 * 1024


@pytest.fixture(name="site", scope="module")
def fixture_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("bodies"), {
        "GITSERVER_SERVER_METRICS_TOKEN": "metrics-" + "x1Y2z3" * 8})
    try:
        srv.add_user("alice")
        srv.add_user("bob")
        work = make_work_repo(tmp_path_factory.mktemp("w") / "w", {"a.py": "A = 1\n"})
        git(work, "push", "-q", srv.url("alice/r.git", "alice"), "main")
        yield srv
    finally:
        srv.stop()


def rss_kb(server: Server) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text(encoding="utf-8")
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert match
    return int(match.group(1))


def signed_in(server: Server, user: str) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url, timeout=30, headers={"Accept": "text/html"})
    token = CSRF_RE.search(client.get("/login").text)
    assert token
    answer = client.post("/login", data={"csrf_token": token.group(1), "login": user,
                                         "password": PASSWORD, "next": ""})
    assert answer.status_code == 303, answer.text
    return client


def flood(server: Server, method: str, path: str, headers: dict[str, str]) -> tuple[int, float]:
    """Send up to TOTAL bytes chunked; (the status answered, seconds until the answer)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        chunk = b"%x\r\n" % CHUNK + b"a" * CHUNK + b"\r\n"
        sent = 0
        while sent < TOTAL:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server answered (or closed): an attacker's stream ends here
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        answer = b""
        while b"\r\n" not in answer:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 "), (path, sent, answer[:200])
    return int(answer.split()[1]), time.monotonic() - started


def test_anonymous_floods_are_refused_unread(site: Server) -> None:
    before = rss_kb(site)
    for method, path, headers, expected in [
            ("PUT", "/api/v1/repos/alice/r/contents/big.py", {}, 401),
            ("PATCH", "/api/v1/repos/alice/r", {"Content-Type": "application/json"}, 401),
            ("POST", "/alice/r.git/git-receive-pack",
             {"Content-Type": "application/x-git-receive-pack-request"}, 401),
            ("POST", "/alice/r/upload/main",
             {"Content-Type": "multipart/form-data; boundary=xyz"}, 403),
            ("POST", "/settings/tokens",
             {"Content-Type": "application/x-www-form-urlencoded"}, 403),
            ("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded",
                                "Cookie": "gitserver_session=forged"}, 413)]:
        status, seconds = flood(site, method, path, headers)
        assert status == expected, (path, status)
        assert seconds < 30, (path, seconds)
    assert rss_kb(site) - before < RSS_SLACK_KB


def test_signed_in_floods_stop_at_the_endpoint_limit(site: Server) -> None:
    before = rss_kb(site)
    client = signed_in(site, "bob")
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    basic = "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    for method, path, headers, expected in [
            # bob may not write alice's repo: refused before the body
            ("PUT", "/api/v1/repos/alice/r/contents/big.py", {"Authorization": basic}, 404),
            ("POST", "/alice/r/upload/main", {"Cookie": cookie,
             "Content-Type": "multipart/form-data; boundary=xyz"}, 404),
            # bob's own account form: counted, 413 at its limit
            ("POST", "/settings/tokens", {"Cookie": cookie,
             "Content-Type": "application/x-www-form-urlencoded"}, 413)]:
        status, seconds = flood(site, method, path, headers)
        assert status == expected, (path, status)
        assert seconds < 30, (path, seconds)
    alice = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    status, _ = flood(site, "PUT", "/api/v1/repos/alice/r/contents/big.py",
                      {"Authorization": alice, "Content-Type": "application/json"})
    assert status == 413
    assert rss_kb(site) - before < RSS_SLACK_KB


def test_upload_of_a_file_over_the_limit_is_refused_unread(site: Server) -> None:
    client = signed_in(site, "alice")
    token = CSRF_RE.search(client.get("/alice/r/upload/main").text)
    assert token
    answer = client.post("/alice/r/upload/main", data={"csrf_token": token.group(1)},
                         files={"files": ("big.py", b"X = 1\n" * 200_000)})
    assert answer.status_code == 422
    assert "1,200,000 bytes is over the 1,048,576-byte file limit" in answer.text


def test_api_write_by_cookie_needs_the_csrf_token(site: Server) -> None:
    client = signed_in(site, "alice")
    body = {"message": "by cookie", "content": base64.b64encode(b"B = 2\n").decode()}
    refused = client.put("/api/v1/repos/alice/r/contents/b.py", json=body)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["message"]
    token = CSRF_RE.search(client.get("/settings").text)
    assert token
    made = client.put("/api/v1/repos/alice/r/contents/b.py", json=body,
                      headers={"X-CSRF-Token": token.group(1)})
    assert made.status_code == 201, made.text
    by_basic = httpx.put(site.url("api/v1/repos/alice/r/contents/c.py"), json=body,
                         auth=("alice", PASSWORD), timeout=30)
    assert by_basic.status_code == 201, by_basic.text


def test_private_api_answers_are_not_cached_or_sniffed(site: Server) -> None:
    answer = httpx.get(site.url("api/v1/repos/alice/r"), auth=("alice", PASSWORD), timeout=30)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_metrics_need_loopback_or_the_token(site: Server) -> None:
    token = "metrics-" + "x1Y2z3" * 8
    # Seen through a proxy on this host, the client is the forwarded address, not loopback.
    remote = {"X-Forwarded-For": "203.0.113.9"}
    assert httpx.get(site.url("metrics"), headers=remote, timeout=30).status_code == 403
    wrong = httpx.get(site.url("metrics"), timeout=30,
                      headers={**remote, "Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = httpx.get(site.url("metrics"), timeout=30,
                      headers={**remote, "Authorization": f"Bearer {token}"})
    assert right.status_code == 200 and "gitserver" in right.text
    assert httpx.get(site.url("metrics"), timeout=30).status_code == 200  # loopback
