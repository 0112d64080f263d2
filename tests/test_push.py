"""Pushing, cloning and fetching with the real `git` CLI against a real `gitserver serve`.

Push-to-create, clone, fetch, force-push, branch deletion, tags, what an accepted push prints and
records, and concurrent pushes. Big pushes are in test_push_limits.py.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring
# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from subprocess import CompletedProcess

import httpx

from gitserver.core.models import Commit, FileVersion, Push, Repo, User

from .support import PASSWORD, Server, commit_files, git, make_work_repo, server_db

# -- helpers ---------------------------------------------------------------------------------

def repo_url(server: Server, name: str, user: str = "alice", owner: str = "alice") -> str:
    return server.url(f"{owner}/{name}.git", user)


def bare_repo(server: Server, name: str) -> Path:
    return server.data_dir / "repos" / "alice" / f"{name}.git"


def remote_refs(cwd: Path, url: str) -> dict[str, str]:
    out = git(cwd, "ls-remote", url).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def head(work: Path, rev: str = "HEAD") -> str:
    return git(work, "rev-parse", rev).stdout.strip()


def assert_clean_push(result: CompletedProcess[str]) -> None:
    """Accepted, and no hook failed on the way (git still exits 0 when post-receive fails)."""
    assert result.returncode == 0, result.stderr
    for sign in ("Traceback", "error:", "failed"):
        assert sign not in result.stderr, result.stderr


def assert_status_url(server: Server, result: CompletedProcess[str], name: str, branch: str,
                      sha: str) -> None:
    """The push named the tip and printed the URL of its status page as `remote:` lines."""
    remote = "\n".join(line for line in result.stderr.splitlines() if line.startswith("remote:"))
    assert f"{branch} {sha[:7]}" in remote, result.stderr
    assert f"{server.base_url}/alice/{name}/commit/{sha}" in remote, result.stderr


def db_repo(name: str, owner: str = "alice") -> Repo | None:
    return (Repo.select(Repo, User).join(User)
            .where((User.username == owner) & (Repo.name == name)).first())


def wait_recorded(server: Server, name: str, pushes: int) -> None:
    """Wait until `pushes` pushes to alice/<name> have their commits recorded.

    The server records a push that has much to lint just after git's answer, in a thread of its
    own; nothing in this process can wait on that, so poll the database (briefly).
    """
    deadline = time.monotonic() + 30
    while True:
        with server_db(server):
            done = (Push.select().join(Repo).join(User)
                    .where((User.username == "alice") & (Repo.name == name)
                           & Push.recorded_at.is_null(False)).count())
        if done >= pushes:
            return
        assert time.monotonic() < deadline, f"{done} of {pushes} pushes to {name} recorded"
        time.sleep(0.05)


def run_together(jobs: list[Callable[[], CompletedProcess[str]]]) -> list[CompletedProcess[str]]:
    """Start all jobs at the same moment (a barrier), each in its own thread; their results."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], CompletedProcess[str]]) -> CompletedProcess[str]:
        barrier.wait(timeout=30)
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


# -- push, clone, fetch ------------------------------------------------------------------------

def test_push_creates_private_repo_and_prints_status_url(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"app.py": "APP = 1\n"})
    sha = head(work)
    result = git(work, "push", repo_url(server, "created"), "main", check=False)
    assert_clean_push(result)
    assert "* [new branch]      main -> main" in result.stderr
    assert_status_url(server, result, "created", "main", sha)
    assert (bare_repo(server, "created") / "HEAD").is_file()
    with server_db(server):
        repo = db_repo("created")
        assert repo is not None
        assert repo.private is True
        assert repo.default_branch == "main"
    assert remote_refs(work, repo_url(server, "created")) == {
        "HEAD": sha, "refs/heads/main": sha}


def test_push_created_repo_is_hidden_from_others(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"app.py": "SECRET = 1\n"})
    git(work, "push", "-q", repo_url(server, "hidden"), "main")
    refs = server.url("alice/hidden.git/info/refs?service=git-upload-pack")
    anonymous = httpx.get(refs)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="gitserver"'
    assert httpx.get(refs, auth=("bob", PASSWORD)).status_code == 404
    result = git(tmp_path, "clone", repo_url(server, "hidden", user="bob"), "bobs", check=False)
    assert result.returncode != 0
    assert "not found" in result.stderr
    assert not (tmp_path / "bobs" / "app.py").exists()


def test_push_then_clone_gives_the_same_tree(server: Server, tmp_path: Path) -> None:
    files = {"pkg/__init__.py": "", "pkg/core.py": "def f():\n    return 'é'\n",
             "main.py": "from pkg.core import f\nprint(f())\n"}
    work = make_work_repo(tmp_path / "w", files)
    git(work, "push", "-q", repo_url(server, "roundtrip"), "main")
    # Both URL spellings of the contract: with and without `.git`.
    for clone_url, target in ((repo_url(server, "roundtrip"), "c1"),
                              (server.url("alice/roundtrip", "alice"), "c2")):
        git(tmp_path, "clone", "-q", clone_url, target)
        clone = tmp_path / target
        assert head(clone) == head(work)
        assert git(clone, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/main"
        for name, content in files.items():
            assert (clone / name).read_text(encoding="utf-8") == content


def test_push_fetch_brings_new_commits(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    url = repo_url(server, "fetching")
    git(work, "push", "-q", url, "main")
    git(tmp_path, "clone", "-q", url, "clone")
    clone = tmp_path / "clone"
    second = commit_files(work, {"a.py": "A = 2\n", "b.py": "B = 1\n"}, "second")
    assert_clean_push(git(work, "push", url, "main", check=False))
    git(clone, "fetch", "-q", "origin")
    assert head(clone, "origin/main") == second
    git(clone, "merge", "-q", "--ff-only", "origin/main")
    assert (clone / "b.py").read_text(encoding="utf-8") == "B = 1\n"


def test_push_incremental_sends_only_new_objects(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    url = repo_url(server, "incremental")
    git(work, "push", "-q", url, "main")
    commit_files(work, {"b.py": "B = 2\n"}, "two")
    result = git(work, "push", "--verbose", "--progress", url, "main", check=False)
    assert_clean_push(result)
    # one commit, one tree, one blob: the server's advertisement let git skip the rest
    assert "Writing objects: 100% (3/3)" in result.stderr


def test_push_force_rewrites_branch(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    url = repo_url(server, "forced")
    commit_files(work, {"b.py": "B = 1\n"}, "to be rewritten")
    old = head(work)
    git(work, "push", "-q", url, "main")
    git(work, "reset", "-q", "--hard", "HEAD~1")
    new = commit_files(work, {"c.py": "C = 1\n"}, "rewritten")
    plain = git(work, "push", url, "main", check=False)
    assert plain.returncode != 0
    assert "! [rejected]" in plain.stderr
    assert remote_refs(work, url)["refs/heads/main"] == old
    forced = git(work, "push", "--force", url, "main", check=False)
    assert_clean_push(forced)
    assert "(forced update)" in forced.stderr
    assert_status_url(server, forced, "forced", "main", new)
    assert remote_refs(work, url)["refs/heads/main"] == new
    wait_recorded(server, "forced", 2)
    with server_db(server):
        repo = db_repo("forced")
        assert Commit.select().where((Commit.repo == repo) & (Commit.sha == new)).exists()


def test_push_deletes_branch(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    url = repo_url(server, "deleting")
    git(work, "push", "-q", url, "main")
    git(work, "checkout", "-q", "-b", "feature")
    feature = commit_files(work, {"f.py": "F = 1\n"}, "feature")
    git(work, "push", "-q", url, "feature")
    assert remote_refs(work, url)["refs/heads/feature"] == feature
    result = git(work, "push", url, "--delete", "feature", check=False)
    assert_clean_push(result)
    assert "[deleted]" in result.stderr
    assert "refs/heads/feature" not in remote_refs(work, url)
    assert "refs/heads/main" in remote_refs(work, url)


def test_push_two_branches_prints_each_tip(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    main = head(work)
    git(work, "checkout", "-q", "-b", "dev")
    dev = commit_files(work, {"d.py": "D = 1\n"}, "dev")
    result = git(work, "push", repo_url(server, "two-tips"), "main", "dev", check=False)
    assert_clean_push(result)
    assert_status_url(server, result, "two-tips", "main", main)
    assert_status_url(server, result, "two-tips", "dev", dev)


def test_push_annotated_tag(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    url = repo_url(server, "tagged")
    git(work, "tag", "-a", "v1.0", "-m", "release")
    assert_clean_push(git(work, "push", url, "main", "v1.0", check=False))
    refs = remote_refs(work, url)
    assert refs["refs/tags/v1.0"] == head(work, "v1.0")
    assert refs["refs/tags/v1.0^{}"] == head(work)


def test_push_records_commits_and_file_changes(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w")
    first = commit_files(work, {"a.py": "A = 1\n", "b.py": "B = 1\n"}, "first\n\nbody")
    (work / "b.py").unlink()
    second = commit_files(work, {"a.py": "A = 2\n", "pkg/c.py": "C = 1\n"}, "second")
    url = repo_url(server, "recorded")
    assert_clean_push(git(work, "push", url, "main", check=False))
    # the same commits under another branch name are not recorded twice
    assert_clean_push(git(work, "push", url, "main:copy", check=False))
    wait_recorded(server, "recorded", 2)
    with server_db(server):
        repo = db_repo("recorded")
        commits = {c.sha: c for c in Commit.select().where(Commit.repo == repo)}
        assert set(commits) == {first, second}
        assert commits[second].parent_sha == first
        assert commits[first].parent_sha is None
        assert commits[first].message.startswith("first\n\nbody")
        assert commits[first].author_email == "test@example.com"
        changes = {(v.commit.sha, v.path, v.change, v.blob_sha)
                   for v in FileVersion.select(FileVersion, Commit).join(Commit)
                   .where(Commit.repo == repo)}
        blob = {p: head(work, f"{second}:{p}") for p in ("a.py", "pkg/c.py")}
        assert changes == {
            (first, "a.py", "added", head(work, f"{first}:a.py")),
            (first, "b.py", "added", head(work, f"{first}:b.py")),
            (second, "a.py", "modified", blob["a.py"]),
            (second, "b.py", "deleted", None),
            (second, "pkg/c.py", "added", blob["pkg/c.py"]),
        }
        pushes = list(Push.select().where(Push.repo == repo).order_by(Push.id))
        assert len(pushes) == 2
        assert all(p.pusher.username == "alice" for p in pushes)
        assert commits[first].push_id == pushes[0].id


# -- concurrency -------------------------------------------------------------------------------

def test_push_concurrent_branches_of_one_repo(server: Server, tmp_path: Path) -> None:
    base = make_work_repo(tmp_path / "base", {"base.py": "BASE = 1\n"})
    url = repo_url(server, "conc-branches")
    git(base, "push", "-q", url, "main")
    works, tips = [], {}
    for i in range(4):
        git(tmp_path, "clone", "-q", url, f"w{i}")
        work = tmp_path / f"w{i}"
        git(work, "checkout", "-q", "-b", f"b{i}")
        tips[f"refs/heads/b{i}"] = commit_files(work, {f"b{i}.py": f"B = {i}\n"}, f"b{i}")
        works.append(work)
    results = run_together([
        lambda w=w, i=i: git(w, "push", url, f"b{i}", check=False)
        for i, w in enumerate(works)])
    for i, result in enumerate(results):
        assert_clean_push(result)
        assert_status_url(server, result, "conc-branches", f"b{i}", tips[f"refs/heads/b{i}"])
    refs = remote_refs(base, url)
    assert {ref: refs[ref] for ref in tips} == tips
    wait_recorded(server, "conc-branches", 5)
    with server_db(server):
        repo = db_repo("conc-branches")
        recorded = [c.sha for c in Commit.select().where(Commit.repo == repo)]
        assert sorted(recorded) == sorted([*tips.values(), head(base)])


def test_push_concurrent_same_branch_one_wins(server: Server, tmp_path: Path) -> None:
    base = make_work_repo(tmp_path / "base", {"base.py": "BASE = 1\n"})
    url = repo_url(server, "conc-race")
    git(base, "push", "-q", url, "main")
    works, shas = [], []
    for i in range(4):
        git(tmp_path, "clone", "-q", url, f"w{i}")
        works.append(tmp_path / f"w{i}")
        shas.append(commit_files(works[-1], {f"r{i}.py": f"R = {i}\n"}, f"racer {i}"))
    results = run_together([lambda w=w: git(w, "push", url, "main", check=False)
                            for w in works])
    winners = [i for i, r in enumerate(results) if r.returncode == 0]
    assert len(winners) == 1, [r.stderr for r in results]
    winner = winners[0]
    assert_clean_push(results[winner])
    assert_status_url(server, results[winner], "conc-race", "main", shas[winner])
    for i, result in enumerate(results):
        if i != winner:  # lost either before sending (stale) or at the ref lock (remote)
            assert "! [rejected]" in result.stderr or "! [remote rejected]" in result.stderr, \
                result.stderr
    assert remote_refs(base, url)["refs/heads/main"] == shas[winner]
    assert git(bare_repo(server, "conc-race"), "fsck", "--no-dangling",
               check=False).returncode == 0
    wait_recorded(server, "conc-race", 2)
    with server_db(server):
        repo = db_repo("conc-race")
        recorded = {c.sha for c in Commit.select().where(Commit.repo == repo)}
        assert recorded == {head(base), shas[winner]}


def test_push_concurrent_to_different_repos(server: Server, tmp_path: Path) -> None:
    works = [make_work_repo(tmp_path / f"w{i}", {f"m{i}.py": f"M = {i}\n"}) for i in range(4)]
    results = run_together([
        lambda w=w, i=i: git(w, "push", repo_url(server, f"conc-repo-{i}"), "main", check=False)
        for i, w in enumerate(works)])
    for i, (work, result) in enumerate(zip(works, results, strict=True)):
        assert_clean_push(result)
        assert_status_url(server, result, f"conc-repo-{i}", "main", head(work))
        assert remote_refs(work, repo_url(server, f"conc-repo-{i}"))["refs/heads/main"] == \
            head(work)


def test_push_concurrent_creation_of_one_repo(server: Server, tmp_path: Path) -> None:
    works = [make_work_repo(tmp_path / f"w{i}", {f"n{i}.py": f"N = {i}\n"}) for i in range(4)]
    url = repo_url(server, "conc-create")
    results = run_together([lambda w=w, i=i: git(w, "push", url, f"main:b{i}", check=False)
                            for i, w in enumerate(works)])
    for i, result in enumerate(results):
        assert_clean_push(result)
        assert_status_url(server, result, "conc-create", f"b{i}", head(works[i]))
    refs = remote_refs(works[0], url)
    assert {f"refs/heads/b{i}": refs.get(f"refs/heads/b{i}") for i in range(4)} == {
        f"refs/heads/b{i}": head(w) for i, w in enumerate(works)}
    with server_db(server):
        assert Repo.select().join(User).where(
            (User.username == "alice") & (Repo.name == "conc-create")).count() == 1
