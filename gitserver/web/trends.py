"""Score trends on the pages: a repository's branch (on its page) and a file's versions (on its
blob page), drawn by the server as inline SVG (`_trend.html`), so they need no script."""

# pylint: disable=not-an-iterable  # peewee queries iterate through a metaclass pylint cannot see
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from gitserver.core.models import Commit, Repo
from gitserver.core.queries import commit_marks
from gitserver.core.trends import TrendPoint, plot
from gitserver.core.urls import commit_url
from gitserver.web.templating import templates


def _render(series: list[TrendPoint], what: str, element_id: str) -> Markup:
    chart = plot(series)
    if chart is None:
        return Markup("")
    return Markup(templates.env.get_template("_trend.html").render(
        chart=chart, what=what, element_id=element_id))


def repo_trend(repo: Repo, shas: Sequence[str]) -> Markup:
    """The score of each checked commit of `shas` (newest first, git log's order)."""
    rows = {c.sha: c for c in Commit.select().where(
        (Commit.repo == repo) & Commit.sha.in_(list(shas)))} if shas else {}
    marks = commit_marks([c.id for c in rows.values()])
    owner = repo.owner.username
    series = []
    for sha in reversed(shas):
        commit = rows.get(sha)
        state, score = marks.get(commit.id, (None, None)) if commit is not None else (None, None)
        if commit is not None and score is not None:
            series.append(TrendPoint(f"{sha[:7]} {commit.subject}: {score:.2f} ({state})", score,
                                     state, commit_url("", owner, repo.name, sha)))
    return _render(series, "the branch's score, commit by commit", "repo-trend")


def file_trend(owner: str, name: str, versions: Sequence[tuple[Commit, Any]]) -> Markup:
    """The score of each version of a file: (commit, its check of the file), oldest first."""
    series = [TrendPoint(f"{commit.sha[:7]} {commit.subject}: {check.score:.2f} ({check.state})",
                         check.score, check.state, commit_url("", owner, name, commit.sha))
              for commit, check in versions if check is not None and check.score is not None]
    return _render(series, "this file's score, version by version", "file-trend")
