"""A feed's policy on the hub: fetched and trusted only once it verifies, drafted, published.

`fetch_feed_policy` resolves the feed, fetches every policy version and the
owner's key bundles, checks that the hub served each version under the number
and digest it listed, verifies the whole history (`feeds.trust`) and, given a
`PinStore`, checks and updates the feed's pin (`feeds.pinning`).
`draft_policy` builds the next version on a verified history, and
`publish_policy` verifies a signed version against the owner's keys on the hub
before it uploads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exchange.protocol import Collection
from exchange.protocol.keys import SignedKeyBundle
from feeds.errors import DocumentError, TrustError, UnexpectedResponse
from feeds.exchange_api import ExchangeApi, Published
from feeds.pinning import Pin, PinStore, verify_owner_pin, verify_pin
from feeds.trust import (
    TrustedPolicy,
    verify_key_chain,
    verify_policy_history,
    verify_policy_signature,
)
from policies import Policy, PolicyError, SignedPolicy, policy_from_template

__all__ = [
    "Draft",
    "FeedPolicy",
    "draft_policy",
    "fetch_feed_policy",
    "fetch_policy_versions",
    "publish_policy",
    "verify_with_hub",
]


@dataclass(frozen=True, slots=True)
class FeedPolicy:
    """A feed, its verified policy history, and its pin (None when not pinning)."""

    collection: Collection
    trusted: TrustedPolicy
    pin: Pin | None
    newly_pinned: bool

    @property
    def current(self) -> SignedPolicy:
        """The policy version in force."""
        return self.trusted.current


def fetch_policy_versions(api: ExchangeApi, feed: str) -> list[SignedPolicy]:
    """Return every version of ``feed``'s policy (by id), oldest first, as the hub lists them.

    Raises `HubError`, or `TrustError` if a version the hub serves is not the
    one it listed (another number or digest) or does not parse.
    """
    signed_versions = []
    for ref in api.policy_versions(feed):
        signed = api.policy_version(feed, ref.version)
        if signed.policy.version != ref.version or signed.digest != ref.digest:
            raise TrustError(
                f"policy version {ref.version} of feed {feed}",
                "the hub served another document than the one it lists",
            )
        signed_versions.append(signed)
    return signed_versions


def fetch_feed_policy(
    api: ExchangeApi,
    ref: str,
    *,
    now: datetime,
    pins: PinStore | None,
    repin: bool = False,
    require_in_force: bool = True,
) -> FeedPolicy:
    """Return the verified policy of the feed ``ref`` (alias or id).

    Steps:
    0. resolve ``ref`` to the feed's collection id;
    1. fetch every version, each as listed (`fetch_policy_versions`);
    2. fetch the owner's key bundles and verify the history against them
       (`feeds.trust.verify_policy_history`, in force at ``now`` when
       ``require_in_force``);
    3. with ``pins``: check the feed's pin (`feeds.pinning.verify_pin`; with
       ``repin`` the old pin is dropped first) and store the updated pin.

    Raises `HubError` or `TrustError`.
    """
    # 0. Which feed.
    collection = api.resolve_feed(ref)
    # 1. Its versions.
    versions = fetch_policy_versions(api, collection.id)
    if not versions:
        raise TrustError(f"the policy of feed {ref}", "the feed has no policy yet")
    # 2. Verified against the owner's keys.
    owner_bundles = api.key_bundles(versions[0].policy.owner)
    trusted = verify_policy_history(
        collection.id, versions, owner_bundles, now=now, require_in_force=require_in_force
    )
    if pins is None:
        return FeedPolicy(collection, trusted, None, newly_pinned=False)
    # 3. Pinned.
    old = None if repin else pins.get(collection.id)
    pin = verify_pin(old, trusted)
    if pin != old:
        pins.put(collection.id, pin)
    return FeedPolicy(collection, trusted, pin, newly_pinned=old is None)


@dataclass(frozen=True, slots=True)
class Draft:
    """A new policy version drafted from a template, and the history it follows (if any)."""

    collection: Collection
    policy: Policy
    based_on: TrustedPolicy | None


def draft_policy(api: ExchangeApi, ref: str, template: str, *, now: datetime) -> Draft:
    """Draft the next version of the feed ``ref``'s policy from ``template``, owned by us.

    Steps:
    0. resolve the feed and ask the hub who we are;
    1. if the feed has a policy: verify its whole history (in force or not),
       check that we own it, and draft version n+1 naming version n's digest,
       keeping its readers and writers;
    2. otherwise draft version 1, read and written by us alone.

    Raises `HubError`, `TrustError`, or `DocumentError` for a feed we do not own
    or an unknown template.
    """
    # 0. Feed and owner.
    collection = api.resolve_feed(ref)
    member = api.whoami().id
    versions = fetch_policy_versions(api, collection.id)
    based_on = None
    version, previous, readers, writers = 1, None, None, None
    # 1. The next version.
    if versions:
        owner_bundles = api.key_bundles(versions[0].policy.owner)
        based_on = verify_policy_history(
            collection.id, versions, owner_bundles, now=now, require_in_force=False
        )
        current = based_on.current.policy
        if current.owner != member:
            raise DocumentError(
                ref, f"the feed's policy is owned by {current.owner}; you are {member}"
            )
        version, previous = current.version + 1, based_on.current.digest
        readers, writers = current.readers, current.writers
    # 2. Or the first, from the template.
    try:
        policy = policy_from_template(
            template,
            feed=collection.id,
            owner=member,
            valid_from=now.replace(microsecond=0),
            version=version,
            previous=previous,
            readers=readers,
            writers=writers,
        )
    except PolicyError as exc:
        raise DocumentError(template, exc.message) from exc
    return Draft(collection, policy, based_on)


def verify_with_hub(
    api: ExchangeApi, signed: SignedPolicy, *, pins: PinStore | None
) -> tuple[SignedKeyBundle, list[SignedKeyBundle]]:
    """Verify ``signed`` against its owner's key chain on the hub.

    Steps:
    0. the owner's key bundles form a verified chain;
    1. with ``pins`` and a pin for the policy's feed: the owner and its first
       bundle are the pinned ones (nothing is pinned here);
    2. both signatures verify with the owner bundle they name.

    Returns the signing bundle and the owner's chain. Raises `HubError` or `TrustError`.
    """
    owner = signed.policy.owner
    # 0. The owner's keys.
    bundles = api.key_bundles(owner)
    verify_key_chain(bundles, owner)
    # 1. The pinned owner.
    pin = None if pins is None else pins.get(signed.policy.feed)
    if pin is not None:
        verify_owner_pin(pin, signed.policy.feed, owner, bundles)
    # 2. The signatures.
    return verify_policy_signature(signed, bundles), bundles


def publish_policy(
    api: ExchangeApi, ref: str, signed: SignedPolicy, *, pins: PinStore | None
) -> Published:
    """Verify ``signed`` locally, then publish it as the next version of the feed ``ref``.

    Steps:
    0. the policy names the feed ``ref`` resolves to;
    1. it verifies against the owner's keys on the hub (`verify_with_hub`);
    2. it is signed by the owner's bundle in force (the hub accepts nothing else);
    3. the hub accepts it.

    Raises `DocumentError` (0), `TrustError` (1, 2) or `HubError` (3, with the
    hub's reason for a refusal; `UnexpectedResponse` for a receipt that does not
    name what we sent).
    """
    # 0. The right feed.
    collection = api.resolve_feed(ref)
    if signed.policy.feed != collection.id:
        raise DocumentError(
            ref, f"the policy is for feed {signed.policy.feed}, but {ref} is {collection.id}"
        )
    # 1. Verified.
    signer, bundles = verify_with_hub(api, signed, pins=pins)
    # 2. By the keys in force.
    if signer.digest != bundles[-1].digest:
        raise TrustError(
            f"policy version {signed.policy.version}",
            f"it is signed with the owner's replaced keys (bundle {signer.keys.sequence},"
            f" the bundle in force is {bundles[-1].keys.sequence}); sign it again",
        )
    # 3. Published, as sent.
    receipt = api.publish_policy(collection.id, signed)
    if (receipt.feed, receipt.version, receipt.digest) != (
        collection.id,
        signed.policy.version,
        signed.digest,
    ):
        raise UnexpectedResponse(api.hub, "the hub's receipt names another policy version")
    return receipt
