"""What the hub trusts: owners' registered keys and the verified policy in force.

Each process verifies a stored policy once (keyed by its stored text) and
fails closed: a stored policy that does not verify against its owner's
registered keys (say, one edited in the database) counts as no policy.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from exchange.db.records import FeedRecord
from exchange.protocol.errors import MalformedPayload
from exchange.protocol.keys import (
    EncryptionKey,
    SignedKeyBundle,
    parse_key_bundle,
    verify_key_bundle,
)
from exchange.services.hub import Hub
from policies import (
    PolicyError,
    PolicySignatureError,
    SignedPolicy,
    SigningKeys,
    parse_signed_policy,
    verify_policy,
)

__all__ = [
    "current_encryption_key",
    "latest_policy",
    "owner_keys",
    "policy_in_force",
    "verified_bundles",
    "verify_by_owner",
]

log = logging.getLogger("exchange.policy")


def verified_bundles(hub: Hub, conn: Connection, owner: str) -> list[SignedKeyBundle]:
    """Return the owner's bundles that form a verified chain, oldest first.

    The hub re-verifies what its own database holds, as clients do: a bundle
    inserted there without the endorsement of the one before it (and every bundle
    after it) is not the owner's, so nothing it signed verifies.
    """
    stored = hub.key_bundles.all(conn, owner)
    cache_key = tuple(s.digest for s in stored)
    chain = hub.verified_chains.get(cache_key)
    if chain is None:
        chain = []
        previous: SignedKeyBundle | None = None
        for record in stored:
            try:
                bundle = parse_key_bundle(record.document)
                verify_key_bundle(bundle, previous)
            except (MalformedPayload, PolicyError):
                log.warning("member %s: key bundle %d does not verify", owner, record.number)
                break
            chain.append(bundle)
            previous = bundle
        hub.verified_chains[cache_key] = chain
    return list(chain)


def owner_keys(hub: Hub, conn: Connection, owner: str, *, current_only: bool) -> list[SigningKeys]:
    """Return the signing keys of the owner's bundles that form a verified chain
    (or only the newest of them)."""
    chain = verified_bundles(hub, conn, owner)
    return [b.keys.signing_keys() for b in (chain[-1:] if current_only else chain)]


def current_encryption_key(hub: Hub, conn: Connection, member: str) -> EncryptionKey | None:
    """Return the member's current registered encryption key (of its newest verified
    bundle: the MLKEM768-X25519 key if it has one, else its X25519 key), or None."""
    chain = verified_bundles(hub, conn, member)
    if not chain:
        return None
    keys = chain[-1].keys
    return keys.encryption_key("MLKEM768-X25519") or keys.encryption_key("X25519")


def verify_by_owner(signed: SignedPolicy, candidates: list[SigningKeys]) -> None:
    """Verify ``signed`` with whichever of ``candidates`` its signatures name.

    Raises `PolicySignatureError` if none is named or the signatures do not verify.
    """
    wanted = {s.key_id for s in signed.signatures}
    for keys in candidates:
        if {keys.key_id("ed25519"), keys.key_id("ml-dsa-65")} == wanted:
            verify_policy(signed, keys)
            return
    raise PolicySignatureError("it is not signed by the owner's registered keys")


def _belongs(signed: SignedPolicy, feed: FeedRecord, version: int) -> bool:
    policy = signed.policy
    return policy.feed == feed.id and policy.owner == feed.owner_id and policy.version == version


def policy_in_force(hub: Hub, conn: Connection, feed: FeedRecord) -> SignedPolicy | None:
    """Return the feed's verified policy in force, or None if it has no valid one."""
    stored = hub.policies.latest(conn, feed.id)
    if stored is None:
        return None
    cached = hub.verified_policies.get(stored.document)
    # The cache vouches for the signatures only: the same text may since have been
    # copied into another feed's row, or another version's.
    if cached is not None and _belongs(cached, feed, stored.number):
        return cached
    try:
        signed = parse_signed_policy(stored.document)
        if not _belongs(signed, feed, stored.number):
            raise PolicyError("it names another feed, owner or version than its row")
        verify_by_owner(signed, owner_keys(hub, conn, signed.policy.owner, current_only=False))
    except (PolicyError, MalformedPayload) as exc:
        log.warning("feed %s: stored policy version %d does not verify", feed.id, stored.number)
        log.debug("policy verification failure: %s", exc)
        return None
    hub.verified_policies[stored.document] = signed
    return signed


def latest_policy(hub: Hub, conn: Connection, feed: FeedRecord) -> SignedPolicy | None:
    """Return the newest stored version (parsed, not re-verified) for chaining."""
    stored = hub.policies.latest(conn, feed.id)
    return None if stored is None else parse_signed_policy(stored.document)
