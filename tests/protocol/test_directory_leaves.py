"""Directory-log leaves: canonical statements anyone can recompute from the documents."""

from __future__ import annotations

from exchange.protocol.directory import (
    key_bundle_leaf,
    member_admitted_leaf,
    member_disabled_leaf,
    policy_version_leaf,
)

MEMBER = "identity--11111111-1111-4111-8111-111111111111"
FEED = "3d019860-0ec0-49e7-9098-c7cffacea28c"


def test_each_statement_has_one_canonical_encoding() -> None:
    assert key_bundle_leaf(MEMBER, 2, "sha256:ab") == (
        b'{"digest":"sha256:ab","member":"' + MEMBER.encode()
        + b'","sequence":2,"type":"key-bundle","v":1}'
    )  # fmt: skip
    assert policy_version_leaf(FEED, 3, "sha256:cd") == (
        b'{"digest":"sha256:cd","feed":"' + FEED.encode()
        + b'","type":"policy-version","v":1,"version":3}'
    )  # fmt: skip
    assert member_admitted_leaf(MEMBER, "CERT-EU", "authority") == (
        b'{"kind":"authority","member":"' + MEMBER.encode()
        + b'","name":"CERT-EU","type":"member.admitted","v":1}'
    )  # fmt: skip
    assert member_disabled_leaf(MEMBER) == (
        b'{"member":"' + MEMBER.encode() + b'","type":"member.disabled","v":1}'
    )


def test_statements_of_different_documents_differ() -> None:
    leaves = {
        key_bundle_leaf(MEMBER, 1, "sha256:ab"),
        key_bundle_leaf(MEMBER, 2, "sha256:ab"),
        key_bundle_leaf(MEMBER, 1, "sha256:ac"),
        policy_version_leaf(FEED, 1, "sha256:ab"),
        member_admitted_leaf(MEMBER, "n", "research"),
        member_disabled_leaf(MEMBER),
    }
    assert len(leaves) == 6
