"""The signed-policy parser, fuzzed (issue 8, item 7): whatever a hub or a member
is handed as a policy, parsing raises `PolicySyntaxError` or returns a policy in
normal form, and verifying raises `PolicySignatureError` or holds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from feeds.crypto.keys import MemberSecrets, sign_document
from policies import (
    POLICY_LABEL,
    PolicySignatureError,
    PolicySyntaxError,
    parse_signed_policy,
    verify_policy,
)
from tests.fuzz_kit import FUZZ, json_values, mutated, raises_only
from tests.policies.conftest import DOCUMENT

SECRETS = MemberSecrets.generate()
SIGNED: dict[str, Any] = {
    "policy": DOCUMENT,
    "signatures": sign_document(SECRETS, POLICY_LABEL, DOCUMENT),
}


def _policy(data: Any) -> None:
    if not isinstance(data, bytes | str | dict):
        data = json.dumps(data)
    signed = raises_only((PolicySyntaxError,), parse_signed_policy, data)
    if signed is not None:
        raises_only((PolicySignatureError,), verify_policy, signed, SECRETS.signing_keys())


def test_the_sample_is_valid() -> None:
    verify_policy(parse_signed_policy(SIGNED), SECRETS.signing_keys())


@FUZZ
@given(mutated(SIGNED))
def test_a_changed_signed_policy(document: Any) -> None:
    _policy(document)
    _policy(json.dumps(document).encode())


@FUZZ
@given(st.binary(max_size=300) | json_values)
def test_anything_as_a_signed_policy(data: Any) -> None:
    _policy(data)
