"""The Merkle log store, on every backend: the same tree as the reference, O(log n)
node reads per proof, gap-free and fork-free appends under concurrent writers."""

from __future__ import annotations

import functools
import threading

import pytest
from sqlalchemy import event, func, select

from exchange.db import tables
from exchange.db.logs import Checkpoint, GroupCommit, LogName, NewLeaf
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from exchange.services.hub import Hub

ACCESS = LogName.ACCESS


def _leaf(n: int, *, member: str | None = "m", feed: str | None = "f") -> NewLeaf:
    return NewLeaf(time=1_000 + n, action="read", member_id=member, feed_id=feed,
                   data=f'{{"n":{n}}}'.encode())  # fmt: skip


def _append(hub: Hub, leaves: list[NewLeaf], log: LogName = ACCESS) -> int:
    with write_transaction(hub.engine) as conn:
        return hub.logs.append(conn, log, leaves)


def test_roots_and_proofs_equal_the_reference_tree(hub: Hub) -> None:
    reference = MemoryTree()
    batches = [1, 2, 3, 1, 5, 8, 13, 1, 1, 30]
    n = 0
    for size in batches:
        first = _append(hub, [_leaf(n + i) for i in range(size)])
        assert first == n
        for i in range(size):
            reference.append(_leaf(n + i).data)
        n += size
    with read_transaction(hub.engine) as conn:
        assert hub.logs.size(conn, ACCESS) == n
        for size in range(1, n + 1):
            root = hub.logs.root(conn, ACCESS, size)
            assert root == reference.root(size)
            for index in range(0, size, 7):
                proof = hub.logs.inclusion_proof(conn, ACCESS, index, size)
                assert proof == reference.inclusion_proof(index, size)
                verify_inclusion(leaf_hash(_leaf(index).data), index, size, proof, root)
            for old in range(1, size, 5):
                proof = hub.logs.consistency_proof(conn, ACCESS, old, size)
                verify_consistency(old, size, reference.root(old), root, proof)
        assert hub.logs.root(conn, ACCESS, 0) == EMPTY_ROOT
        # The other log is untouched.
        assert hub.logs.size(conn, LogName.DIRECTORY) == 0


def test_a_proof_reads_its_nodes_in_one_query(hub: Hub) -> None:
    _append(hub, [_leaf(i) for i in range(1000)])
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with read_transaction(hub.engine) as conn:
        event.listen(conn, "before_cursor_execute", count)
        proof = hub.logs.inclusion_proof(conn, ACCESS, 617, 1000)
        consistency = hub.logs.consistency_proof(conn, ACCESS, 333, 1000)
        event.remove(conn, "before_cursor_execute", count)
    assert len(proof) == 10
    assert len(consistency) <= 20
    assert len(statements) == 2  # one batched read per proof


def test_entries_filter_by_member_feed_action_and_time(hub: Hub) -> None:
    _append(hub, [_leaf(0, member="a", feed="x"), _leaf(1, member="b", feed="y"),
                  _leaf(2, member="a", feed=None)])  # fmt: skip
    with read_transaction(hub.engine) as conn:
        every = hub.logs.entries(conn, ACCESS, 0, 3)
        assert [e.index for e in every] == [0, 1, 2]
        assert every[1].data == b'{"n":1}'
        assert every[1].hash == leaf_hash(b'{"n":1}')
        assert [e.index for e in hub.logs.entries(conn, ACCESS, 0, 3, member_id="a")] == [0, 2]
        assert [e.index for e in hub.logs.entries(conn, ACCESS, 0, 3, feed_ids=["y"])] == [1]
        assert [e.index for e in hub.logs.entries(conn, ACCESS, 0, 3, since=1_001)] == [1, 2]
        assert [e.index for e in hub.logs.entries(conn, ACCESS, 0, 3, until=1_001)] == [0]
        assert hub.logs.entries(conn, ACCESS, 0, 3, action="write") == []
        assert [e.index for e in hub.logs.entries(conn, ACCESS, 1, 3, limit=1)] == [1]


def test_checkpoints_are_kept_and_the_latest_found(hub: Hub) -> None:
    with write_transaction(hub.engine) as conn:
        assert hub.logs.checkpoint(conn, ACCESS) is None
        for size in (1, 5, 3):
            hub.logs.add_checkpoint(conn, ACCESS, Checkpoint(size, b"r" * 32, f"note {size}", 7))
    with read_transaction(hub.engine) as conn:
        latest = hub.logs.checkpoint(conn, ACCESS)
        assert latest is not None
        assert latest.size == 5
        at_three = hub.logs.checkpoint(conn, ACCESS, 3)
        assert at_three is not None
        assert at_three.note == "note 3"
        assert hub.logs.checkpoint(conn, LogName.DIRECTORY) is None


def test_a_missing_node_is_an_error_not_a_wrong_root(hub: Hub) -> None:
    _append(hub, [_leaf(i) for i in range(4)])
    with read_transaction(hub.engine) as conn, pytest.raises(LookupError, match="no node"):
        hub.logs.root(conn, ACCESS, 5)


def test_concurrent_appends_are_gap_free_and_agree_with_one_tree(hub: Hub) -> None:
    """8 threads, each with its own connection, append 25 batches of 4: every index
    from 0 to 799 is used once, and the stored nodes are those of one tree."""
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for b in range(25):
                _append(hub, [_leaf(10_000 * w + 10 * b + i) for i in range(4)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    leaf = tables.log_leaf
    with read_transaction(hub.engine) as conn:
        assert hub.logs.size(conn, ACCESS) == 800
        indices = (
            conn.execute(select(leaf.c.idx).where(leaf.c.log == ACCESS).order_by(leaf.c.idx))
            .scalars()
            .all()
        )
        assert indices == list(range(800))
        entries = hub.logs.entries(conn, ACCESS, 0, 800)
        reference = MemoryTree()
        for entry in entries:
            reference.append(entry.data)
        assert hub.logs.root(conn, ACCESS, 800) == reference.root()
        nodes = conn.execute(
            select(func.count()).select_from(tables.log_node).where(tables.log_node.c.log == ACCESS)
        ).scalar_one()
        # Every perfect subtree once: sum of 800 // 2**level = 2 * 800 - popcount(800).
        assert nodes == 2 * 800 - bin(800).count("1")


def _same(leaf: NewLeaf) -> NewLeaf:
    return leaf


def test_group_commit_returns_each_caller_its_own_committed_index(hub: Hub) -> None:
    """16 threads record 30 leaves each through one `GroupCommit`: each call returns the
    index its leaf is stored at, all 480 indices are used once, the batches shared
    commits (fewer transactions than leaves), and the tree is one tree."""
    commits = GroupCommit()
    returned: dict[int, bytes] = {}
    transactions = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    @event.listens_for(hub.engine, "commit")
    def _count(_conn: object) -> None:
        transactions.append(1)

    def reader(w: int) -> None:
        try:
            for n in range(30):
                leaf = _leaf(1_000 * w + n)
                index = commits.append(hub.engine, hub.logs, ACCESS, functools.partial(_same, leaf))
                with lock:
                    assert index not in returned
                    returned[index] = leaf.data
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    event.remove(hub.engine, "commit", _count)
    assert errors == []
    assert sorted(returned) == list(range(480))
    assert len(transactions) < 480
    with read_transaction(hub.engine) as conn:
        entries = hub.logs.entries(conn, ACCESS, 0, 480)
        assert [e.data for e in entries] == [returned[i] for i in range(480)]
        reference = MemoryTree()
        for entry in entries:
            reference.append(entry.data)
        assert hub.logs.root(conn, ACCESS, 480) == reference.root()


def test_a_failed_group_commit_fails_its_callers_and_the_next_one_works(hub: Hub) -> None:
    commits = GroupCommit()

    def broken() -> NewLeaf:
        return NewLeaf(time=1, action="read", member_id="m", feed_id="f", data=None)  # type: ignore[arg-type]

    with pytest.raises(TypeError):  # the leaf has no bytes to hash: the append fails
        commits.append(hub.engine, hub.logs, ACCESS, broken)
    assert commits.append(hub.engine, hub.logs, ACCESS, lambda: _leaf(0)) == 0
    with read_transaction(hub.engine) as conn:
        assert hub.logs.size(conn, ACCESS) == 1
