"""Client-side verification of what the hub serves: key chains and policy histories.

The hub is not trusted (DESIGN.md §2), so a member checks for itself that a
member's key bundles form one endorsed chain from its first bundle, and that
every version of a feed's policy follows the one before and is signed by the
owner's registered keys. Nothing here does I/O: the caller fetches, these
functions verify, and each raises `TrustError` naming what failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from exchange.protocol.errors import MalformedPayload
from exchange.protocol.keys import SignedKeyBundle, verify_key_bundle
from feeds.errors import TrustError
from policies import (
    PolicyError,
    SignedPolicy,
    policy_document,
    verify_policy,
    verify_successor,
)

__all__ = [
    "TrustedPolicy",
    "signing_bundle",
    "verify_key_chain",
    "verify_policy_history",
    "verify_policy_signature",
]


def verify_key_chain(bundles: Sequence[SignedKeyBundle], member: str) -> SignedKeyBundle:
    """Verify ``member``'s key bundles as one chain and return the bundle in force (the last).

    Steps:
    0. there is at least one bundle;
    1. every bundle names ``member``;
    2. the first is sequence 1, self-signed and unendorsed;
    3. each later one names the digest of the one before, takes the next
       sequence number, is self-signed and endorsed by the one before.

    Raises `TrustError` naming the member and the bundle that fails.
    """
    what = f"the key bundles of {member}"
    # 0. Something to verify.
    if not bundles:
        raise TrustError(what, "the member has registered no keys")
    previous: SignedKeyBundle | None = None
    for position, bundle in enumerate(bundles, start=1):
        # 1. The member's own.
        if bundle.keys.member != member:
            raise TrustError(what, f"bundle {position} names another member")
        # 2-3. Chain, self-signatures, endorsement.
        try:
            verify_key_bundle(bundle, previous)
        except MalformedPayload as exc:
            raise TrustError(what, f"bundle {position} breaks the chain: {exc.reason}") from exc
        except PolicyError as exc:
            raise TrustError(what, f"bundle {position}: {exc.message}") from exc
        previous = bundle
    assert previous is not None
    return previous


def _signing_ids(bundle: SignedKeyBundle) -> frozenset[str]:
    return frozenset(key.key_id for key in bundle.keys.signing)


def signing_bundle(signed: SignedPolicy, bundles: Sequence[SignedKeyBundle]) -> SignedKeyBundle:
    """Return the bundle among ``bundles`` whose signing keys ``signed``'s signatures name.

    Raises `TrustError` if no bundle's key ids match.
    """
    named = frozenset(s.key_id for s in signed.signatures)
    for bundle in bundles:
        if _signing_ids(bundle) == named:
            return bundle
    raise TrustError(
        f"policy version {signed.policy.version}",
        f"it is not signed by the registered keys of its owner {signed.policy.owner}",
    )


def verify_policy_signature(
    signed: SignedPolicy, bundles: Sequence[SignedKeyBundle]
) -> SignedKeyBundle:
    """Verify ``signed`` with the owner's bundle its signatures name; return that bundle.

    ``bundles`` must be the owner's verified chain (`verify_key_chain`). Raises
    `TrustError` if no bundle is named or either signature does not verify.
    """
    bundle = signing_bundle(signed, bundles)
    try:
        verify_policy(signed, bundle.keys.signing_keys())
    except PolicyError as exc:
        raise TrustError(f"policy version {signed.policy.version}", exc.message) from exc
    except MalformedPayload as exc:  # pragma: no cover - parse_key_bundle checked the keys
        raise TrustError(f"policy version {signed.policy.version}", str(exc)) from exc
    return bundle


@dataclass(frozen=True, slots=True)
class TrustedPolicy:
    """A feed's verified policy history and the owner's verified key chain."""

    feed: str
    versions: tuple[SignedPolicy, ...]
    owner_bundles: tuple[SignedKeyBundle, ...]
    signers: tuple[int, ...]
    """For each version, the sequence number of the owner's bundle that signed it."""

    @property
    def current(self) -> SignedPolicy:
        """The newest version: the one in force."""
        return self.versions[-1]

    @property
    def owner(self) -> str:
        """The owner's member id."""
        return self.current.policy.owner


def verify_policy_history(
    feed: str,
    versions: Sequence[SignedPolicy],
    owner_bundles: Sequence[SignedKeyBundle],
    *,
    now: datetime,
    require_in_force: bool = True,
) -> TrustedPolicy:
    """Verify every version of ``feed``'s policy, oldest first, and return the history.

    Steps:
    0. there is at least one version, and version 1 is for ``feed``;
    1. each later version follows the one before (same feed and owner, next
       number, names the digest of the one before: no fork, no gap);
    2. the owner's key bundles form a verified chain (`verify_key_chain`);
    3. each version is signed, with both algorithms, by one of the owner's
       bundles, never by an older bundle than the version before it;
    4. the newest version is in force at ``now`` (unless ``require_in_force`` is false).

    Raises `TrustError` naming the step that fails.
    """
    what = f"the policy of feed {feed}"
    # 0. A first version, for this feed.
    if not versions:
        raise TrustError(what, "the feed has no policy")
    if versions[0].policy.feed != feed:
        raise TrustError(what, "the policy is for another feed")
    # 1. One unbroken chain of versions.
    previous: SignedPolicy | None = None
    for signed in versions:
        try:
            verify_successor(previous, signed)
        except PolicyError as exc:
            raise TrustError(what, f"version {signed.policy.version}: {exc.message}") from exc
        previous = signed
    # 2. The owner's keys.
    owner = versions[0].policy.owner
    verify_key_chain(owner_bundles, owner)
    # 3. Signatures, by never older keys.
    signers: list[int] = []
    for signed in versions:
        sequence = verify_policy_signature(signed, owner_bundles).keys.sequence
        if signers and sequence < signers[-1]:
            raise TrustError(
                what,
                f"version {signed.policy.version} is signed by keys the owner had replaced"
                f" (bundle {sequence}, after bundle {signers[-1]})",
            )
        signers.append(sequence)
    # 4. In force.
    newest = versions[-1].policy
    if require_in_force and not newest.in_force(now):
        window = policy_document(newest)
        until = window["valid_until"] or "revoked"
        raise TrustError(
            what,
            f"version {newest.version}, the newest, is not in force now (it is valid from"
            f" {window['valid_from']} until {until})",
        )
    return TrustedPolicy(feed, tuple(versions), tuple(owner_bundles), tuple(signers))
