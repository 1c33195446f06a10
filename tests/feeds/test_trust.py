"""``feeds.trust``: key chains and policy histories, honest and tampered, step by step."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from exchange.protocol.keys import SignedKeyBundle, parse_key_bundle
from feeds.crypto.keys import MemberSecrets, build_key_bundle
from feeds.errors import TrustError
from feeds.trust import (
    signing_bundle,
    verify_key_chain,
    verify_policy_history,
    verify_policy_signature,
)
from policies import SignedPolicy, parse_signed_policy
from tests.feeds.keymaker import T0, chain, make_policy

OWNER = f"identity--{uuid.uuid4()}"
OTHER = f"identity--{uuid.uuid4()}"
FEED = str(uuid.uuid4())
NOW = T0 + timedelta(days=1)


@pytest.fixture(scope="module")
def gen1() -> MemberSecrets:
    return MemberSecrets.generate()


@pytest.fixture(scope="module")
def gen2() -> MemberSecrets:
    return MemberSecrets.generate()


@pytest.fixture(scope="module")
def bundles(gen1: MemberSecrets, gen2: MemberSecrets) -> list[SignedKeyBundle]:
    return chain(OWNER, gen1, gen2)


@pytest.fixture(scope="module")
def history(gen1: MemberSecrets, gen2: MemberSecrets) -> list[SignedPolicy]:
    v1 = make_policy(gen1, feed=FEED, owner=OWNER)
    v2 = make_policy(gen2, feed=FEED, owner=OWNER, version=2, previous=v1, readers=(OWNER, OTHER))
    return [v1, v2]


def _tampered(signed: SignedPolicy, old: str, new: str) -> SignedPolicy:
    """The signed document with one substring replaced (signatures kept)."""
    text = json.dumps(signed.to_json())
    assert old in text
    return parse_signed_policy(text.replace(old, new, 1))


# ---------------------------------------------------------------------- key chains


def test_an_honest_chain_verifies_and_the_last_bundle_is_in_force(bundles) -> None:
    assert verify_key_chain(bundles, OWNER) is bundles[-1]
    assert verify_key_chain(bundles[:1], OWNER) is bundles[0]


def test_no_bundles_is_refused() -> None:
    with pytest.raises(TrustError, match=f"key bundles of {OWNER}: the member has registered no"):
        verify_key_chain([], OWNER)


def test_a_bundle_of_another_member_is_refused(bundles) -> None:
    with pytest.raises(TrustError, match="bundle 1 names another member"):
        verify_key_chain(bundles, OTHER)


def test_a_chain_must_start_at_sequence_1(bundles) -> None:
    with pytest.raises(TrustError, match=r"bundle 1 breaks the chain: .*expected sequence 1"):
        verify_key_chain(bundles[1:], OWNER)


def test_a_rotation_not_endorsed_by_the_bundle_before_is_refused(gen1, bundles) -> None:
    intruder = MemberSecrets.generate()
    # The hub swaps in keys of its own, endorsed by themselves rather than by gen 1.
    forged = build_key_bundle(
        intruder, member=OWNER, sequence=2, previous=bundles[0], endorser=intruder
    )
    with pytest.raises(TrustError, match="bundle 2: the ed25519 signature is by another key"):
        verify_key_chain([bundles[0], forged], OWNER)


def test_a_rotation_without_endorsements_is_refused(bundles) -> None:
    raw = bundles[1].model_dump(mode="json")
    raw["endorsements"] = []
    with pytest.raises(TrustError, match="bundle 2: exactly one ed25519 and one ml-dsa-65"):
        verify_key_chain([bundles[0], parse_key_bundle(raw)], OWNER)


def test_a_bundle_that_does_not_name_its_predecessor_is_refused(gen1, gen2) -> None:
    first = chain(OWNER, gen1)[0]
    other_first = chain(OWNER, MemberSecrets.generate())[0]
    # A rotation of another first bundle: a forked key history.
    fork = build_key_bundle(gen2, member=OWNER, sequence=2, previous=other_first, endorser=gen1)
    with pytest.raises(TrustError, match="bundle 2 breaks the chain"):
        verify_key_chain([first, fork], OWNER)


def test_a_tampered_bundle_is_refused(bundles) -> None:
    raw = bundles[0].model_dump(mode="json")
    raw["bundle"]["created"] = "2020-01-01T00:00:00Z"
    with pytest.raises(TrustError, match="bundle 1: the ed25519 signature does not verify"):
        verify_key_chain([parse_key_bundle(raw)], OWNER)


# ---------------------------------------------------------------------- policy histories


def test_an_honest_history_verifies(history, bundles) -> None:
    trusted = verify_policy_history(FEED, history, bundles, now=NOW)
    assert trusted.current is history[-1]
    assert trusted.owner == OWNER
    assert trusted.signers == (1, 2)


def test_a_policy_signature_is_checked_with_the_bundle_it_names(history, bundles) -> None:
    assert signing_bundle(history[0], bundles) is bundles[0]
    assert verify_policy_signature(history[1], bundles) is bundles[1]


def test_an_empty_history_is_refused(bundles) -> None:
    with pytest.raises(TrustError, match="the feed has no policy"):
        verify_policy_history(FEED, [], bundles, now=NOW)


def test_a_history_for_another_feed_is_refused(history, bundles) -> None:
    with pytest.raises(TrustError, match="the policy is for another feed"):
        verify_policy_history(str(uuid.uuid4()), history, bundles, now=NOW)


def test_a_tampered_byte_in_a_policy_is_refused(history, bundles) -> None:
    # One byte of a reader's id changes; the signatures stay.
    reader = OTHER
    changed = reader[:-1] + ("0" if reader[-1] != "0" else "1")
    tampered = _tampered(history[1], reader, changed)
    with pytest.raises(TrustError, match="version 2: the ed25519 signature does not verify"):
        verify_policy_signature(tampered, bundles)
    # The tampered version also no longer chains with later ones, and never verifies.
    with pytest.raises(TrustError, match="policy version 2: the ed25519 signature does not"):
        verify_policy_history(FEED, [history[0], tampered], bundles, now=NOW)


def test_a_policy_signed_by_another_member_is_refused(gen1, history, bundles) -> None:
    forger = MemberSecrets.generate()
    forged = make_policy(
        forger, feed=FEED, owner=OWNER, version=2, previous=history[0], readers=(OWNER, OTHER)
    )
    with pytest.raises(TrustError, match=f"not signed by the registered keys of its owner {OWNER}"):
        verify_policy_history(FEED, [history[0], forged], bundles, now=NOW)


def test_a_forked_version_is_refused(gen1, history, bundles) -> None:
    # Version 2 names a version 1 that is not the one served.
    other_v1 = make_policy(gen1, feed=FEED, owner=OWNER, readers=(OWNER, OTHER))
    fork = make_policy(gen1, feed=FEED, owner=OWNER, version=2, previous=other_v1)
    with pytest.raises(TrustError, match="version 2: previous does not name the digest"):
        verify_policy_history(FEED, [history[0], fork], bundles, now=NOW)


def test_a_gap_or_a_repeated_version_is_refused(gen1, history, bundles) -> None:
    with pytest.raises(TrustError, match="expected version 1, got 2"):
        verify_policy_history(FEED, history[1:], bundles, now=NOW)
    with pytest.raises(TrustError, match="version 1: expected version 2"):
        verify_policy_history(FEED, [history[0], history[0]], bundles, now=NOW)


def test_an_owner_switch_within_the_history_is_refused(gen1, history) -> None:
    other_v2 = make_policy(gen1, feed=FEED, owner=OTHER, version=2, previous=history[0])
    bundles = chain(OWNER, gen1)
    with pytest.raises(TrustError, match="names another owner"):
        verify_policy_history(FEED, [history[0], other_v2], bundles, now=NOW)


def test_a_version_signed_by_replaced_keys_after_newer_ones_is_refused(
    gen1, history, bundles
) -> None:
    v3 = make_policy(gen1, feed=FEED, owner=OWNER, version=3, previous=history[1])
    with pytest.raises(TrustError, match="version 3 is signed by keys the owner had replaced"):
        verify_policy_history(FEED, [*history, v3], bundles, now=NOW)


def test_the_owners_key_chain_is_verified_too(history, bundles) -> None:
    with pytest.raises(TrustError, match="the key bundles of"):
        verify_policy_history(FEED, history, bundles[1:], now=NOW)


def test_the_newest_version_must_be_in_force(history, bundles) -> None:
    with pytest.raises(
        TrustError,
        match=r"version 2, the newest, is not in force now \(it is valid from 2026-01-01",
    ):
        verify_policy_history(FEED, history, bundles, now=T0 - timedelta(seconds=1))
    # Drafting a successor does not need the newest version in force.
    trusted = verify_policy_history(
        FEED, history, bundles, now=T0 - timedelta(days=1), require_in_force=False
    )
    assert trusted.current.policy.version == 2
