"""Reading a hub: collections, pages of objects, manifests and versions, status, deletes."""

from __future__ import annotations

from exchange.db.objects import Page, PageKind
from exchange.db.records import FeedAccess, MemberRecord, ObjectQuery
from exchange.db.session import read_transaction, write_transaction
from exchange.db.statuses import StatusRecord
from exchange.errors import ObjectNotFound, StatusNotFound
from exchange.services.access import Action, authorize
from exchange.services.hub import Hub

__all__ = [
    "delete_object",
    "get_collection",
    "get_status",
    "list_collections",
    "read_page",
]


def list_collections(hub: Hub, member: MemberRecord) -> list[FeedAccess]:
    """Return the feeds ``member`` holds a grant on, oldest first."""
    with read_transaction(hub.engine) as conn:
        return hub.feeds.visible(conn, member.id)


def get_collection(
    hub: Hub, member: MemberRecord, collection: str, action: Action = Action.SEE
) -> FeedAccess:
    """Return one feed as ``member`` sees it, if the member may do ``action`` there.

    Raises `CollectionNotFound` if it is hidden or absent, `PermissionDenied`
    if the member sees it but may not do ``action``.
    """
    with read_transaction(hub.engine) as conn:
        return authorize(hub, conn, member, collection, action)


def read_page(
    hub: Hub,
    member: MemberRecord,
    collection: str,
    query: ObjectQuery,
    *,
    kind: PageKind,
    after: int | None,
    limit: int,
) -> tuple[FeedAccess, Page]:
    """Return one page of a feed's objects, manifest or versions, as ``member`` may read it.

    Raises `CollectionNotFound`, `PermissionDenied`, or `ObjectNotFound` when
    ``query.stix_id`` names an object of which no version matches the filters
    on a first page (a later page may be empty after deletions, §3.5). So after
    a DELETE, a GET of that object or version is a 404 (§5.7).
    """
    with read_transaction(hub.engine) as conn:
        access = authorize(hub, conn, member, collection, Action.READ)
        page = hub.objects.page(conn, access.feed.id, query, kind=kind, after=after, limit=limit)
    if query.stix_id is not None and after is None and not page.rows:
        raise ObjectNotFound()
    return access, page


def delete_object(hub: Hub, member: MemberRecord, collection: str, query: ObjectQuery) -> int:
    """Delete the versions of ``query.stix_id`` that match ``query``; return how many.

    Raises `CollectionNotFound`, `PermissionDenied`, or `ObjectNotFound` if none matched.
    """
    with write_transaction(hub.engine) as conn:
        access = authorize(hub, conn, member, collection, Action.DELETE)
        deleted = hub.objects.delete(conn, access.feed.id, query)
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
