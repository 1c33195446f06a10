"""Request limits enforced before routing."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from exchange.api.errors import error_response

__all__ = ["QueryLengthLimit"]


class QueryLengthLimit:
    """ASGI middleware: a query string longer than ``limit`` octets is a 400 TAXII error."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse over-long query strings; pass everything else on."""
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > self.limit:
            response = error_response(
                400,
                "Bad Request",
                f"The query string is longer than {self.limit} octets.",
                path=scope["path"],
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
