"""Filtering and paging query parameters (TAXII 2.1 §3.4, §3.5), parsed once.

Every parameter may appear at most once; a malformed one is a 400 that names it.
Unknown ``match[...]`` fields, and ones the endpoint does not take, are ignored
(§3.4). Comma-separated values are ORed, fields ANDed.

``next`` is stateless: the ``date_added`` of the last row served plus an
HMAC-SHA256 (key shared through the database) over that cursor, the endpoint,
the collection, the caller and the normalized filters. Any process of the hub
accepts it; editing it, or using it with other filters or by another member,
is a 400. ``limit`` may change between pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Flag, auto

from exchange.db.records import ObjectQuery, VersionFilter
from exchange.errors import InvalidParameter
from exchange.protocol.errors import MalformedPayload
from exchange.protocol.ids import StixId, is_stix_id
from exchange.protocol.timestamps import parse_timestamp_micros, version_key

__all__ = ["Filters", "PageRequest", "decode_next", "encode_next", "parse_page_request"]

_TYPE = re.compile(r"[a-z0-9][a-z0-9-]{1,248}[a-z0-9]\Z")
_SPEC_VERSION = re.compile(r"\d{1,3}\.\d{1,3}\Z")
_MAC_BYTES = 16
_LAST = VersionFilter(last=True)


class Filters(Flag):
    """Which ``match[...]`` fields an endpoint takes."""

    NONE = 0
    ID = auto()
    TYPE = auto()
    VERSION = auto()
    SPEC_VERSION = auto()
    PAGING = auto()  # added_after, limit, next


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A parsed request: its filters, the page size and the decoded-later ``next``."""

    query: ObjectQuery
    limit: int
    limited: bool  # True if the server cap lowered the client's limit
    next: str | None


def _values(name: str, raw: str) -> tuple[str, ...]:
    values = tuple(sorted({v.strip() for v in raw.split(",")}))
    if not raw or any(not v for v in values):
        raise InvalidParameter(name, "empty value")
    return values


def _versions(raw: str) -> VersionFilter:
    values = _values("match[version]", raw)
    if "all" in values:
        if len(values) > 1:
            raise InvalidParameter("match[version]", "'all' cannot be combined with other values")
        return VersionFilter(all=True)
    keys = []
    for value in values:
        if value in ("first", "last"):
            continue
        try:
            keys.append(version_key(value, field="match[version]"))
        except MalformedPayload as exc:
            raise InvalidParameter(
                "match[version]", "values are 'first', 'last', 'all' or STIX timestamps"
            ) from exc
    return VersionFilter(first="first" in values, last="last" in values, keys=tuple(sorted(keys)))


def _check_each(name: str, values: tuple[str, ...], valid: re.Pattern[str] | None) -> None:
    for value in values:
        ok = is_stix_id(value) if valid is None else valid.match(value) is not None
        if not ok:
            raise InvalidParameter(name, f"{value[:80]!r} is not well-formed")


def parse_page_request(
    params: Sequence[tuple[str, str]],
    takes: Filters,
    *,
    max_page_size: int,
    stix_id: StixId | None = None,
    default_versions: VersionFilter = _LAST,
) -> PageRequest:
    """Parse an endpoint's query string (as ordered pairs) into a `PageRequest`.

    ``default_versions`` applies when ``match[version]`` is absent (§3.4.1: ``last``).

    Raises `InvalidParameter` naming the first malformed or repeated parameter.
    """
    seen: dict[str, str] = {}
    for name, value in params:
        if name in seen:
            raise InvalidParameter(name, "may be given only once")
        seen[name] = value

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    spec_versions: tuple[str, ...] = ()
    versions = default_versions
    if Filters.ID in takes and "match[id]" in seen:
        ids = _values("match[id]", seen["match[id]"])
        _check_each("match[id]", ids, None)
    if Filters.TYPE in takes and "match[type]" in seen:
        types = _values("match[type]", seen["match[type]"])
        _check_each("match[type]", types, _TYPE)
    if Filters.SPEC_VERSION in takes and "match[spec_version]" in seen:
        spec_versions = _values("match[spec_version]", seen["match[spec_version]"])
        _check_each("match[spec_version]", spec_versions, _SPEC_VERSION)
    if Filters.VERSION in takes and "match[version]" in seen:
        versions = _versions(seen["match[version]"])
    elif Filters.VERSION not in takes:
        versions = VersionFilter(all=True)

    added_after: int | None = None
    limit = max_page_size
    limited = False
    next_token: str | None = None
    if Filters.PAGING in takes:
        if "added_after" in seen:
            try:
                added_after = parse_timestamp_micros(seen["added_after"], field="added_after")
            except MalformedPayload as exc:
                raise InvalidParameter("added_after", exc.reason) from exc
        if "limit" in seen:
            raw = seen["limit"]
            if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
                raise InvalidParameter("limit", "must be a positive integer")
            requested = int(raw)
            limited = requested > max_page_size
            limit = min(requested, max_page_size)
        if "next" in seen:
            next_token = seen["next"]
            if not next_token:
                raise InvalidParameter("next", "empty value")

    query = ObjectQuery(
        versions=versions,
        ids=ids,
        types=types,
        spec_versions=spec_versions,
        added_after=added_after,
        stix_id=stix_id,
    )
    return PageRequest(query=query, limit=limit, limited=limited, next=next_token)


def _mac(key: bytes, scope: str, query: ObjectQuery, cursor: bytes) -> bytes:
    message = f"{scope}\x00{query!r}\x00".encode() + cursor
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_next(key: bytes, scope: str, query: ObjectQuery, cursor: int) -> str:
    """Return the ``next`` token for resuming ``query`` after ``cursor`` (a date_added)."""
    packed = struct.pack(">q", cursor)
    token = packed + _mac(key, scope, query, packed)
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode()


def decode_next(key: bytes, scope: str, query: ObjectQuery, token: str) -> int:
    """Return the cursor in ``token``.

    Raises `InvalidParameter` if the token is malformed, was edited, or was
    issued for another endpoint, collection, caller or set of filters.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter("next", "not a token this server issued") from exc
    if len(raw) != 8 + _MAC_BYTES:
        raise InvalidParameter("next", "not a token this server issued")
    packed, mac = raw[:8], raw[8:]
    if not hmac.compare_digest(mac, _mac(key, scope, query, packed)):
        raise InvalidParameter(
            "next", "not a token this server issued for this query (repeat the same filters)"
        )
    (cursor,) = struct.unpack(">q", packed)
    return int(cursor)
