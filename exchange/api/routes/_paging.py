"""The shared handler of every paged endpoint: parse, resume, read, render."""

from __future__ import annotations

from starlette.requests import Request

from exchange.api.audit import log_access
from exchange.api.pages import render_page
from exchange.api.pagination import Filters, decode_next, parse_page_request
from exchange.api.responses import TaxiiResponse
from exchange.db.objects import PageKind
from exchange.db.records import MemberRecord
from exchange.protocol.ids import StixId
from exchange.services.hub import Hub
from exchange.services.queries import read_page

__all__ = ["serve_page"]


def serve_page(
    hub: Hub,
    member: MemberRecord | None,
    request: Request,
    collection: str,
    *,
    kind: PageKind,
    takes: Filters,
    stix_id: StixId | None = None,
) -> TaxiiResponse:
    """Answer a paged request for ``kind`` rows of ``collection``."""
    page_request = parse_page_request(
        request.query_params.multi_items(),
        takes,
        max_page_size=hub.settings.max_page_size,
        stix_id=stix_id,
    )
    caller = "anonymous" if member is None else member.id
    scope = f"{kind.value}\x00{collection}\x00{caller}"
    after = (
        None
        if page_request.next is None
        else decode_next(hub.cursor_key, scope, page_request.query, page_request.next)
    )
    access, page = read_page(
        hub,
        member,
        collection,
        page_request.query,
        kind=kind,
        after=after,
        limit=page_request.limit,
    )
    read = [(row.stix_id, row.version) for row in page.rows]
    log_access(hub, request, member, feed=access.feed.id, objects=read)
    return render_page(page, page_request, kind=kind, key=hub.cursor_key, scope=scope)
