"""Reading a hub: collections, pages of objects, manifests and versions, status, deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exchange.db.objects import Page, PageKind
from exchange.db.records import FeedAccess, MemberRecord, ObjectQuery
from exchange.db.session import read_transaction, write_transaction
from exchange.db.statuses import StatusRecord
from exchange.errors import ObjectNotFound, StatusNotFound
from exchange.protocol.timestamps import datetime_to_micros
from exchange.services.access import Action, authorize, visible_feeds
from exchange.services.access_log import Access, append, new_request_id
from exchange.services.hub import Hub
from exchange.services.retention import purge_feed

__all__ = [
    "delete_object",
    "get_collection",
    "get_status",
    "list_collections",
    "read_page",
]


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _retention_start(access: FeedAccess, now: datetime) -> int | None:
    if access.retention_days is None:
        return None
    return datetime_to_micros(now - timedelta(days=access.retention_days))


def list_collections(
    hub: Hub, member: MemberRecord, *, now: datetime | None = None
) -> list[FeedAccess]:
    """Return the feeds ``member`` holds a grant on, with effective rights, oldest first."""
    with read_transaction(hub.engine) as conn:
        return visible_feeds(hub, conn, member, now=_now(now))


def get_collection(
    hub: Hub,
    member: MemberRecord | None,
    collection: str,
    action: Action = Action.SEE,
    *,
    now: datetime | None = None,
) -> FeedAccess:
    """Return one feed as ``member`` sees it, if the member may do ``action`` there.

    Raises `CollectionNotFound` if it is hidden or absent, `PermissionDenied`
    if the member sees it but may not do ``action``.
    """
    with read_transaction(hub.engine) as conn:
        return authorize(hub, conn, member, collection, action, now=_now(now))


def read_page(
    hub: Hub,
    member: MemberRecord | None,
    collection: str,
    query: ObjectQuery,
    *,
    kind: PageKind,
    after: int | None,
    limit: int,
    now: datetime | None = None,
) -> tuple[FeedAccess, Page]:
    """Return one page of a feed's objects, manifest or versions, as ``member`` may read it.

    Raises `CollectionNotFound`, `PermissionDenied`, or `ObjectNotFound` when
    ``query.stix_id`` names an object of which no version matches the filters
    on a first page (a later page may be empty after deletions, §3.5). So after
    a DELETE, a GET of that object or version is a 404 (§5.7).
    """
    moment = _now(now)
    with read_transaction(hub.engine) as conn:
        access = authorize(hub, conn, member, collection, Action.READ, now=moment)
        not_before = _retention_start(access, moment)
        expired = not_before is not None and hub.objects.has_before(
            conn, access.feed.id, not_before
        )
        if not expired:
            page = hub.objects.page(
                conn,
                access.feed.id,
                query,
                kind=kind,
                after=after,
                limit=limit,
                not_before=not_before,
            )
    if expired:
        # Versions went past retention since the last purge: purge this feed now, so
        # that first/last mean the first and last *kept* versions, then read again.
        assert not_before is not None
        purge_feed(hub, access.feed.id, not_before)
        return read_page(
            hub, member, collection, query, kind=kind, after=after, limit=limit, now=moment
        )
    if query.stix_id is not None and after is None and not page.rows:
        raise ObjectNotFound()
    return access, page


def delete_object(
    hub: Hub,
    member: MemberRecord,
    collection: str,
    query: ObjectQuery,
    *,
    now: datetime | None = None,
    request_id: str | None = None,
) -> int:
    """Delete the versions of ``query.stix_id`` that match ``query``; return how many.

    The access log's leaf commits with the deletion. Raises `CollectionNotFound`,
    `PermissionDenied`, or `ObjectNotFound` if none matched.
    """
    with write_transaction(hub.engine) as conn:
        access = authorize(hub, conn, member, collection, Action.DELETE, now=_now(now))
        deleted = hub.objects.delete(conn, access.feed.id, query)
        if deleted:
            entry = Access(
                request_id or new_request_id(),
                "object.delete",
                member,
                access.feed.id,
                detail={"object": query.stix_id, "versions_deleted": deleted},
            )
            append(hub, conn, entry)
    if deleted == 0:
        raise ObjectNotFound()
    return deleted


def get_status(hub: Hub, member: MemberRecord, status_id: str) -> StatusRecord:
    """Return a status resource the member created. Raises `StatusNotFound` otherwise."""
    with read_transaction(hub.engine) as conn:
        record = hub.statuses.get(conn, status_id, member.id)
    if record is None:
        raise StatusNotFound()
    return record
