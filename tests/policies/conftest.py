"""Fixtures for the policy language: a valid policy document, keys, and a signer.

Keys are generated per test session (never committed); signatures are made
with `feeds.crypto.keys.sign_document`, the member-side signer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from feeds.crypto.keys import MemberSecrets, sign_document
from policies import POLICY_LABEL, TLP_MARKINGS, SignedPolicy, TlpLevel, parse_signed_policy

OWNER = "identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b"
FEED = "5f0c1a2b-3c4d-4e5f-9a0b-1c2d3e4f5a6b"

DOCUMENT: dict[str, Any] = {
    "format": "exchange-policy/1",
    "feed": FEED,
    "owner": OWNER,
    "version": 1,
    "previous": None,
    "readers": [OWNER, "identity--7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"],
    "writers": [OWNER],
    "tlp": TLP_MARKINGS[TlpLevel.AMBER],
    "iep": {
        "permitted_actions": "INTERNALLY VISIBLE ACTIONS",
        "affected_party_notifications": "MUST NOT",
        "attribution": "MUST NOT",
        "unmodified_resale": "MUST NOT",
        "encrypt_in_transit": "MUST",
    },
    "purposes": ["situational-awareness", "trend-analysis"],
    "retention_days": 365,
    "valid_from": "2025-01-01T00:00:00Z",
    "valid_until": "2026-01-01T00:00:00Z",
    "public": False,
}
"""A valid policy in normal form: every field present, timestamps in UTC with Z."""


@pytest.fixture
def document() -> dict[str, Any]:
    """A fresh copy of a valid policy document in normal form."""
    return copy.deepcopy(DOCUMENT)


@pytest.fixture(scope="session")
def owner_secrets() -> MemberSecrets:
    """The feed owner's private key seeds (generated, never stored)."""
    return MemberSecrets.generate()


@pytest.fixture(scope="session")
def other_secrets() -> MemberSecrets:
    """Another member's private key seeds."""
    return MemberSecrets.generate()


Sign = Callable[..., SignedPolicy]


@pytest.fixture
def sign(owner_secrets: MemberSecrets) -> Sign:
    """Sign a policy document (by default with the owner's keys) and parse the result."""

    def make(
        policy: dict[str, Any],
        secrets: MemberSecrets | None = None,
        label: str = POLICY_LABEL,
    ) -> SignedPolicy:
        signatures = sign_document(secrets or owner_secrets, label, policy)
        return parse_signed_policy({"policy": policy, "signatures": signatures})

    return make


@pytest.fixture
def signed(document: dict[str, Any], sign: Sign) -> SignedPolicy:
    """The fixture document, signed by its owner."""
    return sign(document)
