"""The limits: max_file_bytes, and max_push_bytes however git sends the body; chunked pushes.

git sends a push body up to `http.postBuffer` (1 MiB) with a Content-Length, bigger ones chunked.
A push under the limit must arrive whole either way; one over it must be refused, leave the refs
alone and keep none of its objects.

The server here runs no workers (`queue.embedded = false`, `push_wait_s = 0`): these pushes carry
megabytes of generated code that nobody needs pylint to read.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import base64
import gzip
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import PASSWORD, Server, commit_files, git, make_work_repo, start_server

MAX_PUSH = 3_000_000
MAX_FILE = 200_000
SLACK = 1024 * 1024  # what the server allows on top of the pack for the ref-update commands


@pytest.fixture(name="limited", scope="module")
def fixture_limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("limited"), {
        "GITSERVER_LIMITS_MAX_PUSH_BYTES": str(MAX_PUSH),
        "GITSERVER_LIMITS_MAX_FILE_BYTES": str(MAX_FILE),
        "GITSERVER_QUEUE_EMBEDDED": "false", "GITSERVER_CHECKER_PUSH_WAIT_S": "0"})
    try:
        srv.add_user("alice")
        yield srv
    finally:
        srv.stop()


def random_files(packed: int, prefix: str = "data/mod") -> dict[str, str]:
    """.py files that make a pack of at least about `packed` bytes (base64 of random bytes).

    Base64 carries 6 random bits per character, so zlib gets it down to about 3/4; 1.4 times
    the text leaves room for that.
    """
    count = max(1, int(packed * 1.4) // 100_000)
    lines = 100_000 // 78
    return {f"{prefix}{i:03}.py": "DATA = (\n" + "".join(
        f"    '{base64.b64encode(os.urandom(54)).decode()}'\n" for _ in range(lines)) + ")\n"
        for i in range(count)}


def remote_refs(cwd: Path, url: str) -> dict[str, str]:
    out = git(cwd, "ls-remote", url).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def pushed(server: Server, tmp_path: Path, name: str) -> tuple[Path, str]:
    url = server.url(f"alice/{name}.git", "alice")
    work = make_work_repo(tmp_path / "w", {"base.py": f"BASE = {name!r}\n"})
    git(work, "push", "-q", url, "main")
    return work, url


def assert_refused(server: Server, work: Path, url: str, name: str,
                   *push_args: str) -> str:
    before = remote_refs(work, url)
    tip = git(work, "rev-parse", "HEAD").stdout.strip()
    result = git(work, *push_args, "push", url, "main", check=False)
    assert result.returncode != 0, result.stderr
    assert remote_refs(work, url) == before
    bare = server.data_dir / "repos" / "alice" / f"{name}.git"
    assert git(bare, "cat-file", "-e", tip, check=False).returncode != 0
    return result.stderr


def test_push_over_one_mib_uses_chunked_encoding(limited: Server, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    files = random_files(1_500_000)
    work = make_work_repo(tmp_path / "w", files)
    url = limited.url("alice/big.git", "alice")
    # curl's trace shows the request headers: git switches to chunked above http.postBuffer
    monkeypatch.setenv("GIT_TRACE_CURL", "1")
    monkeypatch.setenv("GIT_TRACE_CURL_NO_DATA", "1")
    result = git(work, "push", url, "main", check=False)
    monkeypatch.delenv("GIT_TRACE_CURL")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Transfer-Encoding: chunked" in result.stderr
    assert "Traceback" not in result.stderr
    tip = git(work, "rev-parse", "HEAD").stdout.strip()
    assert remote_refs(work, url)["refs/heads/main"] == tip
    git(tmp_path, "clone", "-q", url, "clone")
    for name, content in files.items():
        assert (tmp_path / "clone" / name).read_text(encoding="utf-8") == content
    bare = limited.data_dir / "repos" / "alice" / "big.git"
    assert git(bare, "fsck", "--no-dangling", check=False).returncode == 0


def test_push_over_limit_chunked_is_refused(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "lim-chunked")
    commit_files(work, random_files(MAX_PUSH + 500_000), "over the limit")
    stderr = assert_refused(limited, work, url, "lim-chunked")
    assert "maximum allowed size" in stderr
    # our own line before git's: the limit and what to do
    assert re.search(r"remote: This push is over the server's limit of 3\.0 MB "
                     r"\(limits\.max_push_bytes\)\. Push fewer commits", stderr), stderr


def test_push_over_limit_with_content_length_is_refused(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "lim-length")
    commit_files(work, random_files(MAX_PUSH + 500_000), "over the limit, within the slack")
    # a big postBuffer makes git send a Content-Length; this one passes the server's up-front
    # check (limit + slack), so git's receive.maxInputSize has to stop it
    stderr = assert_refused(limited, work, url, "lim-length", "-c", "http.postBuffer=64000000")
    assert "maximum allowed size" in stderr


def test_push_over_limit_and_slack_gets_413(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "lim-413")
    commit_files(work, random_files(MAX_PUSH + SLACK + 500_000), "far over the limit")
    stderr = assert_refused(limited, work, url, "lim-413", "-c", "http.postBuffer=64000000")
    assert "413" in stderr


def test_push_over_limit_raw_413_says_the_limit(limited: Server, tmp_path: Path) -> None:
    pushed(limited, tmp_path, "lim-raw")
    response = httpx.post(
        limited.url("alice/lim-raw.git/git-receive-pack"), auth=("alice", PASSWORD),
        content=b"0" * (MAX_PUSH + SLACK + 1),
        headers={"Content-Type": "application/x-git-receive-pack-request"}, timeout=30)
    assert response.status_code == 413
    assert f"{MAX_PUSH / 1e6:.1f} MB" in response.text


def test_gzip_body_inflating_past_limit_is_cut_off(limited: Server, tmp_path: Path) -> None:
    pushed(limited, tmp_path, "lim-gzip")
    bomb = gzip.compress(b"0" * (MAX_PUSH * 5), compresslevel=9)
    assert len(bomb) < MAX_PUSH // 100
    response = httpx.post(
        limited.url("alice/lim-gzip.git/git-upload-pack"), auth=("alice", PASSWORD),
        content=bomb, timeout=30,
        headers={"Content-Type": "application/x-git-upload-pack-request",
                 "Content-Encoding": "gzip"})
    assert response.status_code in (200, 400, 413)
    assert b"0" * 1000 not in response.content
    assert httpx.get(limited.url("healthz"), timeout=5).status_code == 200


def test_file_size_limit_is_inclusive(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "file-size-ok")
    body = "X = '" + "a" * (MAX_FILE - 7) + "'\n"
    assert len(body.encode()) == MAX_FILE
    tip = commit_files(work, {"exact.py": body}, "exactly at the limit")
    result = git(work, "push", url, "main", check=False)
    assert result.returncode == 0, result.stderr
    assert remote_refs(work, url)["refs/heads/main"] == tip


def test_file_over_size_limit_is_rejected(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "file-size")
    body = "X = '" + "b" * (MAX_FILE - 6) + "'\n"
    assert len(body.encode()) == MAX_FILE + 1
    sha = commit_files(work, {"pkg/big.py": body}, "one byte too many")
    stderr = assert_refused(limited, work, url, "file-size")
    assert "! [remote rejected] main -> main" in stderr
    assert any(sha[:7] in line and "pkg/big.py" in line
               and f"over the {MAX_FILE:,}-byte file limit" in line
               for line in stderr.splitlines() if line.startswith("remote:")), stderr
