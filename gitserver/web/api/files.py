"""The API twins of the pages: one commit, files at a ref, a file's versions, contents
(read, create/update, delete: GitHub's contents API), and repository settings.

GitHub's shapes where GitHub has the endpoint (`/commits/{ref}`, `/contents/{path}`,
`PATCH`/`DELETE /repos/{o}/{r}`), so its clients work; `/files` and `/files/{path}/versions`
are ours. Writes go through `hooks.browser_commit`, so the push policy and the checks apply.
"""

# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see
from __future__ import annotations

import base64
import binascii
import stat
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitserver.core.gitrepo import GitRepo, blob_sha
from gitserver.core.models import Check, Commit, FileVersion, Repo, User
from gitserver.core.queries import (
    commit_checks,
    last_changes,
)
from gitserver.core.states import combined_state, commit_score
from gitserver.core.urls import api_contents_url, blob_url, commit_url, repo_url
from gitserver.web.api.common import (
    REPO,
    ApiError,
    Unrecorded,
    base,
    checks_of,
    commit_for,
    commit_shape,
    iso,
    json_body,
    manages_repo,
    page_params,
    paginated,
    reads_repo,
    repo_shape,
    writer_first,
    writes_repo,
)
from gitserver.web.repo_settings import delete_repo, set_visibility
from hooks.browser_commit import (
    BrowserCommitRefused,
    ChangesRefused,
    FileChange,
    StaleBranch,
    clean_path,
    commit_changes,
)
from hooks.policy import Problem

_STATUS = {"added": "added", "modified": "modified", "deleted": "removed"}
SMALL_JSON = 64 * 1024  # a body of a few short fields


# -- GET /repos/{o}/{r}/commits/{ref} -------------------------------------------------------

def recorded_commit(request: Request, repo: Repo, ref: str) -> Commit:
    """The recorded commit of a ref; 404 while a large push is still being recorded."""
    commit = commit_for(request, repo, ref)
    if isinstance(commit, Unrecorded):
        raise ApiError(404, "not_found", f"{commit.sha} is still being recorded; ask again in "
                       "a moment.")
    return commit


@reads_repo
def single_commit(request: Request, repo: Repo) -> Response:
    """GET /repos/{o}/{r}/commits/{ref}: GitHub's commit with state, score and files."""
    commit = recorded_commit(request, repo, request.path_params["ref"])
    checks = commit_checks(commit)
    state = combined_state([c.state for c in checks])
    shape = commit_shape(request, repo, commit, state)
    versions = FileVersion.select().where(FileVersion.commit == commit).order_by(
        FileVersion.path)
    shape["score"] = commit_score(checks)
    shape["files"] = [{"filename": v.path, "status": _STATUS.get(v.change, v.change),
                       "sha": v.blob_sha} for v in versions]
    return JSONResponse(shape)


# -- GET /repos/{o}/{r}/files?ref= ----------------------------------------------------------

def _last_commit(request: Request, repo: Repo, commit: Commit | None) -> dict[str, Any] | None:
    if commit is None:
        return None
    return {"sha": commit.sha, "message": commit.message,
            "committed_at": iso(commit.committed_at),
            "html_url": commit_url(base(request), repo.owner.username, repo.name, commit.sha)}


@reads_repo
def files_at_ref(request: Request, repo: Repo) -> Response:
    """GET /repos/{o}/{r}/files?ref=: the repo page's file list."""
    git = GitRepo.find(request.app.state.settings.repos_dir, repo)
    commit = commit_for(request, repo, request.query_params.get("ref") or repo.default_branch,
                        git)
    checks = {c.path: c for c in checks_of(commit)}
    files = git.tree_files(commit.sha) if git is not None else {}
    changed = last_changes(repo, files)
    items = []
    for path in sorted(files):
        check = checks.get(path)
        items.append({
            "path": path, "blob": files[path], "state": check.state if check else None,
            "score": check.score if check else None,
            "message_count": len(check.message_list) if check else 0,
            "last_commit": _last_commit(request, repo, changed.get(path)),
            "html_url": blob_url(base(request), repo.owner.username, repo.name, commit.sha,
                                 path)})
    return JSONResponse({"sha": commit.sha, "state": combined_state([c.state for c in
                                                                     checks.values()]),
                         "score": commit_score(checks.values()), "files": items})


# -- GET /repos/{o}/{r}/files/{path}/versions -----------------------------------------------

@reads_repo
def file_versions_view(request: Request, repo: Repo) -> Response:
    """GET /repos/{o}/{r}/files/{path}/versions: the commits that changed the file."""
    path = request.path_params["path"]
    page, per_page = page_params(request)
    query = (FileVersion.select(FileVersion, Commit).join(Commit)
             .where((Commit.repo == repo) & (FileVersion.path == path))
             .order_by(Commit.committed_at.desc(), Commit.id.desc()))
    total = query.count()
    if total == 0:
        raise ApiError(404, "not_found", f"{path} has no recorded versions in this repository.")
    versions = list(query.paginate(page, per_page))
    checks = {c.commit_id: c for c in Check.select(Check.commit, Check.state, Check.score)
              .where(Check.commit.in_([v.commit_id for v in versions]) & (Check.path == path))}
    items = []
    for version in versions:
        check = checks.get(version.commit_id)
        items.append({"sha": version.commit.sha, "change": version.change,
                      "blob": version.blob_sha, "state": check.state if check else None,
                      "score": check.score if check else None,
                      "message": version.commit.message,
                      "committed_at": iso(version.commit.committed_at),
                      "html_url": commit_url(base(request), repo.owner.username, repo.name,
                                             version.commit.sha)})
    return paginated(request, items, total, page, per_page)


# -- GET /repos/{o}/{r}/contents/{path}?ref= ------------------------------------------------

def _content_links(request: Request, repo: Repo, path: str, sha: str,
                   kind: str) -> dict[str, Any]:
    root, owner = base(request), repo.owner.username
    html = blob_url(root, owner, repo.name, sha, path) if kind == "file" else \
        repo_url(root, owner, repo.name)
    return {"url": f"{api_contents_url(root, owner, repo.name, path)}?ref={sha}",
            "html_url": html, "git_url": None,
            "download_url": None}


# pylint: disable-next=too-many-arguments  # keyword-only, one per field of the entry
def _entry(request: Request, repo: Repo, ref_sha: str, path: str, *, mode: int,
           sha: str, size: int) -> dict[str, Any]:
    kind = "dir" if stat.S_ISDIR(mode) else "file"
    return {"type": kind, "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha,
            "size": size, **_content_links(request, repo, path, ref_sha, kind)}


@reads_repo
def contents(request: Request, repo: Repo) -> Response:
    """GET /repos/{o}/{r}/contents/{path}?ref=: GitHub's contents (file or folder)."""
    ref = request.query_params.get("ref") or repo.default_branch
    git = GitRepo.find(request.app.state.settings.repos_dir, repo)
    commit = commit_for(request, repo, ref, git)
    if git is None:
        raise ApiError(404, "not_found", "This repository is empty.")
    path = request.path_params.get("path", "").strip("/")
    found = git.entry_at(commit.sha, path)
    if found is None:
        raise ApiError(404, "not_found", f"No file or folder {path!r} at {ref!r}.")
    if found.is_dir:
        entries = []
        for item in git.tree_entries(found.sha):
            child = f"{path}/{item.name}" if path else item.name
            size = 0 if item.is_dir else len(git.blob(item.sha))
            entries.append(_entry(request, repo, commit.sha, child, mode=item.mode,
                                  sha=item.sha, size=size))
        return JSONResponse(entries)
    data = git.blob(found.sha)
    return JSONResponse({**_entry(request, repo, commit.sha, path, mode=found.mode,
                                  sha=found.sha, size=len(data)),
                         "encoding": "base64", "content": base64.b64encode(data).decode()})


# -- PUT / DELETE /repos/{o}/{r}/contents/{path} --------------------------------------------

def _body_text(body: dict[str, Any], key: str, required: bool = False) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ApiError(422, "invalid", f"{key} must be a string")
    return value


def _check_version(path: str, current: str | None, given: str, delete: bool) -> None:
    """GitHub's rule: replacing or deleting a file names the blob the caller read."""
    if current is not None and not given:
        raise ApiError(422, "invalid", f"{path} exists: give the \"sha\" of the blob you are "
                       "replacing")
    if current is None and delete:
        raise ApiError(404, "not_found", f"No file {path!r} on this branch.")
    if given and given != current:
        raise ApiError(409, "conflict", f"{path} does not match {given}: it changed since you "
                       "read it; read it again and reapply your change")


def _change(body: dict[str, Any], path: str, delete: bool) -> FileChange:
    if delete:
        return FileChange(path, None)
    try:
        data = base64.b64decode("".join(_body_text(body, "content", True).split()),
                                validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid", "content must be base64") from None
    return FileChange(path, data)


def _tip(request: Request, repo: Repo, branch: str, delete: bool) -> tuple[GitRepo, str | None]:
    """(the repository, the branch's tip); an empty repo's default branch has no tip yet."""
    git = GitRepo.find(request.app.state.settings.repos_dir, repo)
    if git is None:
        raise ApiError(404, "not_found", "The repository's storage is missing.")
    tip = git.branch_tip(branch)
    if tip is None and (delete or branch != repo.default_branch):
        raise ApiError(404, "not_found", f"No branch {branch!r}.")
    return git, tip


@writes_repo
def _write(request: Request, repo: Repo, user: User, body: dict[str, Any],
           delete: bool) -> Response:
    try:
        path = clean_path(request.path_params["path"])
    except BrowserCommitRefused as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    branch = _body_text(body, "branch") or repo.default_branch
    git, tip = _tip(request, repo, branch, delete)
    current = _current_blob(git, tip, path)
    _check_version(path, current, _body_text(body, "sha"), delete)
    change = _change(body, path, delete)
    try:
        made = commit_changes(
            request.app.state.settings, request.app.state.tasks, git, repo, user, branch=branch,
            changes=[change],
            message=_body_text(body, "message") or f"{'Delete' if delete else 'Update'} {path}",
            expected_tip=tip or "")
    except StaleBranch as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except ChangesRefused as exc:
        raise ApiError(422, "policy", refusal_description(exc.reasons)) from None
    except BrowserCommitRefused as exc:
        raise ApiError(422, "policy", str(exc)) from None
    commit = commit_shape(request, repo, made.commit, "pending")
    content = None if delete else {
        **_entry(request, repo, made.sha, path, mode=0o100644,
                 sha=blob_sha(change.data or b""), size=len(change.data or b""))}
    return JSONResponse({"content": content, "commit": commit},
                        status_code=201 if current is None else 200)


def _current_blob(git: GitRepo, tip: str | None, path: str) -> str | None:
    found = git.entry_at(tip, path) if tip is not None else None
    return found.sha if found is not None and stat.S_ISREG(found.mode) else None


def refusal_description(reasons: list[Problem | str]) -> str:
    """A refused change in the API's words: each policy problem names the rule it broke, so a
    client can tell them apart without parsing the sentence."""
    return "; ".join(f"{r.path}: {r.what} (rule {r.rule})" + (f"; {r.hint}" if r.hint else "")
                     if isinstance(r, Problem) else r for r in reasons) + \
        ". Nothing was committed."


def _contents_limit(request: Request) -> int:
    """A JSON body with one file in base64 (4/3 of its bytes) and a few short fields."""
    return request.app.state.settings.limits.max_file_bytes * 4 // 3 + SMALL_JSON


async def put_contents(request: Request) -> Response:
    """PUT /repos/{o}/{r}/contents/{path}: create or update a file in one commit."""
    await writer_first(request)
    body = await json_body(request, _contents_limit(request))
    return await run_in_threadpool(_write, request, body, False)


async def delete_contents(request: Request) -> Response:
    """DELETE /repos/{o}/{r}/contents/{path}: delete a file in one commit."""
    await writer_first(request)
    body = await json_body(request, SMALL_JSON)
    return await run_in_threadpool(_write, request, body, True)


# -- PATCH / DELETE /repos/{o}/{r} ----------------------------------------------------------

@manages_repo
def _patch_repo(request: Request, repo: Repo, _user: User, body: dict[str, Any]) -> Response:
    if "private" in body:
        if not isinstance(body["private"], bool):
            raise ApiError(422, "invalid", "private must be true or false")
        set_visibility(repo, body["private"])
    elif body.get("visibility") in ("public", "private"):
        set_visibility(repo, body["visibility"] == "private")
    return JSONResponse(repo_shape(request, repo))


@manages_repo
def delete_repo_view(request: Request, repo: Repo, _user: User) -> Response:
    """DELETE /repos/{o}/{r}: delete the repository (owner only)."""
    delete_repo(request.app.state.settings.repos_dir, repo)
    return Response(status_code=204)


async def patch_repo(request: Request) -> Response:
    """PATCH /repos/{o}/{r}: set private or visibility."""
    await writer_first(request)
    body = await json_body(request, SMALL_JSON)
    return await run_in_threadpool(_patch_repo, request, body)


routes = [
    Route(REPO + "/commits/{ref}", single_commit),
    Route(REPO + "/files", files_at_ref),
    Route(REPO + "/files/{path:path}/versions", file_versions_view),
    Route(REPO + "/contents", contents),
    Route(REPO + "/contents/{path:path}", contents),
    Route(REPO + "/contents/{path:path}", put_contents, methods=["PUT"]),
    Route(REPO + "/contents/{path:path}", delete_contents, methods=["DELETE"]),
    Route(REPO, patch_repo, methods=["PATCH"]),
    Route(REPO, delete_repo_view, methods=["DELETE"]),
]
