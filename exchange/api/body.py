"""Reading request bodies without ever holding more than the limit in memory."""

from __future__ import annotations

from starlette.requests import Request

from exchange.errors import MalformedBody, PayloadTooLarge

__all__ = ["read_body"]


async def read_body(request: Request, limit: int) -> bytes:
    """Return the request body.

    Raises `PayloadTooLarge` as soon as the declared or received length passes
    ``limit`` (the rest is never read), `MalformedBody` for a bad Content-Length.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise MalformedBody("The Content-Length header is not a number.")
        if int(declared) > limit:
            raise PayloadTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
