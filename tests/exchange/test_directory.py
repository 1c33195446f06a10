"""The key directory (``/exchange/v1/members/{id}/keys``) and ``/exchange/v1/whoami``.

A member registers only its own self-signed bundles; a rotation names the
bundle in force and is endorsed by its keys. Every bundle ever registered is
kept and served, oldest first. Every refusal names what failed and leaves the
directory as it was.
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from exchange.errors import Conflict, InvalidDocument
from exchange.protocol.keys import KEYS_LABEL, SignedKeyBundle, parse_key_bundle
from exchange.services.directory import register_key_bundle
from feeds.crypto.keys import MemberSecrets, build_key_bundle, sign_document
from policies import key_id
from tests.policy_kit import assert_exchange_error

if TYPE_CHECKING:
    from tests.exchange.conftest import World

WHOAMI = "/exchange/v1/whoami"


def keys_url(member_id: str) -> str:
    """The key-directory endpoint of ``member_id``."""
    return f"/exchange/v1/members/{member_id}/keys"


def as_json(bundle: SignedKeyBundle) -> dict[str, Any]:
    """The signed bundle as a JSON object."""
    return bundle.model_dump(mode="json")


def post_keys(
    w: World, who: str, document: dict[str, Any] | bytes, member_id: str | None = None
) -> httpx.Response:
    """POST ``document`` to the key directory of ``member_id`` (default: ``who``'s own)."""
    target = w.members[who].id if member_id is None else member_id
    body = document if isinstance(document, bytes) else orjson.dumps(document)
    response = w.client.post(
        keys_url(target),
        content=body,
        headers={"Authorization": f"Bearer {w.tokens[who]}", "Content-Type": "application/json"},
    )
    assert isinstance(response, httpx.Response)
    return response


def get_keys(w: World, member_id: str, who: str | None = "outsider") -> httpx.Response:
    """GET the key bundles of ``member_id`` as ``who``."""
    headers = {} if who is None else {"Authorization": f"Bearer {w.tokens[who]}"}
    response = w.client.get(keys_url(member_id), headers=headers)
    assert isinstance(response, httpx.Response)
    return response


def bundles_of(w: World, member_id: str) -> list[dict[str, Any]]:
    """The bundles the directory serves for ``member_id`` ([] when it has none)."""
    response = get_keys(w, member_id)
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["member"] == member_id
    bundles: list[dict[str, Any]] = body["bundles"]
    return bundles


def first_bundle(secrets: MemberSecrets, member_id: str) -> SignedKeyBundle:
    """A first (sequence 1) bundle of ``secrets`` for ``member_id``."""
    return build_key_bundle(secrets, member=member_id, sequence=1, previous=None, endorser=None)


def rotation(
    new: MemberSecrets, previous: SignedKeyBundle, endorser: MemberSecrets | None
) -> SignedKeyBundle:
    """The bundle after ``previous``, endorsed by ``endorser``."""
    return build_key_bundle(
        new,
        member=previous.keys.member,
        sequence=previous.keys.sequence + 1,
        previous=previous,
        endorser=endorser,
    )


def resign(document: dict[str, Any], signer: MemberSecrets) -> dict[str, Any]:
    """``document`` with its bundle self-signed again by ``signer``."""
    return {**document, "signatures": sign_document(signer, KEYS_LABEL, document["bundle"])}


def flip_byte(signature: dict[str, str]) -> dict[str, str]:
    """``signature`` with one bit of one byte of its value flipped."""
    raw = bytearray(base64.b64decode(signature["value"]))
    raw[len(raw) // 2] ^= 0x01
    return {**signature, "value": base64.b64encode(bytes(raw)).decode()}


# whoami and authentication


@pytest.mark.parametrize("who", ["owner", "reader", "auditor"])
def test_whoami_names_the_caller(sqlite_world: World, who: str) -> None:
    w = sqlite_world
    member = w.members[who]
    for authorization in (f"Bearer {w.tokens[who]}", w.basic(who)):
        response = w.client.get(WHOAMI, headers={"Authorization": authorization})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"id": member.id, "name": who, "kind": member.kind.value}


def test_unauthenticated_requests_get_401(sqlite_world: World) -> None:
    w = sqlite_world
    reader = w.members["reader"].id
    bundle = orjson.dumps(as_json(first_bundle(MemberSecrets.generate(), reader)))
    for headers in ({}, {"Authorization": "Bearer tx_not-a-token"}):
        for response in (
            w.client.get(WHOAMI, headers=headers),
            w.client.get(keys_url(w.members["owner"].id), headers=headers),
            w.client.post(keys_url(reader), content=bundle, headers=headers),
        ):
            assert_exchange_error(response, 401, "Valid credentials are required")
    assert bundles_of(w, reader) == []


# Registering and serving


def test_first_bundle_is_registered_and_served_to_every_member(world: World) -> None:
    w = world
    reader = w.members["reader"].id
    bundle = first_bundle(MemberSecrets.generate(), reader)
    response = post_keys(w, "reader", as_json(bundle))
    assert response.status_code == 201, response.text
    assert response.json() == {"member": reader, "sequence": 1, "digest": bundle.digest}
    for who in ("reader", "outsider", "auditor"):
        served = get_keys(w, reader, who)
        assert served.status_code == 200, served.text
        assert served.json() == {"member": reader, "bundles": [as_json(bundle)]}
    # What is served parses and verifies as the member signed it.
    assert parse_key_bundle(bundles_of(w, reader)[0]).digest == bundle.digest


def test_rotations_keep_every_bundle_oldest_first(world: World) -> None:
    w = world
    reader = w.members["reader"].id
    generations = [MemberSecrets.generate() for _ in range(3)]
    chain = [first_bundle(generations[0], reader)]
    for previous_keys, new_keys in itertools.pairwise(generations):
        chain.append(rotation(new_keys, chain[-1], previous_keys))
    for number, bundle in enumerate(chain, start=1):
        response = post_keys(w, "reader", as_json(bundle))
        assert response.status_code == 201, response.text
        assert response.json() == {"member": reader, "sequence": number, "digest": bundle.digest}
        # Nothing overwritten: every earlier bundle is still served, unchanged.
        assert bundles_of(w, reader) == [as_json(b) for b in chain[:number]]
    served = [parse_key_bundle(b) for b in bundles_of(w, reader)]
    assert [b.keys.sequence for b in served] == [1, 2, 3]
    assert [b.keys.previous for b in served] == [None, chain[0].digest, chain[1].digest]


def test_members_have_separate_directories(sqlite_world: World) -> None:
    w = sqlite_world
    reader, writer = w.members["reader"].id, w.members["writer"].id
    for who, member_id in (("reader", reader), ("writer", writer)):
        response = post_keys(w, who, as_json(first_bundle(MemberSecrets.generate(), member_id)))
        assert response.status_code == 201, response.text
    assert len(bundles_of(w, reader)) == len(bundles_of(w, writer)) == 1
    assert bundles_of(w, reader) != bundles_of(w, writer)
    # The owner's bundle (registered when its feeds got their policies) is there too.
    assert len(bundles_of(w, w.members["owner"].id)) == 1


@pytest.mark.parametrize(
    "member_id",
    [
        pytest.param(None, id="no-bundle-yet"),
        pytest.param("identity--6f0b2a2c-1111-4222-8333-444455556666", id="unknown-member"),
        pytest.param("not-a-member-id", id="malformed-id"),
    ],
)
def test_a_member_without_bundles_is_404(sqlite_world: World, member_id: str | None) -> None:
    w = sqlite_world
    target = w.members["outsider"].id if member_id is None else member_id
    assert_exchange_error(get_keys(w, target, "reader"), 404, target)


# Refusals: each names what failed and changes nothing


def test_bundle_for_another_member_in_the_path_is_403(sqlite_world: World) -> None:
    w = sqlite_world
    outsider = w.members["outsider"].id
    # Even a perfectly good bundle of the outsider's, uploaded by someone else.
    bundle = as_json(first_bundle(MemberSecrets.generate(), outsider))
    response = post_keys(w, "reader", bundle, member_id=outsider)
    assert_exchange_error(response, 403, "register keys for another member")
    assert bundles_of(w, outsider) == []
    assert bundles_of(w, w.members["reader"].id) == []


def test_bundle_naming_another_member_inside_is_refused(sqlite_world: World) -> None:
    w = sqlite_world
    outsider = w.members["outsider"].id
    bundle = as_json(first_bundle(MemberSecrets.generate(), outsider))
    response = post_keys(w, "reader", bundle)
    assert_exchange_error(
        response, 422, "The key bundle was refused: it names another member than the one"
    )
    assert bundles_of(w, outsider) == []
    assert bundles_of(w, w.members["reader"].id) == []


def _signed_by_other_keys(secrets: MemberSecrets, document: dict[str, Any]) -> dict[str, Any]:
    return resign(document, MemberSecrets.generate())


def _flipped_ed25519(secrets: MemberSecrets, document: dict[str, Any]) -> dict[str, Any]:
    ed, ml = document["signatures"]
    return {**document, "signatures": [flip_byte(ed), ml]}


def _flipped_mldsa(secrets: MemberSecrets, document: dict[str, Any]) -> dict[str, Any]:
    ed, ml = document["signatures"]
    return {**document, "signatures": [ed, flip_byte(ml)]}


def _other_key_swapped_in(secrets: MemberSecrets, document: dict[str, Any]) -> dict[str, Any]:
    # A key substituted after signing, with its (correct) key id: what a hub would do.
    substitute = MemberSecrets.generate().public_json()["encryption"]
    return {**document, "bundle": {**document["bundle"], "encryption": substitute}}


def _wrong_key_id(secrets: MemberSecrets, document: dict[str, Any]) -> dict[str, Any]:
    hybrid = dict(document["bundle"]["encryption"][0])
    hybrid["key_id"] = key_id("X25519", bytes(32))
    bundle = {**document["bundle"], "encryption": [hybrid]}
    # Signed after the change: the signatures are fine, the key id is not.
    return resign({**document, "bundle": bundle}, secrets)


def _one_signature(secrets: MemberSecrets, document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "signatures": document["signatures"][:1]}


def _not_json(secrets: MemberSecrets, document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)[:-1]


def _unknown_field(secrets: MemberSecrets, document: dict[str, Any]) -> dict[str, Any]:
    return resign({**document, "bundle": {**document["bundle"], "comment": "hi"}}, secrets)


Tamper = Callable[[MemberSecrets, dict[str, Any]], dict[str, Any] | bytes]


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        pytest.param(
            _signed_by_other_keys, "the ed25519 signature is by another key", id="other-keys"
        ),
        pytest.param(
            _flipped_ed25519, "the ed25519 signature does not verify", id="flipped-ed25519"
        ),
        pytest.param(_flipped_mldsa, "the ml-dsa-65 signature does not verify", id="flipped-mldsa"),
        pytest.param(
            _other_key_swapped_in,
            "the ed25519 signature does not verify",
            id="key-changed-after-signing",
        ),
        pytest.param(
            _wrong_key_id, "MLKEM768-X25519: key_id is not the id of the key", id="wrong-key-id"
        ),
        pytest.param(
            _one_signature,
            "exactly one ed25519 and one ml-dsa-65 signature are required",
            id="one-signature",
        ),
        pytest.param(_not_json, "it is not a well-formed signed key bundle", id="not-json"),
        pytest.param(
            _unknown_field, "it is not a well-formed signed key bundle", id="unknown-field"
        ),
    ],
)
def test_first_bundle_not_self_signed_is_refused(
    sqlite_world: World, tamper: Tamper, reason: str
) -> None:
    w = sqlite_world
    reader = w.members["reader"].id
    secrets = MemberSecrets.generate()
    document = tamper(secrets, as_json(first_bundle(secrets, reader)))
    response = post_keys(w, "reader", document)
    assert_exchange_error(response, 422, f"The key bundle was refused: {reason}.")
    assert bundles_of(w, reader) == []


@pytest.fixture
def registered(world: World) -> tuple[World, MemberSecrets, SignedKeyBundle]:
    """The world with the reader's first bundle registered; its keys and bundle."""
    secrets = MemberSecrets.generate()
    bundle = first_bundle(secrets, world.members["reader"].id)
    response = post_keys(world, "reader", as_json(bundle))
    assert response.status_code == 201, response.text
    return world, secrets, bundle


def test_rotation_not_endorsed_by_the_bundle_in_force_is_refused(
    registered: tuple[World, MemberSecrets, SignedKeyBundle],
) -> None:
    w, secrets, first = registered
    reader = w.members["reader"].id
    new = MemberSecrets.generate()
    cases = [
        (rotation(new, first, None), "exactly one ed25519 and one ml-dsa-65 signature"),
        # Endorsed by the new keys themselves, or by a stranger's: not by the keys in force.
        (rotation(new, first, new), "the ed25519 signature is by another key"),
        (rotation(new, first, MemberSecrets.generate()), "the ed25519 signature is by another key"),
    ]
    endorsed = as_json(rotation(new, first, secrets))
    ed, ml = endorsed["endorsements"]
    for broken, reason in [
        (
            {**endorsed, "endorsements": [flip_byte(ed), ml]},
            "the ed25519 signature does not verify",
        ),
        (
            {**endorsed, "endorsements": [ed, flip_byte(ml)]},
            "the ml-dsa-65 signature does not verify",
        ),
    ]:
        cases.append((parse_key_bundle(broken), reason))
    for bundle, reason in cases:
        response = post_keys(w, "reader", as_json(bundle))
        assert_exchange_error(response, 422, f"The key bundle was refused: {reason}")
        assert bundles_of(w, reader) == [as_json(first)]
    # The properly endorsed rotation is then accepted.
    assert post_keys(w, "reader", endorsed).status_code == 201
    assert bundles_of(w, reader) == [as_json(first), endorsed]


def test_rotation_that_does_not_follow_the_bundle_in_force_is_409(
    registered: tuple[World, MemberSecrets, SignedKeyBundle],
) -> None:
    w, secrets, first = registered
    reader = w.members["reader"].id
    stranger = first_bundle(MemberSecrets.generate(), reader)
    new = MemberSecrets.generate()
    wrong_previous = rotation(new, stranger, secrets)
    skipped = build_key_bundle(new, member=reader, sequence=3, previous=first, endorser=secrets)
    for bundle, reason in [
        (wrong_previous, "expected sequence 2 naming the bundle in force"),
        (skipped, "expected sequence 2 naming the bundle in force"),
        # A replay of the bundle in force, and a new first bundle (a key swap).
        (first, "expected sequence 2 naming the bundle in force"),
        (stranger, "expected sequence 2 naming the bundle in force"),
    ]:
        response = post_keys(w, "reader", as_json(bundle))
        body = assert_exchange_error(response, 409, f"The key bundle was refused: {reason}.")
        assert body["title"] == "Conflict"
        assert bundles_of(w, reader) == [as_json(first)]


def test_replayed_sequence_after_a_rotation_is_409(
    registered: tuple[World, MemberSecrets, SignedKeyBundle],
) -> None:
    w, secrets, first = registered
    reader = w.members["reader"].id
    second = rotation(MemberSecrets.generate(), first, secrets)
    assert post_keys(w, "reader", as_json(second)).status_code == 201
    # Another sequence 2, properly endorsed by the first keys: too late.
    rival = rotation(MemberSecrets.generate(), first, secrets)
    for bundle in (second, rival):
        response = post_keys(w, "reader", as_json(bundle))
        assert_exchange_error(response, 409, "expected sequence 3 naming the bundle in force")
    assert bundles_of(w, reader) == [as_json(first), as_json(second)]


def test_sequence_2_as_a_first_bundle_is_409(sqlite_world: World) -> None:
    w = sqlite_world
    outsider = w.members["outsider"].id
    old, new = MemberSecrets.generate(), MemberSecrets.generate()
    bundle = rotation(new, first_bundle(old, outsider), old)
    response = post_keys(w, "outsider", as_json(bundle))
    assert_exchange_error(
        response, 409, "The key bundle was refused: the member has no keys yet; expected sequence 1"
    )
    assert bundles_of(w, outsider) == []


def test_a_first_bundle_with_endorsements_is_422(sqlite_world: World) -> None:
    w = sqlite_world
    outsider = w.members["outsider"].id
    secrets = MemberSecrets.generate()
    document = as_json(first_bundle(secrets, outsider))
    document["endorsements"] = sign_document(secrets, KEYS_LABEL, document["bundle"])
    response = post_keys(w, "outsider", document)
    assert_exchange_error(response, 422, "a first bundle has nothing to endorse it")
    assert bundles_of(w, outsider) == []


def test_racing_rotations_register_one(
    registered: tuple[World, MemberSecrets, SignedKeyBundle],
) -> None:
    w, secrets, first = registered
    reader = w.members["reader"]
    rivals = [rotation(MemberSecrets.generate(), first, secrets) for _ in range(2)]
    barrier = threading.Barrier(len(rivals))
    outcomes: list[str] = []

    def register(bundle: SignedKeyBundle) -> None:
        barrier.wait()
        try:
            register_key_bundle(w.hub, reader, orjson.dumps(as_json(bundle)))
            outcomes.append("stored")
        except Conflict as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=register, args=(b,)) for b in rivals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2
    assert "stored" in outcomes
    (refusal,) = (o for o in outcomes if o != "stored")
    # Whichever check caught it: the sequence taken in the meantime, or the insert.
    assert "sequence" in refusal, refusal
    served = bundles_of(w, reader.id)
    assert len(served) == 2
    assert served[0] == as_json(first)
    assert served[1] in [as_json(b) for b in rivals]


def test_service_refusals_raise_with_reasons(
    registered: tuple[World, MemberSecrets, SignedKeyBundle],
) -> None:
    w, _, first = registered
    reader = w.members["reader"]
    with pytest.raises(Conflict, match=r"expected sequence 2 naming the bundle in force"):
        register_key_bundle(w.hub, reader, orjson.dumps(as_json(first)))
    unendorsed = rotation(MemberSecrets.generate(), first, None)
    with pytest.raises(InvalidDocument, match=r"exactly one ed25519 and one ml-dsa-65"):
        register_key_bundle(w.hub, reader, orjson.dumps(as_json(unendorsed)))
