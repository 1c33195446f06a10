"""Collections (TAXII 2.1 §5.1, §5.2) and the permission model (§5.7 table, App. B)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from exchange.protocol.media import STIX_21, TAXII_21

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World

RIGHTS = {
    "owner": (True, True),
    "reader": (True, False),
    "writer": (False, True),
}


def test_collections_lists_only_granted_feeds(world: World) -> None:
    w = world
    owner = w.get(w.url("collections/")).json()["collections"]
    assert [c["alias"] for c in owner] == ["reports", "hidden"]
    for who in ("reader", "writer"):
        listed = w.get(w.url("collections/"), who=who).json()["collections"]
        assert [c["id"] for c in listed] == [w.feed_id]


@pytest.mark.parametrize("who", ["auditor", "outsider"])
def test_collections_key_is_omitted_when_empty(sqlite_world: World, who: str) -> None:
    """§5.1.1 / §2: a list is never empty; the key is left out."""
    w = sqlite_world
    response = w.get(w.url("collections/"), who=who)
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII_21
    assert response.json() == {}
    assert response.content == b"{}"


def test_collections_sort_order_is_stable(sqlite_world: World) -> None:
    """§3.3: a consistent order across requests."""
    w = sqlite_world
    first = w.get(w.url("collections/")).content
    for _ in range(3):
        assert w.get(w.url("collections/")).content == first


@pytest.mark.parametrize("who", ["owner", "reader", "writer"])
def test_collection_resource_and_rights(sqlite_world: World, who: str) -> None:
    w = sqlite_world
    can_read, can_write = RIGHTS[who]
    by_alias = w.get(w.url("collections/reports/"), who=who)
    by_id = w.get(w.url(f"collections/{w.feed_id}/"), who=who)
    assert by_alias.status_code == by_id.status_code == 200
    assert by_alias.content == by_id.content
    body = by_id.json()
    assert body == {
        "id": w.feed_id,
        "title": "Trend reports",
        "description": "Quarterly trends",
        "alias": "reports",
        "can_read": can_read,
        "can_write": can_write,
        "media_types": [STIX_21],
    }
    assert uuid.UUID(body["id"]).version == 4  # §2: identifiers are uuid4
    listed = w.get(w.url("collections/"), who=who).json()["collections"]
    assert listed[0] == body


def test_hidden_feed_is_identical_to_an_absent_one(world: World) -> None:
    """No information leaks: status and body byte-equal for hidden and absent feeds."""
    w = world
    hidden_id = w.get(w.url("collections/hidden/")).json()["id"]
    absent_id = str(uuid.uuid4())
    for who in ("reader", "writer", "outsider", "auditor"):
        for suffix in ("", "objects/", "manifest/", f"objects/indicator--{uuid.uuid4()}/"):
            answers = [
                w.get(w.url(f"collections/{ref}/{suffix}"), who=who)
                for ref in ("hidden", hidden_id, "absent", absent_id)
            ]
            for answer in answers:
                w.assert_error(answer, 404)
            assert len({a.content for a in answers}) == 1, (who, suffix)
            assert {a.headers["content-length"] for a in answers} == {
                answers[0].headers["content-length"]
            }
        posted = [
            w.post([{"type": "note", "id": f"note--{uuid.uuid4()}"}], who=who, feed=ref)
            for ref in ("hidden", hidden_id, "absent")
        ]
        assert {p.status_code for p in posted} == {404}
        assert len({p.content for p in posted}) == 1


def test_outsider_sees_reports_as_absent(sqlite_world: World) -> None:
    """r=F, w=F: 404 on every collection endpoint, including DELETE (§5.7 table)."""
    w = sqlite_world
    absent = w.get(w.url("collections/absent/"), who="outsider").content
    for suffix in ("", "objects/", "manifest/"):
        response = w.get(w.url(f"collections/reports/{suffix}"), who="outsider")
        w.assert_error(response, 404)
        assert response.content == absent


def test_can_read_false_objects_is_403(world: World, stix: StixFactory) -> None:
    w = world
    obj = stix.indicator()
    w.post_ok([obj])
    for url in (
        w.objects_url(),
        w.manifest_url(),
        w.object_url(obj["id"]),
        w.versions_url(obj["id"]),
    ):
        body = w.assert_error(w.get(url, who="writer"), 403)
        assert body["title"] == "Forbidden"


def test_can_write_false_post_is_403(world: World, stix: StixFactory) -> None:
    w = world
    body = w.assert_error(w.post([stix.indicator()], who="reader"), 403)
    assert body["title"] == "Forbidden"
    assert w.get(w.manifest_url()).json() == {"more": False}


def test_writer_may_post(world: World, stix: StixFactory) -> None:
    w = world
    obj = stix.indicator()
    assert w.post([obj], who="writer").status_code == 202
    assert w.get(w.object_url(obj["id"]), who="reader").json()["objects"] == [obj]


def test_grant_and_revoke_take_effect_at_once(sqlite_world: World) -> None:
    """Reading needs the operator's grant AND the owner's policy; either alone is not enough."""
    from exchange.services import admin
    from tests.policy_kit import sync_policy

    w = sqlite_world
    assert w.owner_keys is not None
    w.assert_error(w.get(w.url("collections/reports/"), who="outsider"), 404)
    admin.grant(w.hub, "outsider", "reports", read=True, write=False)
    # The operator's grant alone: the feed is visible, but not readable.
    assert w.get(w.url("collections/reports/"), who="outsider").json()["can_read"] is False
    w.assert_error(w.get(w.url("collections/reports/objects/"), who="outsider"), 403)
    # The owner names the member in a new policy version: now it reads.
    sync_policy(w.hub, "reports", w.owner_keys)
    assert w.get(w.url("collections/reports/"), who="outsider").json()["can_read"] is True
    assert w.get(w.url("collections/reports/objects/"), who="outsider").status_code == 200
    admin.revoke(w.hub, "outsider", "reports")
    w.assert_error(w.get(w.url("collections/reports/"), who="outsider"), 404)
    assert w.get(w.url("collections/"), who="outsider").json() == {}
