"""Repository pages: a user's repos, a repo's files, its history, a commit's status page, a blob.

Sync handlers (Starlette runs them in a thread) because peewee and dulwich block. Each page reads
what it shows in a fixed number of queries, whatever the number of files or messages: the status
page of a commit costs one query for all its checks.
"""

# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see
from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gitserver.core.access import Access
from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Check, Commit, Repo, User
from gitserver.core.queries import (
    commit_checks,
    commit_marks,
    file_check_log,
    file_versions,
    get_commit,
    head_summaries,
    last_changes,
    resolve_ref,
)
from gitserver.core.states import combined_state, commit_score
from gitserver.core.urls import blob_url, commits_url, repo_url, tree_url
from gitserver.web import (
    badge,
    pages_format,
    repo_lint_web,
    repo_settings,
    status_page,
    web_edit,
)
from gitserver.web.highlight import lines_for_blob
from gitserver.web.page_access import page_repo, page_viewer, repo_context
from gitserver.web.refs import ref_and_path, switcher
from gitserver.web.templating import render
from gitserver.web.trends import file_trend, repo_trend
from gitserver.web.webforms import PageRoute

PER_PAGE = 30
RECENT_COMMITS = 10
CHECK_LOG_ENTRIES = 200
HISTORY_WALK = 1000  # commits walked to order a file's versions
TREND_COMMITS = 50  # commits of the branch the score trend shows
MAX_DISPLAY_BYTES = 512 * 1024  # larger files get a "too large to display" notice and a raw link

pages_format.install()


def _repos_dir(request: Request) -> Any:
    return request.app.state.settings.repos_dir


def _git(request: Request, repo: Repo) -> GitRepo | None:
    """The repo's repository, opened once per page and passed down; None when it is missing."""
    return GitRepo.find(_repos_dir(request), repo)


def _commit_rows(repo: Repo, shas: list[str]) -> list[dict[str, Any]]:
    rows = {c.sha: c for c in Commit.select().where((Commit.repo == repo)
                                                    & Commit.sha.in_(shas))}
    marks = commit_marks([c.id for c in rows.values()])
    return [{"commit": rows[s], "state": marks[rows[s].id][0], "score": marks[rows[s].id][1]}
            for s in shas if s in rows]


# -- /{owner} -------------------------------------------------------------------------------

@page_viewer
def user_page(request: Request, me: User | None) -> Response:
    """/{owner}: the user's repos (private ones for the owner only), each HEAD's state, score."""
    owner = User.get_or_none(User.username == request.path_params["owner"].lower())
    if owner is None or not owner.is_active:
        raise HTTPException(404, "There is no user by that name.")
    query = Repo.select(Repo, User).join(User).where(Repo.owner == owner)
    if me is None or me.id != owner.id:
        query = query.where(~Repo.private)
    repos = list(query.order_by(Repo.updated_at.desc()))
    heads = head_summaries(_repos_dir(request), repos)
    return render(request, "user.html", {
        "owner": owner, "is_me": me is not None and me.id == owner.id,
        "rows": [{"repo": r, "head": heads.get(r.id)} for r in repos]})


# -- /{owner}/{repo} ------------------------------------------------------------------------

@page_repo()
def repo_page(request: Request, access: Access) -> Response:
    """/{owner}/{repo}: files of the default branch with state, score and last change."""
    repo = access.repo
    assert repo is not None
    if request.path_params["repo"] != repo.name:  # `.../name.git` pasted from a clone
        return RedirectResponse(repo_url("", access.owner, repo.name), status_code=301)
    return _code_page(request, access, repo.default_branch, "")


@page_repo()
def tree_page(request: Request, access: Access) -> Response:
    """/{owner}/{repo}/tree/{ref}[/{folder}]: the repo page at any branch, tag or commit."""
    assert access.repo is not None
    ref, folder = ref_and_path(_git(request, access.repo), access.repo,
                               request.path_params["ref"],
                               request.path_params.get("path", "").strip("/"))
    return _code_page(request, access, ref, folder)


def _code_page(request: Request, access: Access, ref: str, folder: str) -> Response:
    """The files at `ref` (under `folder`) with state, score and last change; recent commits."""
    repo = access.repo
    assert repo is not None
    context = repo_context(request, access, "code")
    git = _git(request, repo)
    sha = resolve_ref(git, repo, ref)
    branches = git.branches() if git else []
    if sha is None and (ref != repo.default_branch or branches):
        raise HTTPException(404, f"There is no branch, tag or commit {ref!r} in "
                                 f"{access.full_name}.")
    context.update(branch=ref, is_branch=ref in branches or not branches, branches=branches,
                   sha=sha, folder=folder,
                   switch=switcher(git, ref, lambda r: tree_url("", access.owner, repo.name, r)))
    if sha is None or git is None:
        return render(request, "repo_empty.html", context)
    commit = get_commit(repo, sha)
    checks = {c.path: c for c in commit_checks(commit)} if commit is not None else {}
    files = git.tree_files(sha)
    if folder:
        files = {p: b for p, b in files.items() if p.startswith(folder + "/")}
        if not files:
            raise HTTPException(404, f"There is no folder {folder!r} at {ref!r} in "
                                     f"{access.full_name}.")
    changed = last_changes(repo, files)
    recent = _commit_rows(repo, git.history(sha, RECENT_COMMITS))
    context.update(
        commit=commit, state=combined_state([c.state for c in checks.values()]),
        score=commit_score(checks.values()), recent=recent,
        trend=repo_trend(repo, git.history(sha, TREND_COMMITS)),
        files=[{"path": path, "check": checks.get(path), "last": changed.get(path)}
               for path in sorted(files)])
    return render(request, "repo.html", context)


# -- /static/css/states.css ------------------------------------------------------------------

_STATES_CSS = pages_format.states_css()


def states_stylesheet(_request: Request) -> Response:
    """The state colours (gitserver.core.states) as CSS; before /static in the routes."""
    return Response(_STATES_CSS, media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})


# -- /{owner}/{repo}/commits/{branch} -------------------------------------------------------

@page_repo()
def commits_redirect(_request: Request, access: Access) -> Response:
    """/{owner}/{repo}/commits: the history of the default branch."""
    repo = access.repo
    assert repo is not None
    return RedirectResponse(commits_url("", access.owner, repo.name, repo.default_branch),
                            status_code=302)


@page_repo()
def commits_page(request: Request, access: Access) -> Response:
    """/{owner}/{repo}/commits/{branch}: the history, 30 commits a page, with each one's state."""
    assert access.repo is not None
    branch = request.path_params["branch"]
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    git = _git(request, access.repo)
    sha = resolve_ref(git, access.repo, branch)
    empty = sha is None and branch == access.repo.default_branch
    if sha is None and not empty:
        raise HTTPException(404, f"There is no branch or commit {branch!r} in "
                                 f"{access.full_name}.")
    shas = git.history(sha, page * PER_PAGE + 1) if sha and git else []
    has_next = len(shas) > page * PER_PAGE
    context = repo_context(request, access, "commits")
    context.update(branch=branch, branches=git.branches() if git else [],
                   page=page, has_next=has_next,
                   rows=_commit_rows(access.repo, shas[(page - 1) * PER_PAGE: page * PER_PAGE]))
    return render(request, "commits.html", context)


# -- /{owner}/{repo}/blob/{ref}/{path} ------------------------------------------------------

def _messages_by_line(check: Check | None, line_count: int) -> tuple[dict[int, list], list]:
    by_line: dict[int, list[dict[str, Any]]] = {}
    loose: list[dict[str, Any]] = []  # messages about the whole file or past its end
    for message in check.message_list if check is not None else []:
        line = message.get("line") or 0
        if 1 <= line <= line_count:
            by_line.setdefault(line, []).append(message)
        else:
            loose.append(message)
    for messages in by_line.values():
        messages.sort(key=lambda m: m.get("column") or 0)
    return by_line, loose


def _versions(repo: Repo, path: str, walk: list[str]) -> list[dict[str, Any]]:
    versions = _in_history_order(file_versions(repo, path), walk)
    checks = {c.commit_id: c for c in Check.select(
        Check.commit, Check.state, Check.score).where(
        Check.commit.in_([v.commit_id for v in versions]) & (Check.path == path))}
    return [{"version": v, "commit": v.commit, "check": checks.get(v.commit_id)}
            for v in versions]


def _log_runs(checks: list[Check]) -> list[dict[str, Any]]:
    """The check log with identical results folded: a push of 30 commits that did not touch the
    file logs 30 checks of one blob, shown as one line with "+29"."""
    runs: dict[tuple[str, str, float | None], dict[str, Any]] = {}
    for check in checks:
        run = runs.setdefault((check.blob_sha, check.state, check.score),
                              {"check": check, "more": []})
        if run["check"] is not check:
            run["more"].append(check)
    return list(runs.values())


def _in_history_order(items: list[Any], shas: list[str]) -> list[Any]:
    """Sort rows carrying `.commit` by git's order (timestamps tie within a second)."""
    position = {sha: index for index, sha in enumerate(shas)}
    return sorted(items, key=lambda item: (position.get(item.commit.sha, len(position)),
                                           -item.commit.committed_at.timestamp()))


def _file_history(git: GitRepo, access: Access, ref: str, path: str,
                  walk: list[str]) -> dict[str, Any]:
    """The file's versions with its score trend, and the switcher to it at other refs."""
    assert access.repo is not None
    name = access.repo.name
    versions = _versions(access.repo, path, walk)
    return {"versions": versions,
            "switch": switcher(git, ref, lambda r: blob_url("", access.owner, name, r, path)),
            "trend": file_trend(access.owner, name,
                                [(v["commit"], v["check"]) for v in reversed(versions)])}


@page_repo()
def blob_page(request: Request, access: Access) -> Response:
    """/{owner}/{repo}/blob/{ref}/{path}: highlighted source, messages under their lines,
    the file's versions and its check log."""
    assert access.repo is not None
    git = _git(request, access.repo)
    ref, path = ref_and_path(git, access.repo, request.path_params["ref"],
                             request.path_params["path"])
    sha = resolve_ref(git, access.repo, ref)
    found = git.blob_at(sha, path) if sha and git else None
    if sha is None or git is None or found is None:
        raise HTTPException(404, f"There is no file {path!r} at {ref!r} in {access.full_name}.")
    # Highlighting costs ~25 times the file's size in memory and seconds for megabytes: a big
    # file (pushed under a larger max_file_bytes, or before it) is offered raw instead.
    too_large = len(found[1]) > MAX_DISPLAY_BYTES
    lines = [] if too_large else lines_for_blob(found[0], found[1].decode("utf-8", "replace"))
    commit = get_commit(access.repo, sha)
    check = Check.get_or_none((Check.commit == commit) & (Check.path == path)) \
        if commit is not None else None
    by_line, loose = _messages_by_line(check, len(lines))
    walk = git.history(sha, HISTORY_WALK)
    context = repo_context(request, access, "code")
    context.update(
        ref=ref, sha=sha, path=path, commit=commit, check=check, lines=lines, by_line=by_line,
        loose=loose, size=len(found[1]), is_branch=ref in git.branches(), too_large=too_large,
        **_file_history(git, access, ref, path, walk),
        log=_log_runs(_in_history_order(
            list(file_check_log(access.repo, path).limit(CHECK_LOG_ENTRIES)), walk)))
    return render(request, "blob.html", context)


routes: list[BaseRoute] = [
    PageRoute("/{owner}", user_page),
    PageRoute("/{owner}/{repo}", repo_page),
    Route("/{owner}/{repo}/badge.svg", badge.badge),
    *repo_settings.routes,
    PageRoute("/{owner}/{repo}/tree/{ref}", tree_page),
    PageRoute("/{owner}/{repo}/tree/{ref}/{path:path}", tree_page),
    *repo_lint_web.routes,
    PageRoute("/{owner}/{repo}/commits", commits_redirect),
    PageRoute("/{owner}/{repo}/commits/{branch:path}", commits_page),
    PageRoute("/{owner}/{repo}/commit/{sha}", status_page.commit_page),
    PageRoute("/{owner}/{repo}/blob/{ref}/{path:path}", blob_page),
    *web_edit.routes,
]
