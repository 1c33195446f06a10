"""Evaluating a policy for one request: deny by default, and say why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from policies.model import Policy, Purpose, TlpLevel

__all__ = ["Action", "Decision", "Request", "evaluate"]


class Action(StrEnum):
    """What a request wants to do with a feed's content."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Request:
    """Who wants to do what. ``member`` is None for an anonymous request."""

    member: str | None
    action: Action
    purpose: Purpose | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of an evaluation and the reason for it."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


def evaluate(policy: Policy, request: Request, *, now: datetime) -> Decision:
    """Decide ``request`` under ``policy`` at ``now``; anything not allowed is denied.

    Steps:
    0. the policy is in force at ``now``;
    1. a stated purpose is one the policy permits;
    2. reading: a listed reader, or anyone when the policy is public (TLP:CLEAR);
    3. writing: a listed writer.
    """
    # 0. Validity window.
    if now < policy.valid_from:
        return _deny("the policy is not in force yet")
    if policy.valid_until is not None and now >= policy.valid_until:
        return _deny("the policy has expired")
    # 1. Purpose.
    if request.purpose is not None and request.purpose not in policy.purposes:
        return _deny(f"the policy does not permit the purpose {request.purpose.value}")
    # 2. Reading.
    if request.action is Action.READ:
        if request.member is not None and request.member in policy.readers:
            return Decision(True, "a reader named in the policy")
        if policy.public and policy.tlp_level is TlpLevel.CLEAR:
            return Decision(True, "the policy makes the feed public (TLP:CLEAR)")
        return _deny("not a reader named in the policy")
    # 3. Writing.
    if request.action is Action.WRITE:
        if request.member is not None and request.member in policy.writers:
            return Decision(True, "a writer named in the policy")
        return _deny("not a writer named in the policy")
    return _deny("unknown action")
