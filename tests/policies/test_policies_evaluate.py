"""Evaluation (policies/evaluate.py): deny by default, and every decision has a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from policies import (
    TLP_MARKINGS,
    Action,
    Decision,
    Policy,
    Purpose,
    Request,
    TlpLevel,
    evaluate,
    parse_policy,
)

OWNER = "identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b"
READER = "identity--7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"
STRANGER = "identity--c4d5e6f7-a8b9-4c0d-ae1f-2a3b4c5d6e7f"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def policy(document: dict[str, Any]) -> Policy:
    """Readers: owner and READER; writers: owner; AMBER; in force during 2025."""
    return parse_policy(document)


@pytest.fixture
def public_policy(document: dict[str, Any]) -> Policy:
    document.update(tlp=TLP_MARKINGS[TlpLevel.CLEAR], public=True)
    return parse_policy(document)


def _allowed(decision: Decision, reason: str) -> None:
    assert decision.allowed is True
    assert bool(decision) is True
    assert decision.reason == reason


def _denied(decision: Decision, reason: str) -> None:
    assert decision.allowed is False
    assert not decision
    assert decision.reason == reason


# -- validity window ---------------------------------------------------------------------------


@pytest.mark.parametrize("now", [START - timedelta(microseconds=1), START - timedelta(days=365)])
def test_not_yet_in_force(policy: Policy, now: datetime) -> None:
    _denied(
        evaluate(policy, Request(OWNER, Action.READ), now=now), "the policy is not in force yet"
    )


@pytest.mark.parametrize("now", [END, END + timedelta(microseconds=1), END + timedelta(days=1)])
def test_expired_including_exactly_at_valid_until(policy: Policy, now: datetime) -> None:
    _denied(evaluate(policy, Request(OWNER, Action.READ), now=now), "the policy has expired")


@pytest.mark.parametrize("now", [START, NOW, END - timedelta(microseconds=1)])
def test_in_force_from_valid_from_until_just_before_valid_until(
    policy: Policy, now: datetime
) -> None:
    _allowed(evaluate(policy, Request(OWNER, Action.READ), now=now), "a reader named in the policy")


def test_instants_in_another_zone_compare_as_instants(policy: Policy) -> None:
    plus_one = timezone(timedelta(hours=1))
    last_second = datetime(2026, 1, 1, 0, 59, 59, tzinfo=plus_one)  # 2025-12-31T23:59:59Z
    _allowed(
        evaluate(policy, Request(OWNER, Action.READ), now=last_second),
        "a reader named in the policy",
    )
    at_end = datetime(2026, 1, 1, 1, 0, 0, tzinfo=plus_one)  # valid_until exactly
    _denied(evaluate(policy, Request(OWNER, Action.READ), now=at_end), "the policy has expired")


def test_no_valid_until_never_expires(document: dict[str, Any]) -> None:
    document["valid_until"] = None
    policy = parse_policy(document)
    far = datetime(9999, 12, 31, tzinfo=UTC)
    _allowed(evaluate(policy, Request(OWNER, Action.READ), now=far), "a reader named in the policy")


def test_the_validity_window_applies_to_public_policies(public_policy: Policy) -> None:
    _denied(evaluate(public_policy, Request(None, Action.READ), now=END), "the policy has expired")


# -- purpose -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "purpose",
    [p for p in Purpose if p not in {Purpose.SITUATIONAL_AWARENESS, Purpose.TREND_ANALYSIS}],
)
@pytest.mark.parametrize("action", list(Action))
def test_a_purpose_the_policy_does_not_permit(
    policy: Policy, purpose: Purpose, action: Action
) -> None:
    decision = evaluate(policy, Request(OWNER, action, purpose), now=NOW)
    _denied(decision, f"the policy does not permit the purpose {purpose.value}")


@pytest.mark.parametrize("purpose", [Purpose.SITUATIONAL_AWARENESS, Purpose.TREND_ANALYSIS])
def test_a_permitted_purpose(policy: Policy, purpose: Purpose) -> None:
    _allowed(
        evaluate(policy, Request(READER, Action.READ, purpose), now=NOW),
        "a reader named in the policy",
    )


def test_no_stated_purpose_is_not_checked(policy: Policy) -> None:
    _allowed(
        evaluate(policy, Request(READER, Action.READ), now=NOW), "a reader named in the policy"
    )


def test_a_public_policy_still_limits_purposes(public_policy: Policy) -> None:
    decision = evaluate(public_policy, Request(None, Action.READ, Purpose.RESEARCH), now=NOW)
    _denied(decision, "the policy does not permit the purpose research")


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("member", [OWNER, READER])
def test_a_listed_reader_may_read(policy: Policy, member: str) -> None:
    _allowed(
        evaluate(policy, Request(member, Action.READ), now=NOW), "a reader named in the policy"
    )


@pytest.mark.parametrize("member", [STRANGER, None, "", READER.upper(), READER + " "])
def test_anyone_else_may_not_read(policy: Policy, member: str | None) -> None:
    _denied(
        evaluate(policy, Request(member, Action.READ), now=NOW), "not a reader named in the policy"
    )


def test_the_owner_is_not_a_reader_unless_listed(document: dict[str, Any]) -> None:
    document["readers"] = [READER]
    policy = parse_policy(document)
    _denied(
        evaluate(policy, Request(OWNER, Action.READ), now=NOW), "not a reader named in the policy"
    )


def test_no_readers_means_nobody_reads(document: dict[str, Any]) -> None:
    document["readers"] = []
    policy = parse_policy(document)
    for member in (OWNER, READER, None):
        assert not evaluate(policy, Request(member, Action.READ), now=NOW)


@pytest.mark.parametrize("member", [None, STRANGER])
def test_a_public_clear_policy_may_be_read_by_anyone(
    public_policy: Policy, member: str | None
) -> None:
    _allowed(
        evaluate(public_policy, Request(member, Action.READ), now=NOW),
        "the policy makes the feed public (TLP:CLEAR)",
    )


def test_a_public_policy_still_names_its_readers_first(public_policy: Policy) -> None:
    _allowed(
        evaluate(public_policy, Request(READER, Action.READ), now=NOW),
        "a reader named in the policy",
    )


def test_clear_but_not_public_is_not_anonymous(document: dict[str, Any]) -> None:
    document["tlp"] = TLP_MARKINGS[TlpLevel.CLEAR]
    policy = parse_policy(document)
    _denied(
        evaluate(policy, Request(None, Action.READ), now=NOW), "not a reader named in the policy"
    )


@pytest.mark.parametrize(
    "level", [TlpLevel.GREEN, TlpLevel.AMBER, TlpLevel.AMBER_STRICT, TlpLevel.RED]
)
def test_public_is_ignored_unless_clear(policy: Policy, level: TlpLevel) -> None:
    # Defence in depth: the model refuses such a policy, evaluation denies it anyway.
    forged = policy.model_copy(update={"public": True, "tlp": TLP_MARKINGS[level]})
    assert forged.public
    assert forged.tlp_level is level
    _denied(
        evaluate(forged, Request(None, Action.READ), now=NOW), "not a reader named in the policy"
    )


# -- writing -----------------------------------------------------------------------------------


def test_a_listed_writer_may_write(policy: Policy) -> None:
    _allowed(
        evaluate(policy, Request(OWNER, Action.WRITE), now=NOW), "a writer named in the policy"
    )


@pytest.mark.parametrize("member", [READER, STRANGER, None])
def test_anyone_else_may_not_write(policy: Policy, member: str | None) -> None:
    _denied(
        evaluate(policy, Request(member, Action.WRITE), now=NOW), "not a writer named in the policy"
    )


def test_a_public_policy_does_not_let_anyone_write(public_policy: Policy) -> None:
    _denied(
        evaluate(public_policy, Request(None, Action.WRITE), now=NOW),
        "not a writer named in the policy",
    )
    _denied(
        evaluate(public_policy, Request(STRANGER, Action.WRITE), now=NOW),
        "not a writer named in the policy",
    )


def test_a_writer_who_is_not_a_reader(document: dict[str, Any]) -> None:
    document.update(readers=[OWNER], writers=[READER])
    policy = parse_policy(document)
    assert evaluate(policy, Request(READER, Action.WRITE), now=NOW)
    assert not evaluate(policy, Request(READER, Action.READ), now=NOW)


def test_an_unknown_action_is_denied(policy: Policy) -> None:
    # Deny by default: an action the engine does not know is never allowed.
    request = Request(OWNER, "delete")  # type: ignore[arg-type]
    _denied(evaluate(policy, request, now=NOW), "unknown action")


# -- Decision and Request ----------------------------------------------------------------------


def test_decision_truthiness_follows_allowed() -> None:
    assert Decision(True, "yes")
    assert not Decision(False, "no")
    assert Decision(False, "no").reason == "no"


def test_every_denial_has_a_reason(policy: Policy) -> None:
    requests = [
        (Request(STRANGER, Action.READ), NOW),
        (Request(STRANGER, Action.WRITE), NOW),
        (Request(OWNER, Action.READ, Purpose.RESEARCH), NOW),
        (Request(OWNER, Action.READ), START - timedelta(seconds=1)),
        (Request(OWNER, Action.READ), END),
    ]
    reasons = set()
    for request, now in requests:
        decision = evaluate(policy, request, now=now)
        assert not decision
        assert decision.reason
        reasons.add(decision.reason)
    assert len(reasons) == len(requests)


def test_request_and_decision_are_frozen() -> None:
    request = Request(OWNER, Action.READ)
    assert request.purpose is None
    with pytest.raises(AttributeError):
        request.member = STRANGER  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Decision(True, "x").allowed = False  # type: ignore[misc]


def test_action_values() -> None:
    assert [a.value for a in Action] == ["read", "write"]
