"""The hub's Merkle logs as its users see them: checkpoints, proofs and entries.

`issue_checkpoints` signs a checkpoint of each log that grew since its last
one (the app calls it every ``EXCHANGE_CHECKPOINT_INTERVAL`` seconds); the
head row is locked meanwhile, so processes never sign two checkpoints of one
size. Reading is open to every member for checkpoints and proofs (they reveal
sizes and hashes only). Entries: the directory log is everyone's to
replicate; of the access log an auditor reads everything, and any other
member only the entries about the feeds it owns.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from exchange.db.logs import Checkpoint, LogEntry, LogName
from exchange.db.records import MemberKind, MemberRecord
from exchange.db.session import read_transaction, write_transaction
from exchange.errors import CheckpointNotFound, InvalidParameter
from exchange.protocol.checkpoint import ED25519_TYPE, MLDSA44_TYPE, vkey
from exchange.protocol.merkle import EMPTY_ROOT
from exchange.services.hub import Hub

__all__ = [
    "EntryFilter",
    "consistency",
    "entries",
    "inclusion",
    "inclusion_by_hash",
    "issue_checkpoints",
    "latest_checkpoint",
    "log_key_document",
    "origin",
]


def origin(hub: Hub, log: LogName) -> str:
    """The checkpoint origin of ``log``: ``<EXCHANGE_LOG_ORIGIN>/<log>``."""
    return f"{hub.settings.log_origin}/{log.value}"


def log_key_document(hub: Hub) -> dict[str, Any]:
    """The public half of the log key, as served at the well-known URL."""
    public = hub.log_key().public
    return {
        "fingerprint": public.fingerprint(),
        "ed25519": base64.b64encode(public.ed25519).decode(),
        "ml-dsa-44": base64.b64encode(public.ml_dsa_44).decode(),
        "logs": {
            log.value: {
                "origin": origin(hub, log),
                "vkeys": [
                    vkey(origin(hub, log), ED25519_TYPE, public.ed25519),
                    vkey(origin(hub, log), MLDSA44_TYPE, public.ml_dsa_44),
                ],
            }
            for log in LogName
        },
    }


def issue_checkpoints(
    hub: Hub, *, timestamp: int | None = None, logs: tuple[LogName, ...] = tuple(LogName)
) -> list[Checkpoint]:
    """Sign and store a checkpoint of each of ``logs`` that has none yet or grew since;
    return them."""
    key = hub.log_key()
    issued = []
    for log in logs:
        with write_transaction(hub.engine) as conn:
            size = hub.logs.lock_head(conn, log)
            latest = hub.logs.checkpoint(conn, log)
            if latest is not None and latest.size == size:
                continue
            root = hub.logs.root(conn, log, size) if size else EMPTY_ROOT
            when = int(time.time()) if timestamp is None else timestamp
            note = key.sign_checkpoint(origin(hub, log), size, root, timestamp=when)
            checkpoint = Checkpoint(size, root, note, when * 1_000_000)
            hub.logs.add_checkpoint(conn, log, checkpoint)
            issued.append(checkpoint)
    return issued


def latest_checkpoint(hub: Hub, log: LogName, size: int | None = None) -> Checkpoint:
    """The newest checkpoint of ``log``, or the one of ``size``. Raises `NotFound`."""
    with read_transaction(hub.engine) as conn:
        found = hub.logs.checkpoint(conn, log, size)
    if found is None:
        raise CheckpointNotFound
    return found


def inclusion_by_hash(
    hub: Hub, log: LogName, leaf_hashes: list[bytes], size: int
) -> list[tuple[bytes, int | None, list[bytes]]]:
    """For each leaf hash, its index in the tree of ``size`` and its inclusion proof
    (``None`` and no proof when the tree does not hold it). Raises `InvalidParameter`."""
    if size < 1:
        raise InvalidParameter("size", "must be at least 1")
    _size_in(hub, log, size)
    answers: list[tuple[bytes, int | None, list[bytes]]] = []
    with read_transaction(hub.engine) as conn:
        found = hub.logs.find(conn, log, leaf_hashes, size)
        for digest in leaf_hashes:
            index = found.get(digest)
            proof = [] if index is None else hub.logs.inclusion_proof(conn, log, index, size)
            answers.append((digest, index, proof))
    return answers


def _size_in(hub: Hub, log: LogName, *sizes: int) -> None:
    with read_transaction(hub.engine) as conn:
        current = hub.logs.size(conn, log)
    for size in sizes:
        if size > current:
            raise InvalidParameter("size", f"the {log.value} log has only {current} entries")


def inclusion(hub: Hub, log: LogName, index: int, size: int) -> list[bytes]:
    """The inclusion proof of entry ``index`` in the tree of ``size``. Raises `InvalidParameter`."""
    if not 0 <= index < size:
        raise InvalidParameter("index", "must be below size")
    _size_in(hub, log, size)
    with read_transaction(hub.engine) as conn:
        return hub.logs.inclusion_proof(conn, log, index, size)


def consistency(hub: Hub, log: LogName, old: int, new: int) -> list[bytes]:
    """The consistency proof from size ``old`` to ``new``. Raises `InvalidParameter`."""
    if not 0 < old <= new:
        raise InvalidParameter("old", "must be at least 1 and at most new")
    _size_in(hub, log, new)
    with read_transaction(hub.engine) as conn:
        return hub.logs.consistency_proof(conn, log, old, new)


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """What ``GET …/entries`` asks for."""

    start: int = 0
    end: int | None = None
    member: str | None = None
    feed: str | None = None
    action: str | None = None
    since: int | None = None
    until: int | None = None
    limit: int = 1000


def entries(
    hub: Hub, member: MemberRecord, log: LogName, query: EntryFilter
) -> tuple[list[LogEntry], int]:
    """The entries of ``log`` that ``member`` may read and ``query`` selects, in index
    order, and the log's size when they were read."""
    with read_transaction(hub.engine) as conn:
        size = hub.logs.size(conn, log)
        end = size if query.end is None else min(query.end, size)
        feeds: list[str] | None = None if query.feed is None else [query.feed]
        if log is LogName.ACCESS and member.kind is not MemberKind.AUDITOR:
            owned = [f.id for f in hub.feeds.list_all(conn) if f.owner_id == member.id]
            feeds = [f for f in (feeds or owned) if f in owned]
        found = hub.logs.entries(
            conn,
            log,
            query.start,
            end,
            member_id=query.member,
            feed_ids=feeds,
            action=query.action,
            since=query.since,
            until=query.until,
            limit=query.limit,
        )
    return found, size
