"""Courses end to end: a teacher makes an organization with the CLI, students push to their
assignment repos, the teacher sees the whole class on the dashboard and in the CSV; who may see
what, over git, pages and the API alike."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring,redefined-outer-name

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .support import (
    PASSWORD,
    Server,
    assert_one_line_error,
    commit_files,
    git,
    maildir_messages,
    make_work_repo,
    start_server,
    wait_until,
)
from .test_api_pages import documented, validate
from .test_pages import signed_in

CLEAN = '"""Clean."""\n\n\ndef double(value):\n    """Twice."""\n    return value * 2\n'
FAILING = '"""Failing."""\nprint(undefined_name)\n'
ORG = "cs101"


@dataclass
class Course:
    """The server with an organization: staff teach, students alice, bob and dave (who never
    pushes), carol outside it; every push's sha by repo."""
    server: Server
    shas: dict[str, list[str]]
    tmp: Path

    def push(self, user: str, repo: str, files: dict[str, str], message: str = "work",
             check: bool = True) -> str:
        work = self.tmp / f"{user}-{repo}-{len(list(self.tmp.iterdir()))}"
        make_work_repo(work)
        for earlier in self.shas.get(repo, [])[-1:]:
            git(work, "fetch", "-q", self.server.url(f"{ORG}/{repo}.git", "teach"), "main")
            git(work, "reset", "-q", "--hard", earlier)
        sha = commit_files(work, files, message)
        result = git(work, "push", self.server.url(f"{ORG}/{repo}.git", user), "HEAD:main",
                     check=check)
        if result.returncode == 0:
            self.shas.setdefault(repo, []).append(sha)
        return sha

    def get(self, path: str, user: str | None = "teach", **kwargs: object) -> httpx.Response:
        auth = (user, PASSWORD) if user is not None else None
        return httpx.get(self.server.url(path), auth=auth, timeout=30, follow_redirects=False,
                         **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    server = start_server(tmp_path_factory.mktemp("orgs"))
    try:
        for user in ("teach", "alice", "bob", "carol", "dave"):
            server.add_user(user)
        for args in (("org", "create", ORG, "--staff", "teach"),
                     ("org", "add", ORG, "alice", "--role", "student"),
                     ("org", "add", ORG, "bob", "--role", "student"),
                     ("org", "add", ORG, "dave", "--role", "student"),
                     ("org", "assignment", ORG, "hw1", "--due", "2099-01-01T00:00:00Z"),
                     ("org", "assignment", ORG, "hw0", "--due", "2020-01-01T00:00:00Z")):
            result = server.cli(*args)
            assert result.returncode == 0, result.stderr
        found = Course(server, {}, tmp_path_factory.mktemp("work"))
        found.push("alice", "hw1-alice", {"a.py": CLEAN})
        found.push("bob", "hw1-bob", {"b.py": FAILING})
        found.push("teach", "notes", {"notes.py": CLEAN})
        found.push("teach", "handout", {"handout.py": CLEAN})
        answer = httpx.patch(server.url(f"api/v1/repos/{ORG}/handout"), json={"private": False},
                             auth=("teach", PASSWORD), timeout=30)
        assert answer.status_code == 200, answer.text
        yield found
    finally:
        server.stop()


def dashboard_csv(course: Course, user: str = "teach") -> list[dict[str, str]]:
    response = course.get(f"orgs/{ORG}/dashboard.csv", user)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def final_rows(course: Course) -> dict[tuple[str, str], dict[str, str]]:
    """The CSV rows by (assignment, student) once no pushed repo is pending any more."""
    def settled() -> list[dict[str, str]] | None:
        rows = dashboard_csv(course)
        return None if any(r["state"] == "pending" for r in rows) else rows
    return {(r["assignment"], r["student"]): r
            for r in wait_until("final dashboard states", settled)}


# -- command line -------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "words"), [
    (("org", "create", "alice", "--staff", "teach"), ("taken", "alice")),
    (("org", "create", "cs102", "--staff", "nobody"), ("no user", "nobody")),
    (("org", "create", "Bad_Name", "--staff", "teach"), ("not allowed",)),
    (("org", "add", ORG, "carol", "--role", "admin"), ("role", "admin", "staff, student")),
    (("org", "add", ORG, "nobody", "--role", "student"), ("no user", "nobody")),
    (("org", "add", "nosuchorg", "carol", "--role", "student"), ("no organization",)),
    (("org", "remove", ORG, "carol"), ("not a member",)),
    (("org", "remove", ORG, "teach"), ("last staff",)),
    (("org", "assignment", ORG, "hw9", "--due", "next friday"), ("due time", "ISO 8601")),
    (("user", "add", ORG, "x@example.org"), ("taken",)),
    (("token", "create", ORG), ("no user",)),
])
def test_org_cli_errors_are_one_line(course: Course, args: tuple[str, ...],
                                     words: tuple[str, ...]) -> None:
    assert_one_line_error(course.server.cli(*args, input_text=PASSWORD + "\n"), *words)


def test_org_name_cannot_be_registered_or_signed_in_as(course: Course) -> None:
    assert course.get(f"api/v1/orgs/{ORG}", ORG).status_code == 200  # wrong credentials: anon
    assert course.get(f"{ORG}/notes", ORG).status_code == 401


# -- who may see and push what ------------------------------------------------------------------

READ = {  # repo -> {user: status of the API and of git's info/refs}
    "hw1-alice": {"teach": 200, "alice": 200, "bob": 404, "carol": 404, None: 401},
    "notes": {"teach": 200, "alice": 404, "bob": 404, "carol": 404, None: 401},
    "handout": {"teach": 200, "alice": 200, "bob": 200, "carol": 200, None: 200},
}
WRITE = {
    "hw1-alice": {"teach": 200, "alice": 200, "bob": 404, "carol": 404, None: 401},
    "notes": {"teach": 200, "alice": 404, "bob": 404, "carol": 404, None: 401},
    "handout": {"teach": 200, "alice": 403, "bob": 403, "carol": 403, None: 401},
    "hw1-carol": {"teach": 200, "alice": 404, "bob": 404, "carol": 404, None: 401},
}
USERS = ["teach", "alice", "bob", "carol", None]


@pytest.mark.parametrize("surface", ["git", "page", "api"])
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("repo", sorted(READ))
def test_org_read_matrix(course: Course, repo: str, user: str | None, surface: str) -> None:
    expected = READ[repo][user]
    if surface == "git":
        response = course.get(f"{ORG}/{repo}.git/info/refs", user,
                              params={"service": "git-upload-pack"})
    elif surface == "api":
        response = course.get(f"api/v1/repos/{ORG}/{repo}", user)
    else:
        response = course.get(f"{ORG}/{repo}", user)
        if expected == 401:
            expected = 303  # a browser is sent to sign in
    assert response.status_code == expected, (repo, user, surface)


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("repo", sorted(WRITE))
def test_org_push_matrix(course: Course, repo: str, user: str | None) -> None:
    response = course.get(f"{ORG}/{repo}.git/info/refs", user,
                          params={"service": "git-receive-pack"})
    assert response.status_code == WRITE[repo][user], (repo, user)


def test_org_student_creates_own_repo_by_push_but_no_other(course: Course) -> None:
    course.push("dave", "hw0-dave", {"d.py": CLEAN}, check=True)
    assert course.get(f"api/v1/repos/{ORG}/hw0-dave", "dave").json()["private"] is True
    refused = course.push("dave", "hw1-alice2", {"d.py": CLEAN}, check=False)
    assert refused not in course.shas.get("hw1-alice2", [])
    assert course.get(f"api/v1/repos/{ORG}/hw1-alice2").status_code == 404
    assert course.get(f"api/v1/repos/{ORG}/hw0-dave", "alice").status_code == 404


def test_org_settings_are_for_staff_only(course: Course) -> None:
    answer = httpx.patch(course.server.url(f"api/v1/repos/{ORG}/hw1-alice"),
                         json={"private": False}, auth=("alice", PASSWORD), timeout=30)
    assert answer.status_code == 403
    assert "staff" in answer.json()["message"]
    assert course.get(f"{ORG}/hw1-alice/settings", "alice").status_code == 403
    assert course.get(f"{ORG}/hw1-alice/settings", "teach").status_code == 200
    assert course.get(f"api/v1/repos/{ORG}/hw1-alice", "bob").status_code == 404


# -- the dashboard and its CSV ------------------------------------------------------------------

def test_org_dashboard_csv_has_a_row_per_student_and_assignment(course: Course) -> None:
    rows = final_rows(course)
    assert list(dashboard_csv(course)[0]) == ["assignment", "student", "repo", "sha", "state",
                                              "score", "pushes", "pushed_at", "late"]
    alice = rows[("hw1", "alice")]
    assert alice["repo"] == f"{ORG}/hw1-alice"
    assert alice["sha"] == course.shas["hw1-alice"][-1]
    assert (alice["state"], alice["score"], alice["pushes"], alice["late"]) == \
        ("success", "10.00", "1", "false")
    assert alice["pushed_at"].endswith("Z")
    assert rows[("hw1", "bob")]["state"] == "failure"
    assert rows[("hw1", "dave")]["repo"] == "" and rows[("hw1", "dave")]["pushes"] == "0"
    assert {key[1] for key in rows} == {"alice", "bob", "dave"}  # staff and outsiders are not


def test_org_dashboard_page_shows_the_class(course: Course) -> None:
    final_rows(course)
    page = course.get(f"orgs/{ORG}/dashboard")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert 'data-student="alice"' in text and 'data-student="bob"' in text
    assert f"/{ORG}/hw1-alice/commit/{course.shas['hw1-alice'][-1]}" in text
    assert 'data-symbol="undefined-variable"' in text
    assert "/help/pylint/undefined-variable" in text
    assert "Not pushed yet (1): dave" in text  # hw1
    by_score = course.get(f"orgs/{ORG}/dashboard", params={"sort": "score", "order": "desc"})
    hw1 = html.unescape(by_score.text).split('id="assignment-hw1"')[1]
    assert hw1.index('data-student="alice"') < hw1.index('data-student="bob"') < \
        hw1.index('data-student="dave"')
    ascending = course.get(f"orgs/{ORG}/dashboard", params={"sort": "score", "order": "asc"})
    hw1 = html.unescape(ascending.text).split('id="assignment-hw1"')[1]
    assert hw1.index('data-student="bob"') < hw1.index('data-student="alice"')


@pytest.mark.parametrize("path", [f"orgs/{ORG}/dashboard", f"orgs/{ORG}/dashboard.csv",
                                  f"{ORG}/people"])
@pytest.mark.parametrize("user", ["alice", "carol"])
def test_org_dashboard_and_people_are_404_to_others(course: Course, path: str,
                                                    user: str) -> None:
    assert course.get(path, user).status_code == 404


def test_org_dashboard_sends_anonymous_browsers_to_sign_in(course: Course) -> None:
    response = course.get(f"orgs/{ORG}/dashboard", None)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?")


def test_org_late_push_is_accepted_and_marked_late(course: Course) -> None:
    course.push("alice", "hw0-alice", {"a.py": CLEAN})
    course.push("alice", "hw2-alice", {"a.py": CLEAN}, check=False)  # no hw2 yet: refused
    assert "hw2-alice" not in course.shas
    assert course.server.cli("org", "assignment", ORG, "hw2", "--due",
                             "2099-01-01T00:00:00Z").returncode == 0
    on_time = course.push("alice", "hw2-alice", {"a.py": CLEAN})
    assert course.server.cli("org", "assignment", ORG, "hw2", "--due",
                             "2020-06-01T00:00:00+02:00").returncode == 0
    late = course.push("alice", "hw2-alice", {"b.py": CLEAN}, message="after the deadline")
    rows = final_rows(course)
    assert rows[("hw0", "alice")]["late"] == "true"
    assert (rows[("hw2", "alice")]["sha"], rows[("hw2", "alice")]["late"],
            rows[("hw2", "alice")]["pushes"]) == (late, "true", "2")
    assert rows[("hw1", "alice")]["late"] == "false"
    text = html.unescape(course.get(f"orgs/{ORG}/dashboard").text)
    hw2 = text.split('id="assignment-hw2"')[1]
    assert "late" in hw2 and f"/{ORG}/hw2-alice/commit/{on_time}" in hw2  # the on-time commit


def test_org_staff_get_no_mail_for_student_pushes(course: Course) -> None:
    final_rows(course)
    wait_until("alice's report", lambda: any(
        str(m["To"]).startswith("alice") for m in maildir_messages(course.server)))
    assert not [m for m in maildir_messages(course.server)
                if str(m["To"]).startswith("teach") and f"{ORG}/hw1-" in str(m["Subject"])]


# -- the API in GitHub's shapes -----------------------------------------------------------------

def test_org_api_shapes_and_visibility(course: Course) -> None:
    org = course.get(f"api/v1/orgs/{ORG}", None).json()
    assert (org["login"], org["type"]) == (ORG, "Organization")
    assert org["html_url"] == course.server.url(ORG)
    assert org["repos_url"] == course.server.url(f"api/v1/orgs/{ORG}/repos")

    def names(user: str | None) -> set[str]:
        response = course.get(f"api/v1/orgs/{ORG}/repos", user, params={"per_page": 100})
        assert response.status_code == 200
        for repo in response.json():
            assert repo["owner"]["type"] == "Organization"
        return {repo["name"] for repo in response.json()}
    staff = names("teach")
    assert {"hw1-alice", "hw1-bob", "notes", "handout"} <= staff
    assert names("alice") == {"handout", "hw1-alice"} | ({"hw0-alice", "hw2-alice"} & staff)
    assert names(None) == names("carol") == {"handout"}
    as_user = course.get(f"api/v1/users/{ORG}", None).json()  # GitHub answers orgs there too
    assert (as_user["login"], as_user["type"]) == (ORG, "Organization")
    assert "email" not in as_user
    assert course.get("api/v1/orgs/nosuch").status_code == 404
    assert course.get("api/v1/orgs/alice").status_code == 404
    document = course.get("api/v1/openapi.json").json()
    assert {"/orgs/{org}", "/orgs/{org}/repos"} <= set(document["paths"])


# -- the web forms ------------------------------------------------------------------------------

CSRF = 'name="csrf_token" value="'


def token_of(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text.split(CSRF, 1)[1].split('"', 1)[0]


def test_org_people_and_assignment_forms(course: Course) -> None:
    teach = signed_in(course.server, "teach")
    try:
        token = token_of(teach, f"/{ORG}/people")
        added = teach.post(f"/{ORG}/people", data={"csrf_token": token, "action": "add",
                                                   "username": "carol", "role": "student"})
        assert added.status_code == 303
        assert "carol" in teach.get(f"/{ORG}/people").text
        unknown = teach.post(f"/{ORG}/people", data={"csrf_token": token, "action": "add",
                                                     "username": "zed", "role": "student"})
        assert unknown.status_code == 422 and "no user named" in html.unescape(unknown.text)
        bad_role = teach.post(f"/{ORG}/people", data={"csrf_token": token, "action": "add",
                                                      "username": "carol", "role": "boss"})
        assert bad_role.status_code == 422
        removed = teach.post(f"/{ORG}/people", data={"csrf_token": token, "action": "remove",
                                                     "username": "carol"})
        assert removed.status_code == 303
        no_csrf = teach.post(f"/{ORG}/people", data={"action": "remove", "username": "bob"})
        assert no_csrf.status_code == 403

        token = token_of(teach, f"/{ORG}")
        made = teach.post(f"/orgs/{ORG}/assignments", data={
            "csrf_token": token, "name": "lab1", "due": "2099-03-01T12:00:00Z"})
        assert made.status_code == 303
        page = html.unescape(teach.get(f"/{ORG}").text)
        assert "lab1" in page and "2099-03-01T12:00:00Z" in page
        bad_due = teach.post(f"/orgs/{ORG}/assignments", data={
            "csrf_token": token, "name": "lab2", "due": "tomorrow"})
        assert bad_due.status_code == 422 and "ISO 8601" in html.unescape(bad_due.text)
    finally:
        teach.close()
    alice = signed_in(course.server, "alice")
    try:
        page = html.unescape(alice.get(f"/{ORG}").text)
        assert "you are student" in page and f"{ORG}/lab1-alice" in page
        assert "assignment-form" not in page and "hw1-bob" not in page
        token = token_of(alice, f"/{ORG}")
        assert alice.post(f"/orgs/{ORG}/assignments", data={
            "csrf_token": token, "name": "lab3"}).status_code == 404
    finally:
        alice.close()


def test_a_users_repo_called_people_is_still_a_repo_page(course: Course) -> None:
    work = make_work_repo(course.tmp / "people", {"p.py": CLEAN})
    git(work, "push", course.server.url("alice/people.git", "alice"), "HEAD:main")
    assert course.get("alice/people", "alice").status_code == 200
    assert course.get("alice", "alice").status_code == 200


# -- the staff's daily digest -------------------------------------------------------------------

def test_org_daily_digest_tells_staff_who_pushed_failed_and_the_top_messages(
        course: Course) -> None:
    final_rows(course)
    teach = signed_in(course.server, "teach")
    try:
        token = token_of(teach, f"/{ORG}")
        assert 'id="digest-daily"' in teach.get(f"/{ORG}").text
        turned_on = teach.post(f"/orgs/{ORG}/settings", data={"csrf_token": token,
                                                              "digest": "daily"})
        assert turned_on.status_code == 303
        assert "checked" in teach.get(f"/{ORG}").text.split('id="digest-daily"')[1][:20]
    finally:
        teach.close()

    def digests() -> list:
        return [m for m in maildir_messages(course.server)
                if str(m["Subject"]).startswith(f"[{ORG}] daily digest")]
    mail = wait_until("the digest mail", digests)
    assert len(mail) == 1 and str(mail[0]["To"]).startswith("teach")
    text = mail[0].get_body(("plain",)).get_content()
    pushed = text.split("Pushed (")[1].split("Failing (")[0]
    assert "alice" in pushed and "bob" in pushed
    failing = text.split("Failing (")[1].split("Most frequent")[0]
    assert "bob" in failing and "alice" not in failing
    assert "undefined-variable (E0602)" in text
    assert course.server.url("help/pylint/undefined-variable") in text
    assert course.server.url(f"orgs/{ORG}/dashboard") in text


def test_org_api_answers_match_the_openapi_document(course: Course) -> None:
    doc = course.get("api/v1/openapi.json").json()
    for template, path in (("/orgs/{org}", f"api/v1/orgs/{ORG}"),
                           ("/orgs/{org}/repos", f"api/v1/orgs/{ORG}/repos")):
        response = course.get(path)
        assert response.status_code == 200
        validate(doc, documented(doc, template, "get", 200), response.json())


def test_org_pygithub_reads_the_organization_and_its_repos(course: Course) -> None:
    github = pytest.importorskip("github")
    client = github.Github(base_url=course.server.url("api/v1"),
                           auth=github.Auth.Login("alice", PASSWORD))
    try:
        org = client.get_organization(ORG)
        assert (org.login, org.type, org.html_url) == (ORG, "Organization",
                                                       course.server.url(ORG))
        repos = {repo.full_name: repo for repo in org.get_repos()}
        assert f"{ORG}/hw1-alice" in repos and f"{ORG}/hw1-bob" not in repos
        assert repos[f"{ORG}/hw1-alice"].private is True
        assert repos[f"{ORG}/hw1-alice"].owner.login == ORG
    finally:
        client.close()
