"""Rendering pages (envelopes, manifests, versions) straight from stored rows.

Envelopes are concatenated from the stored JSON of each object, never
re-parsed. Every 2xx page carries ``X-TAXII-Date-Added-First``/``-Last``
(§3.2) when it holds rows; an empty page has no dates to give.
"""

from __future__ import annotations

from typing import Any

import orjson

from exchange.api.pagination import PageRequest, encode_next
from exchange.api.responses import TaxiiResponse
from exchange.db.objects import Page, PageKind
from exchange.protocol.media import STIX_21
from exchange.protocol.timestamps import format_timestamp

__all__ = ["PAGE_LIMIT_HEADER", "render_page"]

PAGE_LIMIT_HEADER = "X-Exchange-Page-Limit"


def render_page(
    page: Page, request: PageRequest, *, kind: PageKind, key: bytes, scope: str
) -> TaxiiResponse:
    """Return the TAXII response for ``page`` of ``kind``."""
    head: dict[str, Any] = {"more": page.more}
    if page.more and page.rows:
        head["next"] = encode_next(key, scope, request.query, page.rows[-1].date_added)
    headers: dict[str, str] = {}
    if page.rows:
        headers["X-TAXII-Date-Added-First"] = format_timestamp(page.rows[0].date_added)
        headers["X-TAXII-Date-Added-Last"] = format_timestamp(page.rows[-1].date_added)
    if request.limited:
        headers[PAGE_LIMIT_HEADER] = str(request.limit)

    if kind is PageKind.OBJECTS:
        prefix = orjson.dumps(head)[:-1]
        if not page.rows:
            return TaxiiResponse(prefix + b"}", headers=headers)
        bodies = ",".join(row.body or "" for row in page.rows).encode()
        return TaxiiResponse(prefix + b',"objects":[' + bodies + b"]}", headers=headers)
    if kind is PageKind.MANIFEST:
        if page.rows:
            head["objects"] = [
                {
                    "id": row.stix_id,
                    "date_added": format_timestamp(row.date_added),
                    "version": row.version,
                    "media_type": STIX_21,
                }
                for row in page.rows
            ]
        return TaxiiResponse(head, headers=headers)
    if page.rows:
        head["versions"] = [row.version for row in page.rows]
    return TaxiiResponse(head, headers=headers)
