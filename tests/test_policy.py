"""The push policy, end to end: the real `git push` against a real server, rule by rule.

Every rejection is checked from the pusher's side (exit code, `! [remote rejected]`, one `remote:`
line naming commit, path and rule) and from the server's side (refs unchanged, and none of the
objects the push brought left in the bare repository).
Paths the git client refuses to add (`.git`, `..`, ...) are built with plumbing (`git mktree`).
limits.max_file_bytes is tested in test_push_limits.py, on a server with small limits.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .support import Server, commit_files, git, make_work_repo

# -- helpers ---------------------------------------------------------------------------------

def repo_url(server: Server, name: str) -> str:
    return server.url(f"alice/{name}.git", "alice")


def bare_repo(server: Server, name: str) -> Path:
    return server.data_dir / "repos" / "alice" / f"{name}.git"


def remote_refs(cwd: Path, url: str) -> dict[str, str]:
    result = git(cwd, "ls-remote", url, check=False)
    if result.returncode != 0 and "not found" in result.stderr:
        return {}  # the push-to-create of a rejected first push may leave no repo behind
    assert result.returncode == 0, result.stderr
    out = result.stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def has_object(repo: Path, sha: str) -> bool:
    return git(repo, "cat-file", "-e", sha, check=False).returncode == 0


def pushed_repo(server: Server, tmp_path: Path, name: str,
                push: bool = True) -> tuple[Path, str]:
    """A work repo with one clean commit, pushed to alice/<name> unless not push."""
    url = repo_url(server, name)
    work = make_work_repo(tmp_path / name, {"ok.py": f"NAME = {name!r}\n"})
    if push:
        git(work, "push", "-q", url, "main")
    return work, url


def new_objects(work: Path, tip: str, known: list[str]) -> list[str]:
    """Every object reachable from tip but not from the known commits: what a push brings."""
    out = git(work, "rev-list", "--objects", tip, "--not", *known).stdout
    return [line.split(" ", 1)[0] for line in out.splitlines()]


def mktree(work: Path, entries: list[tuple[str, str, str, str]]) -> str:
    """Write a tree of (mode, type, sha, name) entries with plumbing; git checks no names here."""
    text = "".join(f"{mode} {kind} {sha}\t{name}\0" for mode, kind, sha, name in entries)
    return git(work, "mktree", "-z", input_text=text).stdout.strip()


def raw_tree(work: Path, entries: list[tuple[str, str, str]]) -> str:
    """Write a tree of (mode, sha, name) byte for byte: `git mktree` would fix odd modes."""
    data = b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha)
                    for mode, sha, name in sorted(entries, key=lambda e: e[2]))
    result = subprocess.run(["git", "hash-object", "-t", "tree", "-w", "--stdin", "--literally"],
                            cwd=work, input=data, capture_output=True, check=True,
                            env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1",
                                     GIT_CONFIG_GLOBAL=os.devnull))
    return result.stdout.decode().strip()


def blob(work: Path, content: str) -> str:
    return git(work, "hash-object", "-w", "--stdin", input_text=content).stdout.strip()


def commit_tree(work: Path, tree: str, message: str) -> str:
    """Commit tree on top of HEAD and move the branch there, as `git commit` would."""
    parent = git(work, "rev-parse", "HEAD").stdout.strip()
    sha = git(work, "commit-tree", tree, "-p", parent, "-m", message).stdout.strip()
    git(work, "update-ref", "HEAD", sha)
    return sha


def head_tree_entries(work: Path) -> list[tuple[str, str, str, str]]:
    out = git(work, "ls-tree", "HEAD").stdout
    entries = []
    for line in out.splitlines():
        meta, name = line.split("\t", 1)
        mode, kind, sha = meta.split()
        entries.append((mode, kind, sha, name))
    return entries


def remote_lines(stderr: str) -> list[str]:
    return [line.rstrip() for line in stderr.splitlines() if line.startswith("remote:")]


def objects_brought(work: Path, branches: tuple[str, ...], known: dict[str, str]) -> list[str]:
    """Every object a push of branches brings to a server that has the known refs."""
    tips = [git(work, "rev-parse", branch).stdout.strip() for branch in branches]
    brought = [sha for tip in tips for sha in new_objects(work, tip, sorted(set(known.values())))]
    assert brought, "the push brings no objects; the test built nothing new"
    return brought


def assert_named(stderr: str, rejected: list[tuple[str, str, str]]) -> None:
    """One `remote:` line per (commit, path, rule)."""
    lines = remote_lines(stderr)
    for commit, path, rule in rejected:
        assert any(commit[:7] in line and f" {path}:" in line and rule in line
                   for line in lines), f"no remote: line for {commit[:7]} {path!r}:\n{stderr}"


def assert_rejected(server: Server, work: Path, name: str, rejected: list[tuple[str, str, str]],
                    branches: tuple[str, ...] = ("main",)) -> str:
    """Push branches and check the whole push is refused; rejected = [(commit, path, rule)].

    Returns git's stderr for further checks.
    """
    url = repo_url(server, name)
    before = remote_refs(work, url)
    brought = objects_brought(work, branches, before)
    result = git(work, "push", url, *branches, check=False)
    assert result.returncode != 0, result.stderr
    for branch in branches:
        assert re.search(rf"! \[remote rejected\] +{re.escape(branch)} -> {re.escape(branch)} \(",
                         result.stderr), result.stderr
    assert_named(result.stderr, rejected)
    assert remote_refs(work, url) == before
    bare = bare_repo(server, name)
    left = [sha for sha in brought if bare.exists() and has_object(bare, sha)]
    assert not left, f"objects of the rejected push were kept: {left}"
    return result.stderr


# -- rules -----------------------------------------------------------------------------------

def test_policy_accepts_python_files_in_folders_and_executable(server: Server,
                                                               tmp_path: Path) -> None:
    work, url = pushed_repo(server, tmp_path, "pol-ok")
    commit_files(work, {"pkg/__init__.py": "", "pkg/sub/données.py": "TEXT = 'é ✓'\n",
                        "run.py": "#!/usr/bin/env python3\nprint('hi')\n"}, "more")
    (work / "run.py").chmod(0o755)
    git(work, "commit", "-q", "-am", "exec")
    tip = git(work, "rev-parse", "HEAD").stdout.strip()
    result = git(work, "push", url, "main", check=False)
    assert result.returncode == 0, result.stderr
    assert remote_refs(work, url)["refs/heads/main"] == tip
    assert git(bare_repo(server, "pol-ok"), "ls-tree", tip, "run.py").stdout.startswith("100755")


def test_policy_rejects_non_python_file(server: Server, tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-txt")
    sha = commit_files(work, {"notes.txt": "not python, pol-txt\n"}, "notes")
    stderr = assert_rejected(server, work, "pol-txt", [(sha, "notes.txt", "only .py files")])
    # the reason says what to do about it
    assert "git rm --cached notes.txt" in stderr


def test_policy_rejects_file_without_extension_in_folder(server: Server, tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-noext")
    sha = commit_files(work, {"pkg/Makefile": "all:\n"}, "makefile")
    assert_rejected(server, work, "pol-noext", [(sha, "pkg/Makefile", "only .py files")])


def test_policy_rejects_symlink_even_named_py(server: Server, tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-link")
    os.symlink("/etc/passwd", work / "link.py")
    git(work, "add", "link.py")
    git(work, "commit", "-q", "-m", "link")
    assert git(work, "ls-tree", "HEAD", "link.py").stdout.startswith("120000")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    assert_rejected(server, work, "pol-link", [(sha, "link.py", "symbolic links")])


def test_policy_rejects_submodule(server: Server, tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-sub")
    target = git(work, "rev-parse", "HEAD").stdout.strip()
    git(work, "update-index", "--add", "--cacheinfo", f"160000,{target},sub")
    git(work, "commit", "-q", "-m", "submodule")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    assert git(work, "ls-tree", "HEAD", "sub").stdout.startswith("160000 commit")
    assert_rejected(server, work, "pol-sub", [(sha, "sub", "submodules")])


def test_policy_rejects_odd_file_mode(server: Server, tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-mode")
    entries = [(mode, sha, name) for mode, _, sha, name in head_tree_entries(work)]
    tree = raw_tree(work, [*entries, ("100664", blob(work, "# pol-mode\n"), "group.py")])
    raw = subprocess.run(["git", "cat-file", "tree", tree], cwd=work, capture_output=True,
                         check=True).stdout
    assert b"100664 group.py\0" in raw  # `cat-file -p` would show the mode fixed up
    sha = commit_tree(work, tree, "group-writable")
    assert_rejected(server, work, "pol-mode", [(sha, "group.py", "not a regular file")])


def test_policy_checks_commit_behind_annotated_tag(server: Server, tmp_path: Path) -> None:
    # Pushing only a tag must not get a commit past the policy.
    work, _ = pushed_repo(server, tmp_path, "pol-tag")
    bad = commit_files(work, {"payload.sh": "#!/bin/sh\n"}, "shell script")
    git(work, "tag", "-a", "v1", "-m", "release", bad)
    git(work, "reset", "-q", "--hard", "HEAD~1")
    assert_rejected(server, work, "pol-tag", [(bad, "payload.sh", "only .py files")],
                    branches=("v1",))


def test_policy_rejects_nul_byte(server: Server, tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-nul")
    sha = commit_files(work, {"data.py": b"X = 1\n\0\x01\x02 pol-nul\n"}, "nul")
    assert_rejected(server, work, "pol-nul", [(sha, "data.py", "NUL")])


def test_policy_rejects_non_utf8(server: Server, tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-latin1")
    sha = commit_files(work, {"latin.py": "NAME = 'Müller pol-latin1'\n".encode("latin-1")},
                       "latin-1")
    assert_rejected(server, work, "pol-latin1", [(sha, "latin.py", "not UTF-8")])


RESERVED = (".git", ".GIT", ".Git", ".git.", ".git ", ".git. .", "git~1", "GIT~1",
            ".g\u200cit", "\ufeff.git", ".", "..")


def test_policy_rejects_reserved_path_components(server: Server, tmp_path: Path) -> None:
    # One push carrying every spelling, at the top and one folder down: each is its own line.
    work, _ = pushed_repo(server, tmp_path, "pol-reserved", push=False)
    inner = mktree(work, [("100644", "blob", blob(work, "# pol-reserved\nHOOK = 1\n"),
                           "hook.py")])
    deep = mktree(work, [("040000", "tree", inner, name) for name in (".git", "..")])
    tree = mktree(work, [*head_tree_entries(work), ("040000", "tree", deep, "pkg"),
                         *(("040000", "tree", inner, name) for name in RESERVED)])
    sha = commit_tree(work, tree, "sneak in reserved names")
    assert_rejected(server, work, "pol-reserved", [
        *((sha, name, repr(name)) for name in RESERVED),
        (sha, "pkg/.git", "'.git'"), (sha, "pkg/..", "'..'")])


def test_policy_rejects_dotgit_file_name(server: Server, tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-dotgit-file")
    tree = mktree(work, [*head_tree_entries(work),
                         ("100644", "blob", blob(work, "[core]\n\tbare = false\n"), ".git")])
    sha = commit_tree(work, tree, "dotgit file")
    assert_rejected(server, work, "pol-dotgit-file", [(sha, ".git", "'.git'")])


def test_policy_rejects_bad_file_in_older_commit_with_clean_tip(server: Server,
                                                                tmp_path: Path) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-history")
    bad = commit_files(work, {"secret.bin": b"\x00\x01binary pol-history"}, "add binary")
    git(work, "rm", "-q", "secret.bin")
    git(work, "commit", "-q", "-m", "remove it again")
    commit_files(work, {"clean.py": "CLEAN = True\n"}, "clean tip")
    tip = git(work, "rev-parse", "HEAD").stdout.strip()
    assert "secret.bin" not in git(work, "ls-tree", "-r", "--name-only", tip).stdout
    stderr = assert_rejected(server, work, "pol-history",
                             [(bad, "secret.bin", "only .py files")])
    assert tip[:7] not in "\n".join(remote_lines(stderr))


def test_policy_names_every_offending_commit_and_path(server: Server, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    work, _ = pushed_repo(server, tmp_path, "pol-many")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2030-01-01T10:00:00Z")
    first = commit_files(work, {"a.txt": "a pol-many\n", "b.py": b"B = '\xff'\n"}, "two bad")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2030-01-01T10:05:00Z")
    second = commit_files(work, {"c.json": "{}\n"}, "third bad")
    stderr = assert_rejected(server, work, "pol-many", [
        (first, "a.txt", "only .py files"), (first, "b.py", "not UTF-8"),
        (second, "c.json", "only .py files")])
    assert len([line for line in remote_lines(stderr)
                if first[:7] in line or second[:7] in line]) == 3


def test_policy_names_commit_that_brought_the_file(server: Server, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Commits made within one second share their timestamp (scripts, rebases): the file must
    # still be blamed on the commit that added it, not on a later one that merely carries it.
    work, _ = pushed_repo(server, tmp_path, "pol-blame")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2030-01-01T10:00:00Z")
    bad = commit_files(work, {"data.csv": "a,b\n"}, "add csv")
    later = commit_files(work, {"later.py": "LATER = 1\n"}, "later")
    stderr = assert_rejected(server, work, "pol-blame", [(bad, "data.csv", "only .py files")])
    assert later[:7] not in "\n".join(remote_lines(stderr))


def test_policy_rejects_whole_multi_ref_push(server: Server, tmp_path: Path) -> None:
    work, url = pushed_repo(server, tmp_path, "pol-atomic")
    git(work, "checkout", "-q", "-b", "good")
    commit_files(work, {"good.py": "GOOD = 1\n"}, "good")
    git(work, "checkout", "-q", "-b", "bad", "main")
    bad = commit_files(work, {"bad.cfg": "[x]\n"}, "bad")
    git(work, "checkout", "-q", "main")
    commit_files(work, {"main.py": "MAIN = 2\n"}, "clean main")
    assert_rejected(server, work, "pol-atomic", [(bad, "bad.cfg", "only .py files")],
                    branches=("good", "bad", "main"))
    assert set(remote_refs(work, url)) == {"HEAD", "refs/heads/main"}


def test_policy_rejects_tag_pointing_at_blob(server: Server, tmp_path: Path) -> None:
    work, url = pushed_repo(server, tmp_path, "pol-tagblob")
    target = blob(work, "\0binary behind a tag, pol-tagblob\n")
    git(work, "tag", "sneaky", target)
    before = remote_refs(work, url)
    result = git(work, "push", url, "refs/tags/sneaky", check=False)
    assert result.returncode != 0
    assert "! [remote rejected] sneaky -> sneaky" in result.stderr
    assert any("must point at a commit" in line for line in remote_lines(result.stderr)), \
        result.stderr
    assert remote_refs(work, url) == before
    assert not has_object(bare_repo(server, "pol-tagblob"), target)


def test_policy_rejects_first_push_to_new_repo(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "fresh", {"ok.py": "OK = 1\n"})
    bad = commit_files(work, {"README.md": "# pol-fresh\n"}, "readme")
    url = repo_url(server, "pol-fresh")
    result = git(work, "push", url, "main", check=False)
    assert result.returncode != 0
    assert "! [remote rejected] main -> main" in result.stderr
    assert any(bad[:7] in line and "README.md" in line for line in remote_lines(result.stderr))
    assert remote_refs(work, url) == {}
    assert not has_object(bare_repo(server, "pol-fresh"), bad)
