"""The member's own public identity, read from the keystore without the passphrase.

Each key file's header lists the generation's public keys and their ids. This
module turns them into key ids per generation, the public signing keys, and the
fingerprint that members compare over the phone. (The header is authenticated
only when the file is opened with the passphrase; reading it is for display
and for checking our own signatures, not for anything the hub could alter.)
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from feeds.crypto.keys import fingerprint
from feeds.crypto.keystore import Keystore
from feeds.errors import KeyFileCorrupted, KeystoreError
from policies import PolicyError, SigningKeys, key_id

__all__ = [
    "Generation",
    "LocalIdentity",
    "known_member",
    "local_identity",
    "read_state",
    "remember_member",
    "signing_keys_of",
]


def _key_ids(public: dict[str, Any]) -> dict[str, str]:
    keys = [*public.get("encryption", []), *public.get("signing", [])]
    return {str(k["alg"]): str(k["key_id"]) for k in keys}


def signing_keys_of(public: dict[str, Any], *, path: str = "key file") -> SigningKeys:
    """Return the public signing keys listed in a key file header's ``public`` object.

    Raises `KeyFileCorrupted` if they are missing, malformed, or not the keys their ids name.
    """
    try:
        listed = {k["alg"]: k for k in public["signing"]}
        raw = {
            alg: base64.b64decode(listed[alg]["public"], validate=True)
            for alg in ("ed25519", "ml-dsa-65")
        }
        keys = SigningKeys(ed25519=raw["ed25519"], ml_dsa_65=raw["ml-dsa-65"])
    except (KeyError, TypeError, ValueError, binascii.Error, PolicyError) as exc:
        raise KeyFileCorrupted(path, "its public signing keys are malformed") from exc
    for alg in ("ed25519", "ml-dsa-65"):
        if listed[alg]["key_id"] != key_id(alg, keys.public(alg)):
            raise KeyFileCorrupted(path, f"the {alg} key id is not the id of its key")
    return keys


@dataclass(frozen=True, slots=True)
class Generation:
    """One generation of our keys: its number, key ids by algorithm, signing keys."""

    number: int
    key_ids: dict[str, str]
    signing_keys: SigningKeys

    @property
    def signing_key_ids(self) -> frozenset[str]:
        """The ids of the two signing keys."""
        return frozenset(self.signing_keys.key_id(alg) for alg in ("ed25519", "ml-dsa-65"))


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """Every generation of our public keys (oldest first) and the member id, if known."""

    generations: tuple[Generation, ...]
    member: str | None

    @property
    def current(self) -> Generation:
        """The newest generation: the one that signs."""
        return self.generations[-1]

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the current signing identity."""
        return fingerprint(self.current.signing_keys)

    def generation_signing(self, key_ids: frozenset[str]) -> Generation | None:
        """Return the generation whose signing key ids are ``key_ids``, or None."""
        return next((g for g in self.generations if g.signing_key_ids == key_ids), None)


def local_identity(keystore: Keystore) -> LocalIdentity:
    """Return the keystore's public identity; no passphrase needed.

    Raises `KeystoreError` if there are no keys, `KeyFileCorrupted` for a malformed header.
    """
    generations = []
    for number in keystore.generations():
        public = keystore.public(number)
        where = str(keystore.path / f"keys-{number:04d}.json")
        try:
            ids = _key_ids(public)
        except (KeyError, TypeError, AttributeError) as exc:
            raise KeyFileCorrupted(where, "its public keys are malformed") from exc
        generations.append(Generation(number, ids, signing_keys_of(public, path=where)))
    if not generations:
        raise KeystoreError(
            str(keystore.path), f"no keys in {keystore.path}; create them with `feeds keys init`"
        )
    return LocalIdentity(tuple(generations), known_member(keystore))


def read_state(keystore: Keystore) -> dict[str, Any]:
    """Return the keystore's public state (member id, pins) as a JSON object.

    Raises `KeyFileCorrupted` if ``state.json`` is not a JSON object.
    """
    state = keystore.state()
    if not isinstance(state, dict) or not isinstance(state.get("pins", {}), dict):
        raise KeyFileCorrupted(str(keystore.path / "state.json"), "not a keystore state")
    return state


def known_member(keystore: Keystore) -> str | None:
    """Return the member id the keystore was registered as, or None.

    Raises `KeyFileCorrupted` for a malformed state.
    """
    member = read_state(keystore).get("member")
    return member if isinstance(member, str) else None


def remember_member(keystore: Keystore, member: str) -> None:
    """Record ``member`` as the keystore's member id, keeping the rest of the state."""
    state = read_state(keystore)
    state["member"] = member
    keystore.save_state(state)
