"""Repo and owner names in any case, as on GitHub; invalid names told so; the refused push that
says how to push to one's own account. End to end with the real git, plus schema step 5 on
SQLite and PostgreSQL."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from pathlib import Path

import httpx

from gitserver.core import schema
from gitserver.core.models import Repo, User, database, init_db
from gitserver.core.repos import get_repo

from .support import PASSWORD, Server, api, git, make_work_repo, server_db
from .test_schema import fixture_empty_database  # noqa: F401  # pylint: disable=unused-import

CLEAN = '"""A clean module."""\n\nANSWER = 42\n'


def test_repo_names_are_case_insensitive_for_push_clone_api_and_pages(server: Server,
                                                                     tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": CLEAN})
    git(work, "push", "-q", server.url("alice/My_Repo.git", "alice"), "main")
    (work / "b.py").write_text(CLEAN, encoding="utf-8")
    git(work, "add", "b.py")
    git(work, "commit", "-q", "-m", "second")
    # another spelling pushes to the same repo, not into a new one
    git(work, "push", "-q", server.url("alice/my_repo.git", "alice"), "main")
    with server_db(server):
        alice = User.get(User.username == "alice")
        assert [r.name for r in Repo.select().where(
            (Repo.owner == alice) & (Repo.name_lower == "my_repo"))] == ["My_Repo"]

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", server.url("ALICE/MY_REPO.git", "alice"), str(clone))
    assert (clone / "b.py").exists()

    shape = api(server, "repos/Alice/MY_repo")
    assert shape.status_code == 200
    assert shape.json()["name"] == "My_Repo" and shape.json()["full_name"] == "alice/My_Repo"
    page = httpx.get(server.url("alice/my_REPO"), auth=("alice", PASSWORD), timeout=30,
                     follow_redirects=True)  # to the name as created
    assert page.status_code == 200 and page.url.path == "/alice/My_Repo"
    blob = httpx.get(server.url("Alice/my_repo/blob/main/a.py"), auth=("alice", PASSWORD),
                     timeout=30)
    assert blob.status_code == 200


def test_repo_names_invalid_name_is_told_invalid_not_not_found(server: Server,
                                                               tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": CLEAN})
    pushed = git(work, "push", server.url("alice/bad~name.git", "alice"), "main", check=False)
    assert pushed.returncode != 0
    assert "is not a valid repository name" in pushed.stderr, pushed.stderr
    assert "not found" not in pushed.stderr.lower()
    page = httpx.get(server.url("alice/bad~name"), auth=("alice", PASSWORD), timeout=30,
                     headers={"Accept": "text/html"})
    assert page.status_code == 400 and "is not a valid repository name" in page.text
    answer = api(server, "repos/alice/x.git.git")
    assert answer.status_code == 400 and answer.json()["errors"][0]["type"] == "invalid"
    assert "is not a valid repository name" in answer.json()["message"]


def test_refused_push_gives_the_command_to_push_to_ones_own_account(server: Server,
                                                                     tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "w", {"a.py": CLEAN})
    git(work, "push", "-q", server.url("alice/Shared.git", "alice"), "main")
    with server_db(server):
        Repo.update(private=False).where(Repo.name == "Shared").execute()
    theirs = tmp_path / "bob"
    git(tmp_path, "clone", "-q", server.url("alice/shared.git", "bob"), str(theirs))
    (theirs / "b.py").write_text(CLEAN, encoding="utf-8")
    git(theirs, "add", "b.py")
    git(theirs, "commit", "-q", "-m", "bob's change")

    refused = git(theirs, "push", server.url("alice/shared.git", "bob"), "main", check=False)
    assert refused.returncode != 0
    assert "fork" not in refused.stderr.lower()
    command = f"git push {server.base_url}/bob/Shared.git HEAD"
    assert command in refused.stderr, refused.stderr

    # The very command works (with bob's credentials in the URL, as git would ask for them).
    url = command.split()[2].replace("http://", f"http://bob:{PASSWORD}@")
    git(theirs, "push", "-q", url, "HEAD")
    clone = tmp_path / "mine"
    git(tmp_path, "clone", "-q", server.url("bob/Shared.git", "bob"), str(clone))
    assert (clone / "b.py").exists()


def test_schema_step_5_keeps_repos_that_differ_only_in_case_reachable(
        empty_database: str) -> None:
    from playhouse.migrate import SchemaMigrator, migrate  # pylint: disable=import-outside-toplevel
    init_db(empty_database)
    schema.migrate(target=4)
    # Step 1 builds today's models: take away what step 5 brings, as a version-4 schema was.
    database.execute_sql('DROP INDEX IF EXISTS "repo_owner_id_name_lower"')
    migrator = SchemaMigrator.from_database(database.obj)
    migrate(*(migrator.drop_column("repo", name)  # and what step 8 (lint settings) brings
              for name in ("name_lower", "lint_disable", "lint_fail_under", "lint_gate")))
    owner = User.create(username="old", email="old@example.com", password_hash="x")
    for name in ("My_Repo", "my_repo", "Other"):
        database.execute_sql(f'INSERT INTO "repo" ("owner_id", "name", "private", '
                             f'"default_branch", "created_at", "updated_at") VALUES '
                             f"({owner.id}, '{name}', true, 'main', "
                             "'2026-01-01 00:00:00', '2026-01-01 00:00:00')")

    assert schema.migrate() == 4
    lowers = {r.name: r.name_lower for r in Repo.select()}
    first_id = Repo.get(Repo.name == "My_Repo").id
    second_id = Repo.get(Repo.name == "my_repo").id
    assert lowers["My_Repo"] == "my_repo" and lowers["Other"] == "other"
    assert lowers["my_repo"] == f"my_repo~{second_id}"
    assert get_repo("old", "my_repo").id == second_id  # each by its own spelling
    assert get_repo("OLD", "My_Repo").id == first_id
    assert get_repo("old", "MY_REPO").id == first_id  # any other spelling: the oldest
    assert get_repo("old", "other").name == "Other"
    schema.STEPS[5](database.obj)  # idempotent: a second run changes nothing
    assert {r.name: r.name_lower for r in Repo.select()} == lowers
    database.close()
