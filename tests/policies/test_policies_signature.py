"""Dual signatures (policies/signature.py): each numbered step made to fail, and tamper tests.

`verify_signatures` documents steps 0-5; every test below changes exactly one
thing in a good signed policy and asserts the error of exactly that step.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from exchange.protocol.keys import KEYS_LABEL
from feeds.crypto.keys import MemberSecrets, build_key_bundle, sign_document
from policies import (
    ALGORITHMS,
    POLICY_LABEL,
    PolicySignatureError,
    PolicySyntaxError,
    Signature,
    SignedPolicy,
    SigningKeys,
    canonical_bytes,
    key_id,
    load_json,
    parse_signed_policy,
    signed_message,
    verify_policy,
    verify_signatures,
)

ED, ML = ALGORITHMS

STEP_0 = r"^exactly one ed25519 and one ml-dsa-65 signature are required$"


def _with(signed: SignedPolicy, signatures: list[Signature]) -> SignedPolicy:
    return SignedPolicy(signed.policy, signed.document, tuple(signatures))


def _by_alg(signed: SignedPolicy) -> dict[str, Signature]:
    return {s.alg: s for s in signed.signatures}


def _replace(signed: SignedPolicy, alg: str, **changes: str) -> SignedPolicy:
    return _with(
        signed,
        [s.model_copy(update=changes) if s.alg == alg else s for s in signed.signatures],
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _ed_private(secrets: MemberSecrets) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(secrets.ed25519_seed)


def _ml_private(secrets: MemberSecrets) -> mldsa.MLDSA65PrivateKey:
    return mldsa.MLDSA65PrivateKey.from_seed_bytes(secrets.mldsa65_seed)


# -- the good case -----------------------------------------------------------------------------


def test_a_policy_signed_by_its_owner_verifies(
    signed: SignedPolicy, owner_secrets: MemberSecrets
) -> None:
    assert verify_policy(signed, owner_secrets.signing_keys()) is None  # type: ignore[func-returns-value]


def test_signature_order_does_not_matter(
    signed: SignedPolicy, owner_secrets: MemberSecrets
) -> None:
    verify_policy(_with(signed, list(reversed(signed.signatures))), owner_secrets.signing_keys())


def test_a_policy_survives_a_json_round_trip(
    signed: SignedPolicy, owner_secrets: MemberSecrets
) -> None:
    again = parse_signed_policy(json.dumps(signed.to_json(), indent=2, sort_keys=True))
    verify_policy(again, owner_secrets.signing_keys())


# -- step 0: exactly one signature per algorithm -----------------------------------------------


def test_step_0_no_signature(signed: SignedPolicy, owner_secrets: MemberSecrets) -> None:
    with pytest.raises(PolicySignatureError, match=STEP_0):
        verify_policy(_with(signed, []), owner_secrets.signing_keys())


@pytest.mark.parametrize("missing", ALGORITHMS)
def test_step_0_missing_signature(
    signed: SignedPolicy, owner_secrets: MemberSecrets, missing: str
) -> None:
    kept = [s for s in signed.signatures if s.alg != missing]
    with pytest.raises(PolicySignatureError, match=STEP_0):
        verify_policy(_with(signed, kept), owner_secrets.signing_keys())


@pytest.mark.parametrize("extra", ALGORITHMS)
def test_step_0_extra_signature(
    signed: SignedPolicy, owner_secrets: MemberSecrets, extra: str
) -> None:
    # Even a second, identical and valid signature is refused.
    doubled = [*signed.signatures, _by_alg(signed)[extra]]
    with pytest.raises(PolicySignatureError, match=STEP_0):
        verify_policy(_with(signed, doubled), owner_secrets.signing_keys())


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_step_0_duplicated_algorithm(
    signed: SignedPolicy, owner_secrets: MemberSecrets, alg: str
) -> None:
    # Two signatures, but both of one algorithm: the other algorithm is missing.
    twice = [_by_alg(signed)[alg]] * 2
    with pytest.raises(PolicySignatureError, match=STEP_0):
        verify_policy(_with(signed, twice), owner_secrets.signing_keys())


def test_step_0_signatures_from_the_document(
    document: dict[str, Any], sign: Any, owner_secrets: MemberSecrets
) -> None:
    # As parsed from JSON: one signature dropped from the list.
    outer = sign(document).to_json()
    outer["signatures"].pop()
    with pytest.raises(PolicySignatureError, match=STEP_0):
        verify_policy(parse_signed_policy(outer), owner_secrets.signing_keys())


# -- step 1: the expected keys -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_step_1_wrong_key_id(
    signed: SignedPolicy, owner_secrets: MemberSecrets, other_secrets: MemberSecrets, alg: str
) -> None:
    wrong = other_secrets.signing_keys().key_id(alg)
    with pytest.raises(PolicySignatureError, match=rf"^the {alg} signature is by another key$"):
        verify_policy(_replace(signed, alg, key_id=wrong), owner_secrets.signing_keys())


def test_step_1_signed_by_another_member(
    document: dict[str, Any],
    sign: Any,
    owner_secrets: MemberSecrets,
    other_secrets: MemberSecrets,
) -> None:
    by_other = sign(document, other_secrets)
    verify_policy(by_other, other_secrets.signing_keys())  # a good signature ...
    with pytest.raises(PolicySignatureError, match=rf"^the {ED} signature is by another key$"):
        verify_policy(by_other, owner_secrets.signing_keys())  # ... by someone else


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_step_1_key_ids_are_not_swappable(
    signed: SignedPolicy, owner_secrets: MemberSecrets, alg: str
) -> None:
    # The key id of the owner's *other* algorithm is the wrong key.
    other_alg = ML if alg == ED else ED
    swapped = owner_secrets.signing_keys().key_id(other_alg)
    with pytest.raises(PolicySignatureError, match=rf"^the {alg} signature is by another key$"):
        verify_policy(_replace(signed, alg, key_id=swapped), owner_secrets.signing_keys())


# -- step 2: the document has a canonical form -------------------------------------------------


@pytest.mark.parametrize(
    "bad", [{"version": 2**60}, {"x": float("nan")}, {"x": "\udc00"}, {"x": {1, 2}}, {1: 2}]
)
def test_step_2_a_document_without_a_canonical_form(
    signed: SignedPolicy, owner_secrets: MemberSecrets, bad: Any
) -> None:
    with pytest.raises(PolicySignatureError, match=r"^the document has no canonical form"):
        verify_signatures(POLICY_LABEL, bad, signed.signatures, owner_secrets.signing_keys())


# -- step 3: each signature decodes to the right size ------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("value", ["!!!!", "not base64", "QQ", "QQ==\n", "é" * 8])
def test_step_3_not_base64(
    signed: SignedPolicy, owner_secrets: MemberSecrets, alg: str, value: str
) -> None:
    with pytest.raises(PolicySignatureError, match=rf"^the {alg} signature is not base64$"):
        verify_policy(_replace(signed, alg, value=value), owner_secrets.signing_keys())


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("delta", [-1, +1])
def test_step_3_wrong_length(
    signed: SignedPolicy, owner_secrets: MemberSecrets, alg: str, delta: int
) -> None:
    raw = base64.b64decode(_by_alg(signed)[alg].value)
    wrong = raw[:-1] if delta < 0 else raw + b"\x00"
    with pytest.raises(PolicySignatureError, match=rf"^the {alg} signature has the wrong length$"):
        verify_policy(_replace(signed, alg, value=_b64(wrong)), owner_secrets.signing_keys())


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_step_3_empty_signature(
    signed: SignedPolicy, owner_secrets: MemberSecrets, alg: str
) -> None:
    with pytest.raises(PolicySignatureError, match=rf"^the {alg} signature has the wrong length$"):
        verify_policy(_replace(signed, alg, value=""), owner_secrets.signing_keys())


def test_step_3_each_signature_has_its_own_size(
    signed: SignedPolicy, owner_secrets: MemberSecrets
) -> None:
    # A (valid) ML-DSA signature in the Ed25519 slot is the wrong size, not a bad signature.
    ml_value = _by_alg(signed)[ML].value
    with pytest.raises(PolicySignatureError, match=rf"^the {ED} signature has the wrong length$"):
        verify_policy(_replace(signed, ED, value=ml_value), owner_secrets.signing_keys())


# -- step 4: Ed25519 ---------------------------------------------------------------------------


def test_step_4_ed25519_bad_ml_dsa_good(signed: SignedPolicy, owner_secrets: MemberSecrets) -> None:
    # The right key and size, over another message; the ML-DSA signature is valid.
    other = _ed_private(owner_secrets).sign(b"another message")
    with pytest.raises(PolicySignatureError, match=r"^the ed25519 signature does not verify$"):
        verify_policy(_replace(signed, ED, value=_b64(other)), owner_secrets.signing_keys())


def test_step_4_ed25519_all_zero(signed: SignedPolicy, owner_secrets: MemberSecrets) -> None:
    with pytest.raises(PolicySignatureError, match=r"^the ed25519 signature does not verify$"):
        verify_policy(_replace(signed, ED, value=_b64(bytes(64))), owner_secrets.signing_keys())


def test_step_4_ed25519_with_a_foreign_key(
    signed: SignedPolicy, owner_secrets: MemberSecrets, other_secrets: MemberSecrets
) -> None:
    # Signed by another key but claiming the owner's key id.
    message = signed_message(POLICY_LABEL, signed.document)
    forged = _ed_private(other_secrets).sign(message)
    with pytest.raises(PolicySignatureError, match=r"^the ed25519 signature does not verify$"):
        verify_policy(_replace(signed, ED, value=_b64(forged)), owner_secrets.signing_keys())


# -- step 5: ML-DSA-65 -------------------------------------------------------------------------


def test_step_5_ml_dsa_bad_ed25519_good(signed: SignedPolicy, owner_secrets: MemberSecrets) -> None:
    other = _ml_private(owner_secrets).sign(b"another message", context=POLICY_LABEL.encode())
    with pytest.raises(PolicySignatureError, match=r"^the ml-dsa-65 signature does not verify$"):
        verify_policy(_replace(signed, ML, value=_b64(other)), owner_secrets.signing_keys())


def test_step_5_ml_dsa_all_zero(signed: SignedPolicy, owner_secrets: MemberSecrets) -> None:
    zero = _b64(bytes(3309))
    with pytest.raises(PolicySignatureError, match=r"^the ml-dsa-65 signature does not verify$"):
        verify_policy(_replace(signed, ML, value=zero), owner_secrets.signing_keys())


def test_step_5_ml_dsa_with_a_foreign_key(
    signed: SignedPolicy, owner_secrets: MemberSecrets, other_secrets: MemberSecrets
) -> None:
    message = signed_message(POLICY_LABEL, signed.document)
    forged = _ml_private(other_secrets).sign(message, context=POLICY_LABEL.encode())
    with pytest.raises(PolicySignatureError, match=r"^the ml-dsa-65 signature does not verify$"):
        verify_policy(_replace(signed, ML, value=_b64(forged)), owner_secrets.signing_keys())


def test_step_5_ml_dsa_without_the_label_as_context(
    signed: SignedPolicy, owner_secrets: MemberSecrets
) -> None:
    # The right message, but no FIPS 204 context: the context binds the domain too.
    message = signed_message(POLICY_LABEL, signed.document)
    no_context = _ml_private(owner_secrets).sign(message)
    with pytest.raises(PolicySignatureError, match=r"^the ml-dsa-65 signature does not verify$"):
        verify_policy(_replace(signed, ML, value=_b64(no_context)), owner_secrets.signing_keys())


# -- domain separation -------------------------------------------------------------------------


def test_a_key_bundle_signature_is_not_a_policy_signature(
    document: dict[str, Any], sign: Any, owner_secrets: MemberSecrets
) -> None:
    # The same document, signed under the key-bundle label by the same keys.
    as_keys = parse_signed_policy(
        {"policy": document, "signatures": sign_document(owner_secrets, KEYS_LABEL, document)}
    )
    verify_signatures(KEYS_LABEL, document, as_keys.signatures, owner_secrets.signing_keys())
    with pytest.raises(PolicySignatureError, match=r"^the ed25519 signature does not verify$"):
        verify_policy(as_keys, owner_secrets.signing_keys())


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_each_algorithm_binds_the_label(
    document: dict[str, Any], sign: Any, owner_secrets: MemberSecrets, alg: str
) -> None:
    # One signature made under the key-bundle label, the other a good policy signature.
    good = {s.alg: s for s in sign(document).signatures}
    relabelled = {
        s["alg"]: Signature.model_validate(s)
        for s in sign_document(owner_secrets, KEYS_LABEL, document)
    }
    mixed = [relabelled[a] if a == alg else good[a] for a in ALGORITHMS]
    signed = _with(sign(document), mixed)
    with pytest.raises(PolicySignatureError, match=rf"^the {alg} signature does not verify$"):
        verify_policy(signed, owner_secrets.signing_keys())


def test_a_real_key_bundle_does_not_verify_as_a_policy(owner_secrets: MemberSecrets) -> None:
    bundle = build_key_bundle(
        owner_secrets,
        member="identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b",
        sequence=1,
        previous=None,
        endorser=None,
    )
    keys = owner_secrets.signing_keys()
    verify_signatures(KEYS_LABEL, bundle.bundle, bundle.signatures, keys)
    with pytest.raises(PolicySignatureError, match=r"^the ed25519 signature does not verify$"):
        verify_signatures(POLICY_LABEL, bundle.bundle, bundle.signatures, keys)


def test_the_label_is_part_of_the_signed_message() -> None:
    assert signed_message(POLICY_LABEL, {"b": 1, "a": 2}) == (
        b'trend-exchange/policy/1\n{"a":2,"b":1}'
    )
    assert signed_message(KEYS_LABEL, {}) != signed_message(POLICY_LABEL, {})


# -- both algorithms required ------------------------------------------------------------------


@pytest.mark.parametrize("broken", ALGORITHMS)
def test_one_valid_algorithm_is_not_enough(
    document: dict[str, Any], sign: Any, owner_secrets: MemberSecrets, broken: str
) -> None:
    # Sign a changed policy, then swap in the good signature of exactly one algorithm.
    signed = sign(document)
    changed = copy.deepcopy(document)
    changed["retention_days"] = 30
    resigned = _by_alg(sign(changed))
    good = _by_alg(signed)
    mixed = [resigned[a] if a == broken else good[a] for a in ALGORITHMS]
    with pytest.raises(PolicySignatureError, match=rf"^the {broken} signature does not verify$"):
        verify_policy(_with(signed, mixed), owner_secrets.signing_keys())


# -- tamper tests ------------------------------------------------------------------------------


def test_flipping_any_byte_of_the_canonical_policy_breaks_both_signatures(
    signed: SignedPolicy, owner_secrets: MemberSecrets
) -> None:
    """Flip one bit of each byte of the signed bytes in turn; each algorithm must notice.

    A flip that leaves no JSON is refused by the parser; every flip that still
    parses is checked three ways: as it stands, with a fresh Ed25519 signature
    (so only ML-DSA-65 can catch it) and with a fresh ML-DSA-65 signature (so
    only Ed25519 can).
    """
    keys = owner_secrets.signing_keys()
    original = canonical_bytes(signed.document)
    good = _by_alg(signed)
    parsed = 0
    for position in range(len(original)):
        tampered = bytearray(original)
        tampered[position] ^= 0x01
        try:
            document = load_json(bytes(tampered))
        except PolicySyntaxError:
            continue
        assert canonical_bytes(document) != original
        parsed += 1
        fresh: dict[str, Signature] = {s.alg: s for s in owner_secrets.sign(POLICY_LABEL, document)}
        for signatures, failing in (
            ([good[ED], good[ML]], ED),
            ([fresh[ED], good[ML]], ML),
            ([good[ED], fresh[ML]], ED),
        ):
            with pytest.raises(PolicySignatureError, match=rf"^the {failing} signature does not"):
                verify_signatures(POLICY_LABEL, document, tuple(signatures), keys)
    assert parsed > len(original) // 2, "most single-bit flips should still be JSON"


def test_changing_any_field_value_breaks_verification(
    document: dict[str, Any], sign: Any, owner_secrets: MemberSecrets
) -> None:
    # Each change leaves a valid policy in normal form; only the signatures object.
    changes: list[tuple[str, Any]] = [
        ("feed", "5f0c1a2b-3c4d-4e5f-9a0b-1c2d3e4f5a6c"),
        ("owner", "identity--7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"),
        ("version", 2),
        ("readers", ["identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b"]),
        ("writers", []),
        ("tlp", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"),
        ("iep.permitted_actions", "NONE"),
        ("iep.affected_party_notifications", "MAY"),
        ("iep.attribution", "MUST"),
        ("iep.unmodified_resale", "MAY"),
        ("iep.encrypt_in_transit", "MAY"),
        ("purposes", ["trend-analysis", "situational-awareness"]),
        ("purposes", ["situational-awareness"]),
        ("retention_days", 366),
        ("valid_from", "2025-01-01T00:00:01Z"),
        ("valid_until", None),
        ("valid_until", "2026-01-01T00:00:01Z"),
    ]
    signed = sign(document)
    keys = owner_secrets.signing_keys()
    for path, value in changes:
        changed = copy.deepcopy(document)
        *parents, last = path.split(".")
        target = changed
        for part in parents:
            target = target[part]
        target[last] = value
        if path == "version":
            changed["previous"] = "sha256:" + "0" * 64
        signatures = signed.to_json()["signatures"]
        tampered = parse_signed_policy({"policy": changed, "signatures": signatures})
        with pytest.raises(PolicySignatureError, match=r"^the ed25519 signature does not verify$"):
            verify_policy(tampered, keys)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_flipping_any_byte_of_a_signature_breaks_it(
    signed: SignedPolicy, owner_secrets: MemberSecrets, alg: str
) -> None:
    keys = owner_secrets.signing_keys()
    raw = base64.b64decode(_by_alg(signed)[alg].value)
    for position in range(len(raw)):
        tampered = bytearray(raw)
        tampered[position] ^= 0x80
        with pytest.raises(PolicySignatureError, match=rf"^the {alg} signature does not verify$"):
            verify_policy(_replace(signed, alg, value=_b64(bytes(tampered))), keys)


def test_a_tampered_document_fails_to_parse_before_verification(signed: SignedPolicy) -> None:
    outer = signed.to_json()
    outer["policy"]["retention_days"] = "365"
    with pytest.raises(PolicySyntaxError, match=r"^retention_days: "):
        parse_signed_policy(outer)


# -- SigningKeys and key ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ed", "ml", "message"),
    [
        (31, 1952, "an Ed25519 public key is 32 bytes"),
        (33, 1952, "an Ed25519 public key is 32 bytes"),
        (0, 1952, "an Ed25519 public key is 32 bytes"),
        (32, 1951, "an ML-DSA-65 public key is 1952 bytes"),
        (32, 1953, "an ML-DSA-65 public key is 1952 bytes"),
        (32, 32, "an ML-DSA-65 public key is 1952 bytes"),
        (1952, 32, "an Ed25519 public key is 32 bytes"),  # swapped
    ],
)
def test_signing_keys_refuse_wrong_sizes(ed: int, ml: int, message: str) -> None:
    with pytest.raises(PolicySignatureError, match=rf"^{message}$"):
        SigningKeys(ed25519=bytes(ed), ml_dsa_65=bytes(ml))


def test_signing_keys_give_each_algorithm_its_key(owner_secrets: MemberSecrets) -> None:
    keys = owner_secrets.signing_keys()
    assert keys.public(ED) == keys.ed25519
    assert keys.public(ML) == keys.ml_dsa_65
    assert keys.key_id(ED) == key_id(ED, keys.ed25519)
    assert keys.key_id(ML) == key_id(ML, keys.ml_dsa_65)
    assert keys.key_id(ED) != keys.key_id(ML)


@pytest.mark.parametrize("alg", ["rsa", "", "Ed25519", "ml-dsa-44"])
def test_signing_keys_refuse_unknown_algorithms(owner_secrets: MemberSecrets, alg: str) -> None:
    keys = owner_secrets.signing_keys()
    with pytest.raises(PolicySignatureError, match=rf"^no '{alg}' key: the algorithms are"):
        keys.public(alg)
    with pytest.raises(PolicySignatureError, match=rf"^no '{alg}' key"):
        keys.key_id(alg)


def test_signing_keys_are_frozen(owner_secrets: MemberSecrets) -> None:
    keys = owner_secrets.signing_keys()
    with pytest.raises(AttributeError):
        keys.ed25519 = bytes(32)  # type: ignore[misc]


def test_key_id_binds_the_algorithm_and_the_key() -> None:
    zero = bytes(32)
    expected = hashlib.sha256(b"trend-exchange/key-id/1\ned25519\n" + zero).hexdigest()
    assert key_id(ED, zero) == "sha256:" + expected
    assert key_id(ED, zero) != key_id(ML, zero)
    assert key_id(ED, zero) != key_id(ED, b"\x01" + zero[1:])


def test_signature_model_is_strict_and_frozen(signed: SignedPolicy) -> None:
    signature = signed.signatures[0]
    with pytest.raises(ValueError, match="frozen"):
        signature.alg = "ml-dsa-65"  # type: ignore[misc]
    with pytest.raises(ValueError, match="key_id"):
        Signature(alg="ed25519", key_id="sha256:" + "0" * 64 + "\n", value="")
    with pytest.raises(ValueError, match="alg"):
        Signature.model_validate({"alg": "rsa", "key_id": "sha256:" + "0" * 64, "value": ""})
