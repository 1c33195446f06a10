"""Strict JSON, signed-policy parsing and the normal form (policies/document.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from feeds.crypto.keys import MemberSecrets, sign_document
from policies import (
    POLICY_LABEL,
    PolicySyntaxError,
    SignedPolicy,
    canonical_bytes,
    digest,
    load_json,
    parse_policy,
    parse_signed_policy,
    policy_document,
)

MIB = 1 << 20

# -- load_json ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"a": 1, "a": 1}', "a"),
        ('{"a": 1, "b": 2, "a": 3}', "a"),
        ('{"policy": {"version": 1, "version": 2}}', "version"),
        ('[{"x": {"y": null, "y": null}}]', "y"),
    ],
)
def test_duplicate_keys_are_refused_and_named(text: str, key: str) -> None:
    with pytest.raises(PolicySyntaxError, match=rf"^{key}: appears twice$") as info:
        load_json(text)
    assert info.value.location == key


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant: str) -> None:
    with pytest.raises(PolicySyntaxError, match=rf"^{constant} is not JSON$"):
        load_json(f'{{"retention_days": {constant}}}')


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.8e308", "123456789e999"])
def test_numbers_that_overflow_to_infinity_are_refused(number: str) -> None:
    # json.loads("1e400") is inf: Infinity by another spelling.
    with pytest.raises(PolicySyntaxError, match=rf"^{number} is not a finite number$"):
        load_json(f"[{number}]")


def test_finite_floats_parse() -> None:
    assert load_json("[1.5, -0.0, 1e308, 5e-324]") == [1.5, -0.0, 1e308, 5e-324]


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "{",
        '{"a": 1,}',
        "{'a': 1}",
        '{"a": undefined}',
        '{"a": 1} {"b": 2}',
        "[1, 2",
        '"unterminated',
        "01",
        b"\xff\xfe\xfd",
        b'{"a": "\xc3\x28"}',  # invalid UTF-8
        "\ufeff{}",  # a BOM in text
    ],
)
def test_invalid_json_is_refused(text: str | bytes) -> None:
    with pytest.raises(PolicySyntaxError, match=r"^the document is not valid JSON$") as info:
        load_json(text)
    assert info.value.location == ""
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("depth", [100_000, 500_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(PolicySyntaxError, match=r"^the document is not valid JSON$"):
        load_json("[" * depth + "]" * depth)


def test_moderate_nesting_parses() -> None:
    nested = load_json("[" * 50 + "]" * 50)
    for _ in range(49):
        nested = nested[0]
    assert nested == []


def test_one_mebibyte_is_the_limit_for_bytes() -> None:
    exactly = b'"' + b"a" * (MIB - 2) + b'"'
    assert len(exactly) == MIB
    assert load_json(exactly) == "a" * (MIB - 2)
    with pytest.raises(PolicySyntaxError, match=r"^the document is larger than 1 MiB$"):
        load_json(b'"' + b"a" * (MIB - 1) + b'"')


def test_one_mebibyte_is_the_limit_for_text() -> None:
    exactly = '"' + "a" * (MIB - 2) + '"'
    assert load_json(exactly) == "a" * (MIB - 2)
    with pytest.raises(PolicySyntaxError, match=r"^the document is larger than 1 MiB$"):
        load_json('"' + "a" * (MIB - 1) + '"')


def test_text_is_measured_in_utf8_bytes() -> None:
    # Fewer than 1 Mi characters, but more than 1 MiB once encoded: refused.
    text = '"' + "€" * (MIB // 3 + 1) + '"'
    assert len(text) < MIB < len(text.encode())
    with pytest.raises(PolicySyntaxError, match=r"^the document is larger than 1 MiB$"):
        load_json(text)
    assert load_json('"' + "€" * 1000 + '"') == "€" * 1000


def test_text_with_a_lone_surrogate_is_measured_not_rejected_by_the_size_check() -> None:
    # Measuring must not fail on text that cannot be encoded; parsing decides.
    assert load_json('"\ud800"') == "\ud800"


def test_load_json_accepts_bytes_and_text() -> None:
    assert load_json(b'{"a": [1, "x", null, true]}') == {"a": [1, "x", None, True]}
    assert load_json('{"a": [1, "x", null, true]}') == {"a": [1, "x", None, True]}


# -- parse_signed_policy: outer shape ----------------------------------------------------------


def _outer(document: dict[str, Any], secrets: MemberSecrets) -> dict[str, Any]:
    return {"policy": document, "signatures": sign_document(secrets, POLICY_LABEL, document)}


@pytest.mark.parametrize(
    "outer",
    [
        [],
        "policy",
        None,
        1,
        {},
        {"policy": {}},
        {"signatures": []},
        {"policy": {}, "signatures": [], "comment": "x"},
        {"Policy": {}, "signatures": []},
    ],
)
def test_wrong_outer_shape_is_refused(outer: Any) -> None:
    with pytest.raises(PolicySyntaxError, match=r"^a signed policy is \{\"policy\""):
        parse_signed_policy(json.dumps(outer))


def test_the_outer_object_is_parsed_strictly() -> None:
    with pytest.raises(PolicySyntaxError, match=r"^policy: appears twice$"):
        parse_signed_policy(b'{"policy": {}, "policy": {}, "signatures": []}')
    with pytest.raises(PolicySyntaxError, match=r"^the document is not valid JSON$"):
        parse_signed_policy(b'{"policy": {}, "signatures": [}')
    with pytest.raises(PolicySyntaxError, match=r"^NaN is not JSON$"):
        parse_signed_policy(b'{"policy": {"version": NaN}, "signatures": []}')
    with pytest.raises(PolicySyntaxError, match=r"^the document is larger than 1 MiB$"):
        parse_signed_policy(b" " * (MIB + 1))


@pytest.mark.parametrize("policy", [[], "x", None, 1])
def test_the_policy_must_be_an_object(policy: Any) -> None:
    with pytest.raises(PolicySyntaxError, match=r"^policy: must be a JSON object$"):
        parse_signed_policy({"policy": policy, "signatures": []})


def test_a_bad_policy_field_is_named(document: dict[str, Any]) -> None:
    document["retention_days"] = 0
    with pytest.raises(PolicySyntaxError, match=r"^retention_days: ") as info:
        parse_signed_policy({"policy": document, "signatures": []})
    assert info.value.location == "retention_days"


@pytest.mark.parametrize("signatures", [None, {}, "sig", 1, {"alg": "ed25519"}])
def test_signatures_must_be_a_list(document: dict[str, Any], signatures: Any) -> None:
    with pytest.raises(PolicySyntaxError, match=r"^signatures: must be a list$"):
        parse_signed_policy({"policy": document, "signatures": signatures})


@pytest.mark.parametrize(
    ("mutate", "location"),
    [
        (lambda s: s.update(alg="rsa"), "signatures.0.alg"),
        (lambda s: s.update(alg="Ed25519"), "signatures.0.alg"),
        (lambda s: s.update(key_id="sha256:" + "0" * 63), "signatures.0.key_id"),
        (lambda s: s.update(key_id="sha256:" + "A" * 64), "signatures.0.key_id"),
        (lambda s: s.update(key_id="sha256:" + "0" * 64 + "\n"), "signatures.0.key_id"),
        (lambda s: s.update(value=1), "signatures.0.value"),
        (lambda s: s.update(value="A" * 8193), "signatures.0.value"),
        (lambda s: s.update(extra="x"), "signatures.0.extra"),
        (lambda s: s.pop("value"), "signatures.0.value"),
        (lambda s: s.pop("key_id"), "signatures.0.key_id"),
        (lambda s: s.pop("alg"), "signatures.0.alg"),
    ],
)
def test_malformed_signature_entries_are_named(
    document: dict[str, Any], owner_secrets: MemberSecrets, mutate: Any, location: str
) -> None:
    outer = _outer(document, owner_secrets)
    mutate(outer["signatures"][0])
    with pytest.raises(PolicySyntaxError, match=rf"^{location}: ") as info:
        parse_signed_policy(outer)
    assert info.value.location == location


@pytest.mark.parametrize("entry", [None, "sig", ["ed25519"], 1])
def test_a_signature_entry_must_be_an_object(
    document: dict[str, Any], owner_secrets: MemberSecrets, entry: Any
) -> None:
    outer = _outer(document, owner_secrets)
    outer["signatures"].append(entry)
    with pytest.raises(PolicySyntaxError, match=r"^signatures\.2: "):
        parse_signed_policy(outer)


def test_signature_counts_are_checked_when_verifying_not_when_parsing(
    document: dict[str, Any],
) -> None:
    # Parsing only parses; verify_policy decides (test_policies_signature.py).
    signed = parse_signed_policy({"policy": document, "signatures": []})
    assert signed.signatures == ()


# -- normal form -------------------------------------------------------------------------------


NOT_NORMAL = [
    pytest.param(("valid_from", "2025-01-01T00:00:00+00:00"), id="plus-zero-offset"),
    pytest.param(("valid_from", "2025-01-01T01:00:00+01:00"), id="other-offset"),
    pytest.param(("valid_from", "2025-01-01T00:00:00.000Z"), id="fraction-zero"),
    pytest.param(("valid_from", "2025-01-01T00:00:00.5Z"), id="fraction"),
    pytest.param(("valid_from", "2025-01-01t00:00:00z"), id="lower-case"),
    pytest.param(("valid_from", "2025-01-01 00:00:00Z"), id="space"),
    pytest.param(("valid_until", "2026-01-01T00:00:00-00:00"), id="until-minus-zero"),
    pytest.param(("valid_until", None, "delete"), id="missing-valid-until"),
    pytest.param(("public", None, "delete"), id="missing-public"),
    pytest.param(("iep.encrypt_in_transit", None, "delete"), id="missing-encrypt-in-transit"),
]


@pytest.mark.parametrize("change", NOT_NORMAL)
def test_not_normal_form_is_refused(
    document: dict[str, Any], owner_secrets: MemberSecrets, change: tuple[Any, ...]
) -> None:
    path, value, *delete = change
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[part]
    if delete:
        del target[last]
    else:
        target[last] = value
    parse_policy(document)  # a valid policy ...
    with pytest.raises(PolicySyntaxError, match=r"^policy: is not in normal form") as info:
        parse_signed_policy(_outer(document, owner_secrets))  # ... but not in normal form
    assert info.value.location == "policy"


def test_normal_form_round_trip(document: dict[str, Any]) -> None:
    assert policy_document(parse_policy(document)) == document


def test_normal_form_is_a_fixed_point(document: dict[str, Any]) -> None:
    document["valid_from"] = "2025-01-01T01:00:00.25+01:00"
    once = policy_document(parse_policy(document))
    assert once["valid_from"] == "2025-01-01T00:00:00Z"
    assert policy_document(parse_policy(once)) == once


def test_normal_form_writes_four_digit_years(document: dict[str, Any]) -> None:
    document["valid_from"] = "0005-01-01T00:00:00Z"
    assert policy_document(parse_policy(document)) == document


def test_normal_form_is_json(document: dict[str, Any]) -> None:
    normal = policy_document(parse_policy(document))
    assert json.loads(json.dumps(normal)) == normal
    assert list(normal) == list(document)


def test_signed_policy_round_trip(document: dict[str, Any], owner_secrets: MemberSecrets) -> None:
    outer = _outer(document, owner_secrets)
    for data in (outer, json.dumps(outer), json.dumps(outer).encode()):
        signed = parse_signed_policy(data)
        assert isinstance(signed, SignedPolicy)
        assert signed.document == document
        assert signed.policy == parse_policy(document)
        assert signed.to_json() == outer
        assert parse_signed_policy(signed.to_json()) == signed


def test_signed_policy_digest_is_sha256_of_the_canonical_policy(signed: SignedPolicy) -> None:
    expected = hashlib.sha256(canonical_bytes(signed.document)).hexdigest()
    assert signed.digest == "sha256:" + expected == digest(signed.document)
    assert signed.digest == digest(policy_document(signed.policy))


def test_signed_policy_is_frozen(signed: SignedPolicy) -> None:
    with pytest.raises(AttributeError):
        signed.policy = signed.policy  # type: ignore[misc]
