"""Feeds (TAXII collections) and members' grants on them."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from exchange.db import tables
from exchange.db.records import FeedAccess, FeedRecord
from exchange.protocol.ids import CollectionId, MemberId

__all__ = ["FeedStore", "SqlFeedStore"]


class FeedStore(Protocol):
    """Where feeds and grants live."""

    def add(self, conn: Connection, feed: FeedRecord) -> None:
        """Store a new feed."""

    def find(self, conn: Connection, ref: str) -> FeedRecord | None:
        """Return the feed whose id or alias is ``ref``, or None."""

    def list_all(self, conn: Connection) -> list[FeedRecord]:
        """Return every feed, oldest first."""

    def set_grant(
        self, conn: Connection, member_id: MemberId, feed_id: CollectionId, read: bool, write: bool
    ) -> None:
        """Give ``member_id`` exactly these rights on ``feed_id``."""

    def remove_grant(self, conn: Connection, member_id: MemberId, feed_id: CollectionId) -> bool:
        """Remove the member's grant; return False if it had none."""

    def grants(self, conn: Connection, feed_id: CollectionId) -> list[tuple[MemberId, bool, bool]]:
        """Return (member id, can_read, can_write) for every grant on the feed."""

    def access(self, conn: Connection, member_id: MemberId, ref: str) -> FeedAccess | None:
        """Return the feed ``ref`` (id or alias) with the member's rights, or None if hidden."""

    def visible(self, conn: Connection, member_id: MemberId) -> list[FeedAccess]:
        """Return the feeds the member may know of, in a stable order."""

    def set_public(self, conn: Connection, feed_id: CollectionId, public: bool) -> None:
        """Record the operator's consent (or not) to anonymous reading of a public feed."""


def _record(row: Any) -> FeedRecord:
    return FeedRecord(
        id=CollectionId(row.id),
        alias=row.alias,
        title=row.title,
        description=row.description,
        owner_id=None if row.owner_id is None else MemberId(row.owner_id),
        created_at=row.created_at,
        public=bool(row.public),
    )


class SqlFeedStore:
    """`FeedStore` on SQLite or PostgreSQL."""

    def add(self, conn: Connection, feed: FeedRecord) -> None:
        """Store a new feed."""
        conn.execute(
            insert(tables.feed).values(
                id=feed.id,
                alias=feed.alias,
                title=feed.title,
                description=feed.description,
                owner_id=feed.owner_id,
                created_at=feed.created_at,
                public=feed.public,
                last_added=0,
            )
        )

    def find(self, conn: Connection, ref: str) -> FeedRecord | None:
        """Return the feed whose id or alias is ``ref``, or None."""
        f = tables.feed
        row = conn.execute(select(f).where(or_(f.c.id == ref, f.c.alias == ref))).first()
        return None if row is None else _record(row)

    def list_all(self, conn: Connection) -> list[FeedRecord]:
        """Return every feed, oldest first."""
        f = tables.feed
        return [_record(r) for r in conn.execute(select(f).order_by(f.c.created_at, f.c.id))]

    def set_grant(
        self, conn: Connection, member_id: MemberId, feed_id: CollectionId, read: bool, write: bool
    ) -> None:
        """Give ``member_id`` exactly these rights on ``feed_id``."""
        g = tables.grant
        where = and_(g.c.member_id == member_id, g.c.feed_id == feed_id)
        updated = conn.execute(update(g).where(where).values(can_read=read, can_write=write))
        if updated.rowcount == 0:
            conn.execute(
                insert(g).values(
                    member_id=member_id, feed_id=feed_id, can_read=read, can_write=write
                )
            )

    def remove_grant(self, conn: Connection, member_id: MemberId, feed_id: CollectionId) -> bool:
        """Remove the member's grant; return False if it had none."""
        g = tables.grant
        result = conn.execute(delete(g).where(g.c.member_id == member_id, g.c.feed_id == feed_id))
        return bool(result.rowcount)

    def grants(self, conn: Connection, feed_id: CollectionId) -> list[tuple[MemberId, bool, bool]]:
        """Return (member id, can_read, can_write) for every grant on the feed."""
        g = tables.grant
        rows = conn.execute(
            select(g.c.member_id, g.c.can_read, g.c.can_write)
            .where(g.c.feed_id == feed_id)
            .order_by(g.c.member_id)
        )
        return [(MemberId(r.member_id), bool(r.can_read), bool(r.can_write)) for r in rows]

    def _access_query(self, member_id: MemberId) -> Any:
        f, g = tables.feed, tables.grant
        return select(f, g.c.can_read, g.c.can_write).join(
            g, and_(g.c.feed_id == f.c.id, g.c.member_id == member_id)
        )

    def access(self, conn: Connection, member_id: MemberId, ref: str) -> FeedAccess | None:
        """Return the feed ``ref`` (id or alias) with the member's rights, or None if hidden."""
        f = tables.feed
        row = conn.execute(
            self._access_query(member_id).where(or_(f.c.id == ref, f.c.alias == ref))
        ).first()
        if row is None or not (row.can_read or row.can_write):
            return None
        return FeedAccess(_record(row), bool(row.can_read), bool(row.can_write))

    def visible(self, conn: Connection, member_id: MemberId) -> list[FeedAccess]:
        """Return the feeds the member may know of, in a stable order."""
        f = tables.feed
        rows = conn.execute(self._access_query(member_id).order_by(f.c.created_at, f.c.id))
        return [
            FeedAccess(_record(r), bool(r.can_read), bool(r.can_write))
            for r in rows
            if r.can_read or r.can_write
        ]

    def set_public(self, conn: Connection, feed_id: CollectionId, public: bool) -> None:
        """Record the operator's consent (or not) to anonymous reading of a public feed."""
        f = tables.feed
        conn.execute(update(f).where(f.c.id == feed_id).values(public=public))
