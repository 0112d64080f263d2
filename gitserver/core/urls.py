"""Every link the service hands out (pages, mails, push output, API), built in one place."""

from __future__ import annotations

from urllib.parse import quote


def repo_url(base: str, owner: str, name: str) -> str:
    """The repo page."""
    return f"{base}/{owner}/{name}"


def commit_url(base: str, owner: str, name: str, sha: str) -> str:
    """The commit page: the check results of that commit."""
    return f"{repo_url(base, owner, name)}/commit/{sha}"


def blob_url(base: str, owner: str, name: str, ref: str, path: str) -> str:
    """The page of one file at a ref, with its messages inline."""
    return f"{repo_url(base, owner, name)}/blob/{ref}/{quote(path)}"
