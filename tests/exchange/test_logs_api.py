"""The logs' HTTP interface: the log key's well-known URL, checkpoints, proofs, entries."""

from __future__ import annotations

import base64

import pytest

from exchange.db.logs import LogName, NewLeaf
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.checkpoint import LogPublicKey, verify_checkpoint
from exchange.protocol.merkle import leaf_hash, verify_consistency, verify_inclusion
from exchange.services.logs import issue_checkpoints
from policies.canonical import canonical_bytes
from tests.exchange.conftest import World

ACCESS, DIRECTORY = LogName.ACCESS, LogName.DIRECTORY


def _append(w: World, log: LogName, count: int, *, feed: str | None = None) -> None:
    leaves = [
        NewLeaf(time=1_000 + n, action="test", member_id=None, feed_id=feed,
                data=canonical_bytes({"n": n, "feed": feed}))
        for n in range(count)
    ]  # fmt: skip
    with write_transaction(w.hub.engine) as conn:
        w.hub.logs.append(conn, log, leaves)


def _size(w: World, log: LogName) -> int:
    with read_transaction(w.hub.engine) as conn:
        return w.hub.logs.size(conn, log)


def _key(w: World) -> LogPublicKey:
    body = w.get("/.well-known/trend-exchange/log-key", who=None).json()
    return LogPublicKey(base64.b64decode(body["ed25519"]), base64.b64decode(body["ml-dsa-44"]))


def test_the_log_key_is_public_and_names_each_log(sqlite_world: World) -> None:
    w = sqlite_world
    response = w.get("/.well-known/trend-exchange/log-key", who=None)
    assert response.status_code == 200
    body = response.json()
    assert body["fingerprint"] == w.hub.log_key().public.fingerprint()
    assert body["logs"]["access"]["origin"] == "trend-exchange/access"
    assert body["logs"]["directory"]["vkeys"][0].startswith("trend-exchange/directory+")
    assert _key(w) == w.hub.log_key().public


def test_checkpoints_verify_and_grow_consistently(sqlite_world: World) -> None:
    w = sqlite_world
    key = _key(w)
    issue_checkpoints(w.hub)
    first_size = _size(w, ACCESS)
    first = w.get("/exchange/v1/logs/access/checkpoint", who="reader")
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("text/plain")
    one = verify_checkpoint(first.text, "trend-exchange/access", key)
    assert one.size == first_size
    # Reading the checkpoint was itself logged: the log grew by one, and only then.
    assert _size(w, ACCESS) == first_size + 1
    assert len(issue_checkpoints(w.hub)) == 1
    assert issue_checkpoints(w.hub) == []  # nothing grew: nothing signed
    _append(w, ACCESS, 37)
    [grown] = [c for c in issue_checkpoints(w.hub) if c.size == _size(w, ACCESS)]
    latest = w.get("/exchange/v1/logs/access/checkpoint", who="auditor").text
    two = verify_checkpoint(latest, "trend-exchange/access", key)
    assert (two.size, two.root) == (grown.size, grown.root)
    # The older checkpoint is still served, by size.
    again = w.get(f"/exchange/v1/logs/access/checkpoint?size={one.size}", who="reader")
    assert again.text == first.text
    if one.size:
        proof = w.get(
            f"/exchange/v1/logs/access/proofs/consistency?old={one.size}&new={two.size}",
            who="reader",
        ).json()
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        verify_consistency(one.size, two.size, one.root, two.root, hashes)
    # Every entry is included in the newest tree.
    entries = w.get(f"/exchange/v1/logs/access/entries?end={two.size}", who="auditor").json()[
        "entries"
    ]
    assert len(entries) == two.size
    for entry in entries[-3:]:
        index = entry["index"]
        proof = w.get(
            f"/exchange/v1/logs/access/proofs/inclusion?index={index}&size={two.size}",
            who="reader",
        ).json()
        data = canonical_bytes(entry["event"])  # leaves are canonical JSON (RFC 8785)
        verify_inclusion(leaf_hash(data), index, two.size,
                         [base64.b64decode(h) for h in proof["hashes"]], two.root)  # fmt: skip


def test_the_access_log_is_the_auditors_and_owners_see_their_feeds(sqlite_world: World) -> None:
    w = sqlite_world
    _append(w, ACCESS, 2, feed=w.feed_id)
    _append(w, ACCESS, 3, feed="5e1f0b8c-58a1-4c9e-9d7b-000000000000")
    every = w.get("/exchange/v1/logs/access/entries", who="auditor").json()["entries"]
    owned = w.get("/exchange/v1/logs/access/entries", who="owner").json()["entries"]
    reader = w.get("/exchange/v1/logs/access/entries", who="reader").json()["entries"]
    assert len(every) >= 5
    assert owned
    with read_transaction(w.hub.engine) as conn:
        mine = {f.id for f in w.hub.feeds.list_all(conn) if f.owner_id == w.members["owner"].id}
    assert {e["event"]["feed"] for e in owned} <= mine
    assert w.feed_id in {e["event"]["feed"] for e in owned}
    assert reader == []  # a reader owns no feed
    asked = w.get(
        "/exchange/v1/logs/access/entries?feed=5e1f0b8c-58a1-4c9e-9d7b-000000000000", who="owner"
    )
    assert asked.json()["entries"] == []  # not the owner's: filtered out, not revealed
    # The directory log is every member's to replicate.
    _append(w, DIRECTORY, 2)
    assert w.get("/exchange/v1/logs/directory/entries", who="reader").json()["entries"]


@pytest.mark.parametrize(
    ("path", "status", "mentions"),
    [
        ("/exchange/v1/logs/access/proofs/inclusion?index=5&size=5", 400, "index"),
        ("/exchange/v1/logs/access/proofs/inclusion?index=0&size=999999", 400, "only"),
        ("/exchange/v1/logs/access/proofs/consistency?old=0&new=1", 400, "old"),
        ("/exchange/v1/logs/access/proofs/consistency?old=2&new=1", 400, "old"),
        ("/exchange/v1/logs/access/proofs/consistency?old=1&new=999999", 400, "only"),
        ("/exchange/v1/logs/access/checkpoint?size=999999", 404, "No such checkpoint"),
        ("/exchange/v1/logs/nosuch/checkpoint", 400, None),
        ("/exchange/v1/logs/access/entries?limit=0", 400, None),
        # Found by schemathesis: past SQLite's 64-bit integers, these were a 500.
        (f"/exchange/v1/logs/access/entries?since={2**63}", 400, "since"),
        (f"/exchange/v1/logs/access/entries?until={2**63}", 400, "until"),
    ],
)
def test_bad_requests_get_clear_errors(
    sqlite_world: World, path: str, status: int, mentions: str | None
) -> None:
    w = sqlite_world
    _append(w, ACCESS, 3)
    issue_checkpoints(w.hub)
    response = w.get(path, who="reader")
    assert response.status_code == status, response.text
    body = response.json()
    assert body["http_status"] == str(status)
    if mentions:
        assert mentions in body["description"]


def test_members_only(sqlite_world: World) -> None:
    for path in ("checkpoint", "entries", "proofs/inclusion?index=0&size=1"):
        response = sqlite_world.get(f"/exchange/v1/logs/access/{path}", who=None)
        assert response.status_code == 401
