"""A real hub process driven by the reference TAXII 2.1 client (taxii2-client, HTTP Basic).

Every OASIS example bundle is posted to its own feed and read back, as equal
JSON values, through the objects, manifest, versions and object endpoints and
through full pagination one object per page. Filters, versions and deletes
are checked against a small feed of objects with several versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from requests.exceptions import HTTPError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from tests.integration.live import (
    EXAMPLES,
    STIX_21,
    TAXII_21,
    HubHome,
    Member,
    ServerProcess,
    identity,
    indicator,
    load_bundle,
)

pytestmark = pytest.mark.integration

JsonObject = dict[str, Any]

BUNDLES = sorted(p.name for p in EXAMPLES.glob("*.json"))

NO_SUCH_OBJECT = {
    "title": "Not Found",
    "description": "No such object in this collection.",
    "http_status": "404",
}
"""The TAXII error of the object endpoints when no version of the object matches (§5.6-§5.8)."""

# The versions of the object "a" in the filters feed, oldest first.
V1, V2, V3 = (
    "2026-02-01T00:00:00.000Z",
    "2026-03-01T00:00:00.000Z",
    "2026-04-01T00:00:00.000Z",
)


def bundle_feed(bundle: str) -> str:
    """The alias of the feed that holds example ``bundle``."""
    return "ex-" + bundle.removesuffix(".json")


@dataclass(frozen=True)
class World:
    """One running hub with its members."""

    home: HubHome
    server: ServerProcess
    owner: Member
    reader: Member


@pytest.fixture(scope="module")
def world(hub_home: HubHome) -> World:
    """Owner of every feed, a reader of 'shared' only; one feed per example bundle."""
    assert BUNDLES, f"no example bundles in {EXAMPLES}"
    owner, reader = hub_home.add_members(owner="authority", reader="research")
    extra = ["filters", "deletions", "conflicts", "shared"]
    hub_home.add_feeds([bundle_feed(b) for b in BUNDLES] + extra, owner="owner")
    hub_home.grant("reader", "shared", read=True)
    return World(hub_home, hub_home.serve(), owner, reader)


def open_root(world: World, member: Member) -> ApiRoot:
    """A taxii2-client API root as ``member`` (close it after use)."""
    return ApiRoot(world.server.api_root_url, user=member.id, password=member.token)


@pytest.fixture(scope="module")
def api_root(world: World) -> Iterator[ApiRoot]:
    """The API root as the owner, shared by the module's tests."""
    root = open_root(world, world.owner)
    yield root
    root.close()


def collection(root: ApiRoot, alias: str) -> Collection:
    """The collection whose alias is ``alias``."""
    found = [c for c in root.collections if c.alias == alias]
    assert len(found) == 1, f"no single collection {alias!r}"
    return found[0]


def objects_of(envelope: JsonObject) -> list[JsonObject]:
    """The objects of an envelope (absent when empty)."""
    objects: list[JsonObject] = envelope.get("objects", [])
    return objects


def post(col: Collection, objects: list[JsonObject]) -> Any:
    """Post ``objects`` in one envelope; return the (complete) taxii2-client Status."""
    status = col.add_objects({"objects": objects})
    assert status.status == "complete"
    assert status.total_count == len(objects)
    return status


def status_404(call: Any, *args: Any, **kwargs: Any) -> JsonObject:
    """Assert that a taxii2-client call fails with HTTP 404 and a TAXII error; return its body."""
    with pytest.raises(HTTPError) as info:
        call(*args, **kwargs)
    assert info.value.response.status_code == 404
    assert info.value.response.headers["content-type"] == TAXII_21
    body: JsonObject = info.value.response.json()
    assert body["http_status"] == "404"
    assert body["title"]
    return body


# --------------------------------------------------------------------------- discovery


def test_discovery_names_the_api_root(world: World) -> None:
    with Server(world.server.discovery_url, user=world.owner.id, password=world.owner.token) as s:
        roots = s.api_roots
        try:
            assert s.title == "Trend Exchange"
            assert [r.url for r in roots] == [world.server.api_root_url]
            assert s.default is roots[0]
            assert roots[0].versions == [TAXII_21]
            assert roots[0].max_content_length == 10 * 1024 * 1024
        finally:
            for root in roots:
                root.close()


def test_collections_are_those_granted(world: World, api_root: ApiRoot) -> None:
    owned = {c.alias: c for c in api_root.collections}
    assert set(owned) == {bundle_feed(b) for b in BUNDLES} | {
        "filters",
        "deletions",
        "conflicts",
        "shared",
    }
    assert all(c.can_read and c.can_write for c in owned.values())
    assert {c.id for c in owned.values()} == set(world.home.feeds.values())
    assert all(c.media_types == [STIX_21] for c in owned.values())

    with open_root(world, world.reader) as root:
        seen = root.collections
        assert [(c.alias, c.id, c.can_read, c.can_write) for c in seen] == [
            ("shared", world.home.feeds["shared"], True, False)
        ]


# --------------------------------------------------------------------------- example bundles


@pytest.mark.parametrize("bundle", BUNDLES)
def test_example_bundle_round_trips(api_root: ApiRoot, bundle: str) -> None:
    objects = load_bundle(bundle)
    ids = [o["id"] for o in objects]
    col = collection(api_root, bundle_feed(bundle))

    status = post(col, objects)
    assert (status.success_count, status.failure_count, status.pending_count) == (
        len(objects),
        0,
        0,
    )
    assert [s["id"] for s in status.successes] == ids
    versions = [s["version"] for s in status.successes]
    for obj, version in zip(objects, versions, strict=True):
        assert version == obj.get("modified", obj.get("created", version))

    # All at once: the objects come back as posted, in posting (date_added) order.
    whole = col.get_objects()
    assert whole.get("more") is False
    assert objects_of(whole) == objects
    assert objects_of(col.get_objects(version="all")) == objects

    # One object per page, following `next` to the end.
    pages = list(as_pages(col.get_objects, per_request=1))
    assert [len(objects_of(p)) for p in pages] == [1] * len(objects)
    assert [p["more"] for p in pages] == [True] * (len(objects) - 1) + [False]
    assert [objects_of(p)[0] for p in pages] == objects

    # The manifest, one record per page.
    manifest_pages = list(as_pages(col.get_manifest, per_request=1))
    records = [r for p in manifest_pages for r in objects_of(p)]
    assert len(manifest_pages) == len(objects)
    assert [r["id"] for r in records] == ids
    assert [r["version"] for r in records] == versions
    assert all(r["media_type"] == STIX_21 for r in records)
    added = [r["date_added"] for r in records]
    assert added == sorted(set(added)), "date_added must be unique and ascending"
    for obj, record in zip(objects, records, strict=True):
        if "modified" not in obj and "created" not in obj:  # unversioned: the server's value
            assert record["version"] == record["date_added"]
    assert col.get_manifest() == {"more": False, "objects": records}

    # Each object alone, and its versions.
    for obj, version in zip(objects, versions, strict=True):
        assert col.get_object(obj["id"]) == {"more": False, "objects": [obj]}
        assert col.object_versions(obj["id"]) == {"more": False, "versions": [version]}

    # Posting the very same objects again is a success that stores nothing new.
    again = post(col, objects)
    assert (again.success_count, again.failure_count) == (len(objects), 0)
    assert col.get_manifest() == {"more": False, "objects": records}


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class FilterFeed:
    """The 'filters' feed: a@V1, b, c, a@V2, a@V3 in one post, then d in another."""

    col: Collection
    a1: JsonObject
    a2: JsonObject
    a3: JsonObject
    b: JsonObject
    c: JsonObject
    d: JsonObject
    manifest: list[JsonObject]  # every version, in date_added order


@pytest.fixture(scope="module")
def filter_feed(api_root: ApiRoot) -> FilterFeed:
    col = collection(api_root, "filters")
    a1, a2, a3 = (indicator("a", modified=v) for v in (V1, V2, V3))
    b, c, d = indicator("b"), identity("c"), identity("d")
    assert post(col, [a1, b, c, a2, a3]).success_count == 5
    assert post(col, [d]).success_count == 1
    manifest = objects_of(col.get_manifest(version="all"))
    return FilterFeed(col, a1, a2, a3, b, c, d, manifest)


def test_default_is_the_latest_version_of_each(filter_feed: FilterFeed) -> None:
    f = filter_feed
    assert objects_of(f.col.get_objects()) == [f.b, f.c, f.a3, f.d]
    assert objects_of(f.col.get_objects(version="last")) == [f.b, f.c, f.a3, f.d]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("all", ["a1", "b", "c", "a2", "a3", "d"]),
        ("first", ["a1", "b", "c", "d"]),
        ("first,last", ["a1", "b", "c", "a3", "d"]),
        (V2, ["a2"]),
        ("2026-03-01T00:00:00Z", ["a2"]),  # the same instant written differently
        (f"{V1},{V3}", ["a1", "a3"]),
    ],
)
def test_match_version(filter_feed: FilterFeed, version: str, expected: list[str]) -> None:
    f = filter_feed
    assert objects_of(f.col.get_objects(version=version)) == [getattr(f, n) for n in expected]


def test_match_type_and_id(filter_feed: FilterFeed) -> None:
    f = filter_feed
    assert objects_of(f.col.get_objects(type="indicator")) == [f.b, f.a3]
    assert objects_of(f.col.get_objects(type="identity")) == [f.c, f.d]
    assert objects_of(f.col.get_objects(type=["identity", "indicator"])) == [f.b, f.c, f.a3, f.d]
    assert objects_of(f.col.get_objects(type="malware")) == []
    assert objects_of(f.col.get_objects(id=f.a1["id"])) == [f.a3]
    assert objects_of(f.col.get_objects(id=f.a1["id"], version="all")) == [f.a1, f.a2, f.a3]
    assert objects_of(f.col.get_objects(id=[f.c["id"], f.b["id"]])) == [f.b, f.c]
    assert objects_of(f.col.get_objects(type="identity", id=f.b["id"])) == []
    assert objects_of(f.col.get_objects(spec_version="2.1")) == [f.b, f.c, f.a3, f.d]
    assert f.col.get_objects(spec_version="2.0") == {"more": False}


def test_added_after(filter_feed: FilterFeed) -> None:
    f = filter_feed
    third = f.manifest[2]["date_added"]  # c
    assert objects_of(f.col.get_objects(added_after=third, version="all")) == [f.a2, f.a3, f.d]
    assert objects_of(f.col.get_objects(added_after=third)) == [f.a3, f.d]
    assert objects_of(f.col.get_manifest(added_after=third, version="all")) == f.manifest[3:]
    last = f.manifest[-1]["date_added"]
    assert f.col.get_objects(added_after=last) == {"more": False}


def test_manifest_records_every_version(filter_feed: FilterFeed) -> None:
    f = filter_feed
    a = f.a1["id"]
    expected = [(a, V1), (f.b["id"], f.b["modified"]), (f.c["id"], f.c["modified"])]
    expected += [(a, V2), (a, V3), (f.d["id"], f.d["modified"])]
    assert [(r["id"], r["version"]) for r in f.manifest] == expected
    assert [r["version"] for r in objects_of(f.col.get_manifest(id=a, version="all"))] == [
        V1,
        V2,
        V3,
    ]


def test_paging_with_filters(filter_feed: FilterFeed) -> None:
    f = filter_feed
    pages = list(as_pages(f.col.get_objects, per_request=2, version="all"))
    assert [objects_of(p) for p in pages] == [[f.a1, f.b], [f.c, f.a2], [f.a3, f.d]]
    pages = list(as_pages(f.col.get_manifest, per_request=1, type="indicator"))
    assert [r["id"] for p in pages for r in objects_of(p)] == [f.b["id"], f.a3["id"]]


def test_one_object_and_its_versions(filter_feed: FilterFeed) -> None:
    f = filter_feed
    a = f.a1["id"]
    assert objects_of(f.col.get_object(a)) == [f.a3]
    assert objects_of(f.col.get_object(a, version="first")) == [f.a1]
    assert objects_of(f.col.get_object(a, version="all")) == [f.a1, f.a2, f.a3]
    assert objects_of(f.col.get_object(a, version=V2)) == [f.a2]
    assert f.col.object_versions(a) == {"more": False, "versions": [V1, V2, V3]}
    assert f.col.object_versions(f.d["id"]) == {"more": False, "versions": [f.d["modified"]]}
    status_404(f.col.get_object, identity("nobody")["id"])
    status_404(f.col.object_versions, identity("nobody")["id"])


# --------------------------------------------------------------------------- changes


def test_delete_object_versions(api_root: ApiRoot) -> None:
    col = collection(api_root, "deletions")
    x1, x2, x3 = (indicator("x", modified=v) for v in (V1, V2, V3))
    y = identity("y")
    post(col, [x1, x2, x3, y])
    x = x1["id"]

    col.delete_object(x, version=V2)
    assert col.object_versions(x)["versions"] == [V1, V3]
    assert objects_of(col.get_objects(version="all")) == [x1, x3, y]
    assert objects_of(col.get_object(x)) == [x3]
    # §5.7: after a DELETE, a GET of that version is a 404, though other versions remain.
    assert status_404(col.get_object, x, version=V2) == NO_SUCH_OBJECT
    assert status_404(col.delete_object, x, version=V2) == NO_SUCH_OBJECT

    col.delete_object(x)  # every remaining version
    assert status_404(col.get_object, x) == NO_SUCH_OBJECT
    assert status_404(col.object_versions, x) == NO_SUCH_OBJECT
    assert status_404(col.delete_object, x) == NO_SUCH_OBJECT
    assert objects_of(col.get_objects(version="all")) == [y]
    assert [r["id"] for r in objects_of(col.get_manifest(version="all"))] == [y["id"]]


def test_changed_object_under_a_stored_version_is_refused(api_root: ApiRoot) -> None:
    col = collection(api_root, "conflicts")
    original = identity("z")
    post(col, [original])
    changed = {**original, "name": "Someone else"}
    status = post(col, [changed, identity("w")])
    assert (status.success_count, status.failure_count) == (1, 1)
    assert [(d["id"], d["version"]) for d in status.failures] == [
        (original["id"], original["modified"])
    ]
    assert objects_of(col.get_object(original["id"])) == [original]


def test_reader_reads_but_may_not_write(world: World, api_root: ApiRoot) -> None:
    post(collection(api_root, "shared"), [identity("s")])
    with open_root(world, world.reader) as root:
        shared = collection(root, "shared")
        assert objects_of(shared.get_objects()) == [identity("s")]
        assert (shared.can_read, shared.can_write) == (True, False)
