"""The hub's Merkle logs in SQL: leaves, perfect-subtree nodes, heads and checkpoints.

Each log (``access``, ``directory``) is an RFC 9162 tree stored as its leaves
plus the hash of every *perfect* subtree, written once when it becomes
complete and never changed (crypto-notes §2.3): about two rows per leaf, and
every root or proof is a fold of O(log n) node rows fetched in one query
(`exchange.protocol.merkle`).

Appends are serialized by the database: the log's ``log_head`` row is locked
(``SELECT … FOR UPDATE`` on PostgreSQL; the whole database on SQLite, whose
write transactions are ``BEGIN IMMEDIATE``), the new leaves take the indices
from the head's size on, and the head moves in the same transaction. So
indices are gap-free and the tree cannot fork, whatever number of hub
processes append at once. Call every method that writes inside a
`write_transaction`, with whatever else must commit with the leaves.

A leaf that commits alone (a read's access record) goes through a
`GroupCommit`: the appends of concurrent callers share one transaction, so
one commit (one fsync, one lock of the head) serves many requests, and each
caller still returns only once its own leaf is committed.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    TextClause,
    and_,
    insert,
    select,
    text,
    tuple_,
    union_all,
    update,
)

from exchange.db import tables
from exchange.db.session import write_transaction
from exchange.protocol.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_nodes,
    tree_root,
)

__all__ = ["Checkpoint", "GroupCommit", "LogEntry", "LogName", "NewLeaf", "SqlLogStore"]

_CHUNK = 400  # node keys per query: far below every backend's parameter limit
_MAX_BATCH = 500  # leaves per group commit


class LogName(StrEnum):
    """The hub's two logs."""

    ACCESS = "access"
    DIRECTORY = "directory"


@dataclass(frozen=True, slots=True)
class NewLeaf:
    """An event to append: its canonical JSON bytes, and the columns filters use."""

    time: int
    action: str
    member_id: str | None
    feed_id: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A stored leaf."""

    index: int
    time: int
    action: str
    member_id: str | None
    feed_id: str | None
    data: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A stored signed checkpoint."""

    size: int
    root: bytes
    note: str
    created_at: int


class SqlLogStore:
    """Merkle logs on SQLite or PostgreSQL."""

    # ------------------------------------------------------------------ appending

    def append(self, conn: Connection, log: LogName, leaves: Sequence[NewLeaf]) -> int:
        """Append ``leaves`` in order; return the index of the first. Call in a write
        transaction: it locks the log's head until that transaction ends."""
        h = tables.log_head
        size = self.lock_head(conn, log)
        if not leaves:
            return size
        # The frontier: the perfect subtrees covering [0, size), largest first.
        frontier = perfect_nodes(0, size) if size else []
        stack = list(zip(frontier, self._frontier(conn, log, frontier), strict=True))
        leaf_rows, node_rows = [], []
        for offset, leaf in enumerate(leaves):
            index = size + offset
            digest = leaf_hash(leaf.data)
            leaf_rows.append(
                {
                    "log": log,
                    "idx": index,
                    "time": leaf.time,
                    "action": leaf.action,
                    "member_id": leaf.member_id,
                    "feed_id": leaf.feed_id,
                    "data": leaf.data,
                    "hash": digest,
                }
            )
            level, idx = 0, index
            node_rows.append({"log": log, "level": 0, "idx": index, "hash": digest})
            # A right child completes its parent: hash with the left sibling, climb.
            while idx & 1:
                (sibling_level, sibling_idx), left = stack.pop()
                assert (sibling_level, sibling_idx) == (level, idx - 1)
                digest = node_hash(left, digest)
                level, idx = level + 1, idx >> 1
                node_rows.append({"log": log, "level": level, "idx": idx, "hash": digest})
            stack.append(((level, idx), digest))
        conn.execute(insert(tables.log_leaf), leaf_rows)
        conn.execute(insert(tables.log_node), node_rows)
        conn.execute(update(h).where(h.c.log == log).values(size=size + len(leaves)))
        return size

    # ------------------------------------------------------------------ reading

    def lock_head(self, conn: Connection, log: LogName) -> int:
        """Lock ``log``'s head until the transaction ends (appends and checkpoints of other
        transactions wait); return its size. Call in a write transaction."""
        h = tables.log_head
        return int(
            conn.execute(select(h.c.size).where(h.c.log == log).with_for_update()).scalar_one()
        )

    def size(self, conn: Connection, log: LogName) -> int:
        """Return the number of leaves of ``log``."""
        h = tables.log_head
        return int(conn.execute(select(h.c.size).where(h.c.log == log)).scalar_one())

    def nodes(self, conn: Connection, log: LogName, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        """Return the hashes of the perfect subtrees ``keys`` ((level, idx)), in that order.

        Raises LookupError if one is not stored (the tree is not that large)."""
        found: dict[tuple[int, int], bytes] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            query = self._nodes_query(conn, log, chunk)
            for level, idx, digest in conn.execute(query):
                found[(int(level), int(idx))] = bytes(digest)
        missing = [k for k in unique if k not in found]
        if missing:
            raise LookupError(f"the {log} log holds no node {missing[0]}")
        return [found[k] for k in keys]

    def find(
        self, conn: Connection, log: LogName, hashes: Sequence[bytes], size: int
    ) -> dict[bytes, int]:
        """Return the first index below ``size`` of each leaf hash of ``hashes`` in ``log``
        (hashes not found are left out)."""
        leaf = tables.log_leaf
        found: dict[bytes, int] = {}
        unique = sorted(set(hashes))
        for start in range(0, len(unique), _CHUNK):
            query = select(leaf.c.hash, leaf.c.idx).where(
                leaf.c.log == log,
                leaf.c.hash.in_(unique[start : start + _CHUNK]),
                leaf.c.idx < size,
            )
            for digest, idx in conn.execute(query):
                key = bytes(digest)
                found[key] = min(int(idx), found.get(key, int(idx)))
        return found

    def _frontier(
        self, conn: Connection, log: LogName, keys: Sequence[tuple[int, int]]
    ) -> list[bytes]:
        """`nodes` for an append's frontier (one node per level, at most 64): one
        statement of primary-key lookups, its text made once per length. Every append
        reads its frontier, and building the general query costs more than running it."""
        if not keys:
            return []
        params: dict[str, Any] = {"log": str(log)}
        for i, (level, idx) in enumerate(keys):
            params[f"l{i}"], params[f"i{i}"] = level, idx
        found = {
            (int(lv), int(ix)): bytes(h) for lv, ix, h in conn.execute(_lookups(len(keys)), params)
        }
        missing = [k for k in keys if k not in found]
        if missing:
            raise LookupError(f"the {log} log holds no node {missing[0]}")
        return [found[k] for k in keys]

    @staticmethod
    def _nodes_query(conn: Connection, log: LogName, keys: Sequence[tuple[int, int]]) -> Any:
        """One statement reading the nodes ``keys``, each row an index search on the primary
        key (log, level, idx). PostgreSQL plans a row-value IN so; SQLite scans every node
        of the log for it (744 ms per proof at 10^6 leaves), so there it is one SELECT per
        level, joined by UNION ALL (6 ms)."""
        n = tables.log_node
        columns = (n.c.level, n.c.idx, n.c.hash)
        if conn.dialect.name == "postgresql":
            return select(*columns).where(n.c.log == log, tuple_(n.c.level, n.c.idx).in_(keys))
        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        parts = [
            select(*columns).where(n.c.log == log, n.c.level == lv, n.c.idx.in_(ids))
            for lv, ids in by_level.items()
        ]
        return parts[0] if len(parts) == 1 else union_all(*parts)

    def root(self, conn: Connection, log: LogName, size: int) -> bytes:
        """Return the root of the first ``size`` leaves of ``log``."""
        return tree_root(lambda keys: self.nodes(conn, log, keys), size)

    def inclusion_proof(self, conn: Connection, log: LogName, index: int, size: int) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size``."""
        return inclusion_proof(lambda keys: self.nodes(conn, log, keys), index, size)

    def consistency_proof(self, conn: Connection, log: LogName, old: int, new: int) -> list[bytes]:
        """Return the RFC 9162 consistency proof from size ``old`` to size ``new``."""
        return consistency_proof(lambda keys: self.nodes(conn, log, keys), old, new)

    def entries(
        self,
        conn: Connection,
        log: LogName,
        start: int,
        end: int,
        *,
        member_id: str | None = None,
        feed_ids: Sequence[str] | None = None,
        action: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """Return the leaves with ``start <= index < end`` matching every filter given,
        in index order (``feed_ids``: about any of these feeds)."""
        leaf = tables.log_leaf
        conditions = [leaf.c.log == log, leaf.c.idx >= start, leaf.c.idx < end]
        if member_id is not None:
            conditions.append(leaf.c.member_id == member_id)
        if feed_ids is not None:
            conditions.append(leaf.c.feed_id.in_(list(feed_ids)))
        if action is not None:
            conditions.append(leaf.c.action == action)
        if since is not None:
            conditions.append(leaf.c.time >= since)
        if until is not None:
            conditions.append(leaf.c.time < until)
        query = select(leaf).where(and_(*conditions)).order_by(leaf.c.idx)
        if limit is not None:
            query = query.limit(limit)
        return [
            LogEntry(
                index=int(row.idx),
                time=int(row.time),
                action=row.action,
                member_id=row.member_id,
                feed_id=row.feed_id,
                data=bytes(row.data),
                hash=bytes(row.hash),
            )
            for row in conn.execute(query)
        ]

    # ------------------------------------------------------------------ checkpoints

    def add_checkpoint(self, conn: Connection, log: LogName, checkpoint: Checkpoint) -> None:
        """Store a signed checkpoint (call in a write transaction)."""
        conn.execute(
            insert(tables.log_checkpoint).values(
                log=log,
                size=checkpoint.size,
                root=checkpoint.root,
                note=checkpoint.note,
                created_at=checkpoint.created_at,
            )
        )

    def checkpoint(
        self, conn: Connection, log: LogName, size: int | None = None
    ) -> Checkpoint | None:
        """Return the checkpoint of ``log`` at ``size``, or the latest one; None if none."""
        c = tables.log_checkpoint
        query = select(c).where(c.c.log == log)
        query = (
            query.where(c.c.size == size)
            if size is not None
            else query.order_by(c.c.size.desc()).limit(1)
        )
        row = conn.execute(query).first()
        if row is None:
            return None
        return Checkpoint(int(row.size), bytes(row.root), row.note, int(row.created_at))


@functools.cache
def _lookups(count: int) -> TextClause:
    """``count`` primary-key lookups of log nodes, joined by UNION ALL."""
    one = "SELECT level, idx, hash FROM log_node WHERE log = :log AND level = :l{0} AND idx = :i{0}"
    return text(" UNION ALL ".join(one.format(i) for i in range(count)))


@dataclass(eq=False, slots=True)
class _Waiting:
    leaf: NewLeaf
    wake: threading.Event = field(default_factory=threading.Event)
    index: int | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass(eq=False)
class GroupCommit:
    """Appends leaves that commit on their own, batching the callers of one process.

    A caller that finds no commit under way leads: it takes every leaf waiting
    (up to 500, its own first) and appends them in one write transaction,
    while callers arriving meanwhile queue. When the commit ends, each caller
    of the batch is woken with its index (or what the commit raised) and the
    first caller still queued is woken to lead the next batch. One process's
    batches are in arrival order; processes still serialize on the log's head.
    """

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _queue: list[_Waiting] = field(default_factory=list)
    _busy: bool = False

    def append(
        self, engine: Engine, store: SqlLogStore, log: LogName, make: Callable[[], NewLeaf]
    ) -> int:
        """Commit the leaf ``make`` builds (called in arrival order); return its index."""
        with self._lock:
            mine = _Waiting(make())
            self._queue.append(mine)
            leads, self._busy = not self._busy, True
        if not leads:
            mine.wake.wait()
        if not mine.done:  # leading: the queue starts with this caller's leaf
            self._commit(engine, store, log)
        if mine.error is not None:
            raise mine.error
        assert mine.index is not None
        return mine.index

    def _commit(self, engine: Engine, store: SqlLogStore, log: LogName) -> None:
        with self._lock:
            batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
        first, error = 0, None
        try:
            with write_transaction(engine) as conn:
                first = store.append(conn, log, [w.leaf for w in batch])
        except BaseException as exc:  # every caller of the batch gets it
            error = exc
        with self._lock:
            for offset, waiting in enumerate(batch):
                waiting.index, waiting.error, waiting.done = first + offset, error, True
            if self._queue:
                self._queue[0].wake.set()  # the next leader
            else:
                self._busy = False
        for waiting in batch:
            waiting.wake.set()
