"""Commit statuses and checks in GitHub's shapes: combined status, statuses, checks, history."""


from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitserver.core import queries
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Commit, Repo
from gitserver.core.queries import (
    commit_states,
    deleted_files,
    resolve_ref,
    since_parent,
)
from gitserver.core.states import combined_state, commit_score
from gitserver.core.urls import api_commit_url, api_status_url
from gitserver.web.api.common import (
    REPO,
    ApiError,
    Unrecorded,
    base,
    checks_of,
    commit_for,
    commit_shape,
    file_shape,
    page_params,
    paginated,
    parent_diff_shape,
    reads_repo,
    repo_shape,
    status_shape,
)


@reads_repo
def combined_status(request: Request, repo: Repo) -> Response:
    """GET .../commits/{ref}/status: GitHub's combined status of the files' checks."""
    commit = commit_for(request, repo, request.path_params["ref"])
    checks = checks_of(commit)
    root, owner = base(request), repo.owner.username
    return JSONResponse({
        "state": combined_state([c.state for c in checks]), "sha": commit.sha,
        "total_count": len(checks),
        "statuses": [status_shape(request, repo, commit.sha, c) for c in checks],
        "repository": repo_shape(request, repo),
        "commit_url": api_commit_url(root, owner, repo.name, commit.sha),
        "url": api_status_url(root, owner, repo.name, commit.sha)})


@reads_repo
def list_statuses(request: Request, repo: Repo) -> Response:
    """GET .../commits/{ref}/statuses: the files' statuses, newest first, paginated."""
    commit = commit_for(request, repo, request.path_params["ref"])
    checks = sorted(checks_of(commit), key=lambda c: (c.checked_at or c.created_at, c.id),
                    reverse=True)
    page, per_page = page_params(request)
    chunk = checks[(page - 1) * per_page: page * per_page]
    return paginated(request, [status_shape(request, repo, commit.sha, c) for c in chunk],
                     len(checks), page, per_page)


@reads_repo
def commit_checks_view(request: Request, repo: Repo) -> Response:
    """GET .../commits/{sha}/checks: every file's check, deleted files, the parent diff."""
    commit = commit_for(request, repo, request.path_params["sha"])
    checks = checks_of(commit)
    files = [file_shape(c) for c in checks]
    if isinstance(commit, Unrecorded):
        return JSONResponse({"sha": commit.sha, "state": "pending", "score": None,
                             "files": [], "since_parent": None})
    files += [{"path": fv.path, "blob": None, "change": "deleted", "state": None,
               "score": None, "duration_ms": None, "checked_at": None, "emailed_at": None,
               "reused": False, "error": None, "description": "deleted",
               "messages": []} for fv in deleted_files(commit)]
    return JSONResponse({"sha": commit.sha, "state": combined_state([c.state for c in checks]),
                         "score": commit_score(checks), "files": files,
                         "since_parent": parent_diff_shape(since_parent(commit, checks))})


@reads_repo
def list_commits(request: Request, repo: Repo) -> Response:
    """GET .../commits: the history from `sha` (else the default branch), paginated."""
    page, per_page = page_params(request)
    start = request.query_params.get("sha") or repo.default_branch
    git = GitRepo.find(request.app.state.settings.repos_dir, repo)
    sha = resolve_ref(git, repo, start)
    if sha is None:
        if request.query_params.get("sha"):
            raise ApiError(404, "not_found", f"No commit found for {start!r}.")
        return paginated(request, [], 0, page, per_page)
    shas = git.history(sha) if git is not None else []
    chunk = shas[(page - 1) * per_page: page * per_page]
    rows = {c.sha: c for c in Commit.select().where((Commit.repo == repo)
                                                    & Commit.sha.in_(chunk)).iterator()}
    states = commit_states([c.id for c in rows.values()])
    items = [commit_shape(request, repo, rows[s], states[rows[s].id]) for s in chunk if s in rows]
    return paginated(request, items, len(shas), page, per_page)


@reads_repo
def file_check_log(request: Request, repo: Repo) -> Response:
    """GET .../files/{path}/checks: every check of the file, newest commit first."""
    path = request.path_params["path"]
    page, per_page = page_params(request)
    query = queries.file_check_log(repo, path)
    total = query.count()
    if total == 0:
        raise ApiError(404, "not_found", f"{path} has never been checked in this repository.")
    chunk = query.paginate(page, per_page)
    return paginated(request, [{**file_shape(c), "sha": c.commit.sha} for c in chunk],
                     total, page, per_page)


routes = [
    Route(REPO + "/commits/{ref:path}/status", combined_status),
    Route(REPO + "/commits/{ref:path}/statuses", list_statuses),
    Route(REPO + "/commits/{sha}/checks", commit_checks_view),
    Route(REPO + "/commits", list_commits),
    Route(REPO + "/statuses/{ref:path}", list_statuses),
    Route(REPO + "/files/{path:path}/checks", file_check_log),
]
