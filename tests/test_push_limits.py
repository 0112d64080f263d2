"""limits.max_push_bytes: pushes over it are refused whole, however git sends the body.

git sends a push body up to `http.postBuffer` (1 MiB) with a Content-Length, bigger ones chunked;
both ways must stop at the limit, leave the refs alone and keep none of the objects.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import base64
import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import PASSWORD, Server, commit_files, git, make_work_repo, start_server

MAX_PUSH = 200_000


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("limited"),
                       {"GITSERVER_LIMITS_MAX_PUSH_BYTES": str(MAX_PUSH)})
    try:
        srv.add_user("alice")
        yield srv
    finally:
        srv.stop()


def random_py(size: int) -> str:
    """Python source of about size bytes that compresses badly (base64 of random bytes)."""
    return "DATA = (\n" + "".join(
        f"    '{base64.b64encode(os.urandom(54)).decode()}'\n" for _ in range(size // 78)) + ")\n"


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


def test_push_under_limit_is_accepted(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "lim-ok")
    tip = commit_files(work, {"small.py": random_py(MAX_PUSH // 4)}, "small")
    result = git(work, "push", url, "main", check=False)
    assert result.returncode == 0, result.stderr
    assert remote_refs(work, url)["refs/heads/main"] == tip


def test_push_over_limit_with_content_length_is_refused(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "lim-length")
    commit_files(work, {"big.py": random_py(MAX_PUSH * 2)}, "over the limit, under postBuffer")
    stderr = assert_refused(limited, work, url, "lim-length")
    assert "maximum allowed size" in stderr


def test_push_over_limit_chunked_is_refused(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "lim-chunked")
    commit_files(work, {f"big{i}.py": random_py(100_000) for i in range(16)}, "1.6 MB")
    stderr = assert_refused(limited, work, url, "lim-chunked")
    assert "maximum allowed size" in stderr


def test_push_over_limit_and_slack_gets_413(limited: Server, tmp_path: Path) -> None:
    work, url = pushed(limited, tmp_path, "lim-413")
    commit_files(work, {f"big{i}.py": random_py(100_000) for i in range(16)}, "1.6 MB")
    # a big postBuffer makes git announce the size up front; the server answers before reading
    stderr = assert_refused(limited, work, url, "lim-413", "-c", "http.postBuffer=16000000")
    assert "413" in stderr


def test_push_over_limit_raw_413_says_the_limit(limited: Server, tmp_path: Path) -> None:
    pushed(limited, tmp_path, "lim-raw")
    response = httpx.post(
        limited.url("alice/lim-raw.git/git-receive-pack"), auth=("alice", PASSWORD),
        content=b"0" * (MAX_PUSH + 2 * 1024 * 1024),
        headers={"Content-Type": "application/x-git-receive-pack-request"}, timeout=30)
    assert response.status_code == 413
    assert f"{MAX_PUSH / 1e6:.1f} MB" in response.text


def test_gzip_body_inflating_past_limit_is_cut_off(limited: Server, tmp_path: Path) -> None:
    pushed(limited, tmp_path, "lim-gzip")
    bomb = gzip.compress(b"0" * (MAX_PUSH * 50), compresslevel=9)
    assert len(bomb) < MAX_PUSH // 10
    response = httpx.post(
        limited.url("alice/lim-gzip.git/git-upload-pack"), auth=("alice", PASSWORD),
        content=bomb, timeout=30,
        headers={"Content-Type": "application/x-git-upload-pack-request",
                 "Content-Encoding": "gzip"})
    assert response.status_code in (200, 400, 413)
    assert b"0" * 1000 not in response.content
    assert httpx.get(limited.url("healthz"), timeout=5).status_code == 200
