"""Key bundles: form checks, self-signatures, rotation chains, tampering."""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson
import pytest

from exchange.protocol.errors import MalformedPayload
from exchange.protocol.keys import SignedKeyBundle, parse_key_bundle, verify_key_bundle
from feeds.crypto.keys import MemberSecrets, build_key_bundle, sign_document
from policies import PolicySignatureError, key_id
from policies.signature import SigningKeys

MEMBER = "identity--6f30bdc6-f263-408f-835d-5609a8c47d92"
OTHER = "identity--0b9e0f0b-7d6c-4f53-9e0b-6a1d2f3e4c5b"
LABEL = "trend-exchange/keys/1"


@pytest.fixture(scope="module")
def secrets() -> MemberSecrets:
    return MemberSecrets.generate(classical=True)


@pytest.fixture(scope="module")
def first(secrets: MemberSecrets) -> SignedKeyBundle:
    return build_key_bundle(secrets, member=MEMBER, sequence=1, previous=None, endorser=None)


def _json(signed: SignedKeyBundle) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(orjson.dumps(signed.model_dump(mode="json")))
    return data


def _resigned(document: dict[str, Any], secrets: MemberSecrets) -> dict[str, Any]:
    """The bundle re-signed by ``secrets`` after an edit (so only the form check can fail)."""
    document["signatures"] = sign_document(secrets, LABEL, document["bundle"])
    return document


def test_a_first_bundle_verifies_and_exposes_its_keys(
    first: SignedKeyBundle, secrets: MemberSecrets
) -> None:
    verify_key_bundle(first, None)
    bundle = first.keys
    assert bundle.member == MEMBER
    assert bundle.signing_keys() == secrets.signing_keys()
    hybrid = bundle.encryption_key("MLKEM768-X25519")
    assert hybrid is not None
    assert hybrid.raw() == secrets.hybrid_public_bytes()
    assert bundle.encryption_key("X25519") is not None
    assert first.digest.startswith("sha256:")
    assert parse_key_bundle(orjson.dumps(_json(first))) == first
    assert parse_key_bundle(orjson.dumps(_json(first)).decode()) == first


def test_a_bundle_without_a_classical_key_has_none() -> None:
    signed = build_key_bundle(
        MemberSecrets.generate(), member=MEMBER, sequence=1, previous=None, endorser=None
    )
    assert signed.keys.encryption_key("X25519") is None


def test_a_rotation_must_be_endorsed_by_the_keys_in_force(
    first: SignedKeyBundle, secrets: MemberSecrets
) -> None:
    new = MemberSecrets.generate()
    rotated = build_key_bundle(new, member=MEMBER, sequence=2, previous=first, endorser=secrets)
    verify_key_bundle(rotated, first)
    self_endorsed = build_key_bundle(new, member=MEMBER, sequence=2, previous=first, endorser=new)
    with pytest.raises(PolicySignatureError, match="by another key"):
        verify_key_bundle(self_endorsed, first)
    unendorsed = build_key_bundle(new, member=MEMBER, sequence=2, previous=first, endorser=None)
    with pytest.raises(PolicySignatureError, match="exactly one ed25519 and one ml-dsa-65"):
        verify_key_bundle(unendorsed, first)


@pytest.mark.parametrize(
    ("sequence", "previous", "match"),
    [(1, None, "expected sequence 2"), (3, "first", "expected sequence 2")],
)
def test_a_rotation_must_follow_the_bundle_in_force(
    first: SignedKeyBundle, secrets: MemberSecrets, sequence: int, previous: str | None, match: str
) -> None:
    new = MemberSecrets.generate()
    signed = build_key_bundle(
        new,
        member=MEMBER,
        sequence=sequence,
        previous=first if previous else None,
        endorser=secrets if previous else None,
    )
    with pytest.raises(MalformedPayload, match=match):
        verify_key_bundle(signed, first)


def test_a_rotation_naming_another_digest_is_a_fork(
    first: SignedKeyBundle, secrets: MemberSecrets
) -> None:
    other_first = build_key_bundle(
        MemberSecrets.generate(), member=MEMBER, sequence=1, previous=None, endorser=None
    )
    forked = build_key_bundle(
        MemberSecrets.generate(), member=MEMBER, sequence=2, previous=other_first, endorser=secrets
    )
    with pytest.raises(MalformedPayload, match="naming the bundle in force"):
        verify_key_bundle(forked, first)


def test_a_rotation_for_another_member_is_refused(
    first: SignedKeyBundle, secrets: MemberSecrets
) -> None:
    stolen = build_key_bundle(
        MemberSecrets.generate(), member=OTHER, sequence=2, previous=first, endorser=secrets
    )
    with pytest.raises(MalformedPayload, match="differs from the bundle in force"):
        verify_key_bundle(stolen, first)


def test_a_first_bundle_must_be_sequence_1_without_endorsements(
    first: SignedKeyBundle, secrets: MemberSecrets
) -> None:
    second = build_key_bundle(
        MemberSecrets.generate(), member=MEMBER, sequence=2, previous=first, endorser=secrets
    )
    with pytest.raises(MalformedPayload, match="expected sequence 1"):
        verify_key_bundle(second, None)
    document = _json(first)
    document["endorsements"] = sign_document(secrets, LABEL, document["bundle"])
    with pytest.raises(MalformedPayload, match="nothing to endorse it"):
        verify_key_bundle(parse_key_bundle(document), None)


def test_every_byte_of_the_bundle_is_covered_by_the_self_signature(
    first: SignedKeyBundle,
) -> None:
    """Change any value (the keys, ids, member, dates): the form or a signature check fails."""
    document = _json(first)
    for field in ("member", "created"):
        edited = copy.deepcopy(document)
        value = edited["bundle"][field]
        edited["bundle"][field] = value[:-2] + ("0" if value[-2] != "0" else "1") + value[-1]
        with pytest.raises((MalformedPayload, PolicySignatureError)):
            verify_key_bundle(parse_key_bundle(edited), None)
    for section in ("encryption", "signing"):
        for index in range(len(document["bundle"][section])):
            edited = copy.deepcopy(document)
            raw = bytearray(base64.b64decode(edited["bundle"][section][index]["public"]))
            raw[0] ^= 1
            edited["bundle"][section][index]["public"] = base64.b64encode(bytes(raw)).decode()
            with pytest.raises(MalformedPayload, match="key_id is not the id of the key"):
                parse_key_bundle(edited)
    for index in range(2):
        edited = copy.deepcopy(document)
        raw = bytearray(base64.b64decode(edited["signatures"][index]["value"]))
        raw[len(raw) // 2] ^= 0x40
        edited["signatures"][index]["value"] = base64.b64encode(bytes(raw)).decode()
        with pytest.raises(PolicySignatureError, match="does not verify"):
            verify_key_bundle(parse_key_bundle(edited), None)


def test_a_key_swapped_with_its_id_still_fails_the_self_signature(
    first: SignedKeyBundle,
) -> None:
    """An attacker who replaces a key *and* its id cannot re-sign with the member's keys."""
    document = _json(first)
    other = MemberSecrets.generate().public_json()
    document["bundle"]["encryption"][0] = other["encryption"][0]
    with pytest.raises(PolicySignatureError, match="does not verify"):
        verify_key_bundle(parse_key_bundle(document), None)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d["bundle"].update(sequence=2), "must be null exactly for sequence 1"),
        (lambda d: d["bundle"].update(extra=1), "not a well-formed signed key bundle"),
        (lambda d: d.update(extra=1), "not a well-formed signed key bundle"),
        (
            lambda d: d["bundle"]["encryption"].__setitem__(1, d["bundle"]["encryption"][0]),
            "twice",
        ),
        (lambda d: d["bundle"]["signing"].reverse(), None),
        (
            lambda d: d["bundle"]["signing"].__setitem__(1, d["bundle"]["signing"][0]),
            "needs one ed25519 and one ml-dsa-65 key",
        ),
        (
            lambda d: d["bundle"]["encryption"][0].update(public="not base64!"),
            "is not base64",
        ),
        (
            lambda d: d["bundle"]["encryption"][0].update(public=base64.b64encode(b"x").decode()),
            "must be 1216 bytes",
        ),
    ],
)
def test_malformed_bundles_are_refused_by_form(
    first: SignedKeyBundle, secrets: MemberSecrets, edit: Any, match: str | None
) -> None:
    document = _json(first)
    edit(document)
    document = _resigned(document, secrets)
    if match is None:  # the order of the signing keys does not matter
        verify_key_bundle(parse_key_bundle(document), None)
        return
    with pytest.raises(MalformedPayload, match=match):
        parse_key_bundle(document)


def test_a_bundle_without_a_canonical_form_is_malformed(first: SignedKeyBundle) -> None:
    document = _json(first)
    document["bundle"]["sequence"] = 2**60  # beyond JSON's safe integers: no RFC 8785 form
    with pytest.raises(MalformedPayload, match="not a well-formed"):
        parse_key_bundle(document)


def test_not_json_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="not a well-formed"):
        parse_key_bundle(b"{not json")
    with pytest.raises(MalformedPayload, match="not a well-formed"):
        parse_key_bundle(b'{"bundle": 1, "bundle": 2}')


def test_key_ids_name_the_algorithm_and_the_key(secrets: MemberSecrets) -> None:
    keys: SigningKeys = secrets.signing_keys()
    assert key_id("ed25519", keys.ed25519) != key_id("ml-dsa-65", keys.ed25519)
