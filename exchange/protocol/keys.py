"""Member key bundles: the public keys a member publishes to the hub's key directory.

A bundle lists the member's encryption keys (hybrid ML-KEM-768+X25519, and
optionally a classical X25519 key) and its two signing keys (Ed25519 and
ML-DSA-65), each with its key id. It is signed by its own signing keys
(both must verify). A rotation's bundle names the digest of the bundle before
it and is also *endorsed* (signed) by that bundle's keys, so the hub cannot
introduce a key the member did not approve with the keys it already had.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exchange.protocol.errors import MalformedPayload
from policies.canonical import canonical_bytes, digest
from policies.document import load_json
from policies.errors import PolicyError, PolicySignatureError
from policies.signature import Signature, SigningKeys, key_id, verify_signatures

__all__ = [
    "KEYS_FORMAT",
    "KEYS_LABEL",
    "EncryptionKey",
    "KeyBundle",
    "SignedKeyBundle",
    "SigningKey",
    "parse_key_bundle",
    "verify_key_bundle",
]

KEYS_FORMAT = "exchange-keys/1"
KEYS_LABEL = "trend-exchange/keys/1"
"""The signature domain of key bundles."""

_ENCRYPTION_SIZES = {"MLKEM768-X25519": 1216, "X25519": 32}
_SIGNING_SIZES = {"ed25519": 32, "ml-dsa-65": 1952}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _raw(value: str, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedPayload(what, "is not base64") from exc
    if len(raw) != size:
        raise MalformedPayload(what, f"must be {size} bytes, not {len(raw)}")
    return raw


class EncryptionKey(_Strict):
    """A public HPKE key: hybrid ``MLKEM768-X25519`` (1216 bytes) or ``X25519`` (32 bytes)."""

    alg: Literal["MLKEM768-X25519", "X25519"]
    key_id: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    public: str

    def raw(self) -> bytes:
        """Return the public key bytes. Raises `MalformedPayload` if they are malformed."""
        return _raw(self.public, _ENCRYPTION_SIZES[self.alg], f"{self.alg} public key")


class SigningKey(_Strict):
    """A public signing key."""

    alg: Literal["ed25519", "ml-dsa-65"]
    key_id: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    public: str

    def raw(self) -> bytes:
        """Return the public key bytes. Raises `MalformedPayload` if they are malformed."""
        return _raw(self.public, _SIGNING_SIZES[self.alg], f"{self.alg} public key")


class KeyBundle(_Strict):
    """One generation of a member's public keys."""

    format: Literal["exchange-keys/1"]
    member: str = Field(
        pattern=r"^identity--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )
    sequence: int = Field(ge=1, le=2**53 - 1)
    previous: str | None = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    created: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    encryption: tuple[EncryptionKey, ...] = Field(min_length=1, max_length=2)
    signing: tuple[SigningKey, SigningKey]

    def signing_keys(self) -> SigningKeys:
        """Return the bundle's signing keys. Raises `MalformedPayload` if malformed."""
        by_alg = {k.alg: k.raw() for k in self.signing}
        try:
            return SigningKeys(ed25519=by_alg["ed25519"], ml_dsa_65=by_alg["ml-dsa-65"])
        except (KeyError, PolicySignatureError) as exc:
            raise MalformedPayload("signing", "needs one ed25519 and one ml-dsa-65 key") from exc

    def encryption_key(self, alg: str) -> EncryptionKey | None:
        """Return the encryption key of ``alg``, or None."""
        return next((k for k in self.encryption if k.alg == alg), None)


class SignedKeyBundle(_Strict):
    """A key bundle with its self-signatures and, for a rotation, its endorsements."""

    bundle: dict[str, Any]
    signatures: tuple[Signature, ...]
    endorsements: tuple[Signature, ...] = ()

    @property
    def keys(self) -> KeyBundle:
        """The parsed bundle."""
        return KeyBundle.model_validate_json(canonical_bytes(self.bundle))

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the bundle's canonical bytes."""
        return digest(self.bundle)


def parse_key_bundle(data: bytes | str | dict[str, Any]) -> SignedKeyBundle:
    """Parse a signed key bundle and check its form (not its signatures).

    Checks that every key decodes to the right size and that every key id is
    the id of its key. Raises `MalformedPayload` otherwise.
    """
    try:
        outer = data if isinstance(data, dict) else load_json(data)
        signed = SignedKeyBundle.model_validate_json(canonical_bytes(outer))
        bundle = signed.keys
    except (ValidationError, PolicyError, ValueError) as exc:  # ValueError: no canonical form
        raise MalformedPayload("key bundle", "is not a well-formed signed key bundle") from exc
    algs = [k.alg for k in bundle.encryption]
    if len(set(algs)) != len(algs):
        raise MalformedPayload("encryption", "lists an algorithm twice")
    keys: list[EncryptionKey | SigningKey] = [*bundle.encryption, *bundle.signing]
    for key in keys:
        if key_id(key.alg, key.raw()) != key.key_id:
            raise MalformedPayload(key.alg, "key_id is not the id of the key")
    bundle.signing_keys()
    if (bundle.sequence == 1) != (bundle.previous is None):
        raise MalformedPayload("previous", "must be null exactly for sequence 1")
    return signed


def verify_key_bundle(signed: SignedKeyBundle, previous: SignedKeyBundle | None) -> None:
    """Verify a bundle against the member's bundle in force (None: the member has none).

    Steps:
    0. it follows ``previous``: same member, next sequence, names its digest;
    1. it is signed by its own keys (Ed25519 and ML-DSA-65);
    2. a rotation is endorsed by ``previous``'s keys; a first bundle has no endorsements.

    Raises `PolicySignatureError` for a bad signature, `MalformedPayload` for a broken chain.
    """
    bundle = signed.keys
    # 0. Chain.
    if previous is None:
        if bundle.sequence != 1:
            raise MalformedPayload("sequence", "the member has no keys yet; expected sequence 1")
    else:
        before = previous.keys
        if bundle.member != before.member:
            raise MalformedPayload("member", "differs from the bundle in force")
        if bundle.sequence != before.sequence + 1 or bundle.previous != previous.digest:
            raise MalformedPayload(
                "sequence", f"expected sequence {before.sequence + 1} naming the bundle in force"
            )
    # 1. Self-signatures.
    verify_signatures(KEYS_LABEL, signed.bundle, signed.signatures, bundle.signing_keys())
    # 2. Endorsement by the keys in force.
    if previous is None:
        if signed.endorsements:
            raise MalformedPayload("endorsements", "a first bundle has nothing to endorse it")
        return
    verify_signatures(KEYS_LABEL, signed.bundle, signed.endorsements, previous.keys.signing_keys())
