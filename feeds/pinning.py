"""Trust on first use: each feed's owner, pinned in the keystore's public state.

The first time a member verifies a feed's policy it pins the feed's owner
(member id) and the digest of that owner's *first* key bundle, and remembers
the newest policy version it has seen. Later, a policy whose owner differs, an
owner key chain that does not start with the pinned bundle, or a history that
went back (an older newest version) or forked (another digest for a version
seen before) is refused loudly. Pins live in ``Keystore.state()["pins"]``::

    {"<feed id>": {"owner": "identity--…", "first_bundle": "sha256:…",
                   "version": 3, "digest": "sha256:…"}}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from exchange.protocol.keys import SignedKeyBundle
from feeds.crypto.keystore import Keystore
from feeds.errors import KeyFileCorrupted, TrustError
from feeds.identity import read_state
from feeds.trust import TrustedPolicy

__all__ = ["Pin", "PinStore", "verify_owner_pin", "verify_pin"]


@dataclass(frozen=True, slots=True)
class Pin:
    """What a member remembers of a feed: its owner, the owner's first bundle, the newest
    policy version seen and that version's digest."""

    owner: str
    first_bundle: str
    version: int
    digest: str

    @classmethod
    def of(cls, trusted: TrustedPolicy) -> Pin:
        """Return the pin that ``trusted`` (a verified history) establishes."""
        return cls(
            owner=trusted.owner,
            first_bundle=trusted.owner_bundles[0].digest,
            version=trusted.current.policy.version,
            digest=trusted.current.digest,
        )


def verify_owner_pin(
    pin: Pin, feed: str, owner: str, owner_bundles: Sequence[SignedKeyBundle]
) -> None:
    """Check that ``owner``, with its verified key chain ``owner_bundles``, is ``feed``'s
    pinned owner.

    Steps:
    0. the owner is the pinned owner;
    1. the owner's key chain starts with the pinned bundle.

    Raises `TrustError` naming the pinned and the presented value.
    """
    what = f"the policy of feed {feed}"
    # 0. Same owner.
    if owner != pin.owner:
        raise TrustError(
            what,
            f"THE FEED'S OWNER CHANGED: pinned owner {pin.owner}, presented owner {owner}."
            " Confirm the change with the feed's members out of band before trusting it"
            " (then re-pin with `feeds policy show --repin`)",
        )
    # 1. Same first key bundle.
    first = owner_bundles[0].digest if owner_bundles else "none"
    if first != pin.first_bundle:
        raise TrustError(
            what,
            f"THE OWNER'S KEYS WERE REPLACED: the key chain of {owner} no longer starts with"
            f" the pinned bundle {pin.first_bundle} (it starts with {first})",
        )


def verify_pin(pin: Pin | None, trusted: TrustedPolicy) -> Pin:
    """Check a verified history against the feed's pin; return the pin to keep.

    Steps:
    0. no pin yet: pin the owner, its first bundle and the newest version (first use);
    1. the owner and its first key bundle are the pinned ones (`verify_owner_pin`);
    2. the newest version is not older than the newest seen before;
    3. the version seen before is still in the history, with the same digest.

    Raises `TrustError` naming the pinned and the presented values.
    """
    fresh = Pin.of(trusted)
    # 0. First use.
    if pin is None:
        return fresh
    # 1. Same owner, same first keys.
    verify_owner_pin(pin, trusted.feed, trusted.owner, trusted.owner_bundles)
    what = f"the policy of feed {trusted.feed}"
    # 2. Not rolled back.
    if fresh.version < pin.version:
        raise TrustError(
            what,
            f"the hub serves version {fresh.version} as the newest, but version"
            f" {pin.version} was seen before (a rollback)",
        )
    # 3. Not forked.
    seen = trusted.versions[pin.version - 1]
    if seen.digest != pin.digest:
        raise TrustError(
            what,
            f"version {pin.version} now has digest {seen.digest}, but {pin.digest} was seen"
            " before (a fork)",
        )
    return fresh


class PinStore:
    """The pins in a keystore's public state."""

    def __init__(self, keystore: Keystore) -> None:
        self.keystore = keystore

    def get(self, feed: str) -> Pin | None:
        """Return the pin of ``feed``, or None.

        Raises `KeyFileCorrupted` if the stored pin is malformed.
        """
        raw: Any = read_state(self.keystore).get("pins", {}).get(feed)
        if raw is None:
            return None
        try:
            pin = Pin(**raw)
        except TypeError as exc:
            raise KeyFileCorrupted(str(self.keystore.path / "state.json"), "bad pin") from exc
        if not isinstance(pin.version, int) or pin.version < 1:
            raise KeyFileCorrupted(str(self.keystore.path / "state.json"), "bad pin")
        return pin

    def put(self, feed: str, pin: Pin) -> None:
        """Store ``pin`` for ``feed``, keeping the rest of the state."""
        state = read_state(self.keystore)
        state.setdefault("pins", {})[feed] = asdict(pin)
        self.keystore.save_state(state)
