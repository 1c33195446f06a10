"""``exchange audit verify``'s engine against a hub whose database the operator edits:
each kind of tampering is named with its index, and the state moves only when all is well."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from exchange.audit.verify import AuditClient, Finding, _classify, verify_log
from exchange.db import tables
from exchange.db.logs import LogName, NewLeaf
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.merkle import leaf_hash
from exchange.services.hub import Hub
from exchange.services.logs import issue_checkpoints
from tests.exchange.conftest import World, build_world

ACCESS = LogName.ACCESS


@pytest.fixture
def world(sqlite_hub: Hub) -> Iterator[World]:
    built = build_world(sqlite_hub)
    issue_checkpoints(sqlite_hub)
    yield built
    built.client.close()


def _client(w: World) -> AuditClient:
    return AuditClient("http://testserver", w.tokens["auditor"], http=w.client)


def _verify(w: World, state: Path) -> list[Finding]:
    issue_checkpoints(w.hub)
    report = verify_log(_client(w), "access", state)
    return report.findings


def test_an_honest_log_verifies_again_and_again(world: World, tmp_path: Path) -> None:
    assert _verify(world, tmp_path) == []
    world.get(world.objects_url(), who="reader")  # more entries
    report = verify_log(_client(world), "access", tmp_path)
    assert report.ok
    assert report.previous_size is not None
    assert (tmp_path / "audit-state.json").exists()


def test_an_edited_entry_is_named(world: World, tmp_path: Path) -> None:
    assert _verify(world, tmp_path) == []
    leaf = tables.log_leaf
    with write_transaction(world.hub.engine) as conn:
        conn.execute(
            update(leaf).where(leaf.c.log == ACCESS, leaf.c.idx == 2).values(data=b'{"edited":1}')
        )
    findings = _verify(world, tmp_path)
    assert findings[0].kind == "modified"
    assert findings[0].index == 2
    assert any(f.kind == "forked" for f in findings)  # nor do they hash to the signed root


def test_a_re_signed_history_is_a_fork(world: World, tmp_path: Path) -> None:
    """The operator edits an entry and rebuilds the tree and checkpoints consistently
    with the edit: the entries now hash to the signed root, but the auditor saw otherwise."""
    assert _verify(world, tmp_path) == []
    with read_transaction(world.hub.engine) as conn:
        size = world.hub.logs.size(conn, ACCESS)
        entries = world.hub.logs.entries(conn, ACCESS, 0, size)
    rewritten = [e.data for e in entries]
    rewritten[1] = b'{"rewritten":true}'
    _rebuild(world, rewritten)
    findings = _verify(world, tmp_path)
    assert [(f.kind, f.index) for f in findings][:1] == [("modified", 1)]


def _rebuild(w: World, datas: list[bytes]) -> None:
    leaf, node, head, cp = tables.log_leaf, tables.log_node, tables.log_head, tables.log_checkpoint
    with write_transaction(w.hub.engine) as conn:
        for table in (leaf, node, cp):
            conn.execute(delete(table).where(table.c.log == ACCESS))
        conn.execute(update(head).where(head.c.log == ACCESS).values(size=0))
        w.hub.logs.append(conn, ACCESS, [NewLeaf(1, "x", None, None, d) for d in datas])


@pytest.mark.parametrize(
    ("new", "kind", "index"),
    [
        (["a", "b", "c"], None, None),
        (["a", "b", "c", "d"], None, None),
        (["a", "X", "c"], "modified", 1),
        (["a", "c"], "removed", 1),
        (["a", "c", "b"], "reordered", 1),
        (["a", "X", "b", "c"], "inserted", 1),
        (["a", "b"], "truncated", 2),
    ],
)
def test_each_kind_of_tampering_is_told_apart(
    new: list[str], kind: str | None, index: int | None
) -> None:
    old = [leaf_hash(x.encode()) for x in ("a", "b", "c")]
    found = _classify(old, [leaf_hash(x.encode()) for x in new])
    if kind is None:
        assert found is None
    else:
        assert found is not None
        assert (found.kind, found.index) == (kind, index)


def test_a_checkpoint_not_signed_by_the_log_key_is_refused(world: World, tmp_path: Path) -> None:
    c = tables.log_checkpoint
    issue_checkpoints(world.hub)
    with write_transaction(world.hub.engine) as conn:
        note = conn.execute(
            select(c.c.note).where(c.c.log == ACCESS).order_by(c.c.size.desc()).limit(1)
        ).scalar_one()
        origin, size, rest = note.split("\n", 2)
        conn.execute(
            update(c).where(c.c.log == ACCESS, c.c.note == note)
            .values(note=f"{origin}\n{int(size) + 1}\n{rest}")
        )  # fmt: skip
    report = verify_log(_client(world), "access", tmp_path)
    assert [f.kind for f in report.findings] == ["bad signature"]
    assert not (tmp_path / "audit-state.json").exists()  # nothing pinned from a failed run


def test_an_entry_the_hub_leaves_out_is_named(world: World, tmp_path: Path) -> None:
    assert _verify(world, tmp_path) == []
    leaf = tables.log_leaf
    with write_transaction(world.hub.engine) as conn:
        conn.execute(delete(leaf).where(leaf.c.log == ACCESS, leaf.c.idx == 1))
    report = verify_log(_client(world), "access", tmp_path)
    assert [(f.kind, f.index) for f in report.findings] == [("removed", 1)]


def test_a_log_key_other_than_the_pinned_one_is_a_bad_signature(
    world: World, tmp_path: Path
) -> None:
    assert _verify(world, tmp_path) == []
    world.hub._log_key[0] = type(world.hub.log_key()).generate()
    issue_checkpoints(world.hub)
    report = verify_log(_client(world), "access", tmp_path)
    assert [f.kind for f in report.findings] == ["bad signature"]
    assert "not the one pinned" in report.findings[0].detail
