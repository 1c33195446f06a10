"""Every access decision about feeds, in one place.

A member knows of a feed only through a grant; a feed it has no grant on is
reported exactly as an absent one. TAXII's permission table (§5.7) decides the
rest: reading needs ``can_read``, writing ``can_write``, deleting both.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy import Connection

from exchange.db.records import FeedAccess, MemberRecord
from exchange.errors import CollectionNotFound, PermissionDenied
from exchange.services.hub import Hub

__all__ = ["Action", "authorize"]


class Action(Enum):
    """What a request wants to do in a feed."""

    SEE = "see this collection"
    READ = "read objects"
    WRITE = "add objects"
    DELETE = "delete objects"


def authorize(
    hub: Hub, conn: Connection, member: MemberRecord, collection: str, action: Action
) -> FeedAccess:
    """Return the feed ``collection`` (id or alias) if ``member`` may do ``action`` there.

    Raises `CollectionNotFound` when the feed is absent or hidden from the
    member, and `PermissionDenied` when the member sees it but lacks the right.
    """
    access = hub.feeds.access(conn, member.id, collection)
    if access is None:
        raise CollectionNotFound()
    allowed = {
        Action.SEE: True,
        Action.READ: access.can_read,
        Action.WRITE: access.can_write,
        Action.DELETE: access.can_read and access.can_write,
    }[action]
    if not allowed:
        raise PermissionDenied(action.value)
    return access
