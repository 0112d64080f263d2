"""The branch and tag switcher of the code pages: every branch and tag, each linking to the same
page at that ref. A `<details>` list, so it works without JavaScript."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gitserver.core.gitrepo import GitRepo
from gitserver.core.models import Repo
from gitserver.core.queries import resolve_ref

MAX_REFS = 200  # per kind; a repository with more is browsed by URL


@dataclass(frozen=True)
class RefLink:
    """One entry of the switcher."""
    name: str
    kind: str  # "branch" | "tag"
    url: str
    current: bool


@dataclass(frozen=True)
class Switcher:
    """What the switcher shows: the ref in view (a short sha when it is no ref) and the links."""
    label: str
    kind: str  # "branch", "tag" or "commit"
    links: list[RefLink]


def switcher(git: GitRepo | None, shown: str, link: Callable[[str], str]) -> Switcher:
    """The switcher of a page showing ref `shown`; `link(ref)` is that page at another ref."""
    branches = git.branches()[:MAX_REFS] if git is not None else []
    tags = git.tags()[:MAX_REFS] if git is not None else []
    links = [RefLink(b, "branch", link(b), b == shown) for b in branches] + \
        [RefLink(t, "tag", link(t), t == shown and shown not in branches) for t in tags]
    kind = "branch" if shown in branches else "tag" if shown in tags else "commit"
    label = shown[:7] if kind == "commit" and len(shown) == 40 else shown
    return Switcher(label, kind, links)


def ref_and_path(git: GitRepo | None, repo: Repo, ref: str, path: str) -> tuple[str, str]:
    """Where the ref ends in `.../{ref}/{path}` when a branch or tag name holds slashes:
    `/tree/topic/x/pkg` is branch `topic/x`, folder `pkg`, when `topic` names nothing."""
    if git is None or resolve_ref(git, repo, ref) is not None:
        return ref, path
    parts = path.split("/")
    for taken in range(1, len(parts) + 1):
        candidate = "/".join([ref, *parts[:taken]])
        if git.names_ref(candidate):
            return candidate, "/".join(parts[taken:])
    return ref, path
