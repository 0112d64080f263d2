"""GitRepo in process, no server: every read and write on small repositories real `git` built.

What `git` itself says (rev-parse, ls-tree, log, cat-file) is the expected answer each time.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitserver.core.gitrepo import GitRepo, PathChange, TreeEdit, TreeEntry, blob_sha
from gitserver.core.models import Repo, User

from ..support import commit_files, git, make_work_repo


@pytest.fixture(name="work")
def work_fixture(tmp_path: Path) -> Path:
    """main: three commits (add, modify + add in a folder, delete); a branch, two tags."""
    path = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n", "notes.txt": "x\n"})
    commit_files(path, {"a.py": "A = 2\n", "pkg/b.py": "B = 1\n"}, "second")
    git(path, "rm", "-q", "notes.txt")
    git(path, "commit", "-q", "-m", "third")
    git(path, "branch", "topic", "HEAD~1")
    git(path, "tag", "light", "HEAD~2")
    git(path, "tag", "-a", "v1", "-m", "release", "HEAD")
    return path


@pytest.fixture(name="repo")
def repo_fixture(work: Path) -> GitRepo:
    bare = work.parent / "bare.git"
    git(work.parent, "clone", "-q", "--bare", str(work), str(bare))
    return GitRepo(str(bare))


def rev(work: Path, name: str) -> str:
    return git(work, "rev-parse", name).stdout.strip()


# -- opening ---------------------------------------------------------------------------------

def test_gitrepo_find_opens_by_repo_row_or_answers_none(tmp_path: Path, repo: GitRepo) -> None:
    repos_dir = tmp_path / "repos"
    (repos_dir / "alice").mkdir(parents=True)
    os.rename(repo.path, repos_dir / "alice" / "demo.git")
    found = GitRepo.find(repos_dir, Repo(owner=User(username="alice"), name="demo"))
    assert found is not None and found.branches() == ["main", "topic"]
    assert GitRepo.find(repos_dir, Repo(owner=User(username="alice"), name="gone")) is None


# -- refs ------------------------------------------------------------------------------------

def test_gitrepo_branches_and_tips(work: Path, repo: GitRepo) -> None:
    assert repo.branches() == ["main", "topic"]
    assert repo.branch_tip("main") == rev(work, "main")
    assert repo.branch_tip("topic") == rev(work, "topic")
    assert repo.branch_tip("nope") is None
    assert repo.ref_target("refs/tags/v1") == rev(work, "v1")  # the tag object, not peeled


@pytest.mark.parametrize(("name", "expected"), [
    ("main", "main"), ("topic", "topic"), ("light", "light^{commit}"), ("v1", "v1^{commit}"),
    ("HEAD", "HEAD")])
def test_gitrepo_resolve_peels_like_git(work: Path, repo: GitRepo, name: str,
                                        expected: str) -> None:
    assert repo.names_ref(name)
    assert repo.resolve(name) == rev(work, expected)


def test_gitrepo_resolve_unknown_and_non_commit(work: Path, repo: GitRepo) -> None:
    assert not repo.names_ref("nope") and repo.resolve("nope") is None
    assert repo.resolve(rev(work, "HEAD")) is None  # a sha is not a ref name
    blob = rev(work, "HEAD:a.py")
    assert repo.peel(blob) == ("blob", blob)
    assert repo.peel(rev(work, "v1")) == ("commit", rev(work, "HEAD"))
    assert repo.peel_commit(blob) is None


def test_gitrepo_head_of_an_empty_repo(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "empty.git")
    empty = GitRepo(str(tmp_path / "empty.git"))
    assert empty.head_ref() == "refs/heads/main"
    assert empty.ref_target("HEAD") is None and empty.resolve("HEAD") is None
    assert empty.branches() == []


def test_gitrepo_set_head_branch(work: Path, repo: GitRepo) -> None:
    assert repo.set_head_branch("topic")
    assert repo.head_ref() == "refs/heads/topic"
    assert repo.resolve("HEAD") == rev(work, "topic")


# -- objects and trees -----------------------------------------------------------------------

def test_gitrepo_commit_info(work: Path, repo: GitRepo) -> None:
    sha = rev(work, "HEAD")
    info = repo.commit(sha)
    assert info.sha == sha and info.tree == rev(work, "HEAD^{tree}")
    assert info.parents == (rev(work, "HEAD~1"),)
    assert info.author == "Test User <test@example.com>"
    assert info.message == "third\n"
    assert info.committed_at == int(git(work, "log", "-1", "--format=%ct").stdout)
    assert repo.commit(rev(work, "HEAD~2")).parents == ()
    with pytest.raises(TypeError):
        repo.commit(rev(work, "HEAD^{tree}"))


def test_gitrepo_tree_files_and_py_files(work: Path, repo: GitRepo) -> None:
    first = rev(work, "HEAD~2")
    assert repo.tree_files(first) == {"a.py": rev(work, "HEAD~2:a.py"),
                                      "notes.txt": rev(work, "HEAD~2:notes.txt")}
    assert repo.py_files(first) == {"a.py": rev(work, "HEAD~2:a.py")}
    assert set(repo.tree_files(rev(work, "HEAD"))) == {"a.py", "pkg/b.py"}


def test_gitrepo_entry_at_and_tree_entries(work: Path, repo: GitRepo) -> None:
    head = rev(work, "HEAD")
    root = repo.entry_at(head, "")
    assert root is not None and root.is_dir and root.sha == rev(work, "HEAD^{tree}")
    folder = repo.entry_at(head, "pkg")
    assert folder == TreeEntry("pkg", 0o040000, rev(work, "HEAD:pkg"))
    b_py = TreeEntry("b.py", 0o100644, rev(work, "HEAD:pkg/b.py"))
    assert repo.tree_entries(folder.sha) == [b_py]
    assert repo.entry_at(head, "pkg/b.py") == b_py
    assert repo.entry_at(head, "missing.py") is None
    assert repo.entry_at(head, "a.py/inside.py") is None  # a file where a folder is wanted


def test_gitrepo_blob_at_reads_regular_files_only(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    os.symlink("a.py", work / "link.py")
    git(work, "add", "link.py")
    git(work, "commit", "-q", "-m", "link")
    repo = GitRepo(str(work))
    head = rev(work, "HEAD")
    assert repo.blob_at(head, "a.py") == (rev(work, "HEAD:a.py"), b"A = 1\n")
    assert repo.blob_at(head, "link.py") is None
    assert repo.blob_at(head, "") is None and repo.blob_at(head, "nope.py") is None
    assert repo.blob(rev(work, "HEAD:link.py")) == b"a.py"


def test_gitrepo_history_is_git_log_order(work: Path, repo: GitRepo) -> None:
    log = git(work, "log", "--format=%H", "main").stdout.split()
    assert repo.history(log[0]) == log
    assert repo.history(log[0], max_entries=2) == log[:2]
    assert repo.history(rev(work, "topic")) == log[1:]


def test_gitrepo_changed_files_against_parent(work: Path, repo: GitRepo) -> None:
    first, second, third = (rev(work, f"HEAD~{n}") for n in (2, 1, 0))
    assert sorted(repo.changed_files(None, first), key=lambda c: c.path) == [
        PathChange("added", "a.py", rev(work, "HEAD~2:a.py")),
        PathChange("added", "notes.txt", rev(work, "HEAD~2:notes.txt"))]
    assert sorted(repo.changed_files(first, second), key=lambda c: c.path) == [
        PathChange("modified", "a.py", rev(work, "HEAD~1:a.py")),
        PathChange("added", "pkg/b.py", rev(work, "HEAD~1:pkg/b.py"))]
    assert repo.changed_files(second, third) == [PathChange("deleted", "notes.txt", None)]
    assert repo.changed_files(third, third) == []


# -- writes ----------------------------------------------------------------------------------

def test_gitrepo_writes_a_commit_git_can_read(work: Path, repo: GitRepo) -> None:
    old = repo.branch_tip("main")
    assert old is not None
    data = b'"""New."""\n'
    blob = repo.write_blob(data)
    assert blob == blob_sha(data) == git(work, "hash-object", "--stdin",
                                         input_text=data.decode()).stdout.strip()
    tree = repo.write_tree(old, [TreeEdit("pkg/new.py", 0o100644, blob),
                                 TreeEdit("a.py", None, None)])
    new = repo.write_commit(tree=tree, parents=[old], person="alice <alice@example.com>",
                            message="Add new\n", when=1_700_000_000)
    assert repo.move_ref("refs/heads/main", old, new)
    bare = Path(repo.path)
    assert git(bare, "ls-tree", "-r", "--name-only", "main").stdout.split() == [
        "pkg/b.py", "pkg/new.py"]
    assert git(bare, "log", "-1", "--format=%an|%ae|%ct|%s|%P", "main").stdout.strip() == \
        f"alice|alice@example.com|1700000000|Add new|{old}"
    assert git(bare, "fsck", "--strict", "--no-dangling").returncode == 0


def test_gitrepo_move_ref_is_compare_and_swap(work: Path, repo: GitRepo) -> None:
    main, topic = rev(work, "main"), rev(work, "topic")
    assert not repo.move_ref("refs/heads/main", topic, topic)  # main is not at topic
    assert repo.branch_tip("main") == main
    assert not repo.move_ref("refs/heads/topic", None, main)  # exists already
    assert repo.move_ref("refs/heads/fresh", None, topic)
    assert repo.branch_tip("fresh") == topic
    assert repo.move_ref("refs/heads/main", main, topic)
    assert repo.branch_tip("main") == topic


def test_gitrepo_write_tree_of_an_empty_branch(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "empty.git")
    empty = GitRepo(str(tmp_path / "empty.git"))
    tree = empty.write_tree(None, [TreeEdit("a.py", 0o100644, empty.write_blob(b"A = 1\n"))])
    assert empty.tree_entries(tree) == [TreeEntry("a.py", 0o100644, blob_sha(b"A = 1\n"))]
