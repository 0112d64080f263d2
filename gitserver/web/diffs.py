"""Diffs on the pages: the commit page's changes against its first parent, and
`/{owner}/{repo}/compare/{base}...{head}` between any two commits, branches or tags.

Each changed file shows as a unified diff, highlighted like the blob page (the same cached
Pygments lines), with the new version's messages under their lines, the ones new since the
other side marked, and the fixed ones under the removed lines they were about.
"""

# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core.access import Access
from gitserver.core.diffs import (
    KIND_DEL,
    MAX_DIFF_LINES,
    DiffLine,
    FileDiff,
    file_diff,
    place_messages,
)
from gitserver.core.gitrepo import GitRepo, PathChange
from gitserver.core.models import CHANGE_ADDED, CHANGE_DELETED, Check, Commit
from gitserver.core.queries import compare_checks, get_commit, resolve_ref
from gitserver.core.states import combined_state, commit_score
from gitserver.core.urls import compare_url
from gitserver.web.highlight import lines_for_blob
from gitserver.web.page_access import page_repo, repo_context
from gitserver.web.templating import render, templates
from gitserver.web.webforms import PageRoute

MAX_FILES = 100  # diffs per page; the other changed files are listed by name
MAX_COMMITS = 100  # commits listed on the compare page
MAX_PAGE_LINES = 20_000  # diff lines of all files of one page together
LARGE_DIFF = 400  # lines: a longer diff starts folded, so a big commit's page stays light


@dataclass
class ShownDiff:
    """A file's diff with its highlighted lines on either side and its check now (if any)."""
    diff: FileDiff
    old_html: list[Markup]
    new_html: list[Markup]
    check: Any | None

    @property
    def lines(self) -> int:
        """How many diff lines are shown."""
        return sum(len(hunk.lines) for hunk in self.diff.hunks)

    @property
    def folded(self) -> bool:
        """Shown folded: a large diff."""
        return self.lines > LARGE_DIFF

    def html(self, line: DiffLine) -> Markup:
        """The highlighted text of a diff line (its old side for a removed line)."""
        lines, number = (self.old_html, line.old) if line.kind == KIND_DEL else \
            (self.new_html, line.new)
        if number is None or not 1 <= number <= len(lines):
            return Markup.escape(line.text)
        return lines[number - 1]


def _highlighted(blob: str | None, data: bytes | None, diff: FileDiff) -> list[Markup]:
    if blob is None or data is None or not diff.hunks:
        return []
    return lines_for_blob(blob, data.decode("utf-8"))


# pylint: disable-next=too-many-arguments  # both sides of the comparison
def file_diffs(git: GitRepo, old_sha: str | None, new_sha: str, now: Mapping[str, Any],
               before: Mapping[str, Any] | None, *, only: str = "",
               load: Callable[[list[Any]], None] | None = None,
               page_lines: int = MAX_PAGE_LINES) -> tuple[list[ShownDiff], list[str]]:
    """(the diffs of the files changed from `old_sha` to `new_sha`, the paths past MAX_FILES).

    `now`/`before`: path -> check (with `message_list`) of either commit; `before` None when
    the old commit was never checked. `only`: just that path. `load(checks)`: reads the
    messages of the checks about to be shown, when the caller read them without.
    `page_lines`: the diff lines of all files together; the files past it are listed.
    """
    changes = sorted(git.changed_files(old_sha, new_sha), key=lambda c: c.path)
    if only:
        changes = [c for c in changes if c.path == only]
    if load is not None:
        load([found for c in changes[:MAX_FILES] for found in
              (now.get(c.path), (before or {}).get(c.path)) if found is not None])
    shown: list[ShownDiff] = []
    budget = page_lines
    for index, change in enumerate(changes[:MAX_FILES]):
        if budget <= 0:
            return shown, [c.path for c in changes[index:]]
        item = _one_diff(git, old_sha, change, (now.get(change.path),
                                                (before or {}).get(change.path)),
                         known=before is not None, max_lines=min(MAX_DIFF_LINES, budget))
        budget -= item.lines
        shown.append(item)
    return shown, [c.path for c in changes[MAX_FILES:]]


# pylint: disable-next=too-many-arguments  # the two keyword-only ones bound the work
def _one_diff(git: GitRepo, old_sha: str | None, change: PathChange,
              checks: tuple[Any | None, Any | None], *, known: bool,
              max_lines: int) -> ShownDiff:
    """One file's diff; `checks`: its check now and before; `known`: the old commit was
    checked."""
    old = git.blob_at(old_sha, change.path) \
        if old_sha is not None and change.kind != CHANGE_ADDED else None
    new = git.blob(change.blob) if change.blob is not None else None
    diff = file_diff(change.path, change.kind, old=old[1] if old else None, new=new,
                     old_blob=old[0] if old else None, new_blob=change.blob,
                     max_lines=max_lines)
    check, old_check = checks
    if not diff.binary and (check is not None or old_check is not None):
        prior = old_check.message_list if old_check is not None else \
            ([] if known or change.kind == CHANGE_ADDED else None)
        place_messages(diff, check.message_list if check is not None else [], prior)
    return ShownDiff(diff, _highlighted(diff.old_blob, old[1] if old else None, diff),
                     _highlighted(change.blob, new, diff), check)


def diffs_html(repo_url: str, sha: str, old_sha: str | None, shown: list[ShownDiff],
               more: list[str]) -> Markup:
    """The diffs as HTML (`_diffs.html`), links to the files at `sha` (and `old_sha`)."""
    return Markup(templates.env.get_template("_diffs.html").render(
        repo_url=repo_url, sha=sha, old_sha=old_sha, shown=shown, more=more,
        deleted=CHANGE_DELETED))


def _checks_of(commit: Commit | None) -> list[Check] | None:
    if commit is None:
        return None
    return list(Check.select().where(Check.commit == commit).order_by(Check.path))


def _split(spec: str) -> tuple[str, str]:
    base, dots, head = spec.partition("...")
    if not dots or not base or not head:
        raise HTTPException(404, "Compare two commits as /compare/BASE...HEAD (branches, "
                                 "tags or shas), e.g. /compare/main...feature.")
    return base, head


def _resolved(request: Request, access: Access) -> tuple[GitRepo, str, str]:
    """(the repository, base sha, head sha) of the URL's `{base}...{head}`; 404 if unknown."""
    assert access.repo is not None
    base_ref, head_ref = _split(request.path_params["spec"])
    git = GitRepo.find(request.app.state.settings.repos_dir, access.repo)
    base = resolve_ref(git, access.repo, base_ref)
    head = resolve_ref(git, access.repo, head_ref)
    if git is None or base is None or head is None:
        missing = base_ref if base is None else head_ref
        raise HTTPException(404, f"There is no branch, tag or commit {missing!r} in "
                                 f"{access.full_name}.")
    return git, base, head


def _commits_between(git: GitRepo, access: Access, base: str, head: str) -> list[Commit]:
    shas = git.commits_between(base, head, MAX_COMMITS)
    if not shas:
        return []
    rows = {c.sha: c for c in Commit.select().where((Commit.repo == access.repo)
                                                    & Commit.sha.in_(shas))}
    return [rows[s] for s in shas if s in rows]


@page_repo()
def compare_page(request: Request, access: Access) -> Response:
    """/{owner}/{repo}/compare/{base}...{head}: the diff from base to head, the messages new
    and fixed, the commits in between; `?path=` keeps one file."""
    assert access.repo is not None
    git, base, head = _resolved(request, access)
    base_ref, head_ref = _split(request.path_params["spec"])
    only = request.query_params.get("path", "")[:4096]
    head_checks = [c for c in _checks_of(get_commit(access.repo, head)) or []
                   if not only or c.path == only]
    base_checks = [c for c in _checks_of(get_commit(access.repo, base)) or []
                   if not only or c.path == only]
    shown, more = file_diffs(git, base, head, {c.path: c for c in head_checks},
                             {c.path: c for c in base_checks} if base_checks else None,
                             only=only)
    messages = compare_checks(base, head_checks, base_checks)
    context = repo_context(request, access, "commits")
    commits = _commits_between(git, access, base, head)
    context.update(
        base_ref=base_ref, head_ref=head_ref, base=base, head=head, only=only, commits=commits,
        more_commits=len(commits) == MAX_COMMITS, messages=messages,
        head_state=combined_state([c.state for c in head_checks]) if head_checks else None,
        head_score=commit_score(head_checks),
        all_files_url=compare_url("", access.owner, access.repo.name, base_ref, head_ref),
        since_html=Markup(templates.env.get_template("_since_parent.html").render(
            repo_url=context["repo_url"], sha=head, diff=messages, against=base_ref)),
        diffs=diffs_html(context["repo_url"], head, base, shown, more), file_count=len(shown))
    return render(request, "compare.html", context)


routes: list[BaseRoute] = [PageRoute("/{owner}/{repo}/compare/{spec:path}", compare_page)]
