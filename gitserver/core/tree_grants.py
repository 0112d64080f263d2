"""The short-lived credential a worker shows the web node to fetch one commit's tree.

A worker on another host has no repositories: it downloads the `.py` files of the commit it
lints from the web node (`checker.sources.HttpTrees` -> `gitserver.web.worker_trees`). The
credential is an itsdangerous timed signature, with `server.secret_key` and a salt of its own,
over exactly (repository id, commit sha): a leaked one reads that one commit for a few minutes
and nothing else. Workers mint it themselves (they hold the secret key from the same config);
it goes in the `Authorization: Bearer` header, never in the URL.
"""

from __future__ import annotations

import enum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "gitserver.worker-tree"  # never the salt of the session cookies: a cookie is no grant
MAX_AGE_S = 300  # long enough for a busy queue's retry, short enough to be worthless when leaked
MAX_GRANT_CHARS = 512  # a grant is ~100 characters; anything longer is refused unread


class Verdict(enum.Enum):
    """What a presented grant allows."""
    OK = "ok"
    INVALID = "invalid"  # missing, forged or malformed
    EXPIRED = "expired"  # signed longer ago than MAX_AGE_S (or a clock runs ahead)
    OTHER = "other"  # genuine, but for another repository or commit


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def mint(secret_key: str, repo_id: int, sha: str) -> str:
    """A grant to read the `.py` files of commit `sha` of repository `repo_id`."""
    return _serializer(secret_key).dumps([repo_id, sha])


def verify(secret_key: str, grant: str, repo_id: int, sha: str) -> Verdict:
    """Whether `grant` (signed within MAX_AGE_S) covers exactly this repository and commit."""
    if not grant or len(grant) > MAX_GRANT_CHARS:
        return Verdict.INVALID
    try:
        # itsdangerous compares the signature in constant time
        scope = _serializer(secret_key).loads(grant, max_age=MAX_AGE_S)
    except SignatureExpired:
        return Verdict.EXPIRED
    except BadSignature:
        return Verdict.INVALID
    return Verdict.OK if scope == [repo_id, sha] else Verdict.OTHER
