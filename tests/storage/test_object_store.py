"""Contract tests of the object store, run on every backend."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import event

from exchange.db.objects import AddOutcome, PageKind
from exchange.db.records import NewObject, ObjectQuery, VersionFilter
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.ids import CollectionId, StixId
from exchange.protocol.timestamps import version_key
from exchange.services import admin
from exchange.services.hub import Hub
from exchange.settings import HubSettings
from tests.conftest import needs_postgres


def _obj(n: int, modified: str = "2026-01-01T00:00:00.000Z", **extra: object) -> NewObject:
    stix_id = f"indicator--{uuid.UUID(int=n, version=4)}"
    body = {"type": "indicator", "id": stix_id, "modified": modified, **extra}
    return NewObject(
        stix_id=StixId(stix_id),
        type="indicator",
        spec_version="2.1",
        version=modified,
        version_key=version_key(modified),
        body=orjson.dumps(body).decode(),
    )


def _feed(hub: Hub, alias: str = "f") -> CollectionId:
    return admin.add_feed(hub, alias, "Feed").id


def _add(hub: Hub, feed: CollectionId, objects: list[NewObject], now: int = 1_000):
    with write_transaction(hub.engine) as conn:
        return hub.objects.add(conn, feed, objects, now)


_EVERYTHING = ObjectQuery()


def _page(hub: Hub, feed: CollectionId, query: ObjectQuery = _EVERYTHING, **kw):
    kw.setdefault("kind", PageKind.OBJECTS)
    kw.setdefault("after", None)
    kw.setdefault("limit", 1000)
    with read_transaction(hub.engine) as conn:
        return hub.objects.page(conn, feed, query, **kw)


def test_add_assigns_strictly_increasing_date_added_in_one_request(hub: Hub) -> None:
    feed = _feed(hub)
    results = _add(hub, feed, [_obj(n) for n in range(1, 6)], now=5)
    assert [r.outcome for r in results] == [AddOutcome.ADDED] * 5
    page = _page(hub, feed)
    assert [r.date_added for r in page.rows] == [5, 6, 7, 8, 9]
    # A later add with an earlier clock still goes after everything stored.
    _add(hub, feed, [_obj(9)], now=1)
    assert _page(hub, feed).rows[-1].date_added == 10


def test_duplicate_is_reported_and_not_stored_twice(hub: Hub) -> None:
    feed = _feed(hub)
    _add(hub, feed, [_obj(1)])
    results = _add(hub, feed, [_obj(1), _obj(1, name="changed")])
    assert [r.outcome for r in results] == [AddOutcome.DUPLICATE, AddOutcome.CONFLICT]
    with read_transaction(hub.engine) as conn:
        assert hub.objects.count(conn, feed) == 1


def test_duplicates_within_one_request(hub: Hub) -> None:
    feed = _feed(hub)
    results = _add(hub, feed, [_obj(1), _obj(1), _obj(1, name="other")])
    assert [r.outcome for r in results] == [
        AddOutcome.ADDED,
        AddOutcome.DUPLICATE,
        AddOutcome.CONFLICT,
    ]


def test_first_and_last_flags_follow_versions_in_any_order(hub: Hub) -> None:
    feed = _feed(hub)
    v1, v2, v3 = (f"2026-01-0{d}T00:00:00.000Z" for d in (1, 2, 3))
    _add(hub, feed, [_obj(1, v2)])
    _add(hub, feed, [_obj(1, v3), _obj(1, v1)])  # newest then oldest, one request
    last = _page(hub, feed, ObjectQuery(versions=VersionFilter(last=True)))
    first = _page(hub, feed, ObjectQuery(versions=VersionFilter(first=True)))
    every = _page(hub, feed, ObjectQuery(versions=VersionFilter(all=True)))
    assert [r.version for r in last.rows] == [v3]
    assert [r.version for r in first.rows] == [v1]
    assert [r.version for r in every.rows] == [v2, v3, v1]  # by date_added


def test_delete_recomputes_flags(hub: Hub) -> None:
    feed = _feed(hub)
    v1, v2 = "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"
    _add(hub, feed, [_obj(1, v1), _obj(1, v2)])
    query = ObjectQuery(versions=VersionFilter(last=True), stix_id=_obj(1).stix_id)
    with write_transaction(hub.engine) as conn:
        assert hub.objects.delete(conn, feed, query) == 1
    last = _page(hub, feed, ObjectQuery(versions=VersionFilter(last=True)))
    assert [r.version for r in last.rows] == [v1]
    with write_transaction(hub.engine) as conn:
        assert hub.objects.delete(conn, feed, query) == 1
        assert hub.objects.delete(conn, feed, query) == 0
    assert _page(hub, feed, ObjectQuery(versions=VersionFilter(all=True))).rows == []


def test_keyset_pages_cover_everything_once(hub: Hub) -> None:
    feed = _feed(hub)
    _add(hub, feed, [_obj(n) for n in range(1, 24)])
    seen: list[str] = []
    after = None
    while True:
        page = _page(hub, feed, after=after, limit=5, kind=PageKind.MANIFEST)
        seen += [r.stix_id for r in page.rows]
        assert all(r.body is None for r in page.rows)
        if not page.more:
            break
        after = page.rows[-1].date_added
    assert seen == [_obj(n).stix_id for n in range(1, 24)]


def test_filters_are_anded_and_values_ored(hub: Hub) -> None:
    feed = _feed(hub)
    _add(hub, feed, [_obj(n) for n in range(1, 6)])
    ids = (_obj(2).stix_id, _obj(4).stix_id)
    page = _page(hub, feed, ObjectQuery(ids=ids, types=("indicator",)))
    assert [r.stix_id for r in page.rows] == list(ids)
    assert _page(hub, feed, ObjectQuery(ids=ids, types=("malware",))).rows == []
    assert _page(hub, feed, ObjectQuery(spec_versions=("2.0",))).rows == []
    assert len(_page(hub, feed, ObjectQuery(added_after=1_001)).rows) == 3


def test_feeds_are_isolated(hub: Hub) -> None:
    one, two = _feed(hub, "one"), _feed(hub, "two")
    _add(hub, one, [_obj(1)])
    assert _page(hub, two).rows == []
    assert [r.outcome for r in _add(hub, two, [_obj(1)])] == [AddOutcome.ADDED]


@pytest.mark.parametrize("writers", [4])
def test_concurrent_writers_get_unique_ordered_dates(hub: Hub, writers: int) -> None:
    """Writers racing on one feed: nothing lost, date_added unique, commit order = date order."""
    feed = _feed(hub)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for batch in range(5):
                base = 1 + worker * 1000 + batch * 10
                _add(hub, feed, [_obj(n) for n in range(base, base + 10)], now=1)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = _page(hub, feed, limit=10_000).rows
    assert len(rows) == writers * 50
    assert len({r.stix_id for r in rows}) == writers * 50
    dates = [r.date_added for r in rows]
    assert dates == sorted(set(dates))


def test_admit_is_asked_only_about_objects_that_would_be_added(hub: Hub) -> None:
    feed = _feed(hub)
    _add(hub, feed, [_obj(1)])
    asked: list[int] = []

    def admit(position: int) -> str | None:
        asked.append(position)
        return "refused for the test" if position == 2 else None

    with write_transaction(hub.engine) as conn:
        results = hub.objects.add(conn, feed, [_obj(1), _obj(2), _obj(3)], 2_000, admit)
    assert asked == [1, 2]  # the duplicate at position 0 is never put to admit
    assert [r.outcome for r in results] == [
        AddOutcome.DUPLICATE,
        AddOutcome.ADDED,
        AddOutcome.REFUSED,
    ]
    assert results[2].reason == "refused for the test"
    assert {r.stix_id for r in _page(hub, feed).rows} == {_obj(1).stix_id, _obj(2).stix_id}


@needs_postgres
def test_on_a_never_analyzed_postgresql_an_add_looks_ids_up_by_index(
    make_settings: Callable[..., HubSettings],
) -> None:
    """An add's lookups of the ids it brings are index lookups even when PostgreSQL has
    no statistics (autovacuum off, or not yet come by): otherwise the planner scans the
    whole feed per batch, and adds slow down with the feed's size."""
    hub = Hub.open(make_settings("postgresql"))
    try:
        feed = _feed(hub)
        for start in range(0, 20_000, 5_000):
            _add(hub, feed, [_obj(n) for n in range(start, start + 5_000)], now=start + 1)
        statements: list[tuple[str, Any]] = []

        def capture(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
            if "stix_object" in statement and statement.lstrip().upper().startswith("SELECT"):
                statements.append((statement, params))

        event.listen(hub.engine, "before_cursor_execute", capture)
        _add(hub, feed, [_obj(n) for n in range(19_990, 20_010)], now=50_000)
        event.remove(hub.engine, "before_cursor_execute", capture)
        lookups = [(s, p) for s, p in statements if "stix_id" in s and "feed_id" in s]
        assert len(lookups) >= 2  # the ids' versions, then the duplicates' bodies
        with hub.engine.connect() as conn:
            for statement, params in lookups:
                plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar()
                text = json.dumps(plan)
                assert "uq_object_feed_id_version" in text, text
                assert "Seq Scan" not in text, text
    finally:
        hub.close()
