"""TAXII status resources, persisted so they survive restarts and serve every process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import orjson
from sqlalchemy import Connection, insert, select

from exchange.db import tables
from exchange.protocol.ids import CollectionId, MemberId, StatusId

__all__ = ["SqlStatusStore", "StatusDetail", "StatusRecord", "StatusStore"]


@dataclass(frozen=True, slots=True)
class StatusDetail:
    """One ``status-details`` entry (TAXII 2.1 §4.3.1)."""

    id: str
    version: str
    message: str | None = None

    def to_json_dict(self) -> dict[str, str]:
        """Return the entry as TAXII JSON, without an absent message."""
        out = {"id": self.id, "version": self.version}
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A status resource as stored."""

    id: StatusId
    feed_id: CollectionId
    member_id: MemberId
    request_timestamp: int
    successes: tuple[StatusDetail, ...]
    failures: tuple[StatusDetail, ...]
    pendings: tuple[StatusDetail, ...] = ()

    @property
    def status(self) -> str:
        """``complete`` once nothing is pending, else ``pending``."""
        return "pending" if self.pendings else "complete"


class StatusStore(Protocol):
    """Where status resources live."""

    def add(self, conn: Connection, record: StatusRecord) -> None:
        """Store a status resource."""

    def get(self, conn: Connection, status_id: str, member_id: MemberId) -> StatusRecord | None:
        """Return the status ``status_id`` if ``member_id`` created it, else None."""


def _dump(details: tuple[StatusDetail, ...]) -> str:
    return orjson.dumps([d.to_json_dict() for d in details]).decode()


def _load(text: str) -> tuple[StatusDetail, ...]:
    return tuple(StatusDetail(**d) for d in orjson.loads(text))


class SqlStatusStore:
    """`StatusStore` on SQLite or PostgreSQL."""

    def add(self, conn: Connection, record: StatusRecord) -> None:
        """Store a status resource."""
        conn.execute(
            insert(tables.status).values(
                id=record.id,
                feed_id=record.feed_id,
                member_id=record.member_id,
                request_timestamp=record.request_timestamp,
                status=record.status,
                total_count=len(record.successes) + len(record.failures) + len(record.pendings),
                success_count=len(record.successes),
                failure_count=len(record.failures),
                pending_count=len(record.pendings),
                successes=_dump(record.successes),
                failures=_dump(record.failures),
                pendings=_dump(record.pendings),
            )
        )

    def get(self, conn: Connection, status_id: str, member_id: MemberId) -> StatusRecord | None:
        """Return the status ``status_id`` if ``member_id`` created it, else None."""
        s = tables.status
        row = conn.execute(select(s).where(s.c.id == status_id, s.c.member_id == member_id)).first()
        if row is None:
            return None
        return StatusRecord(
            id=StatusId(row.id),
            feed_id=CollectionId(row.feed_id),
            member_id=MemberId(row.member_id),
            request_timestamp=row.request_timestamp,
            successes=_load(row.successes),
            failures=_load(row.failures),
            pendings=_load(row.pendings),
        )
