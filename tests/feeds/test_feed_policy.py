"""Fetching, pinning, drafting and publishing a feed's policy against a hub that may lie."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exchange.protocol.keys import parse_key_bundle
from feeds.crypto.keys import MemberSecrets
from feeds.crypto.keystore import Keystore
from feeds.errors import DocumentError, KeyFileCorrupted, RequestRefused, TrustError
from feeds.feed_policy import (
    FeedPolicy,
    draft_policy,
    fetch_feed_policy,
    publish_policy,
    verify_with_hub,
)
from feeds.pinning import Pin, PinStore
from policies import SignedPolicy, parse_signed_policy
from tests.feeds.fake_hub import FakeHub, FakeMember
from tests.feeds.keymaker import T0, chain, make_policy, publish_raw, register_raw

NOW = T0 + timedelta(days=1)


@dataclass
class Scene:
    """A fake hub with an owner (two key generations) whose feed has policy version 1."""

    hub: FakeHub
    owner: FakeMember
    reader: FakeMember
    feed: str
    keys: list[MemberSecrets]
    v1: SignedPolicy
    pins: PinStore


@pytest.fixture(scope="module")
def owner_keys() -> list[MemberSecrets]:
    return [MemberSecrets.generate(), MemberSecrets.generate()]


@pytest.fixture
def scene(tmp_path: Path, owner_keys: list[MemberSecrets]) -> Scene:
    hub = FakeHub()
    owner, reader = hub.add_member("owner"), hub.add_member("reader")
    feed = hub.add_feed("reports", "Trend reports")
    register_raw(hub, owner, chain(owner.id, owner_keys[0]))
    v1 = make_policy(owner_keys[0], feed=feed, owner=owner.id, readers=(owner.id, reader.id))
    publish_raw(hub, feed, v1)
    return Scene(hub, owner, reader, feed, owner_keys, v1, PinStore(Keystore(tmp_path / "ks")))


def fetch(scene: Scene, *, repin: bool = False) -> FeedPolicy:
    return fetch_feed_policy(
        scene.hub.api(scene.reader), "reports", now=NOW, pins=scene.pins, repin=repin
    )


def rotate_owner(scene: Scene) -> SignedPolicy:
    """The owner rotates to its second generation and publishes version 2 with it."""
    register_raw(scene.hub, scene.owner, chain(scene.owner.id, *scene.keys))
    v2 = make_policy(
        scene.keys[1], feed=scene.feed, owner=scene.owner.id, version=2, previous=scene.v1
    )
    publish_raw(scene.hub, scene.feed, v2)
    return v2


# ---------------------------------------------------------------------- fetching and pinning


def test_first_use_verifies_and_pins_the_owner(scene: Scene) -> None:
    shown = fetch(scene)
    assert shown.current.digest == scene.v1.digest
    assert shown.collection.alias == "reports"
    assert shown.newly_pinned
    first_bundle = parse_key_bundle(scene.hub.bundles[scene.owner.id][0]).digest
    expected = Pin(
        owner=scene.owner.id, first_bundle=first_bundle, version=1, digest=scene.v1.digest
    )
    assert shown.pin == expected
    assert scene.pins.get(scene.feed) == expected


def test_later_versions_and_rotations_keep_the_pin(scene: Scene) -> None:
    fetch(scene)
    v2 = rotate_owner(scene)
    shown = fetch(scene)
    assert not shown.newly_pinned
    assert shown.current.digest == v2.digest
    assert shown.trusted.signers == (1, 2)
    pin = scene.pins.get(scene.feed)
    assert pin is not None
    assert (pin.version, pin.digest) == (2, v2.digest)


def test_without_a_pin_store_nothing_is_pinned(scene: Scene) -> None:
    shown = fetch_feed_policy(scene.hub.api(scene.reader), "reports", now=NOW, pins=None)
    assert shown.pin is None
    assert scene.pins.get(scene.feed) is None


def test_an_owner_switch_against_the_pin_is_refused_loudly(scene: Scene) -> None:
    fetch(scene)
    # The hub replaces the whole history with one by another member.
    intruder = scene.hub.add_member("intruder")
    keys = MemberSecrets.generate()
    bundles = chain(intruder.id, keys)
    register_raw(scene.hub, intruder, bundles)
    scene.hub.policies[scene.feed] = []
    forged = make_policy(keys, feed=scene.feed, owner=intruder.id)
    publish_raw(scene.hub, scene.feed, forged)
    with pytest.raises(TrustError, match="THE FEED'S OWNER CHANGED") as caught:
        fetch(scene)
    assert f"pinned owner {scene.owner.id}" in caught.value.message
    assert f"presented owner {intruder.id}" in caught.value.message
    assert scene.pins.get(scene.feed).owner == scene.owner.id  # type: ignore[union-attr]
    # --repin accepts the new owner, explicitly.
    assert fetch(scene, repin=True).pin == Pin(intruder.id, bundles[0].digest, 1, forged.digest)
    assert scene.pins.get(scene.feed).owner == intruder.id  # type: ignore[union-attr]


def test_a_key_chain_that_no_longer_starts_with_the_pinned_bundle_is_refused(
    scene: Scene,
) -> None:
    fetch(scene)
    # The hub swaps the owner's keys for a fresh chain it controls, and re-signs v1.
    keys = MemberSecrets.generate()
    register_raw(scene.hub, scene.owner, chain(scene.owner.id, keys))
    scene.hub.policies[scene.feed] = []
    publish_raw(
        scene.hub,
        scene.feed,
        make_policy(keys, feed=scene.feed, owner=scene.owner.id, readers=(scene.owner.id,)),
    )
    with pytest.raises(TrustError, match=r"THE OWNER'S KEYS WERE REPLACED.*pinned bundle"):
        fetch(scene)


def test_a_rollback_to_an_older_version_is_refused(scene: Scene) -> None:
    rotate_owner(scene)
    fetch(scene)
    scene.hub.policies[scene.feed].pop()
    with pytest.raises(TrustError, match="serves version 1 as the newest, but version 2 was seen"):
        fetch(scene)


def test_a_fork_of_a_version_seen_before_is_refused(scene: Scene) -> None:
    fetch(scene)
    # Another, validly signed version 1 (say the owner's key leaked): a fork.
    other = make_policy(scene.keys[0], feed=scene.feed, owner=scene.owner.id)
    scene.hub.policies[scene.feed] = []
    publish_raw(scene.hub, scene.feed, other)
    with pytest.raises(TrustError, match=r"version 1 now has digest .* before \(a fork\)"):
        fetch(scene)


def test_a_served_version_must_be_the_listed_one(scene: Scene) -> None:
    v2 = rotate_owner(scene)
    # Listed as version 1 (with version 1's digest), served: version 2.
    scene.hub.served[(scene.feed, 1)] = json.dumps(v2.to_json()).encode()
    with pytest.raises(TrustError, match="served another document than the one it lists"):
        fetch(scene)


def test_a_tampered_stored_policy_is_refused(scene: Scene) -> None:
    text = scene.hub.policies[scene.feed][0].decode()
    scene.hub.policies[scene.feed][0] = text.replace(
        '"retention_days": 365', '"retention_days": 366'
    ).encode()
    with pytest.raises(TrustError, match="version 1: the ed25519 signature does not verify"):
        fetch(scene)
    assert scene.pins.get(scene.feed) is None


def test_a_feed_without_a_policy(scene: Scene) -> None:
    scene.hub.add_feed("empty")
    with pytest.raises(TrustError, match="the feed has no policy yet"):
        fetch_feed_policy(scene.hub.api(scene.reader), "empty", now=NOW, pins=scene.pins)


def test_a_malformed_pin_store(scene: Scene) -> None:
    scene.pins.keystore.save_state({"member": None, "pins": {scene.feed: {"owner": "x"}}})
    with pytest.raises(KeyFileCorrupted, match="bad pin"):
        fetch(scene)
    scene.pins.keystore.save_state({"member": None, "pins": []})
    with pytest.raises(KeyFileCorrupted, match="not a keystore state"):
        fetch(scene)


# ---------------------------------------------------------------------- drafting


def test_a_first_draft_is_version_1_by_us(scene: Scene) -> None:
    feed = scene.hub.add_feed("fresh")
    now = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    draft = draft_policy(scene.hub.api(scene.owner), "fresh", "authorities-only", now=now)
    policy = draft.policy
    assert (policy.feed, policy.owner, policy.version, policy.previous) == (
        feed,
        scene.owner.id,
        1,
        None,
    )
    assert policy.readers == policy.writers == (scene.owner.id,)
    assert policy.valid_from == now.replace(microsecond=0)
    assert draft.based_on is None


def test_a_next_draft_follows_the_verified_history(scene: Scene) -> None:
    draft = draft_policy(scene.hub.api(scene.owner), "reports", "public", now=NOW)
    assert draft.policy.version == 2
    assert draft.policy.previous == scene.v1.digest
    assert draft.policy.readers == scene.v1.policy.readers
    assert draft.policy.public


def test_no_draft_for_a_feed_owned_by_someone_else(scene: Scene) -> None:
    with pytest.raises(
        DocumentError, match=f"owned by {scene.owner.id}; you are {scene.reader.id}"
    ):
        draft_policy(scene.hub.api(scene.reader), "reports", "community", now=NOW)


def test_no_draft_on_a_history_that_does_not_verify(scene: Scene) -> None:
    text = scene.hub.policies[scene.feed][0].decode()
    scene.hub.policies[scene.feed][0] = text.replace('"MAY"', '"MUST NOT"', 1).encode()
    with pytest.raises(TrustError, match="signature does not verify"):
        draft_policy(scene.hub.api(scene.owner), "reports", "community", now=NOW)


def test_an_unknown_template(scene: Scene) -> None:
    with pytest.raises(DocumentError, match="no template 'nope'"):
        draft_policy(scene.hub.api(scene.owner), "reports", "nope", now=NOW)


# ---------------------------------------------------------------------- verifying and publishing


def test_publish_verifies_then_uploads(scene: Scene) -> None:
    v2 = make_policy(
        scene.keys[0], feed=scene.feed, owner=scene.owner.id, version=2, previous=scene.v1
    )
    receipt = publish_policy(scene.hub.api(scene.owner), "reports", v2, pins=scene.pins)
    assert (receipt.version, receipt.digest) == (2, v2.digest)
    assert len(scene.hub.policies[scene.feed]) == 2


def test_publish_refuses_a_policy_for_another_feed(scene: Scene) -> None:
    other = scene.hub.add_feed("other")
    before = len(scene.hub.requests)
    with pytest.raises(
        DocumentError, match=f"the policy is for feed {scene.feed}, but other is {other}"
    ):
        publish_policy(scene.hub.api(scene.owner), "other", scene.v1, pins=None)
    assert all(r.method == "GET" for r in scene.hub.requests[before:])


def test_publish_refuses_a_tampered_policy_before_uploading(scene: Scene) -> None:
    v2 = make_policy(
        scene.keys[0], feed=scene.feed, owner=scene.owner.id, version=2, previous=scene.v1
    )
    tampered = json.loads(json.dumps(v2.to_json()))
    tampered["policy"]["retention_days"] = 30
    before = len(scene.hub.requests)
    with pytest.raises(TrustError, match="signature does not verify"):
        publish_policy(
            scene.hub.api(scene.owner), "reports", parse_signed_policy(tampered), pins=None
        )
    assert all(r.method == "GET" for r in scene.hub.requests[before:])
    assert len(scene.hub.policies[scene.feed]) == 1


def test_publish_refuses_a_policy_signed_with_replaced_keys(scene: Scene) -> None:
    register_raw(scene.hub, scene.owner, chain(scene.owner.id, *scene.keys))
    v2 = make_policy(
        scene.keys[0], feed=scene.feed, owner=scene.owner.id, version=2, previous=scene.v1
    )
    with pytest.raises(TrustError, match="signed with the owner's replaced keys"):
        publish_policy(scene.hub.api(scene.owner), "reports", v2, pins=None)


def test_publish_shows_the_hubs_refusal(scene: Scene) -> None:
    with pytest.raises(RequestRefused, match=r"HTTP 409.*expected version 2"):
        publish_policy(scene.hub.api(scene.owner), "reports", scene.v1, pins=None)


def test_verify_with_hub_checks_an_existing_pin(scene: Scene) -> None:
    fetch(scene)
    api = scene.hub.api(scene.reader)
    signer, bundles = verify_with_hub(api, scene.v1, pins=scene.pins)
    assert signer.digest == bundles[0].digest
    scene.pins.put(scene.feed, Pin("identity--someone-else", "sha256:x", 1, scene.v1.digest))
    with pytest.raises(TrustError, match="OWNER CHANGED: pinned owner identity--someone-else"):
        verify_with_hub(api, scene.v1, pins=scene.pins)
