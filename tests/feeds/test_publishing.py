"""Publishing: the STIX file, the writer check and recipient resolution, against a fake hub."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from feeds.crypto.keys import MemberSecrets
from feeds.crypto.keystore import Keystore
from feeds.errors import DocumentError, TrustError
from feeds.pinning import PinStore
from feeds.publishing import NotAWriter, bundle_bytes, publish_report, recipient_keys
from tests.feeds.fake_hub import FakeHub
from tests.feeds.keymaker import T0, chain, make_policy, publish_raw, register_raw

NOW = T0 + timedelta(days=1)


@pytest.fixture(scope="module")
def keys() -> list[MemberSecrets]:
    return [MemberSecrets.generate() for _ in range(3)]


def test_a_bundle_is_sealed_as_is_and_an_object_is_wrapped() -> None:
    bundle = b'{"type": "bundle", "id": "bundle--1", "objects": []}'
    assert bundle_bytes(bundle, "b.json") == bundle
    obj = {"type": "indicator", "id": "indicator--1"}
    wrapped = json.loads(bundle_bytes(json.dumps(obj).encode(), "o.json"))
    assert wrapped["type"] == "bundle"
    assert wrapped["objects"] == [obj]
    for bad in (b"not json", b"[]", b'{"type": "bundle"}', b'{"type": "indicator"}'):
        with pytest.raises(DocumentError):
            bundle_bytes(bad, "x.json")


def test_recipients_are_the_readers_and_the_publisher(keys: list[MemberSecrets]) -> None:
    hub = FakeHub()
    owner, reader, writer = (hub.add_member(n) for n in ("owner", "reader", "writer"))
    feed = hub.add_feed("reports")
    for member, secrets in zip((owner, reader, writer), keys, strict=True):
        register_raw(hub, member, chain(member.id, secrets))
    signed = make_policy(keys[0], feed=feed, owner=owner.id, readers=(owner.id, reader.id),
                         writers=(owner.id, writer.id))  # fmt: skip
    with hub.api(writer) as api:
        recipients = recipient_keys(api, signed, writer.id)
    assert sorted(r.member for r in recipients) == sorted((owner.id, reader.id, writer.id))
    by_member = {r.member: r for r in recipients}
    expected = keys[1].public_json()["encryption"]
    assert by_member[reader.id].key_id in {e["key_id"] for e in expected}
    assert by_member[reader.id].suite in ("MLKEM768-X25519", "X25519")


def test_a_reader_without_verified_keys_is_named(keys: list[MemberSecrets]) -> None:
    hub = FakeHub()
    owner, reader = hub.add_member("owner"), hub.add_member("reader")
    feed = hub.add_feed("reports")
    register_raw(hub, owner, chain(owner.id, keys[0]))
    signed = make_policy(keys[0], feed=feed, owner=owner.id, readers=(owner.id, reader.id))
    with hub.api(owner) as api, pytest.raises(TrustError, match=reader.id):
        recipient_keys(api, signed, owner.id)
    # A bundle that names another member is no verified key either.
    register_raw(hub, reader, chain(owner.id, keys[1]))
    with hub.api(owner) as api, pytest.raises(TrustError, match=reader.id):
        recipient_keys(api, signed, owner.id)


def test_a_member_the_policy_does_not_name_as_writer_is_refused(
    tmp_path: Path, keys: list[MemberSecrets]
) -> None:
    hub = FakeHub()
    owner, reader = hub.add_member("owner"), hub.add_member("reader")
    feed = hub.add_feed("reports")
    register_raw(hub, owner, chain(owner.id, keys[0]))
    register_raw(hub, reader, chain(reader.id, keys[1]))
    v1 = make_policy(
        keys[0], feed=feed, owner=owner.id, readers=(owner.id, reader.id), writers=(owner.id,)
    )
    publish_raw(hub, feed, v1)
    pins = PinStore(Keystore(tmp_path / "ks"))
    with hub.api(reader) as api, pytest.raises(NotAWriter, match="not name you"):
        publish_report(api, SecretStr(reader.token), "reports", b"{}", signer=keys[1], now=NOW,
                       pins=pins)  # fmt: skip
    assert not any(r.url.path.endswith("/objects/") for r in hub.requests)


def test_signing_with_keys_not_registered_yet_is_refused_before_posting(
    tmp_path: Path, keys: list[MemberSecrets]
) -> None:
    """A local rotation not registered yet: the hub would refuse the signatures, so the
    client says what to do instead of posting."""
    hub = FakeHub()
    owner = hub.add_member("owner")
    feed = hub.add_feed("reports")
    register_raw(hub, owner, chain(owner.id, keys[0]))
    publish_raw(hub, feed, make_policy(keys[0], feed=feed, owner=owner.id))
    pins = PinStore(Keystore(tmp_path / "ks"))
    unregistered = MemberSecrets.generate()
    with hub.api(owner) as api, pytest.raises(TrustError, match="feeds keys register"):
        publish_report(api, SecretStr(owner.token), "reports", b"{}", signer=unregistered,
                       now=NOW, pins=pins)  # fmt: skip
    assert not any(r.url.path.endswith("/objects/") for r in hub.requests)
