"""Every access decision about feeds, in one place.

Effective access is the operator's grant AND the feed's signed policy in
force: a member reads only if both allow reading and writes only if both
allow writing, so neither the operator nor the owner alone can widen access.
A feed without a valid policy serves and accepts nothing but its policy.

A member knows of a feed only through a grant; a feed it has no grant on is
reported exactly as an absent one. TAXII's permission table (§5.7) decides
the rest: reading needs read, writing write, deleting both.

Anonymous requests reach only feeds that are public twice over: the operator
marked the feed public and its policy is a public TLP:CLEAR one. Anything
else answers 401, whether the feed exists or not.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import Connection

from exchange.db.records import FeedAccess, MemberKind, MemberRecord
from exchange.errors import AuthenticationFailed, CollectionNotFound, PermissionDenied
from exchange.services.hub import Hub
from exchange.services.trust import policy_in_force
from policies import Action as PolicyAction
from policies import Request, SignedPolicy, evaluate

__all__ = ["Action", "authorize", "visible_feeds"]


class Action(Enum):
    """What a request wants to do in a feed."""

    SEE = "see this collection"
    READ = "read objects in this collection"
    WRITE = "add objects in this collection"
    DELETE = "delete objects in this collection"


def _allows(
    signed: SignedPolicy | None, member: str | None, action: PolicyAction, now: datetime
) -> tuple[bool, str]:
    if signed is None:
        return False, "the feed has no sharing policy in force"
    decision = evaluate(signed.policy, Request(member, action), now=now)
    return decision.allowed, decision.reason


def _effective(
    granted: FeedAccess, signed: SignedPolicy | None, policy_read: bool, policy_write: bool
) -> FeedAccess:
    return FeedAccess(
        granted.feed,
        can_read=granted.can_read and policy_read,
        can_write=granted.can_write and policy_write,
        retention_days=None if signed is None else signed.policy.retention_days,
    )


def visible_feeds(
    hub: Hub, conn: Connection, member: MemberRecord, *, now: datetime
) -> list[FeedAccess]:
    """Return the feeds ``member`` holds a grant on, with its effective rights, oldest first
    (none for an auditor)."""
    result: list[FeedAccess] = []
    if member.kind is MemberKind.AUDITOR:
        return result
    for granted in hub.feeds.visible(conn, member.id):
        signed = policy_in_force(hub, conn, granted.feed)
        readable, _ = _allows(signed, member.id, PolicyAction.READ, now)
        writable, _ = _allows(signed, member.id, PolicyAction.WRITE, now)
        result.append(_effective(granted, signed, readable, writable))
    return result


def authorize(
    hub: Hub,
    conn: Connection,
    member: MemberRecord | None,
    collection: str,
    action: Action,
    *,
    now: datetime,
) -> FeedAccess:
    """Return the feed ``collection`` (id or alias) with the caller's effective rights,
    if the caller (None: anonymous) may do ``action`` there.

    Raises `AuthenticationFailed` for an anonymous caller and a feed that is not
    public, `CollectionNotFound` when the feed is absent or hidden from the
    member (every feed is hidden from an auditor), and `PermissionDenied` when the
    member sees it but may not do ``action``.
    """
    if member is None:
        feed = hub.feeds.find(conn, collection)
        if feed is None or not feed.public or action not in (Action.SEE, Action.READ):
            raise AuthenticationFailed()
        signed = policy_in_force(hub, conn, feed)
        readable, _ = _allows(signed, None, PolicyAction.READ, now)
        if not readable:
            raise AuthenticationFailed()
        assert signed is not None
        return FeedAccess(
            feed, can_read=True, can_write=False, retention_days=signed.policy.retention_days
        )

    # An auditor reads the access log, never a feed: no grant makes one visible to it.
    granted = (
        None if member.kind is MemberKind.AUDITOR else hub.feeds.access(conn, member.id, collection)
    )
    if granted is None:
        raise CollectionNotFound()
    signed = policy_in_force(hub, conn, granted.feed)
    policy_read, read_reason = _allows(signed, member.id, PolicyAction.READ, now)
    policy_write, write_reason = _allows(signed, member.id, PolicyAction.WRITE, now)
    access = _effective(granted, signed, policy_read, policy_write)
    if action is Action.SEE:
        return access
    needs = {
        Action.READ: [(granted.can_read, policy_read, read_reason)],
        Action.WRITE: [(granted.can_write, policy_write, write_reason)],
        Action.DELETE: [
            (granted.can_read, policy_read, read_reason),
            (granted.can_write, policy_write, write_reason),
        ],
    }[action]
    for by_grant, by_policy, reason in needs:
        if not by_grant:
            raise PermissionDenied(action.value)
        if not by_policy:
            raise PermissionDenied(action.value, reason)
    return access
