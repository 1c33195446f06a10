"""The one place that turns errors into TAXII error resources (TAXII 2.1 §3.6.1).

Each hub error maps to a status code; the body is an ``error`` with ``title``,
``http_status`` and a ``description`` safe to show. Anything unexpected is a
generic 500 whose body never echoes the exception; details go to the log.
Whatever the failure, its media type is the one the path's routes answer with:
plain JSON under ``/exchange/`` and ``/.well-known/``, TAXII 2.1 everywhere else.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from exchange import errors
from exchange.api.audit import log_refusal
from exchange.api.responses import JsonResponse, TaxiiResponse
from exchange.protocol.taxii import TaxiiError

__all__ = ["WWW_AUTHENTICATE", "error_response", "install_error_handlers"]

log = logging.getLogger("exchange.api")

WWW_AUTHENTICATE = 'Basic realm="Trend Exchange", Bearer realm="Trend Exchange"'

_JSON_PREFIXES = ("/exchange/", "/.well-known/")

_STATUS: list[tuple[type[errors.ExchangeError], int, str]] = [
    (errors.AuthenticationFailed, 401, "Unauthorized"),
    (errors.NotFound, 404, "Not Found"),
    (errors.PermissionDenied, 403, "Forbidden"),
    (errors.NotAcceptable, 406, "Not Acceptable"),
    (errors.UnsupportedMediaType, 415, "Unsupported Media Type"),
    (errors.PayloadTooLarge, 413, "Payload Too Large"),
    (errors.InvalidParameter, 400, "Bad Request"),
    (errors.MalformedBody, 400, "Bad Request"),
    (errors.UnprocessableContent, 422, "Unprocessable Content"),
    (errors.InvalidDocument, 422, "Unprocessable Content"),
    (errors.Conflict, 409, "Conflict"),
    (errors.TooManyRequests, 429, "Too Many Requests"),
]


def error_response(
    status: int,
    title: str,
    description: str,
    headers: dict[str, str] | None = None,
    *,
    path: str,
) -> TaxiiResponse:
    """Return a TAXII error resource with ``status`` for a request to ``path`` (as plain
    JSON on the exchange's own API)."""
    body = TaxiiError(title=title, description=description, http_status=str(status))
    kind = JsonResponse if path.startswith(_JSON_PREFIXES) else TaxiiResponse
    return kind(body.to_json_dict(), status_code=status, headers=headers)


def _for_exchange_error(exc: errors.ExchangeError, request: Request) -> TaxiiResponse:
    for kind, status, title in _STATUS:
        if isinstance(exc, kind):
            headers = None
            if isinstance(exc, errors.AuthenticationFailed):
                headers = {"WWW-Authenticate": WWW_AUTHENTICATE}
            elif isinstance(exc, errors.TooManyRequests):
                headers = {"Retry-After": str(exc.retry_after)}
            return error_response(status, title, exc.message, headers, path=request.url.path)
    log.error("unmapped hub error %s", type(exc).__name__)
    return error_response(
        500,
        "Internal Server Error",
        "The server could not complete the request.",
        path=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every failure as a TAXII error."""

    async def on_exchange_error(request: Request, exc: Exception) -> TaxiiResponse:
        assert isinstance(exc, errors.ExchangeError)
        response = _for_exchange_error(exc, request)
        if isinstance(exc, errors.TooManyRequests):
            # Throttled before reaching anything: recording it would make every refused
            # request of a flood cost a log commit, the very work the limit spares.
            log.debug("throttled: %s", exc.message)
        else:
            await run_in_threadpool(log_refusal, request, response.status_code, exc.message)
        return response

    async def on_http_error(request: Request, exc: Exception) -> TaxiiResponse:
        assert isinstance(exc, StarletteHTTPException)
        path = request.url.path
        if exc.status_code == 404:
            hint = "" if path.endswith("/") else " (TAXII endpoint URLs end with '/')"
            return error_response(404, "Not Found", f"No such resource{hint}.", path=path)
        if exc.status_code == 405:
            return error_response(
                405,
                "Method Not Allowed",
                "This endpoint does not support that method.",
                dict(exc.headers or {}),
                path=path,
            )
        return error_response(exc.status_code, "Error", str(exc.detail), path=path)

    async def on_validation_error(request: Request, exc: Exception) -> TaxiiResponse:
        assert isinstance(exc, RequestValidationError)
        where = ", ".join(".".join(str(p) for p in err.get("loc", ())) for err in exc.errors()[:3])
        description = f"Invalid request ({where or 'input'})."
        await run_in_threadpool(log_refusal, request, 400, description)
        return error_response(400, "Bad Request", description, path=request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> TaxiiResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(
            500,
            "Internal Server Error",
            "The server could not complete the request.",
            path=request.url.path,
        )

    app.add_exception_handler(errors.ExchangeError, on_exchange_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
