"""Members and their API tokens."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection, insert, or_, select, update

from exchange.db import tables
from exchange.db.records import MemberKind, MemberRecord
from exchange.protocol.ids import MemberId

__all__ = ["MemberStore", "SqlMemberStore"]


class MemberStore(Protocol):
    """Where members and token hashes live."""

    def add(self, conn: Connection, member: MemberRecord) -> None:
        """Store a new member."""

    def find(self, conn: Connection, ref: str) -> MemberRecord | None:
        """Return the member whose id or name is ``ref``, or None."""

    def list_all(self, conn: Connection) -> list[MemberRecord]:
        """Return every member, oldest first."""

    def set_disabled(self, conn: Connection, member_id: MemberId, disabled: bool) -> None:
        """Disable or re-enable a member."""

    def add_token(self, conn: Connection, member_id: MemberId, token_hash: str, now: int) -> None:
        """Store the hash of a new token for ``member_id``."""

    def revoke_tokens(self, conn: Connection, member_id: MemberId, now: int) -> int:
        """Revoke every active token of ``member_id``; return how many."""

    def authenticate(self, conn: Connection, token_hash: str) -> MemberRecord | None:
        """Return the active member holding the unrevoked token ``token_hash``, or None."""


def _record(row: Any) -> MemberRecord:
    return MemberRecord(
        id=MemberId(row.id),
        name=row.name,
        kind=MemberKind(row.kind),
        disabled=bool(row.disabled),
        created_at=row.created_at,
    )


class SqlMemberStore:
    """`MemberStore` on SQLite or PostgreSQL."""

    def add(self, conn: Connection, member: MemberRecord) -> None:
        """Store a new member."""
        conn.execute(
            insert(tables.member).values(
                id=member.id,
                name=member.name,
                kind=member.kind.value,
                disabled=member.disabled,
                created_at=member.created_at,
            )
        )

    def find(self, conn: Connection, ref: str) -> MemberRecord | None:
        """Return the member whose id or name is ``ref``, or None."""
        m = tables.member
        row = conn.execute(select(m).where(or_(m.c.id == ref, m.c.name == ref))).first()
        return None if row is None else _record(row)

    def list_all(self, conn: Connection) -> list[MemberRecord]:
        """Return every member, oldest first."""
        m = tables.member
        return [_record(r) for r in conn.execute(select(m).order_by(m.c.created_at, m.c.id))]

    def set_disabled(self, conn: Connection, member_id: MemberId, disabled: bool) -> None:
        """Disable or re-enable a member."""
        m = tables.member
        conn.execute(update(m).where(m.c.id == member_id).values(disabled=disabled))

    def add_token(self, conn: Connection, member_id: MemberId, token_hash: str, now: int) -> None:
        """Store the hash of a new token for ``member_id``."""
        conn.execute(
            insert(tables.token).values(hash=token_hash, member_id=member_id, created_at=now)
        )

    def revoke_tokens(self, conn: Connection, member_id: MemberId, now: int) -> int:
        """Revoke every active token of ``member_id``; return how many."""
        t = tables.token
        result = conn.execute(
            update(t)
            .where(t.c.member_id == member_id, t.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    def authenticate(self, conn: Connection, token_hash: str) -> MemberRecord | None:
        """Return the active member holding the unrevoked token ``token_hash``, or None."""
        m, t = tables.member, tables.token
        row = conn.execute(
            select(m)
            .join(t, t.c.member_id == m.c.id)
            .where(t.c.hash == token_hash, t.c.revoked_at.is_(None), m.c.disabled.is_(False))
        ).first()
        return None if row is None else _record(row)
