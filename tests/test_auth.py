"""Who may read and write which repository, over git's smart HTTP: every case of the contract.

httpx checks the raw answers (status, `WWW-Authenticate`); the real `git` CLI shows what the user
sees. Repos are made public by updating the database row, as the settings page would.
"""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gitserver.core.models import Repo, User

from .support import PASSWORD, Server, commit_files, git, make_work_repo, server_db

REALM = 'Basic realm="gitserver"'
UPLOAD = "info/refs?service=git-upload-pack"
RECEIVE = "info/refs?service=git-receive-pack"


def make_public(server: Server, owner: str, name: str) -> None:
    with server_db(server):
        owner_id = User.get(User.username == owner).id
        updated = Repo.update(private=False).where(
            (Repo.owner == owner_id) & (Repo.name == name)).execute()
    assert updated == 1


def set_active(server: Server, username: str, active: bool) -> None:
    with server_db(server):
        assert User.update(is_active=active).where(User.username == username).execute() == 1


def alice_repo(server: Server, tmp_path: Path, name: str) -> Path:
    """A repo alice pushed (private, as push-to-create makes it); returns her work dir."""
    work = make_work_repo(tmp_path / f"alice-{name}", {"app.py": f"NAME = {name!r}\n"})
    git(work, "push", "-q", server.url(f"alice/{name}.git", "alice"), "main")
    return work


def get(server: Server, path: str, auth: tuple[str, str] | None = None) -> httpx.Response:
    return httpx.get(server.url(path), auth=auth, timeout=30)


def remote_main(cwd: Path, url: str) -> str:
    out = git(cwd, "ls-remote", url, "refs/heads/main").stdout
    return out.split("\t", 1)[0]


# -- private repos -----------------------------------------------------------------------------

def test_auth_anonymous_on_private_repo_gets_401_with_realm(server: Server,
                                                            tmp_path: Path) -> None:
    alice_repo(server, tmp_path, "priv-anon")
    for service in (UPLOAD, RECEIVE):
        response = get(server, f"alice/priv-anon.git/{service}")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == REALM
        assert b"# service=" not in response.content
    result = git(tmp_path, "clone", server.url("alice/priv-anon.git"), "anon", check=False)
    assert result.returncode != 0
    # GIT_TERMINAL_PROMPT=0: git wanted to ask for a password, which is what a 401 is for
    assert "could not read Username" in result.stderr
    assert not (tmp_path / "anon" / "app.py").exists()


def test_auth_anonymous_on_missing_repo_looks_like_private(server: Server) -> None:
    response = get(server, f"alice/no-such-repo.git/{UPLOAD}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == REALM


def test_auth_rpc_endpoint_checks_access_too(server: Server, tmp_path: Path) -> None:
    # Skipping info/refs and POSTing to the service directly must not get around the rules.
    alice_repo(server, tmp_path, "priv-rpc")
    body = b"0032want 0000000000000000000000000000000000000000\n00000009done\n"
    for auth, status in ((None, 401), (("bob", PASSWORD), 404)):
        for service in ("git-upload-pack", "git-receive-pack"):
            response = httpx.post(
                server.url(f"alice/priv-rpc.git/{service}"), auth=auth, content=body,
                headers={"Content-Type": f"application/x-{service}-request"}, timeout=30)
            assert response.status_code == status, (auth, service, response.text)


def test_auth_other_user_on_private_repo_gets_404(server: Server, tmp_path: Path) -> None:
    work = alice_repo(server, tmp_path, "priv-bob")
    for service in (UPLOAD, RECEIVE):
        response = get(server, f"alice/priv-bob.git/{service}", auth=("bob", PASSWORD))
        assert response.status_code == 404
        assert "www-authenticate" not in response.headers
    # Same answer as for a repo that does not exist: bob learns nothing.
    missing = get(server, f"alice/never-made.git/{UPLOAD}", auth=("bob", PASSWORD))
    assert missing.status_code == 404
    assert missing.text == get(server, f"alice/priv-bob.git/{UPLOAD}",
                               auth=("bob", PASSWORD)).text
    result = git(tmp_path, "clone", server.url("alice/priv-bob.git", "bob"), "b", check=False)
    assert result.returncode != 0
    assert "not found" in result.stderr
    before = remote_main(work, server.url("alice/priv-bob.git", "alice"))
    commit_files(work, {"evil.py": "EVIL = 1\n"}, "bob was here")
    result = git(work, "push", server.url("alice/priv-bob.git", "bob"), "main", check=False)
    assert result.returncode != 0
    assert "not found" in result.stderr
    assert remote_main(work, server.url("alice/priv-bob.git", "alice")) == before


def test_auth_push_to_create_in_someone_elses_name_is_refused(server: Server,
                                                             tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "bob", {"b.py": "B = 1\n"})
    result = git(work, "push", server.url("alice/made-by-bob.git", "bob"), "main", check=False)
    assert result.returncode != 0
    assert "not found" in result.stderr
    assert not (server.data_dir / "repos" / "alice" / "made-by-bob.git").exists()
    assert get(server, f"alice/made-by-bob.git/{UPLOAD}",
               auth=("alice", PASSWORD)).status_code == 404


def test_auth_wrong_credentials_get_401(server: Server) -> None:
    # Failed sign-ins are throttled per account and address (10 in 5 minutes); an account of
    # this test's own takes the failures, so alice and bob stay usable for the other tests.
    server.add_user("victim")
    for user, password, service in (("victim", "wrong-password", UPLOAD),
                                    ("victim", "wrong-password", RECEIVE),
                                    ("nobody", PASSWORD, UPLOAD), ("victim", "", UPLOAD),
                                    ("victim", "gsp_notarealtoken", UPLOAD),
                                    ("VICTIM", "wrong-password", RECEIVE)):
        response = get(server, f"alice/creds.git/{service}", auth=(user, password))
        assert response.status_code == 401, (user, password, service)
        assert response.headers["www-authenticate"] == REALM
    # the right password still works (failures of a wrong one do not lock the account)
    assert get(server, f"alice/creds.git/{UPLOAD}", auth=("victim", PASSWORD)).status_code == 404


def test_auth_wrong_password_git_push_fails(server: Server, tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": "A = 1\n"})
    result = git(work, "push", server.url("alice/wrong-pw.git", "alice", "not-her-password"),
                 "main", check=False)
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr
    assert not (server.data_dir / "repos" / "alice" / "wrong-pw.git").exists()


def test_auth_token_as_password_pushes_and_clones(server: Server, tmp_path: Path) -> None:
    token = server.create_token("alice", "laptop")
    assert token.startswith("gsp_")
    work = make_work_repo(tmp_path / "w", {"t.py": "T = 1\n"})
    url = server.url("alice/by-token.git", "alice", token)
    result = git(work, "push", url, "main", check=False)
    assert result.returncode == 0, result.stderr
    git(tmp_path, "clone", "-q", url, "clone")
    assert (tmp_path / "clone" / "t.py").read_text(encoding="utf-8") == "T = 1\n"
    assert get(server, f"alice/by-token.git/{UPLOAD}", auth=("alice", token)).status_code == 200


def test_auth_bad_credentials_on_public_repo_are_refused_not_anonymous(
        server: Server, tmp_path: Path) -> None:
    # A public repo answers anonymous readers, so only here does "401, not anonymous" show.
    alice_repo(server, tmp_path, "open-creds")
    make_public(server, "alice", "open-creds")
    token = server.create_token("alice", "stolen")
    url = server.url(f"alice/open-creds.git/{UPLOAD}")
    assert httpx.get(url, timeout=30).status_code == 200
    # bob's name with alice's token: neither bob's account nor alice's
    assert httpx.get(url, auth=("bob", token), timeout=30).status_code == 401
    for header in ("Basic !!!notbase64", "Basic YWxpY2U=", "Bearer abc", "Basic"):
        response = httpx.get(url, headers={"Authorization": header}, timeout=30)
        assert response.status_code == 401, header
        assert response.headers["www-authenticate"] == REALM


def test_auth_inactive_account_gets_401(server: Server, tmp_path: Path) -> None:
    server.add_user("carol")
    work = make_work_repo(tmp_path / "w", {"c.py": "C = 1\n"})
    git(work, "push", "-q", server.url("carol/own.git", "carol"), "main")
    set_active(server, "carol", False)
    try:
        response = get(server, f"carol/own.git/{UPLOAD}", auth=("carol", PASSWORD))
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == REALM
        result = git(tmp_path, "clone", server.url("carol/own.git", "carol"), "c", check=False)
        assert result.returncode != 0
        assert "Authentication failed" in result.stderr
    finally:
        set_active(server, "carol", True)


# -- public repos ------------------------------------------------------------------------------

def test_auth_public_repo_clones_anonymously_and_for_others(server: Server,
                                                           tmp_path: Path) -> None:
    work = alice_repo(server, tmp_path, "open")
    make_public(server, "alice", "open")
    assert get(server, f"alice/open.git/{UPLOAD}").status_code == 200
    assert get(server, f"alice/open.git/{UPLOAD}", auth=("bob", PASSWORD)).status_code == 200
    for url, target in ((server.url("alice/open.git"), "anon"),
                        (server.url("alice/open.git", "bob"), "bob")):
        git(tmp_path, "clone", "-q", url, target)
        assert git(tmp_path / target, "rev-parse", "HEAD").stdout == \
            git(work, "rev-parse", "HEAD").stdout


def test_auth_public_repo_only_owner_pushes(server: Server, tmp_path: Path) -> None:
    work = alice_repo(server, tmp_path, "open-push")
    make_public(server, "alice", "open-push")
    before = remote_main(work, server.url("alice/open-push.git"))
    # bob may read but not write: 403, with what to do instead
    response = get(server, f"alice/open-push.git/{RECEIVE}", auth=("bob", PASSWORD))
    assert response.status_code == 403
    assert f"git push {server.base_url}/bob/open-push.git HEAD" in response.text
    # anonymous may read but must sign in to push: 401, so git asks for a password
    response = get(server, f"alice/open-push.git/{RECEIVE}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == REALM
    tip = commit_files(work, {"more.py": "MORE = 1\n"}, "more")
    result = git(work, "push", server.url("alice/open-push.git", "bob"), "main", check=False)
    assert result.returncode != 0
    assert "403" in result.stderr
    result = git(work, "push", server.url("alice/open-push.git"), "main", check=False)
    assert result.returncode != 0
    assert remote_main(work, server.url("alice/open-push.git")) == before
    git(work, "push", "-q", server.url("alice/open-push.git", "alice"), "main")
    assert remote_main(work, server.url("alice/open-push.git")) == tip


# -- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["alice/..%2F..%2Fetc.git", "Alice!/x.git",
                                  "alice/x.git.git", "alice/%2e%2e.git", "-alice/x.git"])
def test_auth_invalid_names_get_400_or_404_not_500(server: Server, path: str) -> None:
    for auth in (None, ("alice", PASSWORD)):
        response = get(server, f"{path}/{UPLOAD}", auth=auth)
        assert response.status_code in (400, 401, 404), (path, auth, response.status_code)
        if response.status_code == 400:  # a repo name no repo can have is told so
            assert "is not a valid repository name" in response.text
    assert not list((server.data_dir / "repos").glob("**/etc*"))


def test_auth_dumb_http_is_not_served(server: Server, tmp_path: Path) -> None:
    alice_repo(server, tmp_path, "dumb")
    make_public(server, "alice", "dumb")
    assert get(server, "alice/dumb.git/info/refs").status_code == 403
    for path in ("alice/dumb.git/HEAD", "alice/dumb.git/config",
                 "alice/dumb.git/objects/info/packs"):
        response = get(server, path, auth=("alice", PASSWORD))
        assert response.status_code in (404, 405), path


def niceness_of_threads(pid: int) -> list[int]:
    """The niceness of each thread of a process (Linux: field 19 of /proc/PID/task/TID/stat)."""
    found = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        fields = stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()
        found.append(int(fields[16]))
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux: niceness per thread")
def test_auth_password_checks_run_on_nicer_threads(server: Server, tmp_path: Path) -> None:
    # At a deadline thirty pushes sign in at once; their argon2 checks must not take the CPUs
    # from the pushes already signed in. A password push still works as before.
    alice_repo(server, tmp_path, "nice")
    assert server.proc is not None
    threads = niceness_of_threads(server.proc.pid)
    own = int(Path(f"/proc/{server.proc.pid}/stat").read_text(encoding="ascii")
              .rsplit(")", 1)[1].split()[16])  # the main thread's
    assert min(19, own + 5) in threads, threads
