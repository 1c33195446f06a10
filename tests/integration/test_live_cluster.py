"""Two ``exchange serve`` processes on one PostgreSQL database act as one hub.

A client paging with ``next`` may land on either process for each page and
still sees every object exactly once; revoking a token with the CLI takes
effect on both processes at once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import cycle
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from exchange.db import tables
from exchange.db.logs import LogName
from exchange.db.session import read_transaction
from exchange.protocol.checkpoint import verify_checkpoint
from exchange.protocol.merkle import MemoryTree, verify_consistency
from tests.conftest import needs_postgres
from tests.integration.live import (
    TAXII_21,
    HubHome,
    Member,
    ServerProcess,
    assert_taxii_error,
    envelope_bytes,
    http_client,
    identity,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres, needs_postgres]

COUNT = 50
LIMIT = 7
OBJECTS = [identity(f"cluster-{n:02d}") for n in range(COUNT)]
FEED = "collections/reports/"


@pytest.fixture(scope="module")
def backend() -> str:
    """This module runs on PostgreSQL only: SQLite is one process's database."""
    return "postgresql"


@dataclass(frozen=True)
class Cluster:
    """Two processes on one database, a publisher and a reader."""

    home: HubHome
    servers: tuple[ServerProcess, ServerProcess]
    publisher: Member
    reader: Member


@pytest.fixture(scope="module")
def cluster(hub_home: HubHome) -> Cluster:
    assert hub_home.database_url is not None
    assert hub_home.database_url.startswith("postgresql")
    publisher, reader = hub_home.add_members(publisher="authority", reader="research")
    hub_home.add_feeds(["reports", "busy", "growing"], owner="publisher")
    hub_home.grant("reader", "reports", read=True)
    hub_home.grant("reader", "busy", read=True)
    hub_home.grant("reader", "growing", read=True)
    servers = (hub_home.serve(), hub_home.serve())  # unthrottled: 16 threads of one member
    assert servers[0].port != servers[1].port

    # Publish in five envelopes, alternating between the processes.
    clients = [http_client(s, publisher) for s in servers]
    try:
        for n, start in enumerate(range(0, COUNT, 10)):
            response = clients[n % 2].post(
                f"{FEED}objects/",
                content=envelope_bytes(OBJECTS[start : start + 10]),
                headers={"Content-Type": TAXII_21},
            )
            assert response.status_code == 202, response.text
            assert response.json()["success_count"] == 10
    finally:
        for client in clients:
            client.close()
    return Cluster(hub_home, servers, publisher, reader)


@pytest.fixture
def readers(cluster: Cluster) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """The reader's client on each process."""
    first, second = (http_client(s, cluster.reader) for s in cluster.servers)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def page_alternating(
    clients: tuple[httpx.Client, httpx.Client], path: str, params: dict[str, str]
) -> list[dict[str, Any]]:
    """Follow ``next`` to the end, sending each request to the other process."""
    pages: list[dict[str, Any]] = []
    token: str | None = None
    for client in cycle(clients):
        query = dict(params) if token is None else {**params, "next": token}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        if not page["more"]:
            return pages
        token = page["next"]
        assert len(pages) <= COUNT, "paging does not end"
    raise AssertionError("unreachable")


def test_paging_alternating_between_processes(
    readers: tuple[httpx.Client, httpx.Client],
) -> None:
    pages = page_alternating(readers, f"{FEED}objects/", {"limit": str(LIMIT)})
    sizes = [len(p.get("objects", [])) for p in pages]
    assert sizes == [LIMIT] * (COUNT // LIMIT) + [COUNT % LIMIT]
    seen = [o for p in pages for o in p.get("objects", [])]
    assert seen == OBJECTS  # every object once, in the order added


def test_manifest_paging_alternating_between_processes(
    readers: tuple[httpx.Client, httpx.Client],
) -> None:
    pages = page_alternating(readers, f"{FEED}manifest/", {"limit": str(LIMIT)})
    records = [r for p in pages for r in p.get("objects", [])]
    assert [r["id"] for r in records] == [o["id"] for o in OBJECTS]
    added = [r["date_added"] for r in records]
    assert added == sorted(set(added))


def test_next_from_one_process_with_other_filters_is_refused_by_the_other(
    readers: tuple[httpx.Client, httpx.Client],
) -> None:
    first, second = readers
    token = first.get(f"{FEED}objects/", params={"limit": str(LIMIT)}).json()["next"]
    response = second.get(f"{FEED}objects/", params={"limit": str(LIMIT), "next": token})
    assert response.status_code == 200
    refused = second.get(f"{FEED}objects/", params={"match[type]": "identity", "next": token})
    assert "next" in assert_taxii_error(refused, 400)["description"]


def test_concurrent_posts_to_both_processes(
    cluster: Cluster, readers: tuple[httpx.Client, httpx.Client]
) -> None:
    """Writers on both processes at once: every object stored once, date_added unique."""
    batches = [
        [identity(f"busy-{w}-{b}-{n}") for n in range(5)] for w in range(2) for b in range(5)
    ]

    def publish(worker: int) -> list[int]:
        counts = []
        with http_client(cluster.servers[worker], cluster.publisher) as client:
            for batch in batches[worker * 5 : worker * 5 + 5]:
                response = client.post(
                    "collections/busy/objects/",
                    content=envelope_bytes(batch),
                    headers={"Content-Type": TAXII_21},
                )
                assert response.status_code == 202, response.text
                counts.append(response.json()["success_count"])
        return counts

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(publish, range(2)))
    assert results == [[5] * 5, [5] * 5]

    pages = page_alternating(readers, "collections/busy/manifest/", {"limit": str(LIMIT)})
    records = [r for p in pages for r in p.get("objects", [])]
    assert sorted(r["id"] for r in records) == sorted(o["id"] for b in batches for o in b)
    added = [r["date_added"] for r in records]
    assert added == sorted(set(added))
    for batch in batches:  # each envelope is stored in one piece, in its order
        positions = [next(i for i, r in enumerate(records) if r["id"] == o["id"]) for o in batch]
        assert positions == list(range(positions[0], positions[0] + len(batch)))


def test_both_processes_write_one_gap_free_log_and_sign_consistent_checkpoints(
    cluster: Cluster, readers: tuple[httpx.Client, httpx.Client]
) -> None:
    """After requests to both processes at once: the access log's indices have no gap,
    its stored tree is the tree of its entries, and every checkpoint either process
    signed verifies and extends the one before (no fork between processes)."""

    def busy(worker: int) -> None:
        for _ in range(20):
            assert readers[worker].get("collections/busy/manifest/").status_code == 200

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(busy, range(2)))
    time.sleep(1.5)  # both processes checkpoint every second
    assert_one_log(cluster)


def assert_one_log(cluster: Cluster) -> None:
    """The access log's indices have no gap, its stored tree is the tree of its entries,
    and every checkpoint either process signed verifies and extends the one before."""
    hub = cluster.home.local_hub()
    key = hub.log_key().public
    c = tables.log_checkpoint
    with read_transaction(hub.engine) as conn:
        size = hub.logs.size(conn, LogName.ACCESS)
        entries = hub.logs.entries(conn, LogName.ACCESS, 0, size)
        notes = (
            conn.execute(select(c.c.note).where(c.c.log == "access").order_by(c.c.size))
            .scalars()
            .all()
        )
        assert [e.index for e in entries] == list(range(size))
        reference = MemoryTree()
        for entry in entries:
            reference.append(entry.data)
        assert hub.logs.root(conn, LogName.ACCESS, size) == reference.root()
        checkpoints = [verify_checkpoint(n, "trend-exchange/access", key) for n in notes]
        assert len(checkpoints) >= 2
        for older, newer in itertools.pairwise(checkpoints):
            if older.size:
                proof = hub.logs.consistency_proof(conn, LogName.ACCESS, older.size, newer.size)
                verify_consistency(older.size, newer.size, older.root, newer.root, proof)


def test_32_writers_and_readers_on_both_processes(cluster: Cluster) -> None:
    """16 writers and 16 readers at once, half on each process. Each reader tails the
    growing feed the way a TAXII client polls: it follows ``next`` to the end of what
    is there, then asks again with ``added_after`` the last ``date_added`` it saw,
    switching process at every request. Nothing is lost or stored twice, and every
    reader saw exactly the feed, in order: no object skipped, none repeated."""
    writers, envelopes, per = 16, 5, 4
    path = "collections/growing/objects/"
    writing = threading.Event()
    writing.set()

    def write(w: int) -> int:
        stored = 0
        with http_client(cluster.servers[w % 2], cluster.publisher) as client:
            for e in range(envelopes):
                batch = [identity(f"growing-{w}-{e}-{n}") for n in range(per)]
                response = client.post(
                    path, content=envelope_bytes(batch), headers={"Content-Type": TAXII_21}
                )
                assert response.status_code == 202, response.text
                stored += response.json()["success_count"]
        return stored

    def tail(r: int) -> list[str]:
        seen: list[str] = []
        clients = [http_client(s, cluster.reader) for s in cluster.servers]
        turn = itertools.count(r)
        try:
            after: str | None = None
            while True:
                done = not writing.is_set()  # decided before the final pass
                token: str | None = None
                while True:
                    params: dict[str, str] = {"limit": str(LIMIT)}
                    if after is not None:
                        params["added_after"] = after
                    if token is not None:
                        params["next"] = token
                    response = clients[next(turn) % 2].get(path, params=params)
                    assert response.status_code == 200, response.text
                    page = response.json()
                    seen += [o["id"] for o in page.get("objects", [])]
                    if page.get("objects"):
                        last = response.headers["X-TAXII-Date-Added-Last"]
                    if not page["more"]:
                        break
                    token = page["next"]
                if seen:
                    after = last
                if done:
                    return seen
        finally:
            for client in clients:
                client.close()

    with ThreadPoolExecutor(max_workers=32) as pool:
        tails = [pool.submit(tail, r) for r in range(16)]
        stored = list(pool.map(write, range(writers)))
        writing.clear()
        seen = [t.result() for t in tails]
    assert stored == [envelopes * per] * writers

    hub = cluster.home.local_hub()
    o = tables.stix_object
    with read_transaction(hub.engine) as conn:
        feed = hub.feeds.find(conn, "growing")
        assert feed is not None
        feed_order = (
            conn.execute(select(o.c.stix_id).where(o.c.feed_id == feed.id).order_by(o.c.date_added))
            .scalars()
            .all()
        )
    expected = {identity(f"growing-{w}-{e}-{n}")["id"] for w in range(writers)
                for e in range(envelopes) for n in range(per)}  # fmt: skip
    assert len(feed_order) == len(set(feed_order)) == len(expected)
    assert set(feed_order) == expected
    for sequence in seen:
        assert sequence == feed_order
    time.sleep(1.5)  # both processes checkpoint every second
    assert_one_log(cluster)


def test_revoked_token_is_refused_by_both_processes_at_once(cluster: Cluster) -> None:
    member = cluster.home.add_member("short-lived")
    cluster.home.grant("short-lived", "reports", read=True)
    clients = [http_client(s, member) for s in cluster.servers]
    publishers = [http_client(s, cluster.publisher) for s in cluster.servers]
    try:
        for client in clients:
            assert client.get(f"{FEED}objects/", params={"limit": "1"}).status_code == 200

        assert cluster.home.revoke_tokens("short-lived") == 1

        for client in clients:
            for path in ("collections/", f"{FEED}objects/"):
                refused = client.get(path)
                assert_taxii_error(refused, 401)
                assert "Basic" in refused.headers["www-authenticate"]
        for publisher in publishers:  # nobody else is affected
            assert publisher.get(f"{FEED}objects/", params={"limit": "1"}).status_code == 200
    finally:
        for client in clients + publishers:
            client.close()

    # A new token works on both processes straight away.
    issued = cluster.home.cli("admin", "token", "issue", "short-lived")
    renewed = Member(member.name, member.id, issued["token"])
    for server in cluster.servers:
        with http_client(server, renewed) as client:
            assert client.get("collections/").status_code == 200
