"""The access log (issue 5, item 4): every request that touches feeds, objects, policies,
keys or the logs is a leaf, allowed or denied; a write commits with its leaf."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from exchange.api.audit import ACTIONS
from exchange.db.logs import LogName
from exchange.db.session import read_transaction, write_transaction
from exchange.errors import Conflict
from exchange.protocol.ids import CollectionId
from exchange.protocol.media import TAXII_21
from exchange.services import admin, ingest
from exchange.services.access_log import canonical_pairs
from policies.canonical import canonical_bytes
from tests.exchange.conftest import StixFactory, World

ACCESS = LogName.ACCESS


def _entries(w: World) -> list[dict[str, Any]]:
    with read_transaction(w.hub.engine) as conn:
        size = w.hub.logs.size(conn, ACCESS)
        found = w.hub.logs.entries(conn, ACCESS, 0, size)
    events = [orjson.loads(e.data) for e in found]
    assert all(canonical_bytes(ev) == e.data for ev, e in zip(events, found, strict=True))
    return events


def _last(w: World) -> dict[str, Any]:
    return _entries(w)[-1]


def test_a_read_is_logged_with_what_it_served(world: World, stix: StixFactory) -> None:
    indicator = stix.indicator(name="MARKER-not-in-the-log")
    world.post_ok([indicator], who="owner")
    response = world.get(world.objects_url(), who="reader")
    assert response.status_code == 200
    entry = _last(world)
    assert entry["action"] == "objects.read"
    assert entry["decision"] == "allow"
    assert entry["member"] == world.members["reader"].id
    assert entry["member_kind"] == "research"
    assert entry["feed"] == world.feed_id
    assert [indicator["id"], indicator["modified"]] in entry["objects"]
    assert entry["request_id"] == response.headers["x-request-id"]
    assert b"MARKER-not-in-the-log" not in b"".join(canonical_bytes(e) for e in _entries(world))


def test_a_write_and_its_leaf_commit_together(world: World, stix: StixFactory) -> None:
    indicator = stix.indicator()
    response = world.post([indicator], who="writer")
    assert response.status_code == 202
    entry = _last(world)
    assert entry["action"] == "objects.add"
    assert entry["objects"] == [[indicator["id"], indicator["modified"]]]
    assert entry["detail"]["status"] == response.json()["id"]
    assert entry["request_id"] == response.headers["x-request-id"]


def test_a_write_whose_leaf_fails_stores_nothing(
    world: World, stix: StixFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the log is unavailable")

    monkeypatch.setattr(ingest, "append", broken)
    before = len(_entries(world))
    indicator = stix.indicator()
    client = TestClient(world.client.app, raise_server_exceptions=False)
    response = client.post(
        world.objects_url(),
        json={"objects": [indicator]},
        headers=world.headers("writer", **{"Content-Type": TAXII_21}),
    )
    assert response.status_code == 500
    monkeypatch.undo()
    got = world.get(world.object_url(indicator["id"]), who="reader")
    assert got.status_code == 404  # not stored: the write rolled back with its leaf
    assert len(_entries(world)) >= before  # the refusal may be logged; the add is not
    assert all(e["action"] != "objects.add" for e in _entries(world)[before:])


@pytest.mark.parametrize(
    ("who", "status", "member"),
    [(None, 401, False), ("reader", 403, True), ("outsider", 404, True)],
)
def test_refusals_are_logged_with_their_reason(
    world: World, stix: StixFactory, who: str | None, status: int, member: bool
) -> None:
    response = world.post([stix.indicator()], who=who)
    assert response.status_code == status
    entry = _last(world)
    assert entry["action"] == "objects.add"
    assert entry["decision"] == "deny"
    assert entry["reason"].startswith(f"{status}: ")
    assert entry["member"] == (world.members[who].id if member and who else None)
    assert entry["feed"] == world.feed_id  # the owner sees attempts on its feed, hidden or not
    assert entry["request_id"] == response.headers["x-request-id"]


def test_an_absent_feed_is_logged_by_the_name_asked_for(world: World) -> None:
    response = world.get(world.objects_url("no-such-feed"), who="reader")
    assert response.status_code == 404
    entry = _last(world)
    assert (entry["decision"], entry["feed"]) == ("deny", None)
    assert entry["detail"] == {"feed_ref": "no-such-feed"}


def test_a_large_page_is_logged_by_count_and_digest(world: World, stix: StixFactory) -> None:
    objects = [stix.indicator() for _ in range(150)]
    world.post_ok(objects, who="owner")
    response = world.get(world.manifest_url() + "?limit=150", who="reader")
    served = [[r["id"], r["version"]] for r in response.json()["objects"]]
    assert len(served) == 150
    entry = _last(world)
    assert entry["action"] == "manifest.read"
    digest = hashlib.sha256(canonical_bytes(served)).hexdigest()
    assert entry["objects"] == {"count": 150, "sha256": digest}


def test_keys_policies_and_logs_are_logged_too(world: World) -> None:
    owner = world.members["owner"]
    for path, action in [
        (f"/exchange/v1/members/{owner.id}/keys", "keys.read"),
        ("/exchange/v1/feeds/reports/policy", "policy.read"),
        ("/exchange/v1/feeds/reports/policy/versions", "policy.versions"),
        ("/exchange/v1/logs/directory/entries", "log.entries"),
    ]:
        response = world.get(path, who="reader")
        assert response.status_code == 200, (path, response.text)
        assert _last(world)["action"] == action, path
    assert _last(world)["detail"]["log"] == "directory"


def test_routes_that_touch_nothing_are_not_logged(world: World) -> None:
    before = len(_entries(world))
    for path in ("/taxii2/", "/taxii2/trends/", "/exchange/v1/whoami"):
        assert world.get(path, who="reader").status_code == 200
    assert world.get("/.well-known/trend-exchange/log-key", who=None).status_code == 200
    assert len(_entries(world)) == before


def test_every_route_that_names_a_feed_key_policy_status_or_log_is_audited(world: World) -> None:
    """From the route table: a new route of that kind without an action fails here."""
    app = world.client.app
    assert isinstance(app, FastAPI)
    routes = [
        (c.original_route, c.path)
        for c in iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute) and c.path is not None
    ]
    names = {route.name for route, _ in routes}
    assert len(routes) >= 24
    assert set(ACTIONS) <= names, set(ACTIONS) - names
    touching = {"collection_id", "feed", "status_id", "member_id", "log"}
    for route, path in routes:
        params = set(re.findall(r"{(\w+)}", path))
        if params & touching or path.endswith("/collections/"):
            assert route.name in ACTIONS, path


def test_an_auditor_reads_the_log_and_never_a_feed(world: World, stix: StixFactory) -> None:
    """Even with a grant written into the database behind the operator's CLI's back."""
    world.post_ok([stix.indicator()], who="owner")
    with pytest.raises(Conflict, match="auditors read the access log, never a feed"):
        admin.grant(world.hub, "auditor", "reports", read=True, write=False)
    with write_transaction(world.hub.engine) as conn:
        auditor = world.members["auditor"].id
        world.hub.feeds.set_grant(conn, auditor, CollectionId(world.feed_id), True, True)
    assert world.get(world.objects_url(), who="auditor").status_code == 404
    assert world.get(world.url("collections/"), who="auditor").json() == {}
    assert world.get("/exchange/v1/feeds/reports/policy", who="auditor").status_code == 404
    log = world.get("/exchange/v1/logs/access/entries", who="auditor")
    assert log.status_code == 200
    assert log.json()["entries"]


@given(st.lists(st.lists(st.text(), min_size=2, max_size=2), max_size=20))
def test_the_fast_canonical_form_of_pairs_is_rfc_8785(pairs: list[list[str]]) -> None:
    try:
        expected = canonical_bytes(pairs)
    except ValueError:  # a lone surrogate has no canonical form; neither form is made
        with pytest.raises((ValueError, TypeError)):
            canonical_pairs(pairs)
        return
    assert canonical_pairs(pairs) == expected
