"""`/api/v1/openapi.json`: the OpenAPI 3.1 description of the JSON API.

Written by hand next to the endpoints and kept honest by tests that validate real responses
against these schemas (every object is closed with `additionalProperties: false`, so a field
added to a response without being described here fails them).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitserver import __version__
from gitserver.core.urls import api_url

STATES = ["pending", "success", "failure", "error"]


def _obj(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": [k for k in properties if k not in optional]}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*types, "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": schema}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri"}
STATE = {"type": "string", "enum": STATES}
PERSON = _obj({"name": STR, "email": STR, "date": TIME})
MESSAGE_PROPS = {"line": _nullable(INT), "column": _nullable(INT),
                 "end_line": _nullable(INT), "end_column": _nullable(INT), "type": STR,
                 "symbol": STR, "message_id": STR, "message": STR}
FILE_CHECK_PROPS = {
    "path": STR, "blob": _nullable(STR),
    "change": {"type": "string", "enum": ["added", "modified", "deleted", "unchanged"]},
    "state": _nullable(STATE), "score": _nullable(NUM), "duration_ms": _nullable(INT),
    "checked_at": _nullable(TIME), "emailed_at": _nullable(TIME), "reused": BOOL,
    "error": _nullable(STR), "description": STR, "messages": _list(_ref("Message"))}
COMMIT_PROPS = {
    "sha": STR, "state": STATE,
    "commit": _obj({"message": STR, "author": PERSON, "committer": PERSON}),
    "parents": _list(_obj({"sha": STR})), "html_url": URL, "url": URL}
ENTRY_PROPS = {"type": {"type": "string", "enum": ["file", "dir"]}, "name": STR, "path": STR,
               "sha": STR, "size": INT, "url": URL, "html_url": URL,
               "git_url": {"type": "null"}, "download_url": {"type": "null"}}

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"message": STR, "errors": _list(_obj({"type": STR, "description": STR}))}),
    "User": _obj({"login": STR, "id": INT, "type": STR, "site_admin": BOOL, "html_url": URL,
                  "url": URL, "repos_url": URL, "avatar_url": STR, "created_at": TIME,
                  "email": STR}, optional=("email",)),
    "Repository": _obj({
        "id": INT, "name": STR, "full_name": STR, "owner": _ref("User"), "private": BOOL,
        "visibility": {"type": "string", "enum": ["public", "private"]}, "fork": BOOL,
        "description": {"type": "null"}, "default_branch": STR, "clone_url": URL,
        "html_url": URL, "url": URL, "created_at": TIME, "updated_at": TIME,
        "pushed_at": TIME}),
    "Organization": _obj({
        "login": STR, "id": INT, "node_id": STR, "type": {"type": "string",
                                                          "enum": ["Organization"]},
        "name": STR, "description": {"type": "null"}, "company": {"type": "null"},
        "blog": {"type": "null"}, "location": {"type": "null"}, "email": {"type": "null"},
        "avatar_url": STR, "url": URL, "repos_url": URL, "html_url": URL,
        "public_repos": INT, "created_at": TIME, "updated_at": TIME}),
    "Status": _obj({"id": INT, "state": STATE, "description": STR, "target_url": URL,
                    "context": STR, "created_at": TIME, "updated_at": TIME, "url": URL}),
    "CombinedStatus": _obj({"state": STATE, "sha": STR, "total_count": INT,
                            "statuses": _list(_ref("Status")),
                            "repository": _ref("Repository"), "commit_url": URL, "url": URL}),
    "Message": _obj(MESSAGE_PROPS),
    "PathMessage": _obj({"path": STR, **MESSAGE_PROPS}),
    "FileCheck": _obj(FILE_CHECK_PROPS),
    "FileCheckLogEntry": _obj({**FILE_CHECK_PROPS, "sha": STR}),
    "ParentDiff": _obj({"sha": STR, "checked": BOOL, "state": _nullable(STATE),
                        "score": _nullable(NUM), "new": _list(_ref("PathMessage")),
                        "fixed": _list(_ref("PathMessage")),
                        "unknown": _list(_ref("PathMessage"))}),
    "CommitChecks": _obj({"sha": STR, "state": STATE, "score": _nullable(NUM),
                          "files": _list(_ref("FileCheck")),
                          "since_parent": _nullable(_ref("ParentDiff"))}),
    "Commit": _obj(COMMIT_PROPS),
    "CommitDetail": _obj({**COMMIT_PROPS, "score": _nullable(NUM), "files": _list(_obj({
        "filename": STR, "status": {"type": "string", "enum": ["added", "modified",
                                                                "removed"]},
        "sha": _nullable(STR)}))}),
    "FilesAtRef": _obj({"sha": STR, "state": STATE, "score": _nullable(NUM),
                        "files": _list(_obj({
                            "path": STR, "blob": STR, "state": _nullable(STATE),
                            "score": _nullable(NUM), "message_count": INT,
                            "last_commit": _nullable(_obj({
                                "sha": STR, "message": STR, "committed_at": TIME,
                                "html_url": URL})),
                            "html_url": URL}))}),
    "FileVersion": _obj({"sha": STR, "change": {"type": "string", "enum": [
        "added", "modified", "deleted"]}, "blob": _nullable(STR), "state": _nullable(STATE),
        "score": _nullable(NUM), "message": STR, "committed_at": TIME, "html_url": URL}),
    "ContentEntry": _obj(ENTRY_PROPS),
    "ContentFile": _obj({**ENTRY_PROPS, "encoding": {"type": "string", "enum": ["base64"]},
                         "content": STR}),
    "ContentWrite": _obj({"content": _nullable(_ref("ContentEntry")),
                          "commit": _ref("Commit")}),
}


def _param(name: str, where: str = "path", schema: dict[str, Any] | None = None,
           description: str = "") -> dict[str, Any]:
    param = {"name": name, "in": where, "required": where == "path", "schema": schema or STR}
    if description:
        param["description"] = description
    return param


OWNER_REPO = [_param("owner"), _param("repo")]
PAGING = [_param("page", "query", INT), _param("per_page", "query", INT,
                                               "1-100, default 30")]
ERRORS = {str(code): {"description": text, "content": {"application/json": {
    "schema": _ref("Error")}}} for code, text in (
    (401, "no or wrong credentials (anonymous request to a private repository)"),
    (403, "may read but not change"), (404, "not found, or not visible to you"),
    (409, "the file or branch changed since you read it"),
    (422, "invalid input, or refused by the push policy"))}


def _ok(schema: dict[str, Any], description: str = "OK", code: str = "200",
        paginated: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {
        "application/json": {"schema": schema}}}
    if paginated:
        response["headers"] = {"Link": {"description": "GitHub-style pagination links",
                                        "schema": STR}}
    return {code: response}


def _op(summary: str, responses: dict[str, Any], params: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "parameters": params or [],
                                 "responses": {**responses, **ERRORS}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": body}}}
    return operation


REF = _param("ref", description="a branch, tag or (abbreviated) commit sha")
SHA = _param("sha", description="a commit sha (or branch)")
PATH = _param("path", description="a file path inside the repository")
R = "/repos/{owner}/{repo}"

PATHS: dict[str, Any] = {
    R: {
        "get": _op("A repository", _ok(_ref("Repository")), OWNER_REPO),
        "patch": _op("Make a repository public or private (owner only)",
                     _ok(_ref("Repository")), OWNER_REPO,
                     {"type": "object", "properties": {"private": BOOL, "visibility": {
                         "type": "string", "enum": ["public", "private"]}}}),
        "delete": _op("Delete a repository and everything recorded about it (owner only)",
                      {"204": {"description": "deleted"}}, OWNER_REPO),
    },
    R + "/commits": {"get": _op(
        "Commits reachable from a branch or sha, newest first, with their combined state",
        _ok(_list(_ref("Commit")), paginated=True),
        [*OWNER_REPO, _param("sha", "query", description="branch or sha to start from"),
         *PAGING])},
    R + "/commits/{ref}": {"get": _op(
        "One commit: its state, score and the files it added, modified or removed",
        _ok(_ref("CommitDetail")), [*OWNER_REPO, REF])},
    R + "/commits/{ref}/status": {"get": _op(
        "GitHub's combined status: one status per checked file (context pylint/{path})",
        _ok(_ref("CombinedStatus")), [*OWNER_REPO, REF])},
    R + "/commits/{ref}/statuses": {"get": _op(
        "The statuses of a commit, newest first", _ok(_list(_ref("Status")), paginated=True),
        [*OWNER_REPO, REF, *PAGING])},
    R + "/statuses/{ref}": {"get": _op(
        "The statuses of a commit, newest first", _ok(_list(_ref("Status")), paginated=True),
        [*OWNER_REPO, REF, *PAGING])},
    R + "/commits/{sha}/checks": {"get": _op(
        "The status page as data: every file's state, score and messages, and what changed "
        "since the parent", _ok(_ref("CommitChecks")), [*OWNER_REPO, SHA])},
    R + "/files": {"get": _op(
        "The files at a ref with state, score and the commit that last changed each",
        _ok(_ref("FilesAtRef")),
        [*OWNER_REPO, _param("ref", "query", description="default: the default branch")])},
    R + "/files/{path}/checks": {"get": _op(
        "A file's check log, newest first, with when each report was mailed",
        _ok(_list(_ref("FileCheckLogEntry")), paginated=True), [*OWNER_REPO, PATH, *PAGING])},
    R + "/files/{path}/versions": {"get": _op(
        "The commits that added, modified or deleted a file, newest first",
        _ok(_list(_ref("FileVersion")), paginated=True), [*OWNER_REPO, PATH, *PAGING])},
    R + "/contents/{path}": {
        "get": _op("A file (base64 content) or a folder listing (GitHub's contents API)",
                   _ok({"oneOf": [_ref("ContentFile"), _list(_ref("ContentEntry"))]}),
                   [*OWNER_REPO, PATH, _param("ref", "query")]),
        "put": _op("Create or update a .py file in one commit; checked like a push",
                   {**_ok(_ref("ContentWrite"), "updated"),
                    **_ok(_ref("ContentWrite"), "created", "201")},
                   [*OWNER_REPO, PATH],
                   {"type": "object", "required": ["content"], "properties": {
                       "message": STR, "content": {"type": "string",
                                                   "contentEncoding": "base64"},
                       "sha": {"type": "string", "description": "blob sha of the file being "
                               "replaced (required when it exists)"},
                       "branch": STR}}),
        "delete": _op("Delete a file in one commit", _ok(_ref("ContentWrite"), "deleted"),
                      [*OWNER_REPO, PATH],
                      {"type": "object", "required": ["sha"], "properties": {
                          "message": STR, "sha": STR, "branch": STR}}),
    },
    "/user": {"get": _op("The signed-in user (with email)", _ok(_ref("User")))},
    "/user/repos": {"get": _op("Your repositories, public and private",
                               _ok(_list(_ref("Repository")), paginated=True), PAGING)},
    "/orgs/{org}": {"get": _op(
        "An organization (course); public_repos counts the repos you may see",
        _ok(_ref("Organization")), [_param("org")])},
    "/orgs/{org}/repos": {"get": _op(
        "An organization's repositories that you may see: all for its staff, a student's own "
        "assignment repos and the public ones for a student, the public ones for others",
        _ok(_list(_ref("Repository")), paginated=True),
        [_param("org"), _param("type", "query", {"type": "string", "enum": [
            "all", "public", "private", "forks", "sources", "member"]}),
         _param("sort", "query", {"type": "string", "enum": [
             "created", "updated", "pushed", "full_name"]}),
         _param("direction", "query", {"type": "string", "enum": ["asc", "desc"]}),
         *PAGING])},
    "/users/{username}": {"get": _op("A user", _ok(_ref("User")), [_param("username")])},
    "/users/{username}/repos": {"get": _op(
        "A user's repositories (the private ones only for that user)",
        _ok(_list(_ref("Repository")), paginated=True), [_param("username"), *PAGING])},
}


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI document with the server's own base URL."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "gitserver API", "version": __version__, "description": (
            "GitHub-shaped JSON API of gitserver: push Python over git, get pylint results "
            "as commit statuses. Authenticate with HTTP Basic (password or access token).")},
        "servers": [{"url": api_url(base_url)}],
        "security": [{"basic": []}, {"session": []}, {}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic",
                      "description": "username and password or access token"},
            "session": {"type": "apiKey", "in": "cookie", "name": "gitserver_session"}}},
    }


def openapi_json(request: Request) -> Response:
    """GET /api/v1/openapi.json."""
    return JSONResponse(document(request.app.state.settings.server.base_url))


routes = [Route("/openapi.json", openapi_json)]
