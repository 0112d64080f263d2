"""The organizations' access rules as `core.access.decide` gives them (a real SQLite database;
tests/test_orgs.py checks the same rules over git, pages and the API of a real server)."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitserver.core.access import decide
from gitserver.core.models import User, database, init_db
from gitserver.core.orgs import add_member, create_org, set_assignment
from gitserver.core.schema import migrate


@pytest.fixture(name="org")
def fixture_org(tmp_path: Path) -> Iterator[User]:
    init_db(f"sqlite:///{tmp_path / 'access.db'}")
    migrate()
    for name in ("teach", "x", "bob-x", "carol"):
        User.create(username=name, email=f"{name}@example.org", password_hash="!",
                    is_active=True)
    org = create_org("course", "teach")
    add_member(org, "x", "student")
    add_member(org, "bob-x", "student")
    set_assignment(org, "hw1", None)
    set_assignment(org, "hw1-bob", None)
    try:
        yield org
    finally:
        database.close()


def may_push(username: str, repo: str) -> int:
    return decide(User.get(User.username == username), True, "course", repo, True).status


@pytest.mark.parametrize(("user", "repo", "status"), [
    ("x", "hw1-x", 200), ("x", "HW1-X", 200), ("bob-x", "hw1-bob-x", 404),
    ("x", "hw1-bob-x", 404),  # x's hw1-bob or bob-x's hw1: nobody's but the staff's
    ("teach", "hw1-bob-x", 200), ("x", "hw2-x", 404), ("x", "hw1-", 404),
    ("carol", "hw1-carol", 404), ("x", "notes", 404), ("teach", "notes", 200),
])
def test_org_push_to_create_rules(org: User, user: str, repo: str, status: int) -> None:
    assert org.is_org
    assert may_push(user, repo) == status


def test_org_student_may_write_but_not_manage_their_repo(org: User) -> None:
    assert org.is_org and not org.is_active
    assert decide(None, False, "course", "hw1-x", True).status == 401
    verdict = decide(User.get(User.username == "x"), True, "course", "hw1-x", False)
    assert verdict.status == 404  # not created yet
    assert verdict.may_write and not verdict.manages
