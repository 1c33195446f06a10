"""Clients check the hub's directory log (issue 5, item 5): every key bundle and policy
version they rely on is in it, and the log only grows. A document shown to one member
alone, a log that forked or shrank, a changed log key or a forged proof is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import and_, delete, insert

from exchange.db import tables
from exchange.db.logs import LogName, NewLeaf
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.keys import parse_key_bundle
from exchange.services.hub import Hub
from exchange.services.logs import issue_checkpoints
from feeds.crypto.keys import MemberSecrets, build_key_bundle
from feeds.crypto.keystore import Keystore
from feeds.errors import TrustError
from feeds.exchange_api import ExchangeApi
from feeds.feed_policy import fetch_feed_policy
from feeds.transparency import DirectoryCheck
from tests.exchange.conftest import World, build_world

DIRECTORY = LogName.DIRECTORY


@pytest.fixture
def world(sqlite_hub: Hub) -> Iterator[World]:
    """The exchange tests' world on SQLite, its logs checkpointed as a serving hub does."""
    built = build_world(sqlite_hub)
    issue_checkpoints(sqlite_hub)
    yield built
    built.client.close()


def _api(w: World, who: str = "reader") -> ExchangeApi:
    return ExchangeApi("http://testserver", SecretStr(w.tokens[who]), w.client)


def _check(w: World, tmp_path: Path, who: str = "reader") -> DirectoryCheck:
    return DirectoryCheck(_api(w, who), Keystore(tmp_path / f"{who}-keys"), sleep=lambda _: None)


def _owner_bundles(w: World) -> list:  # type: ignore[type-arg]
    return _api(w).key_bundles(w.members["owner"].id)


def test_what_the_hub_logged_is_proven_and_the_checkpoint_pinned(
    world: World, tmp_path: Path
) -> None:
    w = world
    check = _check(w, tmp_path)
    feed = fetch_feed_policy(_api(w), "reports", now=datetime.now(UTC), pins=None)
    check.require_policies(feed.collection.id, feed.trusted.versions)
    check.require_bundles(w.members["owner"].id, _owner_bundles(w))
    state = Keystore(tmp_path / "reader-keys").state()
    pin = state["logs"]["http://testserver"]
    assert pin["size"] == check.checkpoint().size >= 3
    assert pin["fingerprint"] == w.hub.log_key().public.fingerprint()
    # A second session starts from the pin and checks the log grew consistently.
    _append(w, 5)
    again = _check(w, tmp_path)
    assert again.checkpoint().size == pin["size"] + 5


def _append(w: World, count: int) -> None:
    leaves = [NewLeaf(1, "test", None, None, b'{"n":%d}' % n) for n in range(count)]
    with write_transaction(w.hub.engine) as conn:
        w.hub.logs.append(conn, DIRECTORY, leaves)
    issue_checkpoints(w.hub, logs=(DIRECTORY,))


def test_a_key_shown_to_one_member_alone_is_refused(world: World, tmp_path: Path) -> None:
    """The hub stores a substitute bundle for the owner without logging it."""
    w = world
    owner = w.members["owner"]
    [first, *_] = _owner_bundles(w)
    assert w.owner_keys is not None
    fake = build_key_bundle(
        MemberSecrets.generate(), member=owner.id, sequence=2, previous=first,
        endorser=w.owner_keys.secrets,
    )  # fmt: skip
    with write_transaction(w.hub.engine) as conn:
        conn.execute(
            insert(tables.key_bundle).values(
                member_id=owner.id, sequence=2, digest=fake.digest,
                document=fake.model_dump_json(), created_at=1,
            )
        )  # fmt: skip
    bundles = _owner_bundles(w)
    assert [parse_key_bundle(b.model_dump()).digest for b in bundles][-1] == fake.digest
    with pytest.raises(TrustError, match=r"key bundle 2 of .* not in the hub's directory log"):
        _check(w, tmp_path).require_bundles(owner.id, bundles)


def test_a_log_that_forked_or_shrank_is_refused(world: World, tmp_path: Path) -> None:
    w = world
    _check(w, tmp_path).checkpoint()  # pinned
    with read_transaction(w.hub.engine) as conn:
        size = w.hub.logs.size(conn, DIRECTORY)
    # The operator rewrites the last entry and re-signs: same size, another root.
    _rewrite_tail(w, size - 1)
    _append(w, 1)
    with pytest.raises(TrustError, match=r"forked: another root at the pinned size"):
        _check(w, tmp_path).checkpoint()
    # Or drops it: the log shrank.
    _rewrite_tail(w, size - 1)
    issue_checkpoints(w.hub, logs=(DIRECTORY,))
    with pytest.raises(TrustError, match=r"it shrank from"):
        _check(w, tmp_path).checkpoint()


def test_a_log_rewritten_below_the_pin_is_refused(world: World, tmp_path: Path) -> None:
    w = world
    _check(w, tmp_path).checkpoint()
    with read_transaction(w.hub.engine) as conn:
        size = w.hub.logs.size(conn, DIRECTORY)
    _rewrite_tail(w, size - 2)
    _append(w, 4)  # longer than before, but not an extension of it
    with pytest.raises(TrustError, match=r"forked: the checkpoint of .* does not extend"):
        _check(w, tmp_path).checkpoint()


def _rewrite_tail(w: World, keep: int) -> None:
    """Truncate the directory log to ``keep`` leaves (and their nodes, and checkpoints)."""
    leaf, node, head, cp = tables.log_leaf, tables.log_node, tables.log_head, tables.log_checkpoint
    with write_transaction(w.hub.engine) as conn:
        conn.execute(delete(leaf).where(leaf.c.log == DIRECTORY, leaf.c.idx >= keep))
        for level in range(64):  # the nodes wholly inside [0, keep) survive
            gone = and_(node.c.log == DIRECTORY, node.c.level == level, node.c.idx >= keep >> level)
            conn.execute(delete(node).where(gone))
        conn.execute(head.update().where(head.c.log == DIRECTORY).values(size=keep))
        conn.execute(delete(cp).where(cp.c.log == DIRECTORY))


def test_a_changed_log_key_is_refused(world: World, tmp_path: Path) -> None:
    w = world
    _check(w, tmp_path).checkpoint()
    w.hub._log_key[0] = type(w.hub.log_key()).generate()
    issue_checkpoints(w.hub, logs=(DIRECTORY,))
    with pytest.raises(TrustError, match="not the key pinned on first use"):
        _check(w, tmp_path).checkpoint()


def test_a_forged_checkpoint_or_proof_is_refused(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    check = _check(w, tmp_path)
    api = check._api
    real = api.checkpoint

    def bigger(log: str) -> str:
        origin, size, rest = real(log).split("\n", 2)
        return f"{origin}\n{int(size) + 1}\n{rest}"  # a size the hub did not sign

    monkeypatch.setattr(api, "checkpoint", bigger)
    with pytest.raises(TrustError, match="Ed25519 signature does not verify"):
        check.checkpoint()
    monkeypatch.undo()
    real_proofs = api.leaf_proofs

    def forged(log: str, size: int, hashes: list[bytes]) -> list[tuple[int | None, list[bytes]]]:
        return [(index, [b"\x00" * 32 for _ in proof] or [b"\x00" * 32])
                for index, proof in real_proofs(log, size, hashes)]  # fmt: skip

    monkeypatch.setattr(api, "leaf_proofs", forged)
    with pytest.raises(TrustError, match="inclusion proof in the directory log does not verify"):
        check.require_bundles(w.members["owner"].id, _owner_bundles(w))
