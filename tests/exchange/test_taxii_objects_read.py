"""Reading objects and manifests: order, headers, filters, paging (TAXII 2.1 §3.2–§3.5, §5.3/4)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from exchange.protocol.media import STIX_21
from exchange.protocol.timestamps import format_timestamp, parse_timestamp_micros

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World

TAXII_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
FIRST = "X-TAXII-Date-Added-First"
LAST = "X-TAXII-Date-Added-Last"
PAGE_LIMIT = "X-Exchange-Page-Limit"
T1 = "2026-01-01T00:00:00.000Z"
T2 = "2026-02-01T00:00:00.000Z"
T3 = "2026-03-01T00:00:00.000Z"

Params = list[tuple[str, str]]


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json().get("objects", [])]


def _manifest(w: World, params: Params | None = None, who: str = "owner") -> list[dict[str, Any]]:
    response = w.get(w.manifest_url(), who=who, params=params)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json().get("objects", [])
    return records


def _post_each(w: World, objects: list[dict[str, Any]]) -> None:
    """POST each object in its own request, so that each has its own date_added."""
    for obj in objects:
        w.post_ok([obj])


def _assert_date_headers(response: Any, records: list[dict[str, Any]]) -> None:
    assert response.headers[FIRST] == records[0]["date_added"]
    assert response.headers[LAST] == records[-1]["date_added"]
    assert TAXII_TIMESTAMP.match(response.headers[FIRST])
    assert TAXII_TIMESTAMP.match(response.headers[LAST])


# --- sorting and X-TAXII-Date-Added headers (§3.2, §3.3) -------------------------------


def test_objects_and_manifest_sort_ascending_by_date_added(world: World, stix: StixFactory) -> None:
    """Order is the order of adding, not of the STIX timestamps."""
    w = world
    objects = [
        stix.indicator(created="2026-03-01T00:00:00.000Z"),
        stix.note(created="2026-01-01T00:00:00.000Z"),
        stix.indicator(created="2025-06-01T00:00:00.000Z"),
        stix.custom(created="2027-01-01T00:00:00.000Z"),
    ]
    _post_each(w, objects)
    expected = [o["id"] for o in objects]
    response = w.get(w.objects_url())
    assert _ids(response) == expected
    assert response.json()["objects"] == objects  # stored and served unchanged
    records = _manifest(w)
    assert [r["id"] for r in records] == expected
    added = [parse_timestamp_micros(r["date_added"]) for r in records]
    assert added == sorted(added)
    assert len(set(added)) == len(added)
    _assert_date_headers(response, records)


def test_date_headers_on_every_2xx_page(world: World, stix: StixFactory) -> None:
    w = world
    v1 = stix.indicator(created=T1)
    v2 = stix.revise(v1, T2)
    other = stix.note()
    _post_each(w, [v1, other, v2])
    records = _manifest(w, [("match[version]", "all")])
    first, mid, last = (r["date_added"] for r in records)
    cases = [
        (w.objects_url(), None, mid, last),  # the latest versions: other, then v2
        (w.objects_url(), [("match[version]", "all")], first, last),
        (w.manifest_url(), None, mid, last),
        (w.manifest_url(), [("match[version]", "first")], first, mid),
        (w.object_url(v1["id"]), None, last, last),
        (w.object_url(v1["id"]), [("match[version]", "first")], first, first),
        (w.object_url(v1["id"]), [("match[version]", "all")], first, last),
        (w.versions_url(v1["id"]), None, first, last),
    ]
    for url, params, expect_first, expect_last in cases:
        response = w.get(url, params=params)
        assert response.status_code == 200
        assert response.headers[FIRST] == expect_first, (url, params)
        assert response.headers[LAST] == expect_last, (url, params)
        assert TAXII_TIMESTAMP.match(response.headers[FIRST])


def test_empty_pages(world: World, stix: StixFactory) -> None:
    """Nothing matches: 200, an empty page without the date headers, no empty lists.

    But on the endpoints of one object, a first page on which no version of it
    matches is a 404 (§5.7: a deleted version is not found).
    """
    w = world
    for url in (w.objects_url(), w.manifest_url()):
        response = w.get(url)
        assert response.status_code == 200
        assert response.json() == {"more": False}
        assert FIRST not in response.headers
        assert LAST not in response.headers
    obj = stix.indicator()
    w.post_ok([obj])
    future = "2999-01-01T00:00:00Z"
    for url in (w.objects_url(), w.manifest_url()):
        response = w.get(url, params={"added_after": future})
        assert response.status_code == 200
        assert response.json() == {"more": False}
        assert FIRST not in response.headers
        assert LAST not in response.headers
    for url in (w.object_url(obj["id"]), w.versions_url(obj["id"])):
        response = w.get(url, params={"added_after": future})
        w.assert_no_such_object(response)
        assert FIRST not in response.headers
        assert LAST not in response.headers


# --- added_after (§3.4) ------------------------------------------------------------------


def test_added_after_is_strict(world: World, stix: StixFactory) -> None:
    w = world
    objects = [stix.indicator() for _ in range(4)]
    _post_each(w, objects)
    records = _manifest(w)
    for index, record in enumerate(records):
        after = _ids(w.get(w.objects_url(), params={"added_after": record["date_added"]}))
        assert after == [o["id"] for o in objects[index + 1 :]]
    before_first = format_timestamp(parse_timestamp_micros(records[0]["date_added"]) - 1)
    assert len(_ids(w.get(w.objects_url(), params={"added_after": before_first}))) == 4


def test_added_after_forms(sqlite_world: World, stix: StixFactory) -> None:
    """Any RFC 3339 timestamp: no fraction, an offset, more than six digits (no 500s)."""
    w = sqlite_world
    w.post_ok([stix.indicator()])
    for value in (
        "2000-01-01T00:00:00Z",
        "2000-01-01T00:00:00.1Z",
        "2000-01-01T00:00:00.123456789Z",
        "2000-01-01T02:00:00+02:00",
        "2000-01-01t00:00:00z",
    ):
        assert len(_ids(w.get(w.objects_url(), params={"added_after": value}))) == 1, value
    for value in ("2999-01-01T00:00:00Z", "2999-01-01T00:00:00-05:00"):
        assert _ids(w.get(w.objects_url(), params={"added_after": value})) == []


@pytest.mark.parametrize(
    "value", ["", "yesterday", "2026-01-01", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00", "1"]
)
def test_malformed_added_after_is_400(sqlite_world: World, value: str) -> None:
    w = sqlite_world
    for url in (w.objects_url(), w.manifest_url()):
        body = w.assert_error(w.get(url, params={"added_after": value}), 400)
        assert "added_after" in body["description"]


# --- limit and the server cap (§3.4) ----------------------------------------------------


def test_limit(world: World, stix: StixFactory) -> None:
    w = world
    objects = [stix.indicator() for _ in range(5)]
    w.post_ok(objects)
    expected = [o["id"] for o in objects]
    for limit in range(1, 8):
        for url in (w.objects_url(), w.manifest_url()):
            response = w.get(url, params={"limit": str(limit)})
            body = response.json()
            assert [o["id"] for o in body.get("objects", [])] == expected[:limit]
            assert body["more"] is (limit < 5)
            assert ("next" in body) is (limit < 5)
            assert PAGE_LIMIT not in response.headers  # the cap (1000) was not hit


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "", " 1", "+1", "１", "9" * 19])
def test_malformed_limit_is_400(sqlite_world: World, value: str) -> None:
    """limit=0 is a 400, not a 500 (OpenTAXII)."""
    w = sqlite_world
    for url in (w.objects_url(), w.manifest_url()):
        body = w.assert_error(w.get(url, params={"limit": value}), 400)
        assert "limit" in body["description"]


def test_huge_limit_is_capped_not_refused(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    w.post_ok([stix.indicator()])
    response = w.get(w.objects_url(), params={"limit": "9" * 18})
    assert response.status_code == 200
    assert response.headers[PAGE_LIMIT] == "1000"
    assert response.json()["more"] is False


def test_server_page_cap(backend: str, make_world: Any, stix: StixFactory) -> None:
    w = make_world(backend, max_page_size=3)
    objects = [stix.indicator() for _ in range(7)]
    w.post_ok(objects)
    expected = [o["id"] for o in objects]
    # A larger limit is lowered, and the response says so.
    response = w.get(w.objects_url(), params={"limit": "10"})
    assert _ids(response) == expected[:3]
    assert response.headers[PAGE_LIMIT] == "3"
    assert response.json()["more"] is True
    assert response.json()["next"]
    # No limit: the server's page size, nothing to report.
    response = w.get(w.manifest_url())
    assert len(response.json()["objects"]) == 3
    assert response.json()["more"] is True
    assert PAGE_LIMIT not in response.headers
    # A smaller limit is honoured.
    response = w.get(w.objects_url(), params={"limit": "2"})
    assert _ids(response) == expected[:2]
    assert PAGE_LIMIT not in response.headers
    # Walking 'next' past the cap returns every object exactly once.
    seen: list[str] = []
    params: Params = [("limit", "10")]
    pages = 0
    while True:
        response = w.get(w.objects_url(), params=params)
        body = response.json()
        page = [o["id"] for o in body.get("objects", [])]
        assert len(page) <= 3
        seen += page
        pages += 1
        if not body["more"]:
            assert "next" not in body
            break
        params = [("limit", "10"), ("next", body["next"])]
    assert seen == expected
    assert pages == 3


def test_api_root_advertises_the_cap(make_world: Any) -> None:
    w = make_world("sqlite", max_page_size=3)
    assert "at most 3 objects" in w.get(w.url()).json()["description"]


# --- next (§3.4, §3.5, App. B) ------------------------------------------------------------


def _walk(w: World, url: str, params: Params, limit: int) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        query = [*params, ("limit", str(limit))]
        if token is not None:
            query.append(("next", token))
        response = w.get(url, params=query)
        body = response.json()
        records = body.get("objects", [])
        seen += [r["id"] for r in records]
        pages += 1
        if records and "date_added" in records[0]:  # manifest records carry it
            assert response.headers[FIRST] == records[0]["date_added"]
            assert response.headers[LAST] == records[-1]["date_added"]
        if not body["more"]:
            assert "next" not in body
            return seen, pages
        token = body["next"]
        assert isinstance(token, str)


def test_next_round_trip(world: World, stix: StixFactory) -> None:
    w = world
    objects = [stix.indicator() for _ in range(3)] + [stix.note() for _ in range(4)]
    _post_each(w, objects)
    expected = [o["id"] for o in objects]
    for url in (w.objects_url(), w.manifest_url()):
        for limit in (1, 2, 3, 7):
            seen, pages = _walk(w, url, [], limit)
            assert seen == expected
            assert pages == -(-7 // limit)
        # With filters, the same filters are repeated with every page.
        seen, _ = _walk(w, url, [("match[type]", "note")], 3)
        assert seen == expected[3:]
        after = _manifest(w)[1]["date_added"]
        seen, _ = _walk(w, url, [("added_after", after), ("match[type]", "indicator,note")], 2)
        assert seen == expected[2:]


def test_limit_may_change_between_pages(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    objects = [stix.indicator() for _ in range(6)]
    w.post_ok(objects)
    body = w.get(w.objects_url(), params={"limit": "1"}).json()
    rest = w.get(w.objects_url(), params={"limit": "10", "next": body["next"]}).json()
    assert [o["id"] for o in body["objects"] + rest["objects"]] == [o["id"] for o in objects]
    assert rest["more"] is False


def test_next_on_a_growing_feed(world: World, stix: StixFactory) -> None:
    """Objects added between pages are served after the ones already seen."""
    w = world
    first = [stix.indicator() for _ in range(2)]
    w.post_ok(first)
    body = w.get(w.objects_url(), params={"limit": "1"}).json()
    later = stix.indicator()
    w.post_ok([later])
    rest = w.get(w.objects_url(), params={"limit": "5", "next": body["next"]}).json()
    assert [o["id"] for o in rest["objects"]] == [first[1]["id"], later["id"]]


def _first_page_token(w: World, url: str, params: Params | None = None, who: str = "owner") -> str:
    body = w.get(url, who=who, params=[*(params or []), ("limit", "1")]).json()
    assert body["more"] is True
    token: str = body["next"]
    return token


def test_tampered_next_is_400(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    w.post_ok([stix.indicator() for _ in range(3)])
    token = _first_page_token(w, w.objects_url())
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    cursor_edit = ("B" if token[0] != "B" else "C") + token[1:]
    for bad in (flipped, cursor_edit, token + "AAAA", token[:-2], "x", "!!!", "=" * 8, "a" * 400):
        body = w.assert_error(w.get(w.objects_url(), params=[("limit", "1"), ("next", bad)]), 400)
        assert "next" in body["description"]
    w.assert_error(w.get(w.objects_url(), params={"next": ""}), 400)


def test_next_reused_with_other_filters_is_400(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    objects = [stix.indicator() for _ in range(3)]
    w.post_ok(objects)
    base: Params = [("match[type]", "indicator")]
    token = _first_page_token(w, w.objects_url(), base)
    # The same filters (limit may differ, and the order of comma values does not matter).
    ok = w.get(w.objects_url(), params=[*base, ("limit", "5"), ("next", token)])
    assert ok.status_code == 200
    assert len(ok.json()["objects"]) == 2
    for params in (
        [],
        [("match[type]", "note")],
        [("match[type]", "indicator,note")],
        [*base, ("match[version]", "all")],
        [*base, ("match[id]", objects[0]["id"])],
        [*base, ("match[spec_version]", "2.1")],
        [*base, ("added_after", "2000-01-01T00:00:00Z")],
    ):
        w.assert_error(w.get(w.objects_url(), params=[*params, ("next", token)]), 400)


def test_next_of_another_member_is_400(world: World, stix: StixFactory) -> None:
    """App. B: a client-supplied cursor is re-evaluated for the caller and query."""
    w = world
    w.post_ok([stix.indicator() for _ in range(3)])
    token = _first_page_token(w, w.objects_url(), who="owner")
    w.assert_error(w.get(w.objects_url(), who="reader", params={"next": token}), 400)
    assert w.get(w.objects_url(), who="owner", params={"next": token}).status_code == 200


def test_next_of_another_endpoint_is_400(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    v1 = stix.indicator(created=T1)
    w.post_ok([v1, stix.revise(v1, T2), stix.revise(v1, T3)])
    from_objects = _first_page_token(w, w.objects_url(), [("match[version]", "all")])
    from_manifest = _first_page_token(w, w.manifest_url(), [("match[version]", "all")])
    from_versions = _first_page_token(w, w.versions_url(v1["id"]))
    from_object = _first_page_token(w, w.object_url(v1["id"]), [("match[version]", "all")])
    attempts = [
        (w.manifest_url(), [("match[version]", "all")], from_objects),
        (w.objects_url(), [("match[version]", "all")], from_manifest),
        (w.object_url(v1["id"]), [("match[version]", "all")], from_versions),
        (w.versions_url(v1["id"]), [], from_object),
        (w.objects_url(), [("match[version]", "all")], from_object),
    ]
    for url, params, token in attempts:
        w.assert_error(w.get(url, params=[*params, ("next", token)]), 400)


def test_next_in_another_collection_is_refused(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    w.post_ok([stix.indicator() for _ in range(2)])
    response = w.post([stix.indicator() for _ in range(2)], feed="hidden")
    assert response.status_code == 202
    token = _first_page_token(w, w.objects_url("reports"))
    w.assert_error(w.get(w.objects_url("hidden"), params={"next": token}), 400)


def test_next_after_access_is_revoked_is_404(sqlite_world: World, stix: StixFactory) -> None:
    from exchange.services import admin

    w = sqlite_world
    w.post_ok([stix.indicator() for _ in range(2)])
    token = _first_page_token(w, w.objects_url(), who="reader")
    admin.revoke(w.hub, "reader", "reports")
    w.assert_error(w.get(w.objects_url(), who="reader", params={"next": token}), 404)


def test_more_may_be_followed_by_an_empty_page(world: World, stix: StixFactory) -> None:
    """§3.5: objects deleted between pages leave an empty last page."""
    w = world
    objects = [stix.indicator() for _ in range(3)]
    w.post_ok(objects)
    body = w.get(w.objects_url(), params={"limit": "2"}).json()
    assert body["more"] is True
    assert w.delete(objects[2]["id"]).status_code == 200
    response = w.get(w.objects_url(), params={"limit": "2", "next": body["next"]})
    assert response.status_code == 200
    assert response.json() == {"more": False}
    assert FIRST not in response.headers


def test_fallback_paging_with_added_after(world: World, stix: StixFactory) -> None:
    """§3.5: without next, repeat the filters with added_after = X-TAXII-Date-Added-Last."""
    w = world
    objects = [stix.indicator() for _ in range(5)]
    w.post_ok(objects)
    seen: list[str] = []
    params: Params = [("limit", "2")]
    while True:
        response = w.get(w.manifest_url(), params=params)
        body = response.json()
        seen += [r["id"] for r in body.get("objects", [])]
        if not body["more"]:
            break
        params = [("limit", "2"), ("added_after", response.headers[LAST])]
    assert seen == [o["id"] for o in objects]


# --- match[...] (§3.4, §3.4.1) ----------------------------------------------------------


@pytest.fixture
def mixed(world: World, stix: StixFactory) -> dict[str, Any]:
    """An indicator in three versions, a note, a custom object and an observable."""
    w = world
    ind1 = stix.indicator(created=T1)
    ind2 = stix.revise(ind1, T2, name="Trend indicator v2")
    ind3 = stix.revise(ind1, T3, name="Trend indicator v3")
    note = stix.note()
    custom = stix.custom()
    sco = stix.sco()
    _post_each(w, [ind1, note, ind2, custom, sco, ind3])
    return {"w": w, "ind": [ind1, ind2, ind3], "note": note, "custom": custom, "sco": sco}


def _objects(w: World, params: Params, url: str | None = None) -> list[tuple[str, str | None]]:
    response = w.get(url or w.objects_url(), params=params)
    assert response.status_code == 200, response.text
    return [(o["id"], o.get("modified")) for o in response.json().get("objects", [])]


def test_match_id(mixed: dict[str, Any]) -> None:
    w, ind, note, sco = mixed["w"], mixed["ind"], mixed["note"], mixed["sco"]
    assert _objects(w, [("match[id]", note["id"])]) == [(note["id"], note["modified"])]
    ored = _objects(w, [("match[id]", f"{sco['id']},{ind[0]['id']}")])
    assert ored == [(sco["id"], None), (ind[0]["id"], T3)]
    assert _objects(w, [("match[id]", "indicator--9e4c3e3b-8f6c-4b53-a4f5-0f0f0f0f0f0f")]) == []
    records = _manifest(w, [("match[id]", f"{ind[0]['id']}, {note['id']}")])
    assert [r["id"] for r in records] == [note["id"], ind[0]["id"]]


def test_match_type(mixed: dict[str, Any]) -> None:
    w, ind, note, custom, sco = (mixed[k] for k in ("w", "ind", "note", "custom", "sco"))
    assert _objects(w, [("match[type]", "indicator")]) == [(ind[0]["id"], T3)]
    ored = [i for i, _ in _objects(w, [("match[type]", "note,ipv4-addr,x-trend-summary")])]
    assert ored == [note["id"], custom["id"], sco["id"]]
    # STIX 2.1 types absent from the collection are not an error.
    for stix_type in ("malware", "attack-pattern", "relationship", "x-unknown-thing"):
        assert _objects(w, [("match[type]", stix_type)]) == []
    assert [r["id"] for r in _manifest(w, [("match[type]", "note")])] == [note["id"]]


def test_match_version(mixed: dict[str, Any]) -> None:
    w, ind, note = mixed["w"], mixed["ind"], mixed["note"]
    iid = ind[0]["id"]

    def versions_of(params: Params) -> list[str | None]:
        return [m for i, m in _objects(w, [("match[id]", iid), *params])]

    assert versions_of([]) == [T3]  # default: last
    assert versions_of([("match[version]", "last")]) == [T3]
    assert versions_of([("match[version]", "first")]) == [T1]
    assert versions_of([("match[version]", "all")]) == [T1, T2, T3]
    assert versions_of([("match[version]", "first,last")]) == [T1, T3]
    assert versions_of([("match[version]", "first,first")]) == [T1]  # tolerated
    assert versions_of([("match[version]", T2)]) == [T2]
    assert versions_of([("match[version]", f"{T3},{T1}")]) == [T1, T3]
    assert versions_of([("match[version]", f"first,{T2}")]) == [T1, T2]
    assert versions_of([("match[version]", "2026-02-01T00:00:00Z")]) == [T2]  # same instant
    assert versions_of([("match[version]", "2026-02-01T00:00:00.000000001Z")]) == []
    # A version filter applies per object: the note's only version is its first and last.
    firsts = _objects(w, [("match[version]", "first"), ("match[type]", "indicator,note")])
    assert firsts == [(iid, T1), (note["id"], note["modified"])]
    lasts = _objects(w, [("match[version]", "last"), ("match[type]", "indicator,note")])
    assert lasts == [(note["id"], note["modified"]), (iid, T3)]


def test_match_version_on_manifest_lists_every_version(mixed: dict[str, Any]) -> None:
    w, ind = mixed["w"], mixed["ind"]
    records = _manifest(w, [("match[version]", "all"), ("match[type]", "indicator")])
    assert [(r["id"], r["version"]) for r in records] == [(ind[0]["id"], t) for t in (T1, T2, T3)]
    assert len(_manifest(w, [("match[version]", "all")])) == 6
    assert len(_manifest(w)) == 4


@pytest.mark.parametrize(
    "value",
    [
        "all,first",
        "last,all",
        "all," + T1,
        "everything",
        "2026-02-30T00:00:00Z",
        "2026-01-01T00:00:00+00:00",
        "",
        "first,,last",
        "1",
    ],
)
def test_malformed_match_version_is_400(sqlite_world: World, value: str, stix: StixFactory) -> None:
    w = sqlite_world
    obj = stix.indicator()
    w.post_ok([obj])
    for url in (w.objects_url(), w.manifest_url(), w.object_url(obj["id"])):
        body = w.assert_error(w.get(url, params={"match[version]": value}), 400)
        assert "match[version]" in body["description"]
    response = w.client.delete(
        w.object_url(obj["id"]), params={"match[version]": value}, headers=w.headers()
    )
    w.assert_error(response, 400)
    assert w.get(w.object_url(obj["id"])).status_code == 200


def test_match_spec_version(mixed: dict[str, Any]) -> None:
    w = mixed["w"]
    everything = _objects(w, [])
    assert len(everything) == 4
    assert _objects(w, [("match[spec_version]", "2.1")]) == everything
    assert _objects(w, [("match[spec_version]", "2.0")]) == []
    assert _objects(w, [("match[spec_version]", "2.0,2.1")]) == everything
    assert _manifest(w, [("match[spec_version]", "2.0")]) == []
    for value in ("abc", "2", "2.1.0", "", "v2.1"):
        w.assert_error(w.get(w.objects_url(), params={"match[spec_version]": value}), 400)


def test_fields_are_anded(mixed: dict[str, Any]) -> None:
    w, ind, note = mixed["w"], mixed["ind"], mixed["note"]
    both = [("match[type]", "indicator"), ("match[id]", f"{ind[0]['id']},{note['id']}")]
    assert _objects(w, both) == [(ind[0]["id"], T3)]
    assert _objects(w, [("match[type]", "indicator"), ("match[id]", note["id"])]) == []
    combo = [
        ("match[type]", "indicator"),
        ("match[version]", "first"),
        ("match[spec_version]", "2.1"),
    ]
    assert _objects(w, combo) == [(ind[0]["id"], T1)]
    after = _manifest(w)[0]["date_added"]  # the note's
    late = [("added_after", after), ("match[type]", "indicator,note"), ("match[version]", "all")]
    assert _objects(w, late) == [(ind[0]["id"], T2), (ind[0]["id"], T3)]


def test_unknown_match_fields_are_ignored(mixed: dict[str, Any]) -> None:
    w = mixed["w"]
    everything = _objects(w, [])
    assert _objects(w, [("match[colour]", "red")]) == everything
    assert _objects(w, [("match[created_by_ref]", "identity--x")]) == everything
    assert _objects(w, [("unrelated", "1")]) == everything


@pytest.mark.parametrize(
    "name",
    [
        "match[id]",
        "match[type]",
        "match[version]",
        "match[spec_version]",
        "added_after",
        "limit",
        "next",
    ],
)
def test_repeated_parameters_are_400(sqlite_world: World, stix: StixFactory, name: str) -> None:
    w = sqlite_world
    w.post_ok([stix.indicator() for _ in range(2)])
    token = _first_page_token(w, w.objects_url())
    values = {
        "match[id]": "indicator--9e4c3e3b-8f6c-4b53-a4f5-0f0f0f0f0f0f",
        "match[type]": "indicator",
        "match[version]": "last",
        "match[spec_version]": "2.1",
        "added_after": "2000-01-01T00:00:00Z",
        "limit": "1",
        "next": token,
    }
    for url in (w.objects_url(), w.manifest_url()):
        body = w.assert_error(w.get(url, params=[(name, values[name]), (name, values[name])]), 400)
        assert name in body["description"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("match[id]", "not-an-id"),
        ("match[id]", "indicator--NOT-A-UUID"),
        ("match[id]", ""),
        ("match[id]", "indicator--9e4c3e3b-8f6c-4b53-a4f5-0f0f0f0f0f0f,"),
        ("match[type]", "Indicator"),
        ("match[type]", "in dicator"),
        ("match[type]", "a"),
        ("match[type]", ""),
    ],
)
def test_malformed_match_values_are_400(sqlite_world: World, name: str, value: str) -> None:
    w = sqlite_world
    for url in (w.objects_url(), w.manifest_url()):
        body = w.assert_error(w.get(url, params={name: value}), 400)
        assert name in body["description"]


# --- manifest records (§5.3.1) ----------------------------------------------------------


def test_manifest_records(world: World, stix: StixFactory) -> None:
    w = world
    ind = stix.indicator(created=T1, modified=T2)
    marking = stix.marking(created=T3)
    sco = stix.sco()
    _post_each(w, [ind, marking, sco])
    response = w.get(w.manifest_url())
    body = response.json()
    assert body["more"] is False
    assert "next" not in body
    records = body["objects"]
    media_types = w.get(w.url("collections/reports/")).json()["media_types"]
    for record in records:
        assert set(record) == {"id", "date_added", "version", "media_type"}
        assert TAXII_TIMESTAMP.match(record["date_added"])
        assert record["media_type"] in media_types
        assert record["media_type"] == STIX_21
    assert [(r["id"], r["version"]) for r in records[:2]] == [
        (ind["id"], T2),  # version = modified
        (marking["id"], T3),  # no modified: created
    ]
    # Neither: a server-consistent value (the date it was added).
    assert records[2]["id"] == sco["id"]
    assert records[2]["version"] == records[2]["date_added"]
    _assert_date_headers(response, records)
