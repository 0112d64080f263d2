"""git's batch tools on a small repository built with real git in tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitserver.core.gitbatch import (
    GitBatch,
    GitBatchError,
    ObjectInfo,
    may_have_odd_modes,
    split_by_delta_chain,
    tree_entries_raw,
)
from gitserver.core.gitrepo import GitRepo
from hooks.record import changed_py_files
from hooks.updates import RefUpdate

IDENTITY = ["-c", "user.name=T", "-c", "user.email=t@example.com"]


def _git(cwd: Path, *args: str, input_text: str | None = None) -> str:
    return subprocess.run(["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True,
                          text=True, input=input_text).stdout.strip()


def _commit(work: Path, files: dict[str, str | None], message: str) -> str:
    for name, text in files.items():
        path = work / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "--allow-empty", "-m", message)
    return _git(work, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    shas = [_commit(work, {"pkg/a.py": "A = 1\n", "b.py": "B = 1\n"}, "one"),
            _commit(work, {"pkg/a.py": "A = 2\n", "b.py": None, "c.py": "C = 1\n"}, "two"),
            _commit(work, {}, "empty")]
    _git(work, "tag", "-a", "v1", "-m", "tag", shas[0])
    return work / ".git", shas


def test_gitbatch_new_commits_are_parents_first(repo: tuple[Path, list[str]]) -> None:
    git_dir, shas = repo
    with GitBatch(git_dir) as batch:
        commits = batch.new_commits([shas[2]])
        assert [c.sha for c in commits] == shas
        assert commits[0].parents == () and commits[1].parents == (shas[0],)
        assert [c.sha for c in batch.new_commits([shas[2]], exclude=[shas[0]])] == shas[1:]
        assert batch.new_commits([shas[2]], exclude_all_refs=True) == []


def test_gitbatch_changes_of_many_commits_in_one_run(repo: tuple[Path, list[str]]) -> None:
    git_dir, shas = repo
    with GitBatch(git_dir) as batch:
        found = dict(batch.changes([(shas[0], None), (shas[1], shas[0]), (shas[2], shas[1])]))
    assert {c.path: c.status for c in found[shas[0]]} == {b"pkg/a.py": "A", b"b.py": "A"}
    assert {c.path: c.status for c in found[shas[1]]} == {
        b"pkg/a.py": "M", b"b.py": "D", b"c.py": "A"}
    assert found[shas[2]] == []  # an empty commit is still listed
    deleted = next(c for c in found[shas[1]] if c.path == b"b.py")
    assert deleted.new_mode == 0 and deleted.new_sha == "0" * 40 and deleted.old_mode == 0o100644


def test_gitbatch_changes_with_trees_show_folders(repo: tuple[Path, list[str]]) -> None:
    git_dir, shas = repo
    with GitBatch(git_dir) as batch:
        ((_, changes),) = list(batch.changes([(shas[0], None)], trees=True))
    assert {c.path: c.new_mode for c in changes}[b"pkg"] == 0o040000


def test_gitbatch_info_read_and_peel(repo: tuple[Path, list[str]]) -> None:
    git_dir, shas = repo
    tag = _git(git_dir.parent, "rev-parse", "v1")
    with GitBatch(git_dir) as batch:
        blob = _git(git_dir.parent, "rev-parse", f"{shas[1]}:c.py")
        info, missing = batch.info([blob, "0" * 40])
        assert (info.type, info.size) == ("blob", 6)
        assert missing.type == "missing"
        assert batch.read(blob) == b"C = 1\n"
        tree = _git(git_dir.parent, "rev-parse", f"{shas[1]}^{{tree}}")
        assert batch.peel_to_commits([tag, shas[1], tree]) == {
            tag: shas[0], shas[1]: shas[1], tree: None}
        with pytest.raises(GitBatchError):
            batch.read("0" * 40)


def test_gitbatch_read_many_streams_and_stays_in_step(tmp_path: Path) -> None:
    work = tmp_path / "many"
    _git(tmp_path, "init", "-q", str(work))
    blobs = [_git(work, "hash-object", "-w", "--stdin", input_text=f"N = {i}\n" * (i + 1))
             for i in range(700)]
    with GitBatch(work / ".git") as batch:
        # Many chunks, written by a thread while this one reads: every answer in order.
        read = list(batch.read_many(blobs, chunk=64))
        assert [sha for sha, _ in read] == blobs
        assert all(data == f"N = {i}\n".encode() * (i + 1) for i, (_, data) in enumerate(read))
        # A reader that stops early, or meets a missing object, leaves git in step.
        stream = batch.read_many(blobs, chunk=64)
        assert next(stream) == (blobs[0], b"N = 0\n")
        stream.close()
        assert batch.read(blobs[5]) == b"N = 5\n" * 6
        with pytest.raises(GitBatchError):
            list(batch.read_many([blobs[0], "0" * 40, *blobs[1:300]]))
        assert batch.read(blobs[7]) == b"N = 7\n" * 8


def test_changed_py_files_of_a_first_push_counts_the_whole_tree(
        repo: tuple[Path, list[str]]) -> None:
    # post-receive runs after the refs moved: the default branch that this very push created
    # must not serve as its own base (that counted 0 files, so a huge first push waited).
    git_dir, shas = repo
    git = GitRepo(str(git_dir))
    created = [RefUpdate("0" * 40, shas[2], "refs/heads/main")]
    assert changed_py_files(git, created, "main") == 2  # pkg/a.py and c.py
    moved = [RefUpdate(shas[0], shas[2], "refs/heads/main")]
    assert changed_py_files(git, moved, "main") == 2  # a.py modified, c.py added
    topic = [RefUpdate("0" * 40, shas[2], "refs/heads/topic")]
    assert changed_py_files(git, topic, "main") == 0  # the same commit as main


def _raw_tree(entries: list[tuple[bytes, bytes, bytes]]) -> bytes:
    return b"".join(mode + b" " + name + b"\0" + object_id for mode, name, object_id in entries)


@pytest.mark.parametrize(("mode", "odd"), [(b"100644", False), (b"100755", False),
                                           (b"40000", False), (b"120000", False),
                                           (b"160000", False), (b"100664", True),
                                           (b"040000", True), (b"644", True)])
def test_may_have_odd_modes_decides_each_mode_exactly(mode: bytes, odd: bool) -> None:
    # Ids full of NULs and spaces, and a mode-like name: none may pass for an entry's start.
    tricky = b"\x00" + b"100664 x" + b"\x00" + b" " * 10
    assert len(tricky) == 20
    raw = _raw_tree([(b"100644", b"a.py", tricky), (mode, b"b 100664 c.py", b"\0" * 20),
                     (b"40000", b"pkg", tricky)])
    assert may_have_odd_modes(raw) is odd
    assert [m for _, m, _ in tree_entries_raw(raw)][1] == int(mode, 8)


def test_may_have_odd_modes_flags_a_malformed_tree() -> None:
    assert may_have_odd_modes(b"100644 a.py\0" + b"x" * 19)  # an id one byte short
    assert not may_have_odd_modes(b"")  # the empty tree


def test_split_by_delta_chain_keeps_each_chain_in_one_part() -> None:
    def info(sha: str, size: int, base: str = "0" * 40) -> ObjectInfo:
        return ObjectInfo(sha.ljust(40, "0"), "blob", size, base.ljust(40, "0"))
    # a <- b <- c is one chain (c is stored as a delta of b, b of a); d <- e another; f alone
    objects = [info("c", 10, "b"), info("a", 100), info("b", 10, "a"), info("e", 50, "d"),
               info("d", 60), info("f", 40), info("g", 5, "9" * 40)]  # g: base not pushed
    parts = split_by_delta_chain(objects, [0, 0])
    shas = [{i.sha[0] for i in part} for part in parts]
    assert {"a", "b", "c"} in [s & {"a", "b", "c"} for s in shas]
    assert {"d", "e"} in [s & {"d", "e"} for s in shas]
    assert sorted(i.sha[0] for part in parts for i in part) == list("abcdefg")
    assert all(part == sorted(part) for part in parts)
    # the largest chain first, each to the lighter side: a-b-c and g (125), d-e and f (150)
    assert sorted(sum(i.size for i in part) for part in parts) == [125, 150]
    # a starting weight (the trees one reader reads first) takes its share
    heavy, light = split_by_delta_chain(objects, [1000, 0])
    assert heavy == [] and len(light) == 7


def test_gitbatch_stream_reads_in_order_on_its_own_process(tmp_path: Path) -> None:
    work = tmp_path / "many"
    _git(tmp_path, "init", "-q", str(work))
    blobs = [_git(work, "hash-object", "-w", "--stdin", input_text=f"N = {i}\n" * (i + 1))
             for i in range(700)]
    with GitBatch(work / ".git") as batch:
        read = list(batch.stream(blobs))
        assert [sha for sha, _ in read] == blobs
        assert all(data == f"N = {i}\n".encode() * (i + 1) for i, (_, data) in enumerate(read))
        # Two streams side by side, as the policy's readers run them.
        first, second = batch.stream(blobs[:350]), batch.stream(blobs[350:])
        assert [sha for pair in zip(first, second, strict=True) for sha, _ in pair] == [
            sha for pair in zip(blobs[:350], blobs[350:], strict=True) for sha in pair]
        stream = batch.stream(blobs)  # stopped early: its process ends, nothing hangs
        assert next(stream) == (blobs[0], b"N = 0\n")
        stream.close()
        with pytest.raises(GitBatchError):
            list(batch.stream([blobs[0], "0" * 40, *blobs[1:300]]))
        assert list(batch.stream([])) == []
