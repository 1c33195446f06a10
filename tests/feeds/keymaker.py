"""Keys, key bundles and signed policies made per test (no private key is committed).

Key files here use a cheap Argon2id setting, so that opening one costs
milliseconds instead of the production ~130 ms; the code under test reads the
costs from the file, so it runs unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from exchange.protocol.keys import SignedKeyBundle
from feeds.crypto.keyfile import KdfParams
from feeds.crypto.keys import MemberSecrets, build_key_bundle
from feeds.crypto.keystore import Keystore
from feeds.policy_files import sign_policy
from policies import SignedPolicy, policy_from_template
from tests.feeds.fake_hub import FakeHub, FakeMember

__all__ = [
    "CHEAP_KDF",
    "PASSPHRASE",
    "T0",
    "chain",
    "make_keystore",
    "make_policy",
    "publish_raw",
    "register_raw",
]

CHEAP_KDF = KdfParams(t=1, m=1024, p=1)
PASSPHRASE = "tangerine orbit lantern 42"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
"""When test policies come into force."""


def make_keystore(path: Path, *, classical: bool = False) -> Keystore:
    """A keystore with one generation, sealed under `PASSPHRASE` with `CHEAP_KDF`."""
    keystore = Keystore(path)
    keystore.create(PASSPHRASE, classical=classical, kdf=CHEAP_KDF)
    return keystore


def chain(member: str, *generations: MemberSecrets) -> list[SignedKeyBundle]:
    """An honest key chain: one bundle per generation, each rotation endorsed."""
    bundles: list[SignedKeyBundle] = []
    for number, secrets in enumerate(generations, start=1):
        previous = bundles[-1] if bundles else None
        endorser = generations[number - 2] if previous is not None else None
        bundles.append(
            build_key_bundle(
                secrets, member=member, sequence=number, previous=previous, endorser=endorser
            )
        )
    return bundles


def register_raw(hub: FakeHub, member: FakeMember | str, bundles: list[SignedKeyBundle]) -> None:
    """Put ``bundles`` in the hub's key directory as they are (no checks)."""
    member_id = member if isinstance(member, str) else member.id
    hub.bundles[member_id] = [b.model_dump(mode="json") for b in bundles]


def make_policy(
    secrets: MemberSecrets,
    *,
    feed: str,
    owner: str,
    version: int = 1,
    previous: SignedPolicy | None = None,
    readers: tuple[str, ...] | None = None,
    writers: tuple[str, ...] | None = None,
    valid_from: datetime = T0,
    template: str = "community",
) -> SignedPolicy:
    """A policy version from ``template``, signed with ``secrets``."""
    policy = policy_from_template(
        template,
        feed=feed,
        owner=owner,
        valid_from=valid_from,
        version=version,
        previous=None if previous is None else previous.digest,
        readers=readers,
        writers=writers,
    )
    return sign_policy(policy, secrets)


def publish_raw(hub: FakeHub, feed: str, *versions: SignedPolicy) -> None:
    """Append ``versions`` to the feed's stored policy versions as they are (no checks)."""
    for signed in versions:
        hub.policies[feed].append(json.dumps(signed.to_json()).encode())
