"""The directory log, as the hub writes it: admissions, disablements, key bundles and
policy versions, each appended in the transaction that makes it true.

Statements are `exchange.protocol.directory` leaves (clients recompute them).
A hub whose directory log is empty but which already holds members, key
bundles or policies (one made before the log existed) backfills it in order
of creation, once (`backfill`).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from exchange.db import tables
from exchange.db.logs import LogName, NewLeaf
from exchange.db.session import write_transaction
from exchange.protocol.directory import (
    key_bundle_leaf,
    member_admitted_leaf,
    member_disabled_leaf,
    policy_version_leaf,
)
from exchange.protocol.timestamps import micros_now
from exchange.services.hub import Hub

__all__ = ["append_statement", "backfill"]


def append_statement(
    hub: Hub,
    conn: Connection,
    data: bytes,
    action: str,
    *,
    member_id: str | None = None,
    feed_id: str | None = None,
    now: int | None = None,
) -> int:
    """Append one directory statement in ``conn``'s write transaction; return its index."""
    leaf = NewLeaf(
        time=micros_now() if now is None else now,
        action=action,
        member_id=member_id,
        feed_id=feed_id,
        data=data,
    )
    return hub.logs.append(conn, LogName.DIRECTORY, [leaf])


def backfill(hub: Hub) -> int:
    """Log every member, key bundle and policy version if the directory log is empty;
    return how many statements were appended."""
    m, k, p = tables.member, tables.key_bundle, tables.policy_version
    with write_transaction(hub.engine) as conn:
        # Locked first: processes starting together backfill once.
        if hub.logs.lock_head(conn, LogName.DIRECTORY):
            return 0
        timeline: list[tuple[int, int, bytes, str, str | None, str | None]] = []
        for row in conn.execute(select(m.c.id, m.c.name, m.c.kind, m.c.created_at)):
            data = member_admitted_leaf(row.id, row.name, row.kind)
            timeline.append((row.created_at, 0, data, "member.admitted", row.id, None))
        for row in conn.execute(select(k.c.member_id, k.c.sequence, k.c.digest, k.c.created_at)):
            data = key_bundle_leaf(row.member_id, row.sequence, row.digest)
            timeline.append((row.created_at, 1, data, "key-bundle", row.member_id, None))
        for row in conn.execute(select(p.c.feed_id, p.c.version, p.c.digest, p.c.created_at)):
            data = policy_version_leaf(row.feed_id, row.version, row.digest)
            timeline.append((row.created_at, 2, data, "policy-version", None, row.feed_id))
        timeline.sort(key=lambda t: (t[0], t[1]))
        leaves = [
            NewLeaf(time=t, action=action, member_id=member, feed_id=feed, data=data)
            for t, _, data, action, member, feed in timeline
        ]
        if leaves:
            hub.logs.append(conn, LogName.DIRECTORY, leaves)
        # A disabled member's disablement is not dated: it follows everything else.
        for row in conn.execute(select(m.c.id).where(m.c.disabled.is_(True))):
            data = member_disabled_leaf(row.id)
            append_statement(hub, conn, data, "member.disabled", member_id=row.id)
        return len(leaves)
