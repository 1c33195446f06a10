"""The directory log as the hub writes it: a statement per admission, disablement, key
bundle and policy version, in the transaction that makes it true; and a backfill for a
hub whose log started empty."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from exchange.db import tables
from exchange.db.logs import LogName
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.directory import (
    key_bundle_leaf,
    member_admitted_leaf,
    member_disabled_leaf,
    policy_version_leaf,
)
from exchange.services import admin
from exchange.services.directory_log import backfill
from tests.exchange.conftest import World

DIRECTORY = LogName.DIRECTORY


def _statements(w: World) -> list[bytes]:
    with read_transaction(w.hub.engine) as conn:
        size = w.hub.logs.size(conn, DIRECTORY)
        return [e.data for e in w.hub.logs.entries(conn, DIRECTORY, 0, size)]


def _expected(w: World) -> set[bytes]:
    m, k, p = tables.member, tables.key_bundle, tables.policy_version
    with read_transaction(w.hub.engine) as conn:
        members = conn.execute(select(m.c.id, m.c.name, m.c.kind, m.c.disabled)).all()
        bundles = conn.execute(select(k.c.member_id, k.c.sequence, k.c.digest)).all()
        policies = conn.execute(select(p.c.feed_id, p.c.version, p.c.digest)).all()
    return (
        {member_admitted_leaf(r.id, r.name, r.kind) for r in members}
        | {member_disabled_leaf(r.id) for r in members if r.disabled}
        | {key_bundle_leaf(*r) for r in bundles}
        | {policy_version_leaf(*r) for r in policies}
    )


def test_every_directory_fact_is_a_statement(sqlite_world: World) -> None:
    w = sqlite_world
    admin.disable_member(w.hub, "outsider")
    admin.disable_member(w.hub, "outsider")  # already disabled: no second statement
    statements = _statements(w)
    assert set(statements) == _expected(w)
    assert len(statements) == len(set(statements))


def test_a_hub_from_before_the_log_backfills_it_once(sqlite_world: World) -> None:
    w = sqlite_world
    admin.disable_member(w.hub, "outsider")
    leaf, node, head = tables.log_leaf, tables.log_node, tables.log_head
    with write_transaction(w.hub.engine) as conn:
        for table in (leaf, node):
            conn.execute(delete(table).where(table.c.log == DIRECTORY))
        conn.execute(update(head).where(head.c.log == DIRECTORY).values(size=0))
    appended = backfill(w.hub)
    statements = _statements(w)
    assert set(statements) == _expected(w)
    assert appended == len(statements) - 1  # the disablement is appended after the others
    assert statements[-1] == member_disabled_leaf(w.members["outsider"].id)
    assert backfill(w.hub) == 0
    with read_transaction(w.hub.engine) as conn:
        count = conn.execute(
            select(func.count()).select_from(leaf).where(leaf.c.log == DIRECTORY)
        ).scalar_one()
    assert count == len(statements)
