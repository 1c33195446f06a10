"""Signed documents kept forever: members' key bundles and feeds' policy versions.

The hub stores what it received, verified, and never overwrites a row: a
second document under the same (member, sequence) or (feed, version) fails on
the primary key, so two racing uploads cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Select, Table, insert, select

from exchange.db import tables

__all__ = ["DocumentStore", "SqlDocumentStore", "StoredDocument"]


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A stored signed document: its owner key (member or feed), number and bytes."""

    owner: str
    number: int
    digest: str
    document: str
    created_at: int


class DocumentStore(Protocol):
    """Where numbered signed documents of one kind live."""

    def add(self, conn: Connection, record: StoredDocument) -> None:
        """Store a new document. Raises IntegrityError if the number is taken."""

    def latest(self, conn: Connection, owner: str) -> StoredDocument | None:
        """Return the highest-numbered document of ``owner``, or None."""

    def get(self, conn: Connection, owner: str, number: int) -> StoredDocument | None:
        """Return document ``number`` of ``owner``, or None."""

    def all(self, conn: Connection, owner: str) -> list[StoredDocument]:
        """Return every document of ``owner``, oldest first."""


class SqlDocumentStore:
    """`DocumentStore` over one of the ``key_bundle`` or ``policy_version`` tables."""

    def __init__(self, table: Table, owner_column: str, number_column: str) -> None:
        self._table = table
        self._owner = table.c[owner_column]
        self._number = table.c[number_column]

    @classmethod
    def key_bundles(cls) -> SqlDocumentStore:
        """The store of members' key bundles."""
        return cls(tables.key_bundle, "member_id", "sequence")

    @classmethod
    def policies(cls) -> SqlDocumentStore:
        """The store of feeds' policy versions."""
        return cls(tables.policy_version, "feed_id", "version")

    def _record(self, row: Any) -> StoredDocument:
        owner, number, digest, document, created_at = row
        return StoredDocument(str(owner), int(number), digest, document, int(created_at))

    def _select(self) -> Select[Any]:
        t = self._table
        return select(self._owner, self._number, t.c.digest, t.c.document, t.c.created_at)

    def add(self, conn: Connection, record: StoredDocument) -> None:
        """Store a new document. Raises IntegrityError if the number is taken."""
        conn.execute(
            insert(self._table).values(
                {
                    self._owner.name: record.owner,
                    self._number.name: record.number,
                    "digest": record.digest,
                    "document": record.document,
                    "created_at": record.created_at,
                }
            )
        )

    def latest(self, conn: Connection, owner: str) -> StoredDocument | None:
        """Return the highest-numbered document of ``owner``, or None."""
        row = conn.execute(
            self._select().where(self._owner == owner).order_by(self._number.desc()).limit(1)
        ).first()
        return None if row is None else self._record(row)

    def get(self, conn: Connection, owner: str, number: int) -> StoredDocument | None:
        """Return document ``number`` of ``owner``, or None."""
        row = conn.execute(
            self._select().where(self._owner == owner, self._number == number)
        ).first()
        return None if row is None else self._record(row)

    def all(self, conn: Connection, owner: str) -> list[StoredDocument]:
        """Return every document of ``owner``, oldest first."""
        rows = conn.execute(self._select().where(self._owner == owner).order_by(self._number))
        return [self._record(r) for r in rows]
