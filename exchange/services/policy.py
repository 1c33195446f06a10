"""Feeds' sharing policies: publishing a version, and the version in force.

Only the feed's owner publishes, with a valid signature by its current keys,
as the next version naming the digest of the version in force, inside its
validity window. Every version is kept. The version in force is the newest
one; each process verifies it once (by its stored text) and fails closed: a
stored policy that no longer verifies (an edited database) counts as no policy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
from sqlalchemy.exc import IntegrityError

from exchange.db.documents import StoredDocument
from exchange.db.records import MemberRecord
from exchange.db.session import read_transaction, write_transaction
from exchange.errors import Conflict, InvalidDocument, PermissionDenied, PolicyNotFound
from exchange.protocol.directory import policy_version_leaf
from exchange.protocol.timestamps import micros_now
from exchange.services.access import Action, authorize
from exchange.services.access_log import Access, append, new_request_id
from exchange.services.directory_log import append_statement
from exchange.services.hub import Hub
from exchange.services.trust import latest_policy, owner_keys, verify_by_owner
from policies import (
    PolicyChainError,
    PolicyError,
    PolicySignatureError,
    SignedPolicy,
    parse_signed_policy,
    verify_successor,
)

__all__ = ["CLOCK_SKEW", "policy_version", "policy_versions", "publish_policy"]

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a new version's ``valid_from`` may lie (clients' clocks drift)."""


def publish_policy(
    hub: Hub,
    member: MemberRecord,
    collection: str,
    body: bytes,
    *,
    now: datetime,
    request_id: str | None = None,
) -> SignedPolicy:
    """Verify and store a new policy version for a feed; return it.

    Steps:
    0. the member sees the feed and is its owner;
    1. the document is a signed policy in normal form for this feed and owner;
    2. both signatures verify against the owner's current registered keys;
    3. it is the next version after the one in force and names its digest;
    4. ``now`` lies inside its validity window.

    Raises `CollectionNotFound`, `PermissionDenied` (0), `InvalidDocument` (1, 2, 4)
    or `Conflict` (3, or a concurrent publish).
    """
    try:
        signed = parse_signed_policy(body)
    except PolicyError as exc:
        raise InvalidDocument("policy", exc.message) from exc
    policy = signed.policy
    text = orjson.dumps(signed.to_json()).decode()
    try:
        with write_transaction(hub.engine) as conn:
            # 0. Owner only.
            access = authorize(hub, conn, member, collection, Action.SEE, now=now)
            feed = access.feed
            if feed.owner_id != member.id:
                raise PermissionDenied("publish this feed's policy (only its owner may)")
            # 1. This feed, this owner.
            if policy.feed != feed.id:
                raise InvalidDocument("policy", "it is for another feed")
            if policy.owner != member.id:
                raise InvalidDocument("policy", "it names another owner")
            # 2. Signed by the owner's current keys.
            keys = owner_keys(hub, conn, member.id, current_only=True)
            if not keys:
                raise InvalidDocument("policy", "the owner has registered no keys")
            try:
                verify_by_owner(signed, keys)
            except PolicySignatureError as exc:
                raise InvalidDocument("policy", f"signature check failed: {exc.message}") from exc
            # 3. The next version.
            try:
                verify_successor(latest_policy(hub, conn, feed), signed)
            except PolicyChainError as exc:
                raise Conflict(f"The policy was refused: {exc.message}.") from exc
            # 4. In its window.
            if policy.valid_from > now + CLOCK_SKEW:
                raise InvalidDocument("policy", "its validity window has not started")
            if policy.valid_until is not None and policy.valid_until <= now:
                raise InvalidDocument("policy", "its validity window has ended")
            hub.policies.add(
                conn, StoredDocument(feed.id, policy.version, signed.digest, text, micros_now())
            )
            detail = {"version": policy.version, "digest": signed.digest}
            entry = Access(
                request_id or new_request_id(), "policy.publish", member, feed.id, detail=detail
            )
            append(hub, conn, entry)
            statement = policy_version_leaf(feed.id, policy.version, signed.digest)
            append_statement(hub, conn, statement, "policy-version", feed_id=feed.id)
    except IntegrityError as exc:
        raise Conflict("Another version of this policy was published first.") from exc
    return signed


def policy_versions(
    hub: Hub, member: MemberRecord, collection: str, *, now: datetime
) -> list[StoredDocument]:
    """Return every version of a feed's policy the member may see, oldest first.

    Raises `CollectionNotFound` if the member has no grant on the feed.
    """
    with read_transaction(hub.engine) as conn:
        access = authorize(hub, conn, member, collection, Action.SEE, now=now)
        return hub.policies.all(conn, access.feed.id)


def policy_version(
    hub: Hub, member: MemberRecord, collection: str, version: int | None, *, now: datetime
) -> StoredDocument:
    """Return one version (None: the newest) of a feed's policy.

    Raises `CollectionNotFound`, or `PolicyNotFound` if there is no such version.
    """
    with read_transaction(hub.engine) as conn:
        access = authorize(hub, conn, member, collection, Action.SEE, now=now)
        found = (
            hub.policies.latest(conn, access.feed.id)
            if version is None
            else hub.policies.get(conn, access.feed.id, version)
        )
    if found is None:
        raise PolicyNotFound()
    return found
