"""Our hub against Medallion and against the storage itself, side by side in one run.

Starts our hub (``exchange serve``: SQLite, and PostgreSQL too when
``EXCHANGE_TEST_DATABASE_URL`` is set) and Medallion 3.0.0 (memory backend)
on loopback, loads the same STIX objects into both through the same client
(httpx, HTTP Basic), and measures:

- **ingest**: objects/s posting N objects in envelopes of 100 and of 1,000
  (every status checked: all N succeeded), and sealed reports for ours;
- **poll**: p50/p99 of ``objects/?limit=1000`` and ``manifest/?limit=1000``
  for the first page, a page deep in the collection (its ``next`` token,
  reached by following ``next`` from an ``added_after`` query at the middle),
  and an ``added_after`` query, at each collection size (every page checked:
  the right objects, in order). Sizes beyond the HTTP-loaded first one are
  filled in-process through the hub's own object store (the same rows an
  HTTP ingest writes, without the HTTP round trips and STIX validation the
  ingest figures already measure). Medallion is polled at the sizes it can
  serve within ``--medallion-timeout`` per request; where it stops is said;
- **concurrency**: requests/s of 1, 8 and 32 clients (threads, keep-alive)
  reading pages of 10 from random points, on 1 and on 2 hub processes;
- **the storage limit**: the same rows inserted (one transaction per
  envelope) and the same pages selected and concatenated in-process, with
  SQLAlchemy Core on the same schema: no HTTP, no validation, no auth;
- **crypto**: seal and open of a 100 KB bundle for 1, 10 and 100 recipients,
  hybrid (ML-KEM-768+X25519) and X25519.

It prints one table of figures and ratios, and the targets of issue 7 with
each one's measured ratio; ``--json FILE`` writes the same as JSON.

    python -m tests.benchmarks.taxii_servers [--json results.json]
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import platform
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from exchange.db import tables
from exchange.db.records import NewObject
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.ids import CollectionId, StixId
from exchange.protocol.timestamps import format_timestamp, micros_now, version_key
from exchange.services import admin
from exchange.services.hub import Hub
from exchange.services.trust import latest_policy
from exchange.settings import HubSettings
from feeds.crypto.envelope import RecipientKey, open_report, seal_report
from feeds.crypto.keys import MemberSecrets
from policies import TLP_MARKINGS, TlpLevel
from tests.benchmarks.medallion import USER as MEDALLION_USER
from tests.benchmarks.medallion import start_medallion
from tests.integration.live import HubHome, Member, ServerProcess
from tests.policy_kit import install_policy

__all__ = ["Config", "main", "run", "table"]

TAXII_21 = "application/taxii+json;version=2.1"
PAGE = 1000
_FILL_BATCH = 5_000
_SMALL_PAGE = 10
GREEN = TLP_MARKINGS[TlpLevel.GREEN]

JsonObject = dict[str, Any]


@dataclass
class Config:
    """What one run measures; the defaults are the full run, `smoke` a tiny one."""

    ingest: int = 10_000
    sealed: int = 1_000
    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000, 1_000_000])
    compare_size: int = 1_000
    page: int = PAGE
    medallion_sizes: list[int] = field(default_factory=lambda: [1_000, 10_000])
    medallion_timeout: float = 60.0
    medallion_repeat: int = 3
    repeat: int = 50
    clients: list[int] = field(default_factory=lambda: [1, 8, 32])
    duration: float = 5.0
    recipients: list[int] = field(default_factory=lambda: [1, 10, 100])
    crypto_repeat: int = 20
    bundle_bytes: int = 100_000
    backends: list[str] = field(default_factory=list)

    @classmethod
    def smoke(cls) -> Config:
        """Small N everywhere: every figure is produced, in well under a minute per backend."""
        return cls(
            ingest=300,
            sealed=20,
            sizes=[300, 600],
            compare_size=200,
            page=50,
            medallion_sizes=[200],
            medallion_repeat=2,
            repeat=3,
            clients=[1, 4],
            duration=0.5,
            recipients=[1, 3],
            crypto_repeat=2,
            bundle_bytes=10_000,
        )


# --------------------------------------------------------------------------- data


def _uuid(seed: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/{n}"))


def stix_objects(count: int, seed: str) -> list[JsonObject]:
    """``count`` valid STIX 2.1 objects of five types, each with a unique id (and, for
    indicators, a unique pattern), the same for every server."""
    made: list[JsonObject] = []
    for n in range(count):
        stamp = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00.000Z"
        common = {"spec_version": "2.1", "created": stamp, "modified": stamp}
        kind = n % 5
        obj: JsonObject
        if kind == 0:
            obj = {
                "type": "indicator",
                "name": f"Phishing landing page {n}",
                "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}']",
                "pattern_type": "stix",
                "valid_from": stamp,
                "indicator_types": ["malicious-activity"],
            }
        elif kind == 1:
            obj = {
                "type": "identity",
                "name": f"Reporting organisation {n}",
                "identity_class": "organization",
                "sectors": ["financial-services"],
            }
        elif kind == 2:
            obj = {
                "type": "malware",
                "name": f"Loader family {n}",
                "is_family": True,
                "malware_types": ["trojan"],
                "description": "Delivered by malspam; sells access to ransomware affiliates.",
            }
        elif kind == 3:
            obj = {
                "type": "relationship",
                "relationship_type": "indicates",
                "source_ref": f"indicator--{_uuid(seed, n - 3)}",
                "target_ref": f"malware--{_uuid(seed, n - 1)}",
            }
        else:
            obj = {
                "type": "attack-pattern",
                "name": f"Business e-mail compromise variant {n}",
                "external_references": [{"source_name": "capec", "external_id": "CAPEC-98"}],
            }
        made.append({"id": f"{obj['type']}--{_uuid(seed, n)}", **common, **obj})
    return made


def _envelopes(objects: Sequence[JsonObject], size: int) -> list[bytes]:
    return [
        orjson.dumps({"objects": list(objects[i : i + size])}) for i in range(0, len(objects), size)
    ]


def _percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def _summary(samples: Sequence[float]) -> JsonObject:
    """p50 and p99 in milliseconds."""
    return {
        "p50_ms": statistics.median(samples) * 1e3,
        "p99_ms": _percentile(samples, 0.99) * 1e3,
        "samples": len(samples),
    }


# --------------------------------------------------------------------------- servers


@dataclass
class Target:
    """One TAXII server under test: its API root, credentials and collections."""

    name: str
    api_root: str
    auth: tuple[str, str]
    collections: dict[str, str]  # name -> collection id
    timeout: float = 120.0
    """Seconds a request may take before the client gives up."""

    def client(self) -> httpx.Client:
        """An httpx client on the API root, accepting TAXII 2.1."""
        return httpx.Client(
            base_url=self.api_root,
            auth=self.auth,
            headers={"Accept": TAXII_21},
            timeout=self.timeout,
        )


def _objects_url(target: Target, collection: str, resource: str = "objects") -> str:
    return f"collections/{target.collections[collection]}/{resource}/"


def _post(client: httpx.Client, url: str, body: bytes, expected: int) -> None:
    response = client.post(url, content=body, headers={"Content-Type": TAXII_21})
    if response.status_code != 202:
        raise AssertionError(f"POST {url}: {response.status_code} {response.text[:300]}")
    status = response.json()
    if status.get("success_count") != expected or status.get("failure_count", 0) != 0:
        raise AssertionError(f"POST {url}: not all {expected} objects succeeded: {status}")


def ingest(
    target: Target, collection: str, envelopes: Sequence[bytes], per: Sequence[int]
) -> float:
    """Post every envelope; return objects/s (every status checked)."""
    url = _objects_url(target, collection)
    with target.client() as client:
        started = time.perf_counter()
        for body, expected in zip(envelopes, per, strict=True):
            _post(client, url, body, expected)
        elapsed = time.perf_counter() - started
    return sum(per) / elapsed


def _per(objects: Sequence[JsonObject], size: int) -> list[int]:
    return [len(objects[i : i + size]) for i in range(0, len(objects), size)]


# --------------------------------------------------------------------------- polling


@dataclass(frozen=True)
class Query:
    """One timed request of the poll table, and the ids its page must hold, in order."""

    name: str
    resource: str  # objects | manifest
    params: dict[str, str]
    expected: list[str]
    via_next: bool = False
    after: int | None = None
    """The index of the object the page starts after (None: from the start)."""
    exact: bool = True
    """False for Medallion, which gives every object of a request the same date_added, so
    that the order of ties and the cut of added_after are its own: then the page need
    only hold distinct objects of the collection."""
    known: frozenset[str] = frozenset()


def _check_page(query: Query, body: JsonObject) -> None:
    got = [o["id"] for o in body.get("objects", [])]
    if not query.exact:
        if got and len(set(got)) == len(got) and query.known.issuperset(got):
            return
        raise AssertionError(
            f"{query.name}: {len(got)} objects, not distinct ones of the collection"
        )
    if got != query.expected:
        raise AssertionError(
            f"{query.name}: expected {len(query.expected)} objects starting"
            f" {query.expected[:1]}, got {len(got)} starting {got[:1]}"
        )


def _get(client: httpx.Client, url: str, params: dict[str, str]) -> JsonObject:
    response = client.get(url, params=params)
    if response.status_code != 200:
        raise AssertionError(f"GET {url} {params}: {response.status_code} {response.text[:300]}")
    body: JsonObject = response.json()
    return body


def _time_query(
    target: Target, collection: str, query: Query, repeat: int, reusable_next: bool
) -> list[float]:
    """Time ``query`` ``repeat`` times; each page is checked. Medallion's ``next`` is used
    up by one request, so there a fresh one is fetched (untimed) before each sample."""
    url = _objects_url(target, collection, query.resource)
    samples: list[float] = []
    with target.client() as client:
        params = dict(query.params)
        token: str | None = None
        for _ in range(repeat):
            if query.via_next and (token is None or not reusable_next):
                start = {k: v for k, v in params.items() if k != "next"}
                token = str(_get(client, url, start)["next"])
            if token is not None:
                params["next"] = token
            started = time.perf_counter()
            response = client.get(url, params=params)
            samples.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise AssertionError(f"{query.name}: {response.status_code} {response.text[:300]}")
            _check_page(query, response.json())
    return samples


def _before(stamps: Sequence[str], index: int) -> str:
    """The latest ``date_added`` before object ``index``'s (a server may give ties)."""
    j = index - 1
    while j > 0 and stamps[j] == stamps[index]:
        j -= 1
    return stamps[j]


def poll_queries(order: Sequence[str], stamps: Sequence[str], page: int = PAGE) -> list[Query]:
    """The timed queries on a collection whose objects, by ``date_added``, are ``order``
    (with ``stamps`` their ``date_added`` as the server gave them)."""
    n = len(order)
    limit = {"limit": str(page)}
    queries = [
        Query("objects, first page", "objects", limit, list(order[:page])),
        Query("manifest, first page", "manifest", limit, list(order[:page])),
    ]
    if n > page:
        # Deep: the page after the one that follows the middle, reached by next (or,
        # in a collection too small for that, the second page).
        start = n // 2 if n - n // 2 >= 2 * page else 0
        deep = {**limit, "added_after": _before(stamps, start)} if start else limit
        expected = list(order[start + page : start + 2 * page])
        queries += [
            Query("objects, deep (next)", "objects", deep, expected, True, start + page - 1),
            Query("manifest, deep (next)", "manifest", deep, expected, True, start + page - 1),
        ]
    late = (3 * n) // 4
    queries.append(
        Query(
            "objects, added_after",
            "objects",
            {**limit, "added_after": _before(stamps, late)},
            list(order[late : late + page]),
            after=late - 1,
        )
    )
    return queries


def poll(
    target: Target,
    collection: str,
    queries: Sequence[Query],
    repeat: int,
    *,
    reusable_next: bool = True,
) -> dict[str, JsonObject]:
    """p50/p99 of every query, after one untimed warm-up of each."""
    results: dict[str, JsonObject] = {}
    for query in queries:
        _time_query(target, collection, query, 1, reusable_next)
        results[query.name] = _summary(
            _time_query(target, collection, query, repeat, reusable_next)
        )
    return results


# --------------------------------------------------------------------------- storage limit


def _limit_pages(
    engine: Engine,
    feed_id: str,
    queries: Sequence[Query],
    added: Sequence[int],
    repeat: int,
    page_size: int,
) -> dict[str, JsonObject]:
    """The same pages selected and concatenated in-process (SQLAlchemy Core, no HTTP)."""
    o = tables.stix_object
    results: dict[str, JsonObject] = {}
    for query in queries:
        with_body = query.resource == "objects"
        columns = [o.c.body] if with_body else [o.c.stix_id, o.c.version, o.c.date_added]
        stmt = select(*columns).where(o.c.feed_id == feed_id, o.c.is_last.is_(True))
        if query.after is not None:
            stmt = stmt.where(o.c.date_added > added[query.after])
        stmt = stmt.order_by(o.c.date_added).limit(page_size + 1)
        samples = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            with engine.connect() as conn:
                rows = conn.execute(stmt).all()[:page_size]
            if with_body:
                page = b'{"more":true,"objects":[' + ",".join(r[0] for r in rows).encode() + b"]}"
            else:
                page = orjson.dumps(
                    {
                        "more": True,
                        "objects": [
                            {
                                "id": r[0],
                                "date_added": format_timestamp(r[2]),
                                "version": r[1],
                                "media_type": "application/stix+json;version=2.1",
                            }
                            for r in rows
                        ],
                    }
                )
            samples.append(time.perf_counter() - started)
            if len(rows) != len(query.expected) or not page:
                raise AssertionError(f"limit {query.name}: {len(rows)} rows")
        results[query.name] = _summary(samples[1:])
    return results


def _limit_rows(feed_id: str, objects: Sequence[JsonObject], first_added: int) -> list[JsonObject]:
    rows = []
    for n, obj in enumerate(objects):
        rows.append(
            {
                "feed_id": feed_id,
                "stix_id": obj["id"],
                "type": obj["type"],
                "spec_version": "2.1",
                "version": obj["modified"],
                "version_key": version_key(obj["modified"]),
                "date_added": first_added + n,
                "is_first": True,
                "is_last": True,
                "body": orjson.dumps(obj).decode(),
            }
        )
    return rows


def limit_ingest(engine: Engine, feed_id: str, objects: Sequence[JsonObject], size: int) -> float:
    """Rows/s inserting the objects' rows, one transaction per envelope of ``size``."""
    rows = _limit_rows(feed_id, objects, micros_now())
    o = tables.stix_object
    started = time.perf_counter()
    for i in range(0, len(rows), size):
        with engine.begin() as conn:
            conn.execute(insert(o), rows[i : i + size])
    return len(rows) / (time.perf_counter() - started)


# --------------------------------------------------------------------------- our hub


@dataclass
class Ours:
    """Our hub on one backend: its home, the member, and the running server."""

    backend: str
    home: HubHome
    member: Member
    server: ServerProcess | None = None

    def target(self) -> Target:
        assert self.server is not None
        return Target(
            f"ours ({self.backend})",
            self.server.api_root_url,
            self.member.auth,
            dict(self.home.feeds),
        )


def _database_url(admin_url: str, name: str) -> str:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return (
        make_url(admin_url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


def _drop_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextmanager
def _fresh_database(backend: str, workdir: Path, label: str) -> Iterator[str | None]:
    """A new empty database for ``backend`` (None: SQLite in the home), dropped afterwards."""
    if backend == "sqlite":
        yield None
        return
    admin_url = os.environ["EXCHANGE_TEST_DATABASE_URL"]
    name = f"exchange_bench_{label}_{uuid.uuid4().hex[:8]}"
    try:
        yield _database_url(admin_url, name)
    finally:
        _drop_database(admin_url, name)


def fill(hub: Hub, feed_id: str, objects: Sequence[JsonObject]) -> None:
    """Add ``objects`` through the hub's own object store, in batches (no HTTP, no validation).

    On PostgreSQL the table is analyzed every 100,000 rows (`analyze`).
    """
    for i in range(0, len(objects), _FILL_BATCH):
        batch = [
            NewObject(
                StixId(o["id"]),
                o["type"],
                "2.1",
                o["modified"],
                version_key(o["modified"]),
                orjson.dumps(o).decode(),
            )
            for o in objects[i : i + _FILL_BATCH]
        ]
        with write_transaction(hub.engine) as conn:
            hub.objects.add(conn, CollectionId(feed_id), batch, micros_now())
        if i % 100_000 == 0:
            analyze(hub)


def analyze(hub: Hub) -> None:
    """On PostgreSQL, gather the table's statistics, as autovacuum would in service (the
    test server runs with it off, and without statistics the planner's choices for the
    storage limit's queries are arbitrary)."""
    if hub.engine.dialect.name == "postgresql":
        with hub.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE stix_object"
            )


def _stamps(hub: Hub, feed_id: str) -> tuple[list[str], list[int]]:
    """The feed's ids and date_added, in date_added order (setup only, untimed)."""
    o = tables.stix_object
    with read_transaction(hub.engine) as conn:
        rows = conn.execute(
            select(o.c.stix_id, o.c.date_added)
            .where(o.c.feed_id == feed_id)
            .order_by(o.c.date_added)
        ).all()
    return [r[0] for r in rows], [r[1] for r in rows]


# --------------------------------------------------------------------------- concurrency


class _Connection:
    """A minimal HTTP/1.1 keep-alive client for the load test: a request costs the load
    generator ~0.1 ms of CPU, not httpx's ~1 ms, so that on a small machine the figures
    are the server's, not the client's."""

    def __init__(self, base: str, auth: tuple[str, str]) -> None:
        url = urllib.parse.urlsplit(base)
        assert url.hostname is not None
        self.host, self.path = url.netloc, url.path
        self.sock = socket.create_connection((url.hostname, url.port or 80), timeout=30.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        self.headers = (
            f"Host: {self.host}\r\nAuthorization: Basic {token}\r\nAccept: {TAXII_21}\r\n\r\n"
        )
        self.buffer = b""

    def get(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        target = f"{self.path}{path}?{urllib.parse.urlencode(params)}"
        self.sock.sendall(f"GET {target} HTTP/1.1\r\n{self.headers}".encode())
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length:")
        )
        self.buffer = rest
        while len(self.buffer) < length:
            self._receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body

    def _receive(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def concurrency(
    target: Target,
    collection: str,
    stamps: Sequence[str],
    clients: int,
    duration: float,
    seed: int = 3,
) -> JsonObject:
    """Requests/s of ``clients`` threads, each on its own keep-alive connection, reading
    pages of 10 from random points for ``duration`` seconds; every answer is checked
    (status 200, a TAXII envelope of 10 objects)."""
    path = _objects_url(target, collection)
    usable = stamps[: max(1, len(stamps) - _SMALL_PAGE)]
    counts = [0] * clients
    errors: list[str] = []
    start = threading.Barrier(clients + 1)
    window = [0.0, 0.0]

    def work(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        connection = _Connection(target.api_root, target.auth)
        try:
            connection.get(path, {"limit": "1"})
            start.wait()
            while time.perf_counter() < window[1]:
                params = {"limit": str(_SMALL_PAGE), "added_after": rng.choice(usable)}
                status, body = connection.get(path, params)
                if status != 200 or len(orjson.loads(body).get("objects", [])) != _SMALL_PAGE:
                    errors.append(f"{status} {body[:200]!r}")
                    return
                counts[index] += 1
        except Exception as exc:  # reported below, with the others
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    window[0] = time.perf_counter()
    window[1] = window[0] + duration
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - window[0]
    if errors:
        raise AssertionError(f"concurrency with {clients} clients: {errors[0]}")
    return {"clients": clients, "requests": sum(counts), "requests_per_s": sum(counts) / elapsed}


# --------------------------------------------------------------------------- crypto


def _bundle_of(size: int) -> bytes:
    """A STIX bundle of the benchmark's objects, just over ``size`` bytes."""
    count = 1
    while True:
        document = {"type": "bundle", "id": f"bundle--{_uuid('bundle', count)}"}
        bundle = orjson.dumps({**document, "objects": stix_objects(count, "crypto")})
        if len(bundle) >= size:
            return bundle
        count = max(count + 1, count * size // len(bundle))


def _public(secrets: MemberSecrets, suite: str) -> bytes:
    if suite == "X25519":
        key = secrets.x25519_private_key()
        assert key is not None
        return key.public_key().public_bytes_raw()
    return secrets.hybrid_public_bytes()


def crypto(config: Config) -> list[JsonObject]:
    """p50 of sealing a bundle of ``bundle_bytes`` to every recipient, and of opening it
    as one of them (all signatures and the recipient set verified)."""
    rows = []
    plaintext = _bundle_of(config.bundle_bytes)
    feed = "00000000-0000-4000-8000-000000000000"
    for suite in ("MLKEM768-X25519", "X25519"):
        for count in config.recipients:
            members = [
                (f"identity--{uuid.uuid4()}", MemberSecrets.generate(classical=True))
                for _ in range(count)
            ]
            keys = [RecipientKey(m, suite, _public(s, suite)) for m, s in members]
            publisher, signer = members[0]
            me, mine = members[-1]
            expected = {k.member: {k.key_id} for k in keys}
            seal_times, open_times = [], []
            for _ in range(config.crypto_repeat + 1):
                started = time.perf_counter()
                report = seal_report(
                    plaintext,
                    feed=feed,
                    publisher=publisher,
                    policy_version=1,
                    policy_digest="sha256:" + "0" * 64,
                    tlp_marking=GREEN,
                    recipients=keys,
                    signer=signer,
                )
                seal_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                _, opened = open_report(
                    report,
                    me=me,
                    feed=feed,
                    generations=[mine],
                    publisher_keys=signer.signing_keys(),
                    wrapper_keys=signer.signing_keys(),
                    expected_recipients=expected,
                )
                open_times.append(time.perf_counter() - started)
                if opened != plaintext:
                    raise AssertionError("a sealed bundle did not open to itself")
            seal_ms = statistics.median(seal_times[1:]) * 1e3
            open_ms = statistics.median(open_times[1:]) * 1e3
            rows.append(
                {
                    "suite": suite,
                    "recipients": count,
                    "bundle_bytes": len(plaintext),
                    "seal_ms": seal_ms,
                    "open_ms": open_ms,
                    "seal_open_ms": seal_ms + open_ms,
                }
            )
    return rows


# --------------------------------------------------------------------------- the run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _sealed_envelopes(ours: Ours, count: int) -> list[bytes]:
    """``count`` reports sealed by the member to itself under the sealed feed's policy."""
    home = ours.home
    hub = home.local_hub()
    feed = home.feeds["sealed"]
    keys = home.owner_keys(ours.member.id)
    with read_transaction(hub.engine) as conn:
        record = hub.members.find(conn, ours.member.id)
        feed_record = hub.feeds.find(conn, feed)
        assert record is not None
        assert feed_record is not None
        previous = latest_policy(hub, conn, feed_record)
    policy = install_policy(
        hub, feed, keys, readers=[record], writers=[record], template="community", previous=previous
    )
    recipient = RecipientKey(record.id, "MLKEM768-X25519", keys.secrets.hybrid_public_bytes())
    plaintext = orjson.dumps(
        {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": stix_objects(5, "sealed")}
    )
    reports = [
        seal_report(
            plaintext,
            feed=feed,
            publisher=record.id,
            policy_version=policy.policy.version,
            policy_digest=policy.digest,
            tlp_marking=GREEN,
            recipients=[recipient],
            signer=keys.secrets,
        )
        for _ in range(count)
    ]
    return _envelopes(reports, 100)


def _ours(backend: str, workdir: Path, database_url: str | None) -> Ours:
    home = HubHome(
        backend=backend, home=workdir / f"hub-{backend}" / "home", database_url=database_url
    )
    member = home.add_member("bench", "authority")
    for alias in ("small", "env100", "main", "sealed"):
        home.add_feed(alias, owner="bench")
    return Ours(backend, home, member)


def _limit_engine(backend: str, workdir: Path, database_url: str | None) -> tuple[Engine, str]:
    """A fresh, migrated database of ``backend`` with one feed, for the limit's inserts."""
    settings = HubSettings(
        home=workdir / f"limit-{backend}",
        database_url=None if database_url is None else SecretStr(database_url),
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    hub = Hub.open(settings)
    feed = admin.add_feed(hub, "limit", "limit")
    return hub.engine, feed.id


def _run_backend(backend: str, config: Config, workdir: Path, data: JsonObject) -> JsonObject:
    out: JsonObject = {"backend": backend}
    with (
        _fresh_database(backend, workdir, "hub") as hub_url,
        _fresh_database(backend, workdir, "limit") as limit_url,
    ):
        ours = _ours(backend, workdir, hub_url)
        try:
            ours.server = ours.home.serve()  # unthrottled: one member measures throughput
            target = ours.target()
            hub = ours.home.local_hub()
            objects = data["objects"]
            _say(f"{backend}: ingest {len(objects):,} objects")
            out["ingest"] = {
                "100": ingest(target, "env100", _envelopes(objects, 100), _per(objects, 100)),
                "1000": ingest(target, "main", _envelopes(objects, 1000), _per(objects, 1000)),
            }
            sealed = _sealed_envelopes(ours, config.sealed)
            out["ingest"]["sealed"] = ingest(
                target, "sealed", sealed, [len(orjson.loads(b)["objects"]) for b in sealed]
            )
            limit_engine, limit_feed = _limit_engine(backend, workdir, limit_url)
            limit_objects = stix_objects(len(objects), f"limit-{backend}")
            out["limit_ingest"] = {
                "100": limit_ingest(
                    limit_engine, limit_feed, limit_objects[: len(objects) // 2], 100
                ),
                "1000": limit_ingest(
                    limit_engine, limit_feed, limit_objects[len(objects) // 2 :], 1000
                ),
            }
            limit_engine.dispose()

            small = data["compare"]
            ingest(target, "small", _envelopes(small, 1000), _per(small, 1000))
            out["poll"] = []
            sizes = [("small", config.compare_size)] + [("main", s) for s in config.sizes]
            held = len(objects)
            for collection, size in sizes:
                feed_id = ours.home.feeds[collection]
                if collection == "main" and size > held:
                    _say(f"{backend}: fill to {size:,} objects (in-process)")
                    fill(hub, feed_id, stix_objects(size - held, f"fill-{held}"))
                    held = size
                analyze(hub)
                order, added = _stamps(hub, feed_id)
                stamps = [format_timestamp(a) for a in added]
                queries = poll_queries(order, stamps, config.page)
                _say(f"{backend}: poll at {len(order):,} objects")
                measured = poll(target, collection, queries, config.repeat)
                limit = _limit_pages(
                    hub.engine, feed_id, queries, added, config.repeat, config.page
                )
                out["poll"].append({"size": len(order), "ours": measured, "limit": limit})

            main_stamps = [format_timestamp(a) for a in _stamps(hub, ours.home.feeds["main"])[1]]
            out["concurrency"] = []
            for workers in (1, 2):
                server = ours.server if workers == 1 else ours.home.serve(workers=2)
                served = dataclasses.replace(target, api_root=server.api_root_url)
                for clients in config.clients:
                    _say(f"{backend}: {clients} clients on {workers} process(es)")
                    row = concurrency(served, "main", main_stamps, clients, config.duration)
                    out["concurrency"].append({"workers": workers, **row})
                if workers == 2:
                    ours.home.stop(server)
        finally:
            ours.home.stop_all()
            if ours.home._local is not None:
                ours.home._local.engine.dispose()
    return out


def _run_medallion(config: Config, workdir: Path, data: JsonObject) -> JsonObject:
    objects, small = data["objects"], data["compare"]
    names = ["env100", "env1000", *(f"poll{s}" for s in config.medallion_sizes)]
    server = start_medallion(workdir / "medallion", _free_port(), names)
    out: JsonObject = {"poll": [], "stopped": None}
    try:
        target = Target("medallion", server.api_root_url, MEDALLION_USER, server.collections)
        _say(f"medallion: ingest {len(objects):,} objects")
        out["ingest"] = {
            "100": ingest(target, "env100", _envelopes(objects, 100), _per(objects, 100)),
            "1000": ingest(target, "env1000", _envelopes(objects, 1000), _per(objects, 1000)),
        }
        for size in config.medallion_sizes:
            collection = f"poll{size}"
            load = small if size == config.compare_size else stix_objects(size, f"medallion-{size}")
            ingest(target, collection, _envelopes(load, 100), _per(load, 100))
            manifest = _medallion_manifest(target, collection)
            order = [m["id"] for m in manifest]
            stamps = [m["date_added"] for m in manifest]
            _say(
                f"medallion: poll at {size:,} objects"
                f" (each request may take up to {config.medallion_timeout:.0f} s)"
            )
            try:
                # Medallion's date_added is per request (ties of 100 here), so its deep
                # page is the second one, reached by next from the first.
                queries = [
                    dataclasses.replace(
                        q,
                        exact=False,
                        known=frozenset(order),
                        params={"limit": str(config.page)} if q.via_next else q.params,
                    )
                    for q in poll_queries(order, stamps, config.page)
                ]
                measured = _poll_bounded(target, collection, queries, config)
            except httpx.TimeoutException:
                out["stopped"] = (
                    f"at {size:,} objects one page took more than {config.medallion_timeout:.0f} s"
                )
                break
            out["poll"].append({"size": size, "medallion": measured})
    finally:
        server.stop()
    return out


def _medallion_manifest(target: Target, collection: str) -> list[JsonObject]:
    """Every manifest entry, in Medallion's date_added order (setup, untimed)."""
    entries: list[JsonObject] = []
    url = _objects_url(target, collection, "manifest")
    with dataclasses.replace(target, timeout=600.0).client() as client:
        params = {"limit": str(PAGE)}
        while True:
            body = _get(client, url, params)
            entries += body.get("objects", [])
            if not body.get("more"):
                return entries
            params = {"limit": str(PAGE), "next": body["next"]}


def _poll_bounded(
    target: Target, collection: str, queries: Sequence[Query], config: Config
) -> dict[str, JsonObject]:
    results: dict[str, JsonObject] = {}
    bounded = dataclasses.replace(target, timeout=config.medallion_timeout)
    for query in queries:
        results[query.name] = _summary(
            _time_query(bounded, collection, query, config.medallion_repeat, reusable_next=False)
        )
    return results


def _versions() -> JsonObject:
    info: JsonObject = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
    }
    url = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    if url:
        engine = create_engine(url)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
    from importlib.metadata import version

    info["medallion"] = version("medallion")
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(config: Config, workdir: Path | None = None) -> JsonObject:
    """Run every measurement; return the results (what ``--json`` writes)."""
    backends = config.backends or (
        ["sqlite", "postgresql"] if os.environ.get("EXCHANGE_TEST_DATABASE_URL") else ["sqlite"]
    )
    data = {
        "objects": stix_objects(config.ingest, "ingest"),
        "compare": stix_objects(config.compare_size, "compare"),
    }
    results: JsonObject = {
        "config": config.__dict__ | {"backends": backends},
        "machine": _versions(),
    }
    with tempfile.TemporaryDirectory(prefix="exchange-bench-") as tmp:
        base = workdir or Path(tmp)
        results["medallion"] = _run_medallion(config, base, data)
        results["ours"] = [_run_backend(b, config, base, data) for b in backends]
    _say("crypto")
    results["crypto"] = crypto(config)
    results["targets"] = targets(results, config)
    return results


# --------------------------------------------------------------------------- report


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def targets(results: JsonObject, config: Config) -> list[JsonObject]:
    """Issue 7's targets, each a ratio from this run, and whether it was met."""
    rows: list[JsonObject] = []

    def add(
        name: str, value: float | None, goal: float, higher_is_better: bool, where: str
    ) -> None:
        met = None if value is None else (value >= goal if higher_is_better else value <= goal)
        rows.append(
            {
                "target": name,
                "where": where,
                "value": value,
                "goal": goal,
                "higher_is_better": higher_is_better,
                "met": met,
            }
        )

    medallion = results["medallion"]
    for ours in results["ours"]:
        backend = ours["backend"]
        for size in ("100", "1000"):
            add(
                "ingest >= 10x Medallion",
                _ratio(ours["ingest"][size], medallion["ingest"][size]),
                10.0,
                True,
                f"{backend}, envelopes of {size}",
            )
            add(
                "ingest >= 30% of the storage limit",
                _ratio(ours["ingest"][size], ours["limit_ingest"][size]),
                0.30,
                True,
                f"{backend}, envelopes of {size}",
            )
        for row in ours["poll"]:
            worst = max(
                row["ours"], key=lambda q: row["ours"][q]["p50_ms"] / row["limit"][q]["p50_ms"]
            )
            add(
                "page p50 <= 3x the storage limit",
                row["ours"][worst]["p50_ms"] / row["limit"][worst]["p50_ms"],
                3.0,
                False,
                f"{backend}, {row['size']:,} objects, worst query: {worst}",
            )
        main_rows = [r for r in ours["poll"] if r["size"] >= config.sizes[0]]
        if len(main_rows) >= 2:
            low, high = main_rows[0], main_rows[-1]
            worst = max(
                high["ours"], key=lambda q: high["ours"][q]["p50_ms"] / low["ours"][q]["p50_ms"]
            )
            add(
                f"page p50 at {high['size']:,} <= 1.5x at {low['size']:,}",
                high["ours"][worst]["p50_ms"] / low["ours"][worst]["p50_ms"],
                1.5,
                False,
                f"{backend}, worst query: {worst}",
            )
        if backend == "postgresql":
            most = max(config.clients)
            rps = {
                r["workers"]: r["requests_per_s"]
                for r in ours["concurrency"]
                if r["clients"] == most
            }
            add(
                "2 processes >= 1.6x the requests/s of 1",
                _ratio(rps.get(2), rps.get(1)),
                1.6,
                True,
                f"postgresql, {most} clients",
            )
    most = max(config.recipients)
    for row in results["crypto"]:
        if row["recipients"] == most:
            add(
                f"seal + open for {most} recipients <= 100 ms",
                row["seal_open_ms"],
                100.0,
                False,
                row["suite"],
            )
    return rows


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def table(results: JsonObject) -> str:
    """The run as one plain-text table."""
    lines: list[str] = []
    machine = results["machine"]
    lines.append(
        f"Machine: {machine['cpu']}, {machine['cores']} cores; Python {machine['python']};"
        f" SQLite {machine['sqlite']}"
        + (f"; PostgreSQL {machine['postgresql']}" if "postgresql" in machine else "")
        + f"; Medallion {machine['medallion']} (memory backend)"
    )
    medallion = results["medallion"]
    ours_rows = results["ours"]
    config = results["config"]

    lines.append("")
    lines.append(f"INGEST, objects/s ({config['ingest']:,} objects)")
    lines.append(
        f"  {'':<22}{'Medallion':>10}"
        + "".join(
            f"{'ours ' + o['backend'][:6]:>14}{'limit':>10}{'/Medallion':>11}{'/limit':>8}"
            for o in ours_rows
        )
    )
    for size in ("100", "1000"):
        line = f"  {'envelopes of ' + size:<22}{_fmt(medallion['ingest'][size]):>10}"
        for o in ours_rows:
            line += (
                f"{_fmt(o['ingest'][size]):>14}{_fmt(o['limit_ingest'][size]):>10}"
                f"{_fmt(_ratio(o['ingest'][size], medallion['ingest'][size]), 2):>11}"
                f"{_fmt(_ratio(o['ingest'][size], o['limit_ingest'][size]), 2):>8}"
            )
        lines.append(line)
    line = f"  {'sealed, envelopes of 100':<22}{'n/a':>10}"
    for o in ours_rows:
        line += f"{_fmt(o['ingest']['sealed']):>14}{'':>10}{'':>11}{'':>8}"
    lines.append(line)

    lines.append("")
    lines.append(f"POLL, limit={config['page']}: p50 / p99 ms (limit: the same page in-process)")
    for o in ours_rows:
        lines.append(f"  ours on {o['backend']}")
        lines.append(
            f"    {'objects':>10}  {'query':<24}{'p50':>9}{'p99':>9}{'limit p50':>11}{'/limit':>8}"
        )
        for row in o["poll"]:
            for name, m in row["ours"].items():
                lim = row["limit"][name]["p50_ms"]
                lines.append(
                    f"    {row['size']:>10,}  {name:<24}"
                    f"{_fmt(m['p50_ms']):>9}{_fmt(m['p99_ms']):>9}"
                    f"{_fmt(lim, 2):>11}{_fmt(_ratio(m['p50_ms'], lim), 2):>8}"
                )
    lines.append("  Medallion")
    for row in medallion["poll"]:
        compare = next(
            (r for o in ours_rows[:1] for r in o["poll"] if r["size"] == row["size"]), None
        )
        for name, m in row["medallion"].items():
            mine = None if compare is None else compare["ours"][name]["p50_ms"]
            lines.append(
                f"    {row['size']:>10,}  {name:<24}{_fmt(m['p50_ms']):>9}{_fmt(m['p99_ms']):>9}"
                + (
                    ""
                    if mine is None
                    else f"   Medallion/ours ({ours_rows[0]['backend']}):"
                    f" {_fmt(m['p50_ms'] / mine, 0)}x"
                )
            )
    if medallion["stopped"]:
        lines.append(f"    stopped: {medallion['stopped']}")

    lines.append("")
    lines.append("CONCURRENCY, requests/s (pages of 10 from random points)")
    for o in ours_rows:
        by = {(r["workers"], r["clients"]): r["requests_per_s"] for r in o["concurrency"]}
        clients = sorted({c for _, c in by})
        lines.append(
            f"  ours on {o['backend']:<12}" + "".join(f"{str(c) + ' clients':>12}" for c in clients)
        )
        for workers in (1, 2):
            lines.append(
                f"    {str(workers) + ' process(es)':<20}"
                + "".join(f"{_fmt(by.get((workers, c))):>12}" for c in clients)
            )
        lines.append(
            f"    {'2 / 1':<20}"
            + "".join(f"{_fmt(_ratio(by.get((2, c)), by.get((1, c))), 2):>12}" for c in clients)
        )

    lines.append("")
    lines.append("CRYPTO, ms per bundle (p50)")
    lines.append(f"  {'suite':<18}{'recipients':>11}{'KB':>6}{'seal':>9}{'open':>9}{'both':>9}")
    for row in results["crypto"]:
        lines.append(
            f"  {row['suite']:<18}{row['recipients']:>11}{row['bundle_bytes'] // 1000:>6}"
            f"{_fmt(row['seal_ms']):>9}{_fmt(row['open_ms']):>9}{_fmt(row['seal_open_ms']):>9}"
        )

    lines.append("")
    lines.append("TARGETS")
    for t in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "-"}[t["met"]]
        sign = ">=" if t["higher_is_better"] else "<="
        lines.append(
            f"  {verdict:<7}{t['target']:<44}{_fmt(t['value'], 2):>9}"
            f" ({sign} {t['goal']:g})  {t['where']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """The command line: run, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: every figure, fast")
    parser.add_argument(
        "--sizes", help="collection sizes for polls, comma-separated (default 10000,100000,1000000)"
    )
    parser.add_argument(
        "--ingest", type=int, help="objects posted per ingest figure (default 10000)"
    )
    parser.add_argument("--repeat", type=int, help="samples per poll query (default 50)")
    parser.add_argument(
        "--backend",
        action="append",
        choices=["sqlite", "postgresql"],
        help="only these (default: both when EXCHANGE_TEST_DATABASE_URL is set)",
    )
    args = parser.parse_args(argv)
    config = Config.smoke() if args.smoke else Config()
    if args.sizes:
        config.sizes = [int(s) for s in args.sizes.split(",")]
    if args.ingest:
        config.ingest = args.ingest
    if args.repeat:
        config.repeat = args.repeat
    if args.backend:
        config.backends = args.backend
    results = run(config)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
