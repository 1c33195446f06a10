"""Random secrets shared by every hub process, created by the first migration."""

from __future__ import annotations

from sqlalchemy import Connection, select

from exchange.db import tables

__all__ = ["CURSOR_MAC", "load_secret"]

CURSOR_MAC = "cursor-mac"


def load_secret(conn: Connection, name: str) -> bytes:
    """Return the secret called ``name``; raises LookupError if the database has none."""
    h = tables.hub_secret
    value = conn.execute(select(h.c.value).where(h.c.name == name)).scalar_one_or_none()
    if value is None:
        raise LookupError(name)
    return bytes(value)
