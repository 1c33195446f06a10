"""Registering our key bundles in the hub's key directory, and rotating our keys.

The hub's copy of our key chain is verified like anyone else's before we
build on it. A rotation is saved locally *before* it is uploaded: a failed
upload leaves a new local generation that `register_keys` uploads later,
never a hub that holds keys we lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from exchange.protocol.keys import SignedKeyBundle
from feeds.crypto.keys import MemberSecrets, build_key_bundle
from feeds.crypto.keystore import Keystore
from feeds.errors import KeystoreError, TrustError
from feeds.exchange_api import ExchangeApi
from feeds.identity import Generation, known_member, local_identity, remember_member
from feeds.trust import verify_key_chain

__all__ = ["PendingRotation", "Registration", "finish_rotation", "register_keys", "rotate_keys"]


@dataclass(frozen=True, slots=True)
class Registration:
    """Our bundle in force on the hub: its sequence and digest, and which local generation
    it holds. ``uploaded`` is False when the hub had it already."""

    member: str
    sequence: int
    digest: str
    generation: int
    uploaded: bool


@dataclass(frozen=True, slots=True)
class PendingRotation:
    """A new generation saved locally, and its bundle, endorsed, ready to upload."""

    member: str
    generation: int
    bundle: SignedKeyBundle


def _holds(bundle: SignedKeyBundle, generation: Generation) -> bool:
    keys = bundle.keys
    listed: dict[str, str] = {k.alg: k.key_id for k in keys.encryption}
    listed.update({k.alg: k.key_id for k in keys.signing})
    return listed == generation.key_ids


def _whoami(api: ExchangeApi, keystore: Keystore) -> str:
    member = api.whoami().id
    remembered = known_member(keystore)
    if remembered is not None and remembered != member:
        raise KeystoreError(
            str(keystore.path),
            f"this keystore belongs to member {remembered}, but the token authenticates"
            f" {member}; use the keystore of {member} (--keystore)",
        )
    return member


def _hub_chain(api: ExchangeApi, member: str) -> list[SignedKeyBundle]:
    bundles = api.key_bundles(member)
    if bundles:
        verify_key_chain(bundles, member)
    return bundles


def register_keys(
    api: ExchangeApi, keystore: Keystore, passphrase: Callable[[], str]
) -> Registration:
    """Make our current key generation the member's bundle in force on the hub.

    Steps:
    0. the token's member is the keystore's member (if it has one yet);
    1. the member's key chain on the hub verifies;
    2. the hub's bundle in force holds our current keys: nothing to upload;
    3. the hub has no bundle: upload our current keys as sequence 1;
    4. the hub's bundle in force holds an older generation of ours: upload our
       current keys as its successor, endorsed by that generation;
    5. otherwise the hub holds keys that are not ours: refuse.

    ``passphrase`` is called only when keys must be opened. Records the member
    id in the keystore. Raises `KeystoreError` (0, or opening keys), `TrustError`
    (1, 5) or `HubError`.
    """
    # 0. Who we are.
    member = _whoami(api, keystore)
    identity = local_identity(keystore)
    current = identity.current
    # 1. What the hub holds, verified.
    chain = _hub_chain(api, member)
    remember_member(keystore, member)
    in_force = chain[-1] if chain else None
    # 2. Already there.
    if in_force is not None and _holds(in_force, current):
        seq = in_force.keys.sequence
        return Registration(member, seq, in_force.digest, current.number, uploaded=False)
    endorser: MemberSecrets | None = None
    if in_force is not None:
        # 4. A rotation of ours the hub has not seen yet, or 5. someone else's keys.
        older = next((g for g in identity.generations if _holds(in_force, g)), None)
        if older is None:
            raise TrustError(
                f"the key bundles of {member}",
                "the hub's bundle in force holds keys that are not in this keystore",
            )
        keyring = keystore.load(passphrase())
        endorser = keyring.generations[older.number]
        secrets = keyring.current
    else:
        # 3. A first bundle.
        secrets = keystore.load(passphrase()).current
    sequence = 1 if in_force is None else in_force.keys.sequence + 1
    bundle = build_key_bundle(
        secrets, member=member, sequence=sequence, previous=in_force, endorser=endorser
    )
    receipt = api.register_key_bundle(bundle)
    return Registration(member, receipt.sequence, receipt.digest, current.number, uploaded=True)


def rotate_keys(api: ExchangeApi, keystore: Keystore, passphrase: str) -> PendingRotation:
    """Generate and save our next key generation; return its bundle, ready to upload.

    Steps:
    0. the token's member is the keystore's member;
    1. the member's key chain on the hub verifies and its bundle in force holds
       our current keys (else `feeds keys register` comes first);
    2. a new generation (with a classical X25519 key if the current one has one)
       is saved next to the old ones;
    3. its bundle names the bundle in force and is endorsed by the current keys.

    Upload it with `finish_rotation`. Raises `KeystoreError`, `TrustError` or `HubError`.
    """
    # 0. Who we are.
    member = _whoami(api, keystore)
    identity = local_identity(keystore)
    # 1. The hub holds our current keys.
    chain = _hub_chain(api, member)
    if not chain or not _holds(chain[-1], identity.current):
        raise KeystoreError(
            str(keystore.path),
            "the hub's key bundle in force is not this keystore's current generation;"
            " run `feeds keys register` first",
        )
    # 2. New keys, saved before anything leaves the machine.
    current = keystore.load(passphrase).current
    fresh = MemberSecrets.generate(classical=current.x25519_seed is not None)
    generation = keystore.add_generation(fresh, passphrase)
    # 3. Endorsed by the keys in force.
    in_force = chain[-1]
    bundle = build_key_bundle(
        fresh,
        member=member,
        sequence=in_force.keys.sequence + 1,
        previous=in_force,
        endorser=current,
    )
    return PendingRotation(member, generation, bundle)


def finish_rotation(api: ExchangeApi, pending: PendingRotation) -> Registration:
    """Upload a saved rotation's bundle. Raises `HubError` (then `register_keys` retries it)."""
    receipt = api.register_key_bundle(pending.bundle)
    return Registration(
        pending.member, receipt.sequence, receipt.digest, pending.generation, uploaded=True
    )
