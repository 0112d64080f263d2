"""The signed one-click link of a report mail's `List-Unsubscribe` header (RFC 8058).

The token names the user and is signed with `server.secret_key` (itsdangerous), so following
it needs no sign-in: mail clients POST to it from the inbox. It does not expire: a link in an
old mail keeps working, as unsubscribe links must.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "gitserver.unsubscribe"
MAX_TOKEN_CHARS = 200  # ours are ~30; checked before any signature work


def unsubscribe_token(secret_key: str, user_id: int) -> str:
    """The token of `user_id`'s unsubscribe link."""
    return str(URLSafeSerializer(secret_key, salt=_SALT).dumps(user_id))


def unsubscribe_user_id(secret_key: str, token: str) -> int | None:
    """The user id a token was signed for; None when it is not one of ours."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        value = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None
