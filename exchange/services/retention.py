"""Retention: objects older than their feed's policy allows are purged.

They are never served once past retention (pages filter them out); this
task deletes them in batches, each its own short transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.timestamps import datetime_to_micros
from exchange.services.hub import Hub
from exchange.services.trust import policy_in_force

__all__ = ["purge_expired"]

log = logging.getLogger("exchange.retention")


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
        cutoff = datetime_to_micros(now - timedelta(days=days))
        while True:
            with write_transaction(hub.engine) as conn:
                purged = hub.objects.purge(conn, feed_id, cutoff, batch)
            total += purged
            if purged < batch:
                break
    if total:
        log.info("purged %d object versions past retention", total)
    return total
