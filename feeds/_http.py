"""One authenticated JSON exchange with the hub, and the mapping of its failures.

`HubTransport` sends ``Authorization: Bearer <token>`` and an ``Accept`` header,
maps every ``httpx`` exception and every non-2xx answer into the
:mod:`feeds.errors` tree (most specific first, always ``from exc``) and returns
the parsed JSON body. Messages name the URL and the failure's class or the
hub's own ``description``, never a header: the token stays out of them.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import httpx
from pydantic import SecretStr

from feeds.errors import CredentialsRejected, HubUnreachable, RequestRefused, UnexpectedResponse

__all__ = ["HubTransport", "clean_text", "same_origin"]

_MAX_SHOWN = 300


def clean_text(text: str, limit: int = _MAX_SHOWN) -> str:
    """Return ``text`` without control characters, whitespace runs collapsed, at most
    ``limit`` characters: safe to put in a one-line message.

    >>> clean_text("two\\nlines\\x1b[31m red")
    'two lines[31m red'
    """
    kept = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or not _control(ch))
    collapsed = " ".join(kept.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1] + "…"


def _control(ch: str) -> bool:
    return unicodedata.category(ch).startswith("C")


def same_origin(a: str, b: str) -> bool:
    """True if URLs ``a`` and ``b`` share scheme, host and port."""
    first, second = httpx.URL(a), httpx.URL(b)
    return (first.scheme, first.host, first.port) == (second.scheme, second.host, second.port)


def _description(response: httpx.Response) -> str:
    """The hub's explanation of an error answer: its TAXII ``description`` (or ``title``)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for name in ("description", "title"):
            value = body.get(name)
            if isinstance(value, str) and value.strip():
                return clean_text(value)
    return response.reason_phrase or "no explanation given"


class HubTransport:
    """Sends requests to the hub with the member's token; see the module docstring."""

    def __init__(self, http: httpx.Client, token: SecretStr) -> None:
        self._http = http
        self._token = token

    def __repr__(self) -> str:
        return "HubTransport(token=SecretStr('**********'))"

    def _send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> httpx.Response:
        try:
            return self._http.request(method, url, headers=headers, content=content)
        except httpx.TimeoutException as exc:
            raise HubUnreachable(url, "timed out") from exc
        except httpx.TransportError as exc:
            raise HubUnreachable(url, type(exc).__name__) from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise UnexpectedResponse(url, type(exc).__name__) from exc

    def request(
        self,
        method: str,
        url: str,
        accept: str,
        content: bytes | None = None,
        content_type: str | None = None,
        *,
        missing_ok: bool = False,
    ) -> httpx.Response | None:
        """Send one request and return its 2xx answer (None: a 404 with ``missing_ok``).

        Raises `HubUnreachable` when no exchange completes, `CredentialsRejected` for
        a 401, `RequestRefused` (with the hub's description) for any other 4xx, and
        `UnexpectedResponse` for any other answer that is not a 2xx.
        """
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}", "Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = self._send(method, url, headers, content)
        status = response.status_code
        if missing_ok and status == 404:
            return None
        if status == 401:
            raise CredentialsRejected(url, status)
        if 400 <= status < 500:
            raise RequestRefused(url, status, _description(response))
        if not 200 <= status < 300:
            raise UnexpectedResponse(url, _description(response), status)
        return response

    def json(
        self,
        method: str,
        url: str,
        accept: str,
        content: bytes | None = None,
        content_type: str | None = None,
        *,
        missing_ok: bool = False,
    ) -> Any:
        """Like `request`, but return the parsed JSON body (None: a 404 with ``missing_ok``).

        Raises what `request` raises, and `UnexpectedResponse` if the body is not JSON.
        """
        response = self.request(method, url, accept, content, content_type, missing_ok=missing_ok)
        if response is None:
            return None
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise UnexpectedResponse(url, "the answer is not JSON", response.status_code) from exc
