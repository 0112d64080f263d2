"""Changing a repository from the browser: upload `.py` files, create, edit or delete one.

Each form makes one commit on the branch through `hooks.browser_commit`, so it meets the push
policy and gets the same checks as a push. The edit and delete forms carry the branch tip they
were built on; when the branch moved meanwhile the commit is refused and the user's text is shown
again, never lost and never silently overwriting someone else's change.
"""

from __future__ import annotations

import posixpath
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core.access import Access
from gitserver.core.gitrepo import GitRepo
from gitserver.core.queries import file_check, resolve_ref
from gitserver.core.urls import commit_url
from gitserver.web import sessions
from gitserver.web.page_access import page_repo, repo_context, repo_writer
from gitserver.web.templating import render
from gitserver.web.webforms import FormLimits, PageRoute, redirect
from hooks.browser_commit import (
    BrowserCommitRefused,
    FileChange,
    StaleBranch,
    clean_path,
    commit_changes,
)

MAX_UPLOAD_FILES = 100
# Room for the form's other fields and multipart framing around the files themselves.
_FORM_SLACK = 64 * 1024


def _branch(request: Request, access: Access) -> tuple[GitRepo, str, str | None]:
    """(the repository, opened once for the request; branch; tip sha or None for an empty
    repo's default branch); 404 for other branches."""
    branch = request.path_params["branch"]
    repo = access.repo
    assert repo is not None  # @page_repo gives the handlers an existing repo
    git = GitRepo.find(request.app.state.settings.repos_dir, repo)
    names = git.branches() if git is not None else []
    if git is not None and branch in names:
        return git, branch, resolve_ref(git, repo, branch)
    if git is not None and branch == repo.default_branch and not names:
        return git, branch, None  # the first commit of an empty repository
    raise HTTPException(404, f"There is no branch {branch!r} in {access.full_name}.")


def _context(request: Request, access: Access, branch: str, tip: str | None,
             **extra: Any) -> dict[str, Any]:
    return {**repo_context(request, access, "code"), "branch": branch, "tip": tip or "",
            "error": "", "max_file_bytes": request.app.state.settings.limits.max_file_bytes,
            "check": None, "messages": [], **extra}


def _committed(request: Request, access: Access, sha: str, what: str) -> Response:
    assert access.repo is not None
    sessions.flash(request, f"{what} in {sha[:7]}; pylint is checking it now.", "success")
    return redirect(request, commit_url("", access.owner, access.repo.name, sha))


# pylint: disable-next=too-many-arguments  # keyword-only, one per part of the commit
def _commit(request: Request, access: Access, git: GitRepo, branch: str,
            changes: list[FileChange], *, message: str, expected_tip: str | None) -> str:
    assert access.repo is not None and access.user is not None  # @page_repo(write=True)
    return commit_changes(request.app.state.settings, request.app.state.tasks, git,
                          access.repo, access.user, branch=branch,
                          changes=changes, message=message, expected_tip=expected_tip).sha


def _refused_status(exc: BrowserCommitRefused) -> int:
    return 409 if isinstance(exc, StaleBranch) else 422


# -- upload ---------------------------------------------------------------------------------

@page_repo(write=True)
def upload_page(request: Request, access: Access) -> Response:
    """The upload form."""
    _, branch, tip = _branch(request, access)
    return render(request, "upload.html", _context(request, access, branch, tip, folder="",
                                                   message=""))


def _uploaded(folder: str, uploads: list[tuple[str, bytes]]) -> list[FileChange]:
    changes = []
    for filename, data in uploads:
        # Browsers send the bare file name; older ones a whole Windows path.
        name = posixpath.basename(filename.replace("\\", "/"))
        changes.append(FileChange(clean_path(f"{folder}/{name}" if folder else name), data))
    return changes


def upload_limits(request: Request) -> FormLimits:
    """Up to MAX_UPLOAD_FILES files; the whole body within the push limit (413 past it)."""
    limits = request.app.state.settings.limits
    return FormLimits(max_files=MAX_UPLOAD_FILES, max_fields=20,
                      max_part_size=_FORM_SLACK, max_body=limits.max_push_bytes + _FORM_SLACK)


def editor_limits(request: Request) -> FormLimits:
    """A file's text (a browser may double it, sending each line break as CRLF) and a few
    short fields; no file parts."""
    text = 2 * request.app.state.settings.limits.max_file_bytes + _FORM_SLACK
    return FormLimits(max_fields=20, max_part_size=text, max_body=text + _FORM_SLACK)


def _read_uploads(form: FormData, max_file_bytes: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each uploaded file; a file over the limit is refused unread."""
    uploads = []
    for item in form.getlist("files"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue
        if item.size is None or item.size > max_file_bytes:
            raise BrowserCommitRefused(
                f"{posixpath.basename(item.filename)}: {item.size or 0:,} bytes is over the "
                f"{max_file_bytes:,}-byte file limit; split the module or leave generated "
                "files out")
        uploads.append((item.filename, item.file.read()))
    return uploads


@page_repo(write=True)
def upload_post(request: Request, access: Access, form: FormData) -> Response:
    """Commit the uploaded files."""
    git, branch, tip = _branch(request, access)
    folder = str(form.get("folder", "")).strip().strip("/")
    message = str(form.get("message", "")).strip()
    context = _context(request, access, branch, tip, folder=folder, message=message)
    try:
        uploads = _read_uploads(form, request.app.state.settings.limits.max_file_bytes)
        if not uploads:
            raise BrowserCommitRefused("choose at least one .py file to upload")
        changes = _uploaded(folder, uploads)
        names = ", ".join(c.path for c in changes)
        default = f"Upload {names}" if len(changes) <= 3 else f"Upload {len(changes)} files"
        sha = _commit(request, access, git, branch, changes, message=message or default,
                      expected_tip=None)
    except BrowserCommitRefused as exc:
        return render(request, "upload.html", {**context, "error": str(exc)},
                      status_code=_refused_status(exc))
    return _committed(request, access, sha, f"Uploaded {names}")


# -- new file and edit ----------------------------------------------------------------------

def _text(form: FormData) -> bytes:
    # Browsers send a textarea's line breaks as CRLF whatever the file had.
    return str(form.get("content", "")).replace("\r\n", "\n").encode("utf-8")


@page_repo(write=True)
def new_page(request: Request, access: Access) -> Response:
    """The editor for a new file."""
    _, branch, tip = _branch(request, access)
    return render(request, "edit.html", _context(request, access, branch, tip, path="",
                                                 content="", message="", is_new=True))


@page_repo(write=True)
def new_post(request: Request, access: Access, form: FormData) -> Response:
    """Commit a new file."""
    git, branch, tip = _branch(request, access)
    content, message = str(form.get("content", "")), str(form.get("message", "")).strip()
    context = _context(request, access, branch, tip, path=str(form.get("path", "")),
                       content=content, message=message, is_new=True)
    try:
        path = clean_path(str(form.get("path", "")))
        if tip and git.blob_at(tip, path):
            raise BrowserCommitRefused(f"{path} exists already; open it and edit it instead")
        sha = _commit(request, access, git, branch, [FileChange(path, _text(form))],
                      message=message or f"Add {path}", expected_tip=None)
    except BrowserCommitRefused as exc:
        return render(request, "edit.html", {**context, "error": str(exc)},
                      status_code=_refused_status(exc))
    return _committed(request, access, sha, f"Added {path}")


def _current(git: GitRepo, tip: str | None, path: str) -> bytes:
    found = git.blob_at(tip, path) if tip else None
    if found is None:
        raise HTTPException(404, f"There is no file {path!r} on this branch.")
    return found[1]


@page_repo(write=True)
def edit_page(request: Request, access: Access) -> Response:
    """The editor with the file at the branch tip."""
    git, branch, tip = _branch(request, access)
    path = request.path_params["path"]
    content = _current(git, tip, path).decode("utf-8", "replace")
    return render(request, "edit.html", _context(request, access, branch, tip, path=path,
                                                 content=content, message="", is_new=False,
                                                 **_lint(access, tip, path)))


def _lint(access: Access, tip: str | None, path: str) -> dict[str, Any]:
    """The editor's `check` and `messages`: pylint's verdict on the file at the tip."""
    assert access.repo is not None
    check = file_check(access.repo, tip, path) if tip else None
    messages = sorted(check.message_list, key=lambda m: (m.get("line") or 0,
                                                         m.get("column") or 0)) if check else []
    return {"check": check, "messages": messages}


@page_repo(write=True)
def edit_post(request: Request, access: Access, form: FormData) -> Response:
    """Commit an edited file, unless the branch moved since the editor was opened."""
    git, branch, tip = _branch(request, access)
    path = request.path_params["path"]
    content, message = str(form.get("content", "")), str(form.get("message", "")).strip()
    # The form's tip stays in the re-rendered form: a refused edit can be retried only after
    # reopening the editor on the new tip.
    context = _context(request, access, branch, str(form.get("tip", "")), path=path,
                       content=content, message=message, is_new=False,
                       **_lint(access, str(form.get("tip", "")), path))
    try:
        sha = _commit(request, access, git, branch, [FileChange(path, _text(form))],
                      message=message or f"Update {path}",
                      expected_tip=str(form.get("tip", "")))
    except BrowserCommitRefused as exc:
        return render(request, "edit.html", {**context, "error": str(exc),
                                             "stale": isinstance(exc, StaleBranch),
                                             "current_tip": tip or ""},
                      status_code=_refused_status(exc))
    return _committed(request, access, sha, f"Updated {path}")


# -- delete ---------------------------------------------------------------------------------

@page_repo(write=True)
def delete_page(request: Request, access: Access) -> Response:
    """Ask before deleting the file."""
    git, branch, tip = _branch(request, access)
    path = request.path_params["path"]
    _current(git, tip, path)
    return render(request, "delete.html", _context(request, access, branch, tip, path=path,
                                                   message=""))


@page_repo(write=True)
def delete_post(request: Request, access: Access, form: FormData) -> Response:
    """Commit the deletion, unless the branch moved since the page was opened."""
    git, branch, tip = _branch(request, access)
    path = request.path_params["path"]
    message = str(form.get("message", "")).strip()
    context = _context(request, access, branch, str(form.get("tip", "")), path=path,
                       message=message)
    try:
        sha = _commit(request, access, git, branch, [FileChange(path, None)],
                      message=message or f"Delete {path}",
                      expected_tip=str(form.get("tip", "")))
    except BrowserCommitRefused as exc:
        return render(request, "delete.html", {**context, "error": str(exc),
                                               "current_tip": tip or ""},
                      status_code=_refused_status(exc))
    return _committed(request, access, sha, f"Deleted {path}")


routes: list[BaseRoute] = [
    PageRoute("/{owner}/{repo}/upload/{branch}", upload_page, upload_post, limits=upload_limits,
              guard=repo_writer),
    PageRoute("/{owner}/{repo}/new/{branch}", new_page, new_post, limits=editor_limits,
              guard=repo_writer),
    PageRoute("/{owner}/{repo}/edit/{branch}/{path:path}", edit_page, edit_post,
              limits=editor_limits, guard=repo_writer),
    PageRoute("/{owner}/{repo}/delete/{branch}/{path:path}", delete_page, delete_post,
              guard=repo_writer),
]
