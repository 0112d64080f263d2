"""The API twins of the pages, and /api/v1/openapi.json checked against real responses."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .support import PASSWORD, Server, commit_files, git, make_work_repo

ALICE = ("alice", PASSWORD)
BOB = ("bob", PASSWORD)


@dataclass
class Project:
    """The module's server, alice/proj's two commits and the OpenAPI document."""
    server: Server
    head: str
    first: str
    doc: dict[str, Any]

    def api(self, path: str) -> str:
        return self.server.url("api/v1/" + path.lstrip("/"))


def wait_final(server: Server, repo: str, ref: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        body = httpx.get(server.url(f"api/v1/repos/{repo}/commits/{ref}/checks"),
                         auth=ALICE).json()
        if body.get("files") and all(f["state"] != "pending" for f in body["files"]):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@pytest.fixture(scope="module", name="project")
def fixture_project(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Project:
    work = make_work_repo(tmp_path_factory.mktemp("proj") / "w",
                          {"a.py": '"""A."""\nimport os\n', "pkg/b.py": '"""B."""\n'}, "one")
    first = git(work, "rev-parse", "HEAD").stdout.strip()
    head = commit_files(work, {"a.py": '"""A."""\nimport sys\n'}, "two")
    git(work, "push", server.url("alice/proj.git", "alice"), "main")
    mine = make_work_repo(tmp_path_factory.mktemp("bobs") / "w", {"x.py": '"""X."""\n'})
    git(mine, "push", server.url("bob/bobs.git", "bob"), "main")
    wait_final(server, "alice/proj", head)
    doc = httpx.get(server.url("api/v1/openapi.json")).json()
    return Project(server, head, first, doc)


def validator() -> Any:
    """jsonschema's Draft 2020-12 validator (OpenAPI 3.1's dialect), from the test extra."""
    return pytest.importorskip("jsonschema").Draft202012Validator


def validate(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    validator()({**schema, "components": doc["components"]}).validate(instance)


def documented(doc: dict[str, Any], template: str, method: str, status: int) -> dict:
    response = doc["paths"][template][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def check(project: Project, template: str, response: httpx.Response,
          method: str = "get") -> Any:
    assert str(response.status_code) in project.doc["paths"][template][method]["responses"], \
        (template, response.status_code, response.text)
    body = response.json()
    validate(project.doc, documented(project.doc, template, method, response.status_code),
             body)
    return body


def test_openapi_document_is_well_formed(project: Project):
    doc = project.doc
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"][0]["url"] == project.server.base_url + "/api/v1"
    for schema in doc["components"]["schemas"].values():
        validator().check_schema(schema)
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', str(doc).replace("'", '"')))
    assert refs <= set(doc["components"]["schemas"])


def test_openapi_matches_every_documented_get(project: Project):
    sha = project.head
    urls = {
        "/repos/{owner}/{repo}": "repos/alice/proj",
        "/repos/{owner}/{repo}/commits": "repos/alice/proj/commits?per_page=1",
        "/repos/{owner}/{repo}/commits/{ref}": "repos/alice/proj/commits/main",
        "/repos/{owner}/{repo}/commits/{ref}/status": "repos/alice/proj/commits/main/status",
        "/repos/{owner}/{repo}/commits/{ref}/statuses":
            f"repos/alice/proj/commits/{sha}/statuses",
        "/repos/{owner}/{repo}/statuses/{ref}": f"repos/alice/proj/statuses/{sha}",
        "/repos/{owner}/{repo}/commits/{sha}/checks": f"repos/alice/proj/commits/{sha}/checks",
        "/repos/{owner}/{repo}/files": "repos/alice/proj/files",
        "/repos/{owner}/{repo}/files/{path}/checks": "repos/alice/proj/files/a.py/checks",
        "/repos/{owner}/{repo}/files/{path}/versions": "repos/alice/proj/files/a.py/versions",
        "/repos/{owner}/{repo}/contents/{path}": "repos/alice/proj/contents/a.py",
        "/user": "user",
        "/user/repos": "user/repos",
        "/users/{username}": "users/alice",
        "/users/{username}/repos": "users/alice/repos",
    }
    # The organizations' answers are validated in tests/test_orgs.py, which has a course.
    gets = {path for path, ops in project.doc["paths"].items()
            if "get" in ops and not path.startswith("/orgs/")}
    assert gets == set(urls), "every documented GET is exercised here"
    for template, url in urls.items():
        check(project, template, httpx.get(project.api(url), auth=ALICE))
    folder = httpx.get(project.api("repos/alice/proj/contents/pkg"), auth=ALICE)
    assert [e["path"] for e in check(project, "/repos/{owner}/{repo}/contents/{path}",
                                     folder)] == ["pkg/b.py"]
    missing = httpx.get(project.api("repos/alice/proj/commits/nope"), auth=ALICE)
    assert missing.status_code == 404
    check(project, "/repos/{owner}/{repo}/commits/{ref}", missing)


def test_checks_tell_what_changed_since_the_parent(project: Project):
    body = httpx.get(project.api(f"repos/alice/proj/commits/{project.head}/checks"),
                     auth=ALICE).json()
    since = body["since_parent"]
    assert since["sha"] == project.first and since["checked"] is True
    assert [(m["path"], m["message"]) for m in since["new"]] == [("a.py", "Unused import sys")]
    assert [(m["path"], m["message"]) for m in since["fixed"]] == [("a.py", "Unused import os")]
    # pylint's global evaluation, as `pylint a.py pkg/b.py` rates it: one warning over one
    # statement (a docstring is no statement); the mean of the file scores would be 5.00.
    assert body["score"] == 0.0
    assert sorted(f["score"] for f in body["files"]) == [0.0, 10.0]


def test_files_and_versions_carry_state_score_and_last_change(project: Project):
    files = httpx.get(project.api("repos/alice/proj/files"), auth=ALICE).json()
    by_path = {f["path"]: f for f in files["files"]}
    assert by_path["a.py"]["last_commit"]["sha"] == project.head
    assert by_path["pkg/b.py"]["last_commit"]["sha"] == project.first
    assert by_path["pkg/b.py"]["state"] == "success"
    versions = httpx.get(project.api("repos/alice/proj/files/a.py/versions"),
                         auth=ALICE).json()
    assert [(v["sha"], v["change"]) for v in versions] == [(project.head, "modified"),
                                                           (project.first, "added")]
    assert versions[1]["state"] == "failure" and versions[1]["score"] == 0.0


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_contents_put_and_delete_commit_through_the_policy(project: Project):
    template = "/repos/{owner}/{repo}/contents/{path}"
    url = project.api("repos/alice/proj/contents/api/new.py")
    created = httpx.put(url, auth=ALICE, json={"message": "Add by API",
                                              "content": _b64('"""New."""\n')})
    body = check(project, template, created, "put")
    assert created.status_code == 201 and body["content"]["path"] == "api/new.py"
    checks = wait_final(project.server, "alice/proj", body["commit"]["sha"])
    assert "api/new.py" in {f["path"] for f in checks["files"]}

    blob = body["content"]["sha"]
    stale = httpx.put(url, auth=ALICE, json={"content": _b64("X = 2\n"), "sha": "0" * 40})
    assert stale.status_code == 409
    check(project, template, stale, "put")
    no_sha = httpx.put(url, auth=ALICE, json={"content": _b64("X = 2\n")})
    assert no_sha.status_code == 422
    updated = httpx.put(url, auth=ALICE, json={"content": _b64('"""Two."""\n'), "sha": blob})
    assert updated.status_code == 200
    check(project, template, updated, "put")

    text = httpx.put(project.api("repos/alice/proj/contents/notes.txt"), auth=ALICE,
                     json={"content": _b64("hello\n")})
    assert text.status_code == 422
    assert "only .py files are accepted" in check(project, template, text, "put")["message"]
    head = httpx.get(project.api("repos/alice/proj/commits/main"), auth=ALICE).json()
    assert head["sha"] == updated.json()["commit"]["sha"]  # the refused file made no commit

    deleted = httpx.request("DELETE", url, auth=ALICE,
                            json={"sha": updated.json()["content"]["sha"]})
    assert deleted.status_code == 200
    assert check(project, template, deleted, "delete")["content"] is None
    assert httpx.get(url, auth=ALICE).status_code == 404


def test_api_writes_follow_the_access_rules(project: Project):
    url = "repos/alice/proj/contents/z.py"
    body = {"content": _b64("Z = 1\n")}
    assert httpx.put(project.api(url), json=body).status_code == 401
    assert httpx.put(project.api(url), json=body, auth=BOB).status_code == 404  # private
    assert httpx.patch(project.api("repos/alice/proj"), json={"private": False},
                       auth=BOB).status_code == 404
    bobs = httpx.patch(project.api("repos/bob/bobs"), json={"private": False}, auth=BOB)
    assert check(project, "/repos/{owner}/{repo}", bobs, "patch")["private"] is False
    assert httpx.put(project.api("repos/bob/bobs/contents/y.py"), json=body,
                     auth=ALICE).status_code == 403  # public, not hers
    assert httpx.delete(project.api("repos/bob/bobs"), auth=ALICE).status_code == 403


def test_api_delete_repository(project: Project):
    response = httpx.delete(project.api("repos/bob/bobs"), auth=BOB)
    assert response.status_code == 204
    assert httpx.get(project.api("repos/bob/bobs"), auth=BOB).status_code == 404
    assert httpx.get(project.server.url("/bob"), headers={"Accept": "text/html"},
                     auth=BOB).text.count('href="/bob/bobs"') == 0
