"""Retention: objects older than the policy in force allows are never served, then purged.

Objects are stored "in the past" through the ingest service's ``now``, under a
policy whose window started long before; reads are evaluated at a later
``now`` where that is simpler. The purge deletes exactly the expired versions
and leaves the survivors' first/last flags right; the app runs it in the
background every ``purge_interval`` seconds.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from sqlalchemy import select, update

from exchange.app import create_app
from exchange.db import tables
from exchange.db.objects import PageKind
from exchange.db.records import ObjectQuery, VersionFilter
from exchange.db.session import read_transaction, write_transaction
from exchange.errors import ObjectNotFound
from exchange.protocol.ids import StixId
from exchange.protocol.timestamps import datetime_to_micros
from exchange.services import admin
from exchange.services.ingest import add_objects
from exchange.services.queries import read_page
from exchange.services.retention import purge_expired
from exchange.services.trust import latest_policy
from policies import SignedPolicy
from tests.policy_kit import CLEAR, install_policy

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World


def in_force(w: World, feed: str) -> SignedPolicy:
    """The newest stored policy version of ``feed``."""
    with read_transaction(w.hub.engine) as conn:
        record = w.hub.feeds.find(conn, feed)
        assert record is not None
        found = latest_policy(w.hub, conn, record)
    assert found is not None
    return found


def keep_for(w: World, feed: str, days: int, template: str = CLEAR) -> None:
    """Publish the next policy of ``feed`` keeping objects ``days`` days, in force for 30 days."""
    assert w.owner_keys is not None
    current = in_force(w, feed)
    install_policy(
        w.hub,
        feed,
        w.owner_keys,
        readers=[w.members["owner"], w.members["reader"]],
        writers=[w.members["owner"], w.members["writer"]],
        template=template,
        previous=current,
        valid_from=datetime.now(UTC) - timedelta(days=30),
        retention_days=days,
    )


def add_at(w: World, objects: list[dict[str, Any]], when: datetime, feed: str = "reports") -> None:
    """Store ``objects`` in ``feed`` as the owner, as if at ``when``."""
    body = orjson.dumps({"objects": objects})
    status = add_objects(w.hub, w.members["owner"], feed, body, now=datetime_to_micros(when))
    assert status.failures == (), status.failures
    assert len(status.successes) == len(objects)


def stored(w: World, feed: str = "reports") -> set[tuple[str, str, bool, bool]]:
    """Every stored version of ``feed``: (id, version, is_first, is_last)."""
    o = tables.stix_object
    with read_transaction(w.hub.engine) as conn:
        feed_id = w.hub.feeds.find(conn, feed)
        assert feed_id is not None
        rows = conn.execute(
            select(o.c.stix_id, o.c.version, o.c.is_first, o.c.is_last).where(
                o.c.feed_id == feed_id.id
            )
        ).all()
    return {(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows}


def versions_of(rows: Any) -> list[tuple[str, str]]:
    """(id, modified) of TAXII objects or manifest records, sorted."""
    return sorted((r["id"], r.get("modified") or r["version"]) for r in rows)


@dataclass
class Aged:
    """A feed that keeps objects one day, holding expired and fresh versions."""

    w: World
    now: datetime
    a: list[dict[str, Any]]  # three versions: two expired, one fresh
    b: dict[str, Any]  # expired
    c: list[dict[str, Any]]  # two versions, both expired
    d: dict[str, Any]  # fresh
    e: list[dict[str, Any]]  # three versions: one expired, two fresh

    @property
    def expired(self) -> list[dict[str, Any]]:
        return [*self.a[:2], self.b, *self.c, self.e[0]]

    @property
    def fresh(self) -> list[dict[str, Any]]:
        return [self.a[2], self.d, *self.e[1:]]


def age(w: World, stix: StixFactory) -> Aged:
    """Fill 'reports' (kept one day) with versions added three and two days ago, and now."""
    keep_for(w, "reports", 1)
    now = datetime.now(UTC)
    a1, c1, e1 = stix.indicator(), stix.indicator(), stix.note()
    a = [a1, stix.revise(a1, "2026-02-01T00:00:00.000Z"), stix.revise(a1, "2026-03-01T00:00:00Z")]
    c = [c1, stix.revise(c1, "2026-02-01T00:00:00.000Z")]
    e = [e1, stix.revise(e1, "2026-02-01T00:00:00.000Z"), stix.revise(e1, "2026-03-01T00:00:00Z")]
    aged = Aged(w, now, a, stix.note(), c, stix.indicator(), e)
    add_at(w, [a[0], aged.b, c[0], e[0]], now - timedelta(days=3))
    add_at(w, [a[1], c[1]], now - timedelta(days=2))
    add_at(w, [a[2], aged.d, e[1], e[2]], now)
    return aged


def _page(aged: Aged, kind: PageKind, now: datetime, **query: Any) -> list[Any]:
    _, page = read_page(
        aged.w.hub,
        aged.w.members["reader"],
        "reports",
        ObjectQuery(**query),
        kind=kind,
        after=None,
        limit=100,
        now=now,
    )
    return page.rows


ALL = {"match[version]": "all"}


def test_expired_versions_are_never_served(world: World, stix: StixFactory) -> None:
    aged = age(world, stix)
    w = aged.w
    fresh = versions_of(aged.fresh)
    latest = versions_of([aged.a[2], aged.d, aged.e[2]])
    assert versions_of(w.get(w.objects_url(), who="reader").json()["objects"]) == latest
    assert versions_of(w.get(w.objects_url(), who="reader", params=ALL).json()["objects"]) == fresh
    manifest = w.get(w.manifest_url(), who="reader", params=ALL).json()["objects"]
    assert versions_of(manifest) == fresh
    # An object with fresh versions shows only those.
    one = w.get(w.object_url(aged.a[0]["id"]), who="reader", params=ALL).json()["objects"]
    assert versions_of(one) == versions_of(aged.a[2:])
    versions = w.get(w.versions_url(aged.e[0]["id"]), who="reader").json()["versions"]
    assert versions == [aged.e[1]["modified"], aged.e[2]["modified"]]
    # An object with none is absent, on every endpoint.
    for stix_id in (aged.b["id"], aged.c[0]["id"]):
        w.assert_no_such_object(w.get(w.object_url(stix_id), who="reader", params=ALL))
        w.assert_no_such_object(w.get(w.versions_url(stix_id), who="reader"))
        for url in (w.objects_url(), w.manifest_url()):
            page = w.get(url, who="reader", params={**ALL, "match[id]": stix_id})
            assert page.status_code == 200
            assert page.json() == {"more": False}
    # Asking for old additions brings nothing back.
    since = (aged.now - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    page = w.get(w.objects_url(), who="reader", params={**ALL, "added_after": since})
    assert versions_of(page.json()["objects"]) == fresh
    # The owner is held to its own policy too.
    assert versions_of(w.get(w.objects_url(), params=ALL).json()["objects"]) == fresh


def test_everything_expires_when_read_later(sqlite_world: World, stix: StixFactory) -> None:
    aged = age(sqlite_world, stix)
    everything = VersionFilter(all=True)
    for kind in PageKind:
        assert len(_page(aged, kind, aged.now, versions=everything)) == len(aged.fresh)
    # A day and a second later even the fresh versions are past retention.
    later = aged.now + timedelta(days=1, seconds=1)
    for kind in PageKind:
        assert _page(aged, kind, later, versions=everything) == []
    with pytest.raises(ObjectNotFound, match=r"No such object in this collection"):
        _page(aged, PageKind.OBJECTS, later, stix_id=StixId(aged.d["id"]))
    with pytest.raises(ObjectNotFound, match=r"No such object in this collection"):
        _page(aged, PageKind.VERSIONS, later, stix_id=StixId(aged.a[0]["id"]))
    # Reading found versions past retention, so it purged them before answering.
    assert stored(aged.w) == set()


def test_purge_deletes_exactly_the_expired_versions(world: World, stix: StixFactory) -> None:
    w = world
    keep_for(w, "hidden", 365)
    kept_elsewhere = stix.indicator()
    add_at(w, [kept_elsewhere], datetime.now(UTC) - timedelta(days=3), feed="hidden")
    aged = age(w, stix)
    # Small batches, to take the batching loop several times.
    assert purge_expired(w.hub, now=aged.now, batch=2) == len(aged.expired)
    assert stored(w) == {
        (aged.a[2]["id"], aged.a[2]["modified"], True, True),
        (aged.d["id"], aged.d["modified"], True, True),
        (aged.e[1]["id"], aged.e[1]["modified"], True, False),
        (aged.e[2]["id"], aged.e[2]["modified"], False, True),
    }
    # The hidden feed keeps objects a year.
    assert stored(w, "hidden") == {(kept_elsewhere["id"], kept_elsewhere["modified"], True, True)}
    assert purge_expired(w.hub, now=aged.now) == 0
    # What is served now agrees with what is stored: first and last are the survivors'.
    for version, expected in (("first", [aged.a[2], aged.e[1]]), ("last", [aged.a[2], aged.e[2]])):
        page = w.get(
            w.objects_url(),
            who="reader",
            params={"match[version]": version, "match[id]": f"{aged.a[0]['id']},{aged.e[0]['id']}"},
        )
        assert versions_of(page.json()["objects"]) == versions_of(expected)
    versions = w.get(w.versions_url(aged.a[0]["id"]), who="reader").json()["versions"]
    assert versions == [aged.a[2]["modified"]]
    # A day later, the rest goes too; still nothing in the hidden feed.
    assert purge_expired(w.hub, now=aged.now + timedelta(days=1, seconds=1)) == len(aged.fresh)
    assert stored(w) == set()
    assert len(stored(w, "hidden")) == 1


def test_purge_trusts_no_edited_policy(world: World, stix: StixFactory) -> None:
    """A stored policy that does not verify counts as none: its retention deletes nothing."""
    aged = age(world, stix)
    w = aged.w
    with read_transaction(w.hub.engine) as conn:
        record = w.hub.policies.latest(conn, w.feed_id)
    assert record is not None
    document = orjson.loads(record.document)
    document["policy"]["retention_days"] = 1  # as signed; any edit breaks the signatures
    document["policy"]["readers"] = [*document["policy"]["readers"], w.members["outsider"].id]
    p = tables.policy_version
    with write_transaction(w.hub.engine) as conn:
        conn.execute(
            update(p)
            .where(p.c.feed_id == w.feed_id, p.c.version == record.number)
            .values(document=orjson.dumps(document).decode())
        )
    before = stored(w)
    assert purge_expired(w.hub, now=aged.now + timedelta(days=10)) == 0
    assert stored(w) == before


def test_anonymous_readers_of_a_public_feed_see_no_expired_versions(
    sqlite_world: World, stix: StixFactory
) -> None:
    w = sqlite_world
    keep_for(w, "reports", 1, template="public")
    admin.set_public(w.hub, "reports", True)
    old, new = stix.indicator(), stix.indicator()
    now = datetime.now(UTC)
    add_at(w, [old], now - timedelta(days=2))
    add_at(w, [new], now)
    page = w.get(w.objects_url(), who=None)
    assert page.status_code == 200, page.text
    assert [o["id"] for o in page.json()["objects"]] == [new["id"]]
    w.assert_no_such_object(w.get(w.object_url(old["id"]), who=None))


def test_the_app_purges_in_the_background(
    backend: str, make_world: Callable[..., World], stix: StixFactory
) -> None:
    w = make_world(backend, purge_interval=0.05)
    aged = age(w, stix)
    survivors = {(o["id"], o["modified"]) for o in aged.fresh}
    assert len(stored(w)) == len(aged.expired) + len(aged.fresh)
    with TestClient(create_app(w.hub.settings, hub=w.hub)) as client:
        deadline = time.monotonic() + 30
        while {(r[0], r[1]) for r in stored(w)} != survivors and time.monotonic() < deadline:
            time.sleep(0.02)
        assert {(r[0], r[1]) for r in stored(w)} == survivors
        response = client.get(w.objects_url(), headers=w.headers("reader"), params=ALL)
        assert response.status_code == 200
        assert versions_of(response.json()["objects"]) == versions_of(aged.fresh)


def test_first_and_last_are_the_served_versions_before_the_purge(
    sqlite_world: World, stix: StixFactory
) -> None:
    w = sqlite_world
    keep_for(w, "reports", 1)
    now = datetime.now(UTC)
    # The later-modified version was added long ago; the earlier one now.
    newer = stix.indicator(modified="2026-05-01T00:00:00.000Z")
    older = {**newer, "modified": "2026-01-01T00:00:00.000Z"}
    add_at(w, [newer], now - timedelta(days=3))
    add_at(w, [older], now)
    served = w.get(w.objects_url(), who="reader", params=ALL).json()["objects"]
    assert versions_of(served) == versions_of([older])
    # The default (match[version]=last) should serve the one version that is served at all.
    default = w.get(w.objects_url(), who="reader").json().get("objects", [])
    assert versions_of(default) == versions_of([older])
