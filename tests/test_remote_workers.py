"""Workers on any host (issue 17): a `gitserver worker` with a data dir of its own and no
repositories, sharing only the database and the queue with `gitserver serve` and reaching it over
HTTP (`queue.web_url`), checks pushes end to end; the web node's tree endpoint opens to a
worker's credential for exactly one repository and commit, and to nothing else.

The module runs twice: on the suite's default backend (SQLite files of the server's data dir,
which the worker is pointed at by URL) and on PostgreSQL + Redis ("scaleout").
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import io
import os
import signal
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer

from checker.sources import FILES_HEADER, TREES_PATH
from gitserver.core import tree_grants
from gitserver.runtime import REPO_QUEUE_NICENESS

from .fast.test_tree_stream import expired_grant
from .support import (
    GITSERVER,
    PASSWORD,
    Server,
    api,
    assert_one_line_error,
    by_path,
    checks_of,
    commit_files,
    git,
    make_work_repo,
    start_server,
    wait_until,
)
from .test_accounts import browser, sign_in

DEADLINE_S = 120.0
FINAL = {"success", "failure", "error"}
SETTINGS = {"GITSERVER_QUEUE_EMBEDDED": "false", "GITSERVER_CHECKER_PUSH_WAIT_S": "0"}
STARTED = b"Huey consumer started"
EXECUTING = b".check_commit: "  # huey logs "Executing <module>.check_commit: <id>"
UNUSED_IMPORT = '"""Doc."""\nimport os\nX = 1\n'  # unused-import: 5.00, a failure


@pytest.fixture(scope="module", params=["default", "scaleout"], name="web")
def fixture_web(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A web node without embedded workers, with users alice and bob."""
    backend = "scaleout" if request.param == "scaleout" else None
    srv = start_server(tmp_path_factory.mktemp(f"web-{request.param}"), SETTINGS, backend)
    try:
        for user in ("alice", "bob"):
            srv.add_user(user)
        yield srv
    finally:
        srv.stop()


def secret_key(web: Server) -> str:
    return (web.data_dir / "secret_key").read_text(encoding="utf-8").strip()


def remote_env(web: Server, data_dir: Path, **extra: str) -> dict[str, str]:
    """A worker's environment on "another host": its own (empty) data dir; the web node's
    database, queue and secret key; the web node's URL."""
    server_data = web.data_dir.resolve()
    env = dict(web.env)
    env.update({
        "GITSERVER_STORAGE_DATA_DIR": str(data_dir),
        "GITSERVER_DATABASE_URL": web.env.get("GITSERVER_DATABASE_URL")
        or f"sqlite:///{server_data / 'gitserver.db'}",
        "GITSERVER_QUEUE_URL": web.env.get("GITSERVER_QUEUE_URL")
        or f"sqlite:///{server_data / 'queue.db'}",
        "GITSERVER_SERVER_SECRET_KEY": secret_key(web),
        "GITSERVER_QUEUE_WEB_URL": web.base_url,
        "GITSERVER_QUEUE_WORKERS": "1",
        **extra})
    return env


@contextmanager
def remote_worker(env: dict[str, str], folder: Path) -> Iterator[Path]:
    """A started `gitserver worker` run from `folder` with `env`; yields its log; stopped after."""
    log = folder / "worker.log"
    with log.open("wb") as out:
        # Not a `with`: the worker runs until the test is done with it.
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [GITSERVER, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    try:
        wait_until("the worker to start", lambda: proc.poll() is not None
                   or STARTED in log.read_bytes(), deadline_s=60)
        assert proc.poll() is None, log.read_text(errors="replace")
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)  # a worker that ignores SIGTERM fails the test
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def final_checks(web: Server, repo: str, sha: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = checks_of(web, repo, sha)
        files = body["files"] if body else []
        return body if files and all(f["state"] in FINAL and f["emailed_at"]
                                     for f in files) else None
    return wait_until(f"the checks of {sha[:7]}", probe, deadline_s=DEADLINE_S)


def repo_id(web: Server, repo: str, owner: str = "alice") -> int:
    response = api(web, f"repos/{owner}/{repo}", user=owner)
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


# -- end to end ----------------------------------------------------------------------------------

def test_remote_worker_without_repositories_checks_pushes_end_to_end(web: Server,
                                                                     tmp_path: Path) -> None:
    host = tmp_path / "worker-host"
    host.mkdir()
    data_dir = host / "data"
    work = make_work_repo(tmp_path / "w", {"clean.py": '"""Clean."""\nC = 1\n'}, "first")
    first = git(work, "rev-parse", "HEAD").stdout.strip()
    with remote_worker(remote_env(web, data_dir), host) as log:
        git(work, "push", "-q", web.url("alice/remote.git", "alice"), "main")
        body = final_checks(web, "remote", first)
        assert body["state"] == "success"
        assert by_path(body)["clean.py"]["state"] == "success"

        # Gate `new`: a file fails only on messages new since the parent. The tip's baseline is
        # the parent's version of the file, linted from the parent's tree, which the worker
        # fetches too: one thread takes the tip first, before the parent has a result.
        saved = httpx.patch(web.url("api/v1/repos/alice/remote/lint"), json={"gate": "new"},
                            auth=("alice", PASSWORD), timeout=30)
        assert saved.status_code == 200, saved.text
        parent = commit_files(work, {"mod.py": UNUSED_IMPORT}, "An unused import")
        tip = commit_files(work, {"mod.py": UNUSED_IMPORT + "Y = 2\n",
                                  "pkg/__init__.py": '"""Pkg."""\n'}, "More")
        git(work, "push", "-q", web.url("alice/remote.git", "alice"), "main")
        tip_files = by_path(final_checks(web, "remote", tip))
        parent_files = by_path(final_checks(web, "remote", parent))

    assert parent_files["mod.py"]["state"] == "failure"  # new in that commit: the import counts
    assert tip_files["mod.py"]["state"] == "success"  # the same import, old now: shown, not failing
    assert [m["symbol"] for m in tip_files["mod.py"]["messages"]] == ["unused-import"]
    assert tip_files["pkg/__init__.py"]["state"] == "success"
    assert EXECUTING in log.read_bytes(), "the remote worker ran no check"
    assert not (data_dir / "repos").exists()
    # The report mails went out from the worker's host (its own Maildir).
    subjects = {m.split(":", 1)[0] for m in _mail_subjects(data_dir)}
    assert "[alice/remote] success" in subjects, subjects


def _mail_subjects(data_dir: Path) -> list[str]:
    return [line[len("Subject: "):] for path in (data_dir / "mail").glob("*/*")
            for line in path.read_text(errors="replace").splitlines()
            if line.startswith("Subject: ")]


# -- the web node's repo queue worker ------------------------------------------------------------

def repo_worker_pid(web: Server) -> int | None:
    """The pid of the `gitserver worker --repo-queue` the web node started, once it runs."""
    assert web.proc is not None
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == web.proc.pid and b"--repo-queue" in cmdline and fields[0] != "Z":
            return int(stat.parent.name)
    return None


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_web_node_keeps_its_repo_queue_worker_running_and_takes_it_along(
        dedicated: Callable[[dict[str, str]], Server], tmp_path: Path) -> None:
    web = dedicated(SETTINGS)
    first = wait_until("the repo queue worker to start", lambda: repo_worker_pid(web))
    # Scheduling is background work: the kernel serves the pushes first.
    assert web.proc is not None
    nicer = min(19, os.getpriority(os.PRIO_PROCESS, web.proc.pid) + REPO_QUEUE_NICENESS)
    wait_until("the repo queue worker to lower its priority",
               lambda: os.getpriority(os.PRIO_PROCESS, first) == nicer)
    os.kill(first, signal.SIGKILL)
    second = wait_until("a new repo queue worker", lambda: (
        pid if (pid := repo_worker_pid(web)) not in (None, first) else None))
    # The new one does the repo queue's work: the push's check rows are made (no check runs).
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"}, "one")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    git(work, "push", "-q", web.url("alice/again.git", "alice"), "main")
    body = wait_until("the check rows", lambda: (b := checks_of(web, "again", sha)) and b["files"])
    assert [f["state"] for f in body] == ["pending"]
    web.proc.kill()  # no goodbye: the worker notices its web node is gone
    web.proc.wait()
    wait_until("the repo queue worker to stop", lambda: not running(second), deadline_s=30)


# -- starting a worker ---------------------------------------------------------------------------

def test_remote_worker_with_another_secret_key_stops_at_start(web: Server,
                                                              tmp_path: Path) -> None:
    env = remote_env(web, tmp_path / "data",
                     GITSERVER_SERVER_SECRET_KEY="Zq" + secret_key(web)[::-1][2:])
    result = subprocess.run([GITSERVER, "worker"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False)
    assert_one_line_error(result, "queue.web_url", "HTTP 401", "server.secret_key")


@pytest.mark.parametrize("url", ["ftp://web:8000", "web:8000", "http://", "http://u:p@web",
                                 "http://web:8000/?x=1"])
def test_remote_worker_bad_web_url_stops_at_start(web: Server, tmp_path: Path, url: str) -> None:
    env = remote_env(web, tmp_path / "data", GITSERVER_QUEUE_WEB_URL=url)
    result = subprocess.run([GITSERVER, "worker"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False)
    assert_one_line_error(result, "queue.web_url", "http://web:8000")


# -- the tree endpoint ---------------------------------------------------------------------------

@pytest.fixture(scope="module", name="pushed")
def fixture_pushed(web: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two commits of alice/trees and one of bob/other: (repo id, shas) of each."""
    folder = tmp_path_factory.mktemp("trees")
    work = make_work_repo(folder / "a", {"a.py": "A = 1\n"}, "one")
    first = git(work, "rev-parse", "HEAD").stdout.strip()
    second = commit_files(work, {"pkg/b.py": "B = 2\n", "a.py": "A = 3\n"}, "two")
    git(work, "push", "-q", web.url("alice/trees.git", "alice"), "main")
    other = make_work_repo(folder / "b", {"secret.py": "TOKEN = 'bob'\n"}, "bob's")
    bob_sha = git(other, "rev-parse", "HEAD").stdout.strip()
    git(other, "push", "-q", web.url("bob/other.git", "bob"), "main")
    return {"repo": repo_id(web, "trees"), "first": first, "second": second,
            "bob_repo": repo_id(web, "other", "bob"), "bob_sha": bob_sha}


def tree_url(web: Server, repo: int, sha: str) -> str:
    return web.url(f"{TREES_PATH}/{repo}/{sha}")


def fetch(web: Server, repo: int, sha: str, grant: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {grant}"} if grant is not None else {}
    return httpx.get(tree_url(web, repo, sha), headers=headers, timeout=30, **kwargs)


def tar_files(response: httpx.Response) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}  # type: ignore[union-attr]


def test_tree_endpoint_gives_a_worker_the_commit_it_names(web: Server,
                                                          pushed: dict[str, Any]) -> None:
    key, repo = secret_key(web), pushed["repo"]
    for sha, files in ((pushed["first"], {"a.py": b"A = 1\n"}),
                       (pushed["second"], {"a.py": b"A = 3\n", "pkg/b.py": b"B = 2\n"})):
        response = fetch(web, repo, sha, tree_grants.mint(key, repo, sha))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/x-tar"
        assert response.headers[FILES_HEADER] == str(len(files))
        assert response.headers["cache-control"] == "no-store"
        assert tar_files(response) == files


def test_tree_endpoint_refuses_every_other_credential(web: Server,
                                                      pushed: dict[str, Any]) -> None:
    key, repo, sha = secret_key(web), pushed["repo"], pushed["second"]
    refusals = {
        "none": (fetch(web, repo, sha, None), 401),
        "garbage": (fetch(web, repo, sha, "not-a-grant"), 401),
        # another key: its first character changed (never to itself)
        "forged": (fetch(web, repo, sha, tree_grants.mint(("y" if key[0] == "x" else "x")
                                                          + key[1:], repo, sha)), 401),
        "expired": (fetch(web, repo, sha, expired_grant(key, repo, sha)), 401),
        "session salt": (fetch(web, repo, sha, URLSafeTimedSerializer(key).dumps([repo, sha])),
                         401),
        "other commit": (fetch(web, repo, sha, tree_grants.mint(key, repo, pushed["first"])),
                         403),
        "other repo": (fetch(web, repo, sha, tree_grants.mint(key, pushed["bob_repo"], sha)),
                       403),
        "bob's commit": (fetch(web, pushed["bob_repo"], pushed["bob_sha"],
                               tree_grants.mint(key, repo, pushed["bob_sha"])), 403),
        "in the URL": (httpx.get(tree_url(web, repo, sha), timeout=30,
                                 params={"grant": tree_grants.mint(key, repo, sha)}), 401),
        "password": (httpx.get(tree_url(web, repo, sha), auth=("alice", PASSWORD), timeout=30),
                     401),
    }
    with browser(web) as client:
        assert sign_in(client, "alice").status_code == 303
        assert client.get("/alice/trees").status_code == 200  # the session works on pages
        refusals["session cookie"] = (client.get(f"{TREES_PATH}/{repo}/{sha}"), 401)
    for what, (response, status) in refusals.items():
        assert response.status_code == status, (what, response.status_code, response.text)
        assert response.headers.get("content-type", "").startswith("text/"), what
        assert b"TOKEN" not in response.content and b"A = 3" not in response.content, what
    assert refusals["none"][0].headers["www-authenticate"].startswith("Bearer")
    assert "expired" in refusals["expired"][0].text
    assert "another repository or commit" in refusals["other commit"][0].text


def test_tree_endpoint_answers_404_for_a_commit_that_is_not_the_repositorys(
        web: Server, pushed: dict[str, Any]) -> None:
    key, repo = secret_key(web), pushed["repo"]
    for repo_no, sha in ((repo, pushed["bob_sha"]), (repo, "f" * 40), (repo, "nothex"),
                         (987654, pushed["first"])):
        response = fetch(web, repo_no, sha, tree_grants.mint(key, repo_no, sha))
        assert response.status_code == 404, (repo_no, sha, response.text)
        assert b"TOKEN" not in response.content
    # a tree is not a commit either
    tree_sha = git(web.data_dir / "repos" / "alice" / "trees.git", "rev-parse",
                   f"{pushed['first']}^{{tree}}").stdout.strip()
    response = fetch(web, repo, tree_sha, tree_grants.mint(key, repo, tree_sha))
    assert response.status_code == 404, response.text
