"""STIX objects in feeds: ingest with duplicate detection, keyset-paginated reads, deletes.

Every version of an object is one row. ``date_added`` is unique within a feed
and strictly increasing in commit order: an add locks the feed row
(``SELECT … FOR UPDATE``; on SQLite the write transaction itself), reads the
feed's last ``date_added`` and hands out ``max(now, last + 1)``, one microsecond
apart. A reader that has seen ``date_added = t`` therefore never later finds a
new row at or before ``t`` — paging with ``added_after`` or ``next`` over a
growing feed neither skips nor repeats.

``is_first``/``is_last`` flag each object's earliest and latest version, so the
default ``match[version]=last`` is an index range scan, not a group-by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    Connection,
    Row,
    Select,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from exchange.db import tables
from exchange.db.records import NewObject, ObjectQuery, StoredRow
from exchange.protocol.ids import CollectionId, StixId
from exchange.protocol.timestamps import format_timestamp, version_key

__all__ = ["AddOutcome", "AddResult", "Admit", "ObjectStore", "Page", "PageKind", "SqlObjectStore"]

_CHUNK = 500


class AddOutcome(Enum):
    """What became of one object of an add."""

    ADDED = "added"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class AddResult:
    """The outcome for one object, with the version it was stored under (or would have
    been), and for ``REFUSED`` the reason ``admit`` gave."""

    outcome: AddOutcome
    version: str
    reason: str | None = None


Admit = Callable[[int], str | None]
"""Asked, by position, about each object about to be added (never a duplicate):
None admits it, a string refuses it with that reason."""


class PageKind(Enum):
    """Which columns a page needs."""

    OBJECTS = "objects"
    MANIFEST = "manifest"
    VERSIONS = "versions"


@dataclass(frozen=True, slots=True)
class Page:
    """Up to ``limit`` rows in ``date_added`` order; ``more`` if the query had further rows."""

    rows: list[StoredRow]
    more: bool


class ObjectStore(Protocol):
    """Where feeds' objects live."""

    def add(
        self,
        conn: Connection,
        feed_id: CollectionId,
        objects: Sequence[NewObject],
        now: int,
        admit: Admit | None = None,
    ) -> list[AddResult]:
        """Store ``objects`` in order; return one result per object. Call in a write transaction."""

    def page(
        self,
        conn: Connection,
        feed_id: CollectionId,
        query: ObjectQuery,
        *,
        kind: PageKind,
        after: int | None,
        limit: int,
        not_before: int | None = None,
    ) -> Page:
        """Return the rows matching ``query`` added after ``after`` (and ``added_after``),
        leaving out rows added before ``not_before`` (past retention)."""

    def delete(self, conn: Connection, feed_id: CollectionId, query: ObjectQuery) -> int:
        """Delete the versions of ``query.stix_id`` matching ``query``; return how many."""

    def count(self, conn: Connection, feed_id: CollectionId) -> int:
        """Return how many object versions the feed holds."""

    def latest(self, conn: Connection, feed_id: CollectionId, stix_id: StixId) -> str | None:
        """Return the stored JSON of the latest version of ``stix_id`` in the feed, or None."""

    def purge(self, conn: Connection, feed_id: CollectionId, before: int, limit: int) -> int:
        """Delete up to ``limit`` of the oldest rows added before ``before``; return how many."""

    def has_before(self, conn: Connection, feed_id: CollectionId, before: int) -> bool:
        """Return True if the feed holds a row added before ``before`` (an index probe)."""


@dataclass(slots=True)
class _Known:
    """What the add knows of one object id: its versions and the rows flagged first/last."""

    keys: dict[str, int | None]  # version_key -> seq (None: added in this batch)
    first: str | None = None
    last: str | None = None


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


_KNOWN = ("stix_id", "version_key", "seq", "is_first", "is_last")
_STORED = ("stix_id", "version_key", "body", "version")
_LATERAL = {
    _KNOWN: text(
        "SELECT found.stix_id, found.version_key, found.seq, found.is_first, found.is_last"
        " FROM unnest(CAST(:ids AS varchar[])) AS wanted(stix_id)"
        " CROSS JOIN LATERAL (SELECT stix_id, version_key, seq, is_first, is_last"
        " FROM stix_object WHERE feed_id = :feed AND stix_id = wanted.stix_id OFFSET 0) AS found"
    ),
    _STORED: text(
        "SELECT found.stix_id, found.version_key, found.body, found.version"
        " FROM unnest(CAST(:ids AS varchar[])) AS wanted(stix_id)"
        " CROSS JOIN LATERAL (SELECT stix_id, version_key, body, version"
        " FROM stix_object WHERE feed_id = :feed AND stix_id = wanted.stix_id OFFSET 0) AS found"
    ),
}


def _of_ids(
    conn: Connection, feed_id: CollectionId, ids: Sequence[str], columns: tuple[str, ...]
) -> Iterator[Row[Any]]:
    """The rows of a feed's objects ``ids`` (every version), with ``columns``.

    On PostgreSQL, one index lookup per id, whatever the planner knows: as
    ``stix_id IN (…)`` (or a join it may flatten, hence ``OFFSET 0``) it would,
    on a table never analyzed, scan every row of the feed (1.5 s per 500 ids
    at 150,000 objects), so every add would slow with the feed's size until
    autovacuum came by.
    """
    o = tables.stix_object
    for chunk in _chunks(ids):
        if conn.dialect.name == "postgresql":
            yield from conn.execute(_LATERAL[columns], {"feed": feed_id, "ids": list(chunk)})
        else:
            query = select(*(o.c[name] for name in columns)).where(
                o.c.feed_id == feed_id, o.c.stix_id.in_(chunk)
            )
            yield from conn.execute(query)


class SqlObjectStore:
    """`ObjectStore` on SQLite or PostgreSQL."""

    def add(
        self,
        conn: Connection,
        feed_id: CollectionId,
        objects: Sequence[NewObject],
        now: int,
        admit: Admit | None = None,
    ) -> list[AddResult]:
        """Store ``objects`` in order; return one result per object. Call in a write transaction.

        An object whose (id, version) is already stored is a ``DUPLICATE`` if it
        is the same JSON value, else a ``CONFLICT``; neither is stored again. An
        object that would be added is first put to ``admit``, which may refuse it:
        checks that depend on the present (keys, policy) never fail an exact
        duplicate, which TAXII requires to succeed.
        """
        f, o = tables.feed, tables.stix_object
        last_added = conn.execute(
            select(f.c.last_added).where(f.c.id == feed_id).with_for_update()
        ).scalar_one()
        known = self._known(conn, feed_id, sorted({obj.stix_id for obj in objects}))
        rows: list[dict[str, Any]] = []
        to_compare: list[tuple[int, StixId, str, NewObject]] = []
        results: list[AddResult | None] = []
        clear_first: set[int] = set()
        clear_last: set[int] = set()
        next_added = max(now, last_added + 1)

        for index, obj in enumerate(objects):
            entry = known.setdefault(obj.stix_id, _Known(keys={}))
            if obj.version_key is None and entry.keys:
                # Unversioned: whatever is stored under this id is the one version.
                key = next(iter(entry.keys))
            else:
                key = obj.version_key or version_key(format_timestamp(next_added))
            if key in entry.keys:
                results.append(None)
                to_compare.append((index, obj.stix_id, key, obj))
                continue
            version = obj.version or format_timestamp(next_added)
            reason = None if admit is None else admit(index)
            if reason is not None:
                results.append(AddResult(AddOutcome.REFUSED, version, reason))
                continue
            is_first = entry.first is None or key < entry.first
            is_last = entry.last is None or key > entry.last
            if is_first and entry.first is not None:
                self._unflag(entry, entry.first, rows, clear_first, "is_first")
            if is_last and entry.last is not None:
                self._unflag(entry, entry.last, rows, clear_last, "is_last")
            entry.keys[key] = None
            if is_first:
                entry.first = key
            if is_last:
                entry.last = key
            rows.append(
                {
                    "feed_id": feed_id,
                    "stix_id": obj.stix_id,
                    "type": obj.type,
                    "spec_version": obj.spec_version,
                    "version": version,
                    "version_key": key,
                    "date_added": next_added,
                    "is_first": is_first,
                    "is_last": is_last,
                    "body": obj.body,
                }
            )
            results.append(AddResult(AddOutcome.ADDED, version))
            next_added += 1

        stored = self._stored(conn, feed_id, [(sid, key) for _, sid, key, _ in to_compare])
        for row in rows:
            stored[(row["stix_id"], row["version_key"])] = (row["body"], row["version"])
        for index, stix_id, key, obj in to_compare:
            body, version = stored[(stix_id, key)]
            same = orjson.loads(body) == orjson.loads(obj.body)
            results[index] = AddResult(
                AddOutcome.DUPLICATE if same else AddOutcome.CONFLICT, version
            )

        if clear_first:
            conn.execute(update(o).where(o.c.seq.in_(clear_first)).values(is_first=False))
        if clear_last:
            conn.execute(update(o).where(o.c.seq.in_(clear_last)).values(is_last=False))
        if rows:
            conn.execute(insert(o), rows)
            conn.execute(update(f).where(f.c.id == feed_id).values(last_added=next_added - 1))
        return [r for r in results if r is not None]

    @staticmethod
    def _unflag(
        entry: _Known, key: str, rows: list[dict[str, Any]], clear: set[int], flag: str
    ) -> None:
        seq = entry.keys[key]
        if seq is not None:
            clear.add(seq)
            return
        for row in reversed(rows):
            if row["version_key"] == key and row[flag]:
                row[flag] = False
                return

    def _known(
        self, conn: Connection, feed_id: CollectionId, ids: Sequence[str]
    ) -> dict[str, _Known]:
        known: dict[str, _Known] = {}
        for row in _of_ids(conn, feed_id, ids, _KNOWN):
            entry = known.setdefault(row.stix_id, _Known(keys={}))
            entry.keys[row.version_key] = row.seq
            if row.is_first:
                entry.first = row.version_key
            if row.is_last:
                entry.last = row.version_key
        return known

    def _stored(
        self, conn: Connection, feed_id: CollectionId, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, str]]:
        """Return (body, version) for each stored (stix_id, version_key) in ``pairs``."""
        wanted = set(pairs)
        found: dict[tuple[str, str], tuple[str, str]] = {}
        ids = sorted({sid for sid, _ in wanted})
        for row in _of_ids(conn, feed_id, ids, _STORED):
            if (row.stix_id, row.version_key) in wanted:
                found[(row.stix_id, row.version_key)] = (row.body, row.version)
        return found

    @staticmethod
    def _filtered(select_: Select[Any], feed_id: CollectionId, query: ObjectQuery) -> Select[Any]:
        o = tables.stix_object
        stmt = select_.where(o.c.feed_id == feed_id)
        if query.stix_id is not None:
            stmt = stmt.where(o.c.stix_id == query.stix_id)
        if query.ids:
            stmt = stmt.where(o.c.stix_id.in_(query.ids))
        if query.types:
            stmt = stmt.where(o.c.type.in_(query.types))
        if query.spec_versions:
            stmt = stmt.where(o.c.spec_version.in_(query.spec_versions))
        versions = query.versions
        if not versions.all:
            alternatives = []
            if versions.first:
                alternatives.append(o.c.is_first.is_(True))
            if versions.last:
                alternatives.append(o.c.is_last.is_(True))
            if versions.keys:
                alternatives.append(o.c.version_key.in_(versions.keys))
            stmt = stmt.where(or_(*alternatives))
        return stmt

    def page(
        self,
        conn: Connection,
        feed_id: CollectionId,
        query: ObjectQuery,
        *,
        kind: PageKind,
        after: int | None,
        limit: int,
        not_before: int | None = None,
    ) -> Page:
        """Return up to ``limit`` rows matching ``query`` added after ``after``/``added_after``.

        Fetches one row more than ``limit`` to know whether there are more.
        """
        o = tables.stix_object
        columns: list[Any] = [o.c.stix_id, o.c.version, o.c.date_added]
        if kind is PageKind.OBJECTS:
            columns.append(o.c.body)
        stmt = self._filtered(select(*columns), feed_id, query)
        bounds = [b for b in (after, query.added_after) if b is not None]
        if not_before is not None:
            bounds.append(not_before - 1)
        if bounds:
            stmt = stmt.where(o.c.date_added > max(bounds))
        result = conn.execute(stmt.order_by(o.c.date_added).limit(limit + 1)).all()
        more = len(result) > limit
        with_body = kind is PageKind.OBJECTS
        rows = [
            StoredRow(StixId(r[0]), r[1], r[2], r[3] if with_body else None) for r in result[:limit]
        ]
        return Page(rows, more)

    def delete(self, conn: Connection, feed_id: CollectionId, query: ObjectQuery) -> int:
        """Delete the versions of ``query.stix_id`` matching ``query``; return how many.

        Call in a write transaction. The surviving versions' first/last flags are recomputed.
        """
        f, o = tables.feed, tables.stix_object
        assert query.stix_id is not None
        conn.execute(select(f.c.id).where(f.c.id == feed_id).with_for_update())
        doomed = [seq for (seq,) in conn.execute(self._filtered(select(o.c.seq), feed_id, query))]
        if not doomed:
            return 0
        for chunk in range(0, len(doomed), _CHUNK):
            conn.execute(delete(o).where(o.c.seq.in_(doomed[chunk : chunk + _CHUNK])))
        self._reflag(conn, feed_id, query.stix_id)
        return len(doomed)

    def count(self, conn: Connection, feed_id: CollectionId) -> int:
        """Return how many object versions the feed holds."""
        o = tables.stix_object
        return int(
            conn.execute(
                select(func.count()).select_from(o).where(o.c.feed_id == feed_id)
            ).scalar_one()
        )

    def latest(self, conn: Connection, feed_id: CollectionId, stix_id: StixId) -> str | None:
        """Return the stored JSON of the latest version of ``stix_id`` in the feed, or None."""
        o = tables.stix_object
        body = conn.execute(
            select(o.c.body).where(
                o.c.feed_id == feed_id, o.c.stix_id == stix_id, o.c.is_last.is_(True)
            )
        ).scalar_one_or_none()
        return None if body is None else str(body)

    def purge(self, conn: Connection, feed_id: CollectionId, before: int, limit: int) -> int:
        """Delete up to ``limit`` of the oldest rows added before ``before``; return how many.

        Call in a write transaction. Surviving versions' first/last flags are recomputed.
        """
        f, o = tables.feed, tables.stix_object
        conn.execute(select(f.c.id).where(f.c.id == feed_id).with_for_update())
        doomed = conn.execute(
            select(o.c.seq, o.c.stix_id)
            .where(o.c.feed_id == feed_id, o.c.date_added < before)
            .order_by(o.c.date_added)
            .limit(limit)
        ).all()
        if not doomed:
            return 0
        conn.execute(delete(o).where(o.c.seq.in_([r.seq for r in doomed])))
        for stix_id in sorted({r.stix_id for r in doomed}):
            self._reflag(conn, feed_id, StixId(stix_id))
        return len(doomed)

    def _reflag(self, conn: Connection, feed_id: CollectionId, stix_id: StixId) -> None:
        o = tables.stix_object
        remaining = conn.execute(
            select(o.c.seq, o.c.version_key)
            .where(o.c.feed_id == feed_id, o.c.stix_id == stix_id)
            .order_by(o.c.version_key)
        ).all()
        if remaining:
            first, last = remaining[0].seq, remaining[-1].seq
            conn.execute(
                update(o)
                .where(o.c.seq.in_([r.seq for r in remaining]))
                .values(is_first=o.c.seq == first, is_last=o.c.seq == last)
            )

    def has_before(self, conn: Connection, feed_id: CollectionId, before: int) -> bool:
        """Return True if the feed holds a row added before ``before`` (an index probe)."""
        o = tables.stix_object
        row = conn.execute(
            select(o.c.seq).where(o.c.feed_id == feed_id, o.c.date_added < before).limit(1)
        ).first()
        return row is not None
