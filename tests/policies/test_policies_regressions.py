"""Named regressions: bugs found in `policies` while writing its tests, one test each.

Every one of them let a foreign exception (not a `PolicyError`) escape from a
parser the hub calls on untrusted bytes (a 500 instead of a TAXII error), or
let a policy say something other than what its owner meant.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from feeds.crypto.keys import MemberSecrets
from policies import (
    POLICY_LABEL,
    PolicySignatureError,
    PolicySyntaxError,
    load_json,
    parse_policy,
    parse_signed_policy,
    policy_document,
    policy_from_template,
    verify_signatures,
)


def _body(document: dict[str, Any], **changes: Any) -> bytes:
    document.update(changes)
    return json.dumps({"policy": document, "signatures": []}).encode()


def test_regression_overflowing_float_is_infinity(document: dict[str, Any]) -> None:
    """json.loads turned 1e400 into inf; canonicalizing it raised FloatDomainError."""
    body = _body(document).replace(b'"retention_days": 365', b'"retention_days": 1e400')
    with pytest.raises(PolicySyntaxError, match=r"^1e400 is not a finite number$"):
        parse_signed_policy(body)


def test_regression_integer_beyond_ijson(document: dict[str, Any]) -> None:
    """An integer beyond 2**53 - 1 made canonicalization raise IntegerDomainError."""
    with pytest.raises(PolicySyntaxError, match=r"^version: .*RFC 8785"):
        parse_signed_policy(_body(document, version=2**64, previous="sha256:" + "0" * 64))


@pytest.mark.parametrize(
    ("field", "value"),
    [("valid_from", "0001-01-01T00:00:00+01:00"), ("valid_until", "9999-12-31T23:00:00-01:00")],
)
def test_regression_timestamp_without_a_utc_form(
    document: dict[str, Any], field: str, value: str
) -> None:
    """policy_document converted to UTC and raised OverflowError from parse_signed_policy."""
    with pytest.raises(PolicySyntaxError, match=rf"^{field}: .*outside the years 1 to 9999"):
        parse_signed_policy(_body(document, **{field: value}))


def test_regression_years_before_1000_in_normal_form(document: dict[str, Any]) -> None:
    """strftime("%Y") wrote year 5 as "5": the normal form did not parse back."""
    document["valid_from"] = "0999-01-01T00:00:00Z"
    normal = policy_document(parse_policy(document))
    assert normal["valid_from"] == "0999-01-01T00:00:00Z"
    assert parse_signed_policy({"policy": normal, "signatures": []}).document == normal


def test_regression_template_valid_from_in_another_zone() -> None:
    """The template wrote local wall time with a Z: 09:00+02:00 became 09:00Z."""
    local = datetime(2025, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    policy = policy_from_template(
        "community",
        feed="5f0c1a2b-3c4d-4e5f-9a0b-1c2d3e4f5a6b",
        owner="identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b",
        valid_from=local,
    )
    assert policy.valid_from == local
    assert policy_document(policy)["valid_from"] == "2025-03-01T07:00:00Z"


def test_regression_template_naive_valid_from() -> None:
    """The template took a naive valid_from as UTC, although policies refuse naive times."""
    with pytest.raises(PolicySyntaxError, match=r"^valid_from: .*timezone"):
        policy_from_template(
            "community",
            feed="5f0c1a2b-3c4d-4e5f-9a0b-1c2d3e4f5a6b",
            owner="identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b",
            valid_from=datetime(2025, 1, 1),
        )


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"tlp": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"}, "tlp"),
        ({"previous": "sha256:" + "0" * 64}, "previous"),
        ({"valid_until": "2024-01-01T00:00:00Z"}, "valid_until"),
        ({"public": True}, "public"),
    ],
)
def test_regression_invariant_errors_name_their_field(
    document: dict[str, Any], changes: dict[str, Any], location: str
) -> None:
    """A model-level validator reported every broken invariant at location "policy"."""
    with pytest.raises(PolicySyntaxError, match=rf"^{location}: ") as info:
        parse_signed_policy(_body(document, **changes))
    assert info.value.location == location


def test_regression_signature_errors_name_their_index(document: dict[str, Any]) -> None:
    """Signature errors had no index, and a non-object entry was "signatures.policy"."""
    good = {"alg": "ed25519", "key_id": "sha256:" + "0" * 64, "value": ""}
    with pytest.raises(PolicySyntaxError, match=r"^signatures\.1: ") as info:
        parse_signed_policy({"policy": document, "signatures": [good, "x"]})
    assert info.value.location == "signatures.1"
    with pytest.raises(PolicySyntaxError, match=r"^signatures\.1\.alg: "):
        parse_signed_policy({"policy": document, "signatures": [good, {**good, "alg": "rsa"}]})


def test_regression_text_size_is_measured_in_bytes() -> None:
    """load_json compared the length of text in characters with a limit in bytes."""
    text = json.dumps("€" * 400_000, ensure_ascii=False)  # 400 002 characters, 1.2 MB
    with pytest.raises(PolicySyntaxError, match=r"^the document is larger than 1 MiB$"):
        load_json(text)


def test_regression_signing_keys_unknown_algorithm(owner_secrets: MemberSecrets) -> None:
    """SigningKeys.public returned the ML-DSA-65 key for any algorithm but ed25519."""
    with pytest.raises(PolicySignatureError, match=r"^no 'x25519' key"):
        owner_secrets.signing_keys().public("x25519")


def test_regression_verify_signatures_on_a_document_without_canonical_form(
    owner_secrets: MemberSecrets,
) -> None:
    """verify_signatures let rfc8785's ValueError escape instead of PolicySignatureError."""
    signatures = owner_secrets.sign(POLICY_LABEL, {"a": 1})
    with pytest.raises(PolicySignatureError, match=r"^the document has no canonical form"):
        verify_signatures(POLICY_LABEL, {"a": 2**60}, signatures, owner_secrets.signing_keys())
