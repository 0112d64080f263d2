"""The one way a handler reads a request body: counted, and refused with 413 past its limit.

The limit holds whether or not the body is chunked: a declared Content-Length over it is refused
before a byte is read, and a body without one is counted as it arrives, so an anonymous client
cannot make the server buffer or spool more than the endpoint's limit. Callers check who asks
first (`page_access`, `api.common`) and read the body only then.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message


class BodyTooLarge(HTTPException):
    """413: the body is over what this endpoint accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request is larger than the {limit:,} bytes this address "
                              "accepts; send less at once.")


def limited(request: Request, max_bytes: int) -> Request:
    """`request` again, whose body can be read up to `max_bytes` only (413 past it)."""
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(max_bytes)
    seen = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise BodyTooLarge(max_bytes)
        return message
    return Request(request.scope, counted)
