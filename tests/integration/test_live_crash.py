"""Crash consistency (issue 8, item 4): a hub killed with SIGKILL while clients post and
read loses nothing it acknowledged and half-writes nothing.

Writers post envelopes of new objects and readers page through the feed; the hub
process is killed outright at a different point each time (the kill lands in a
write, a read's group commit, or between requests), then a new process starts on
the same data. Every object whose POST was acknowledged is stored exactly once;
every status resource reads back as it was acknowledged; every stored object is
listed by a status and every status's objects are all stored, with its access-log
leaf; and the auditor's verification of both Merkle logs passes, each extending the
tree it verified before the kill (no gap, no fork).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from exchange.audit.verify import AuditClient, verify_log
from exchange.db import tables
from exchange.db.session import read_transaction
from tests.integration.live import (
    TAXII_21,
    HubHome,
    Member,
    ServerProcess,
    envelope_bytes,
    http_client,
    identity,
)

pytestmark = pytest.mark.integration

FEED = "crash"
WRITERS = 4
READERS = 2
PER_ENVELOPE = 10
KILL_AFTER = [0.3, 0.9, 1.8]
"""Seconds of load after the run's first acknowledged POST before each kill: early,
mid-stream and late (counted from an acknowledgement, not from the start, so that a slow
machine still has something acknowledged to lose)."""


@dataclass
class Crash:
    """The hub home, its members, and what the hub acknowledged over every run."""

    home: HubHome
    owner: Member
    auditor: Member
    state: Path
    acknowledged: dict[str, set[str]] = field(default_factory=dict)  # status id -> object ids
    reads: set[str] = field(default_factory=set)  # request ids of answered reads
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="module")
def crash(hub_home: HubHome, tmp_path_factory: pytest.TempPathFactory) -> Crash:
    owner, auditor = hub_home.add_members(**{"CERT-Crash": "authority", "Crash Audit": "auditor"})
    hub_home.add_feed(FEED, owner="CERT-Crash")
    return Crash(hub_home, owner, auditor, tmp_path_factory.mktemp("audit-state"))


def _verify_logs(c: Crash, url: str) -> None:
    """Both logs verify, each extending what the last verification saw (state kept)."""
    client = AuditClient(url, c.auditor.token)
    try:
        for log in ("access", "directory"):
            for _attempt in range(50):  # until the hub has checkpointed what is logged
                report = verify_log(client, log, c.state)
                if report.ok:
                    break
                time.sleep(0.2)
            assert report.ok, (log, report.findings)
    finally:
        client.close()


def _load(
    c: Crash, server: ServerProcess, run: int, stop: threading.Event
) -> tuple[list[threading.Thread], list[BaseException]]:
    """Start writers and readers against ``server``; return them and where their
    unexpected answers go."""
    unexpected: list[BaseException] = []

    def write(w: int) -> None:
        with http_client(server, c.owner) as taxii:
            for n in range(10_000):
                if stop.is_set():
                    return
                objects = [identity(f"crash-{run}-{w}-{n}-{i}") for i in range(PER_ENVELOPE)]
                try:
                    response = taxii.post(
                        f"collections/{FEED}/objects/",
                        content=envelope_bytes(objects),
                        headers={"Content-Type": TAXII_21},
                    )
                except httpx.TransportError:
                    return  # the hub died under this request: not acknowledged
                if response.status_code != 202:
                    unexpected.append(AssertionError(f"{response.status_code} {response.text}"))
                    return
                status = response.json()
                assert status["status"] == "complete", status
                assert status["success_count"] == PER_ENVELOPE, status
                with c.lock:
                    c.acknowledged[status["id"]] = {o["id"] for o in objects}

    def read() -> None:
        with http_client(server, c.owner) as taxii:
            while not stop.is_set():
                try:
                    response = taxii.get(f"collections/{FEED}/objects/", params={"limit": "50"})
                except httpx.TransportError:
                    return
                if response.status_code != 200:
                    unexpected.append(AssertionError(f"{response.status_code} {response.text}"))
                    return
                with c.lock:
                    c.reads.add(response.headers["x-request-id"])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    threads += [threading.Thread(target=read) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    return threads, unexpected


@pytest.mark.parametrize("kill_after", KILL_AFTER)
def test_a_killed_hub_keeps_what_it_acknowledged(crash: Crash, kill_after: float) -> None:
    c = crash
    run = KILL_AFTER.index(kill_after)
    server = c.home.serve()
    _verify_logs(c, server.url)  # the state the restarted hub must extend
    stop = threading.Event()
    before = len(c.acknowledged)
    threads, unexpected = _load(c, server, run, stop)
    deadline = time.monotonic() + 60
    while len(c.acknowledged) == before and not unexpected and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(kill_after)
    server.process.kill()  # SIGKILL: no shutdown, no flush
    server.process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    c.home.stop(server)
    assert unexpected == []
    assert len(c.acknowledged) > before, "the hub acknowledged nothing before the kill"

    restarted = c.home.serve()
    hub = c.home.local_hub()
    o, s, leaf = tables.stix_object, tables.status, tables.log_leaf
    with read_transaction(hub.engine) as conn:
        feed = hub.feeds.find(conn, FEED)
        assert feed is not None
        stored = [
            row.stix_id for row in conn.execute(select(o.c.stix_id).where(o.c.feed_id == feed.id))
        ]
        statuses = {
            row.id: {d["id"] for d in json.loads(row.successes)}
            for row in conn.execute(
                select(s.c.id, s.c.successes, s.c.success_count, s.c.total_count).where(
                    s.c.feed_id == feed.id
                )
            )
        }
        events = [
            json.loads(row.data)
            for row in conn.execute(
                select(leaf.c.data).where(
                    leaf.c.log == "access", leaf.c.action.in_(["objects.add", "objects.read"])
                )
            )
        ]
        logged = {
            e["detail"]["status"]
            for e in events
            if e["action"] == "objects.add" and e["feed"] == feed.id
        }
        reads_logged = {e["request_id"] for e in events if e["action"] == "objects.read"}
        head = conn.execute(
            select(tables.log_head.c.size).where(tables.log_head.c.log == "access")
        ).scalar_one()
        indices = conn.execute(
            select(func.count(), func.min(leaf.c.idx), func.max(leaf.c.idx)).where(
                leaf.c.log == "access"
            )
        ).one()

    # Every acknowledged object is stored, exactly once; nothing is stored twice.
    assert len(stored) == len(set(stored))
    acknowledged_ids = set().union(*c.acknowledged.values())
    assert acknowledged_ids <= set(stored)
    # No half-written envelope: statuses and objects match both ways, each with its leaf.
    assert set(c.acknowledged) <= set(statuses)
    assert set().union(*statuses.values()) == set(stored)
    assert logged == set(statuses)
    # Every read that was answered had its access-log leaf committed first.
    assert c.reads <= reads_logged
    # The access log has no gap: indices 0 .. size-1, each once.
    assert tuple(indices) == (head, 0, head - 1)

    # The statuses read back as acknowledged, and the logs verify, extending the last check.
    with http_client(restarted, c.owner) as taxii:
        for status_id, ids in c.acknowledged.items():
            body = taxii.get(f"status/{status_id}/").json()
            assert body["status"] == "complete"
            assert {d["id"] for d in body["successes"]} == ids
    _verify_logs(c, restarted.url)
    c.home.stop(restarted)
