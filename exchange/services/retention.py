"""Retention: objects older than their feed's policy allows are purged.

They are never served once past retention (pages filter them out); this
task deletes them in batches, each its own short transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.ids import CollectionId
from exchange.protocol.timestamps import datetime_to_micros
from exchange.services.hub import Hub
from exchange.services.trust import policy_in_force

__all__ = ["purge_expired", "purge_feed"]

log = logging.getLogger("exchange.retention")


def purge_feed(hub: Hub, feed_id: CollectionId, before: int, batch: int = 5_000) -> int:
    """Delete every object version of one feed added before ``before``; return how many."""
    total = 0
    while True:
        with write_transaction(hub.engine) as conn:
            purged = hub.objects.purge(conn, feed_id, before, batch)
        total += purged
        if purged < batch:
            return total


def purge_expired(hub: Hub, *, now: datetime, batch: int = 5_000) -> int:
    """Delete every object version past its feed's retention; return how many."""
    with read_transaction(hub.engine) as conn:
        feeds = hub.feeds.list_all(conn)
        retention = {}
        for feed in feeds:
            signed = policy_in_force(hub, conn, feed)
            if signed is not None:
                retention[feed.id] = signed.policy.retention_days
    total = 0
    for feed_id, days in retention.items():
        total += purge_feed(hub, feed_id, datetime_to_micros(now - timedelta(days=days)), batch)
    if total:
        log.info("purged %d object versions past retention", total)
    return total
