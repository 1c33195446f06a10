"""The version chain (`verify_successor`): one line of versions per feed, no replay, no fork."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies import PolicyChainError, SignedPolicy, verify_successor

OTHER_FEED = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
OTHER_OWNER = "identity--7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"


def _next(current: SignedPolicy, sign: Callable[..., SignedPolicy], **changes: Any) -> SignedPolicy:
    document = copy.deepcopy(current.document)
    document.update(version=current.policy.version + 1, previous=current.digest)
    document.update(changes)
    return sign(document)


def test_the_first_version_is_1(signed: SignedPolicy) -> None:
    assert signed.policy.version == 1
    verify_successor(None, signed)


@pytest.mark.parametrize("version", [2, 3, 100])
def test_a_feed_without_a_policy_starts_at_version_1(
    document: dict[str, Any], sign: Any, version: int
) -> None:
    document.update(version=version, previous="sha256:" + "0" * 64)
    with pytest.raises(
        PolicyChainError, match=rf"^the feed has no policy yet; expected version 1, got {version}$"
    ):
        verify_successor(None, sign(document))


def test_a_chain_of_versions(signed: SignedPolicy, sign: Any) -> None:
    current = signed
    for _ in range(3):
        new = _next(current, sign, retention_days=current.policy.retention_days + 1)
        verify_successor(current, new)
        assert new.policy.previous == current.digest
        current = new
    assert current.policy.version == 4


def test_another_feed_is_refused(signed: SignedPolicy, sign: Any) -> None:
    with pytest.raises(PolicyChainError, match=r"^the policy is for another feed$"):
        verify_successor(signed, _next(signed, sign, feed=OTHER_FEED))


def test_another_owner_is_refused(signed: SignedPolicy, sign: Any) -> None:
    with pytest.raises(
        PolicyChainError, match=r"^the policy names another owner than the version in force$"
    ):
        verify_successor(signed, _next(signed, sign, owner=OTHER_OWNER))


def test_replaying_the_version_in_force_is_refused(signed: SignedPolicy, sign: Any) -> None:
    second = _next(signed, sign)
    with pytest.raises(
        PolicyChainError, match=r"^expected version 3 \(the version in force is 2\), got 2$"
    ):
        verify_successor(second, second)


def test_replaying_an_older_version_is_refused(signed: SignedPolicy, sign: Any) -> None:
    second = _next(signed, sign)
    with pytest.raises(
        PolicyChainError, match=r"^expected version 3 \(the version in force is 2\), got 1$"
    ):
        verify_successor(second, signed)


def test_a_skipped_version_is_refused(signed: SignedPolicy, sign: Any) -> None:
    with pytest.raises(
        PolicyChainError, match=r"^expected version 2 \(the version in force is 1\), got 3$"
    ):
        verify_successor(signed, _next(signed, sign, version=3))


def test_a_fork_is_refused(signed: SignedPolicy, sign: Any) -> None:
    # The right number, but naming another predecessor.
    with pytest.raises(
        PolicyChainError,
        match=r"^previous does not name the digest of the version in force \(a fork\)$",
    ):
        verify_successor(signed, _next(signed, sign, previous="sha256:" + "ab" * 32))


def test_two_children_of_one_version_fork_the_chain(signed: SignedPolicy, sign: Any) -> None:
    left = _next(signed, sign, retention_days=30)
    right = _next(signed, sign, retention_days=60)
    verify_successor(signed, left)
    verify_successor(signed, right)
    # Once left is in force, right (same number, parent is not left) is refused.
    with pytest.raises(PolicyChainError, match=r"^expected version 3"):
        verify_successor(left, right)
    fork = _next(left, sign, previous=right.digest)
    with pytest.raises(PolicyChainError, match=r"\(a fork\)$"):
        verify_successor(left, fork)


def test_the_digest_names_the_whole_policy(signed: SignedPolicy, sign: Any) -> None:
    # Any change of the current version changes the digest its successor must name.
    second = _next(signed, sign)
    document = copy.deepcopy(signed.document)
    document["retention_days"] += 1
    altered_current = sign(document)
    with pytest.raises(PolicyChainError, match=r"\(a fork\)$"):
        verify_successor(altered_current, second)


def test_feed_is_checked_before_the_version_number(signed: SignedPolicy, sign: Any) -> None:
    with pytest.raises(PolicyChainError, match=r"^the policy is for another feed$"):
        verify_successor(signed, _next(signed, sign, feed=OTHER_FEED, version=7))


def test_chain_errors_carry_their_message(signed: SignedPolicy, sign: Any) -> None:
    with pytest.raises(PolicyChainError) as info:
        verify_successor(signed, signed)
    assert info.value.message == str(info.value)
