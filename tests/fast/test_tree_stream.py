"""The tree a remote worker downloads, in process: the web node's tar stream of a commit's `.py`
files, the worker's writer of it (same path checks as the local tree, limits while streaming),
and the credential scoped to one repository and commit.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from checker.tree import (
    BadTreeStream,
    TreeTooLarge,
    UnsafePath,
    materialise_py_files,
    unpack_tar,
)
from gitserver.core import tree_grants
from gitserver.core.gitrepo import GitRepo
from gitserver.web.worker_trees import py_entries, tar_stream

from ..support import git, make_work_repo

KEY = "k" * 10 + "0123456789abcdefghijklmnopqrstuvwxyz"
MiB = 1024 * 1024


def tar_of(*members: tuple[str, bytes] | tarfile.TarInfo) -> io.BytesIO:
    """A tar of (name, data) regular files and ready-made TarInfo members, in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def unpack(stream: io.BytesIO, dest: Path, max_file: int = MiB, max_tree: int = 10 * MiB
           ) -> list[str]:
    dest.mkdir(exist_ok=True)
    return unpack_tar(stream, dest, max_file, max_tree)


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- the web node's stream, written by the worker ------------------------------------------------

def test_tree_stream_round_trip_writes_what_the_local_tree_writes(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {
        "a.py": "A = 1\n", "pkg/__init__.py": "", "pkg/deep/b.py": "B = 'é'\n" * 500,
        "notes.txt": "not python\n", "x" * 120 + ".py": "LONG = 1\n"})
    os.symlink("a.py", work / "link.py")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "symlink")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))

    local = tmp_path / "local"
    local.mkdir()
    expected = materialise_py_files(bare, sha, local)
    repo = GitRepo(str(bare))
    entries = py_entries(repo, sha)
    stream = io.BytesIO(b"".join(tar_stream(repo, entries)))
    written = unpack(stream, tmp_path / "remote")

    assert sorted(written) == sorted(expected) == sorted(e.name for e in entries)
    assert "link.py" not in written and "notes.txt" not in written
    assert files_under(tmp_path / "remote") == files_under(local)


@pytest.mark.parametrize("name", ["../evil.py", "/abs/evil.py", "pkg/../../evil.py", ".git/x.py",
                                  "pkg/.GIT/x.py", "pkg//x.py", "pkg\\..\\evil.py", "./x.py"])
def test_tree_stream_unsafe_path_is_refused_and_nothing_escapes(tmp_path: Path,
                                                                name: str) -> None:
    dest = tmp_path / "sandbox" / "dest"
    dest.parent.mkdir()
    with pytest.raises(UnsafePath):
        unpack(tar_of(("ok.py", b"OK = 1\n"), (name, b"import os\n")), dest)
    assert [p.name for p in tmp_path.rglob("*evil*")] == []
    assert files_under(tmp_path / "sandbox") == {"dest/ok.py": b"OK = 1\n"}


def member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


@pytest.mark.parametrize("odd", [
    member("link.py", tarfile.SYMTYPE, "/etc/passwd"),
    member("hard.py", tarfile.LNKTYPE, "ok.py"),
    member("pkg.py", tarfile.DIRTYPE),
    member("fifo.py", tarfile.FIFOTYPE),
], ids=["symlink", "hardlink", "folder", "fifo"])
def test_tree_stream_member_that_is_no_regular_file_is_refused(tmp_path: Path,
                                                               odd: tarfile.TarInfo) -> None:
    with pytest.raises(UnsafePath, match=r"not a regular \.py file"):
        unpack(tar_of(("ok.py", b"OK = 1\n"), odd), tmp_path / "dest")
    assert not (tmp_path / "dest" / odd.name).exists()


def test_tree_stream_refuses_other_files_a_name_sent_twice_and_a_file_over_a_folder(
        tmp_path: Path) -> None:
    with pytest.raises(UnsafePath, match=r"not a regular \.py file"):
        unpack(tar_of(("notes.txt", b"x")), tmp_path / "one")
    with pytest.raises(UnsafePath, match="sent twice"):
        unpack(tar_of(("a.py", b"A = 1\n"), ("a.py", b"A = 2\n")), tmp_path / "two")
    assert (tmp_path / "two" / "a.py").read_bytes() == b"A = 1\n"
    with pytest.raises(UnsafePath, match="is not a folder"):
        unpack(tar_of(("a.py", b"A = 1\n"), ("a.py/b.py", b"B = 1\n")), tmp_path / "three")


def test_tree_stream_limits_are_checked_before_the_file_is_read(tmp_path: Path) -> None:
    with pytest.raises(TreeTooLarge, match=r"big\.py: 1001 bytes, over limits\.max_file_bytes"):
        unpack(tar_of(("small.py", b"S = 1\n"), ("big.py", b"#" * 1001)), tmp_path / "one",
               max_file=1000)
    assert files_under(tmp_path / "one") == {"small.py": b"S = 1\n"}
    with pytest.raises(TreeTooLarge, match="over 1500 bytes together"):
        unpack(tar_of(*((f"f{i}.py", b"#" * 600) for i in range(3))), tmp_path / "two",
               max_file=1000, max_tree=1500)
    assert sorted(files_under(tmp_path / "two")) == ["f0.py", "f1.py"]


def test_tree_stream_cut_inside_a_file_is_refused(tmp_path: Path) -> None:
    whole = tar_of(("a.py", b"A = 1\n"), ("b.py", b"#" * 5000)).getvalue()
    with pytest.raises(BadTreeStream):
        unpack(io.BytesIO(whole[:3000]), tmp_path / "dest")
    with pytest.raises(BadTreeStream):
        unpack(io.BytesIO(b"this is no tar at all" * 100), tmp_path / "junk")


# -- the credential ------------------------------------------------------------------------------

class _LongAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - tree_grants.MAX_AGE_S - 60


def expired_grant(key: str, repo_id: int, sha: str) -> str:
    """A grant for exactly this commit, signed longer ago than a grant lasts."""
    return URLSafeTimedSerializer(key, salt=tree_grants.SALT, signer=_LongAgo).dumps(
        [repo_id, sha])


def test_tree_grant_covers_exactly_one_repository_and_commit() -> None:
    sha, other = "a" * 40, "b" * 40
    grant = tree_grants.mint(KEY, 7, sha)
    assert tree_grants.verify(KEY, grant, 7, sha) is tree_grants.Verdict.OK
    assert tree_grants.verify(KEY, grant, 7, other) is tree_grants.Verdict.OTHER
    assert tree_grants.verify(KEY, grant, 8, sha) is tree_grants.Verdict.OTHER
    assert tree_grants.verify(KEY[::-1], grant, 7, sha) is tree_grants.Verdict.INVALID
    assert tree_grants.verify(KEY, grant[:-2] + "xx", 7, sha) is tree_grants.Verdict.INVALID
    assert tree_grants.verify(KEY, "", 7, sha) is tree_grants.Verdict.INVALID
    assert tree_grants.verify(KEY, grant + "." * 600, 7, sha) is tree_grants.Verdict.INVALID
    # a session cookie's signature (another salt) is no grant
    cookie = URLSafeTimedSerializer(KEY).dumps([7, sha])
    assert tree_grants.verify(KEY, cookie, 7, sha) is tree_grants.Verdict.INVALID
    old = expired_grant(KEY, 7, sha)
    assert tree_grants.verify(KEY, old, 7, sha) is tree_grants.Verdict.EXPIRED
