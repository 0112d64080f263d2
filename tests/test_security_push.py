"""Security: a push of many refs is checked whole; a big file's page is a notice, not 20 MB of
HTML; the hook socket refuses more ref updates than it reads (issue 14, findings 1 and 5)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gitserver.core.config import load_settings
from gitserver.core.urls import raw_url
from hooks.service import MAX_REQUEST_BYTES, HookService

from .support import PASSWORD, Server, commit_files, git, make_work_repo, start_server

REFS = 10_000


@pytest.fixture(name="quiet", scope="module")
def fixture_quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server without workers (nobody needs pylint here) that takes 2 MB files."""
    srv = start_server(tmp_path_factory.mktemp("quiet"), {
        "GITSERVER_QUEUE_EMBEDDED": "false", "GITSERVER_CHECKER_PUSH_WAIT_S": "0",
        "GITSERVER_LIMITS_MAX_FILE_BYTES": str(2 * 1024 * 1024)})
    try:
        srv.add_user("alice")
        yield srv
    finally:
        srv.stop()


def remote_refs(cwd: Path, url: str) -> dict[str, str]:
    out = git(cwd, "ls-remote", url).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def pkt(line: bytes) -> bytes:
    return b"%04x" % (len(line) + 4) + line


def receive_pack_body(work: Path, commands: list[tuple[str, str, str]], tip: str,
                      base: str) -> bytes:
    """What `git push` POSTs to git-receive-pack: the ref updates, a flush, the pack.

    Built here rather than by `git push`, whose HTTP helper takes minutes (quadratic in the
    refs) to send 10,000 of them; the bytes are the same.
    """
    caps = b"\0report-status side-band-64k agent=git/2"
    lines = [pkt(f"{old} {new} {ref}".encode() + (caps if i == 0 else b"") + b"\n")
             for i, (old, new, ref) in enumerate(commands)]
    pack = subprocess.run(["git", "pack-objects", "--stdout", "--revs", "-q"], cwd=work,
                          input=f"{tip}\n^{base}\n".encode(), capture_output=True,
                          check=True).stdout
    return b"".join(lines) + b"0000" + pack


def demux(answer: bytes) -> tuple[str, str]:
    """(band 1, band 2) of a side-band-64k answer: the report, and what `remote:` shows."""
    bands = {1: b"", 2: b""}
    rest = answer
    while len(rest) >= 4:
        size = int(rest[:4], 16)
        if size == 0:
            rest = rest[4:]
            continue
        band, payload = rest[4], rest[5:size]
        bands[band] = bands.get(band, b"") + payload
        rest = rest[size:]
    return bands[1].decode(errors="replace"), bands[2].decode(errors="replace")


def test_push_of_ten_thousand_refs_and_one_bad_moves_no_ref(quiet: Server,
                                                             tmp_path: Path) -> None:
    url = quiet.url("alice/many.git", "alice")
    work = make_work_repo(tmp_path / "w", {"base.py": "BASE = 1\n"})
    git(work, "push", "-q", url, "main")
    before = remote_refs(work, url)
    good = git(work, "rev-parse", "HEAD").stdout.strip()
    git(work, "checkout", "-q", "-b", "zz-bad")
    os.symlink("base.py", work / "link.py")
    bad = commit_files(work, {}, "a symlink")
    zero = "0" * 40
    commands = [(zero, good, f"refs/heads/b{i:05}") for i in range(REFS)]
    commands.append((zero, bad, "refs/heads/zz-bad"))  # last: past what one read() returned
    body = receive_pack_body(work, commands, bad, good)
    assert len(body) > 700_000
    answer = httpx.post(quiet.url("alice/many.git/git-receive-pack"), content=body,
                        auth=("alice", PASSWORD), timeout=300, headers={
                            "Content-Type": "application/x-git-receive-pack-request"})
    assert answer.status_code == 200
    report, remote = demux(answer.content)
    assert "link.py: symbolic links are not accepted" in remote, remote
    assert "ng refs/heads/zz-bad" in report
    assert remote_refs(work, url) == before


def test_hook_socket_refuses_more_than_its_cap_with_a_clear_line(tmp_path: Path) -> None:
    settings = load_settings(environ={"GITSERVER_STORAGE_DATA_DIR": str(tmp_path / "data")})
    service = HookService(settings, tasks=None)  # type: ignore[arg-type]  # never reached

    async def call() -> bytes:
        await service.start()
        try:
            reader, writer = await asyncio.open_unix_connection(str(service.socket_path))
            header = {"hook": "pre-receive", "token": service.token, "env": {},
                      "length": MAX_REQUEST_BYTES + 1}
            writer.write(json.dumps(header).encode() + b"\n")
            writer.write(b"0" * (MAX_REQUEST_BYTES + 1))
            await writer.drain()
            writer.write_eof()
            answer = await reader.read()
            writer.close()
            return answer
        finally:
            await service.stop()

    answer = asyncio.run(call())
    assert answer.endswith(b"\0exit=1")
    assert b"Push fewer branches or tags at a time" in answer


def test_blob_page_of_a_big_file_offers_it_raw(quiet: Server, tmp_path: Path) -> None:
    url = quiet.url("alice/big.git", "alice")
    body = "".join(f"VALUE_{i} = {i}\n" for i in range(60_000))  # ~1 MB
    work = make_work_repo(tmp_path / "w", {"big.py": body, "small.py": "X = 1\n"})
    git(work, "push", "-q", url, "main")
    auth = ("alice", PASSWORD)
    page = httpx.get(quiet.url("alice/big/blob/main/big.py"), auth=auth, timeout=60)
    assert page.status_code == 200
    assert "too large to display" in page.text
    assert 'href="/alice/big/raw/main/big.py"' in page.text
    assert "VALUE_59999" not in page.text
    assert len(page.content) < 200_000
    small = httpx.get(quiet.url("alice/big/blob/main/small.py"), auth=auth, timeout=60)
    assert "too large" not in small.text and 'id="source"' in small.text


def test_data_dir_and_files_are_private_after_a_push(quiet: Server, tmp_path: Path) -> None:
    url = quiet.url("alice/private-modes.git", "alice")
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    git(work, "push", "-q", url, "main")
    data = quiet.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    loose = []
    for root, dirs, files in os.walk(data):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink():
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                loose.append(f"{path.relative_to(data)} {mode:o}")
    assert not loose, loose
    assert (data / "repos" / "alice" / "private-modes.git").is_dir()


def test_raw_url_quotes_each_path_segment() -> None:
    assert raw_url("alice", "r", "main", "pkg/a b#1.py") == "/alice/r/raw/main/pkg/a%20b%231.py"
