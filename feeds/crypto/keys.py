"""**Hazardous**: a member's private keys and what they sign. Use `Keystore` to load them.

One *generation* of keys is three 32-byte seeds:

- an X-Wing seed, expanded with SHAKE256 into an ML-KEM-768 seed (64 bytes)
  and an X25519 private key (32 bytes): the hybrid HPKE key ``MLKEM768-X25519``
  (crypto-notes §1.2; the same expansion as age and filippo.io/hpke-pq);
- an Ed25519 seed and an ML-DSA-65 seed: the two signing keys.

A generation may also hold a classical X25519 key for the ``X25519`` suite.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa, mlkem, x25519

from exchange.protocol.keys import KEYS_FORMAT, KEYS_LABEL, SignedKeyBundle, parse_key_bundle
from policies.signature import Signature, SigningKeys, key_id, signed_message

__all__ = ["MemberSecrets", "build_key_bundle", "fingerprint", "sign_document"]

_SEED = 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True, slots=True)
class MemberSecrets:
    """**Hazardous**: one generation of a member's private key seeds."""

    xwing_seed: bytes = field(repr=False)
    ed25519_seed: bytes = field(repr=False)
    mldsa65_seed: bytes = field(repr=False)
    x25519_seed: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("xwing_seed", "ed25519_seed", "mldsa65_seed"):
            if len(getattr(self, name)) != _SEED:
                raise ValueError(f"{name} must be {_SEED} bytes")
        if self.x25519_seed is not None and len(self.x25519_seed) != _SEED:
            raise ValueError(f"x25519_seed must be {_SEED} bytes")

    @classmethod
    def generate(cls, *, classical: bool = False) -> MemberSecrets:
        """Return fresh random seeds; ``classical`` adds an X25519 key for the second suite."""
        return cls(
            xwing_seed=os.urandom(_SEED),
            ed25519_seed=os.urandom(_SEED),
            mldsa65_seed=os.urandom(_SEED),
            x25519_seed=os.urandom(_SEED) if classical else None,
        )

    def _expanded(self) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
        expanded = hashlib.shake_256(self.xwing_seed).digest(96)
        return (
            mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
            x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
        )

    def hybrid_private_key(self) -> hpke.MLKEM768X25519PrivateKey:
        """**Hazardous**: the HPKE ``MLKEM768_X25519`` private key."""
        return hpke.MLKEM768X25519PrivateKey(*self._expanded())

    def hybrid_public_bytes(self) -> bytes:
        """The 1216-byte hybrid public key, ``ek_PQ (1184) ‖ ek_T (32)``."""
        pq, classical = self._expanded()
        return pq.public_key().public_bytes_raw() + classical.public_key().public_bytes_raw()

    def x25519_private_key(self) -> x25519.X25519PrivateKey | None:
        """**Hazardous**: the classical X25519 private key, if this generation has one."""
        if self.x25519_seed is None:
            return None
        return x25519.X25519PrivateKey.from_private_bytes(self.x25519_seed)

    def _ed25519(self) -> ed25519.Ed25519PrivateKey:
        return ed25519.Ed25519PrivateKey.from_private_bytes(self.ed25519_seed)

    def _mldsa65(self) -> mldsa.MLDSA65PrivateKey:
        return mldsa.MLDSA65PrivateKey.from_seed_bytes(self.mldsa65_seed)

    def signing_keys(self) -> SigningKeys:
        """The public halves of the two signing keys."""
        return SigningKeys(
            ed25519=self._ed25519().public_key().public_bytes_raw(),
            ml_dsa_65=self._mldsa65().public_key().public_bytes_raw(),
        )

    def sign(self, label: str, document: Any) -> tuple[Signature, Signature]:
        """Sign ``document`` under the domain ``label`` with both signing keys."""
        message = signed_message(label, document)
        keys = self.signing_keys()
        return (
            Signature(
                alg="ed25519",
                key_id=keys.key_id("ed25519"),
                value=_b64(self._ed25519().sign(message)),
            ),
            Signature(
                alg="ml-dsa-65",
                key_id=keys.key_id("ml-dsa-65"),
                value=_b64(self._mldsa65().sign(message, context=label.encode())),
            ),
        )

    def public_json(self) -> dict[str, Any]:
        """The public keys and their ids, as the key bundle lists them."""
        keys = self.signing_keys()
        hybrid = self.hybrid_public_bytes()
        encryption = [
            {
                "alg": "MLKEM768-X25519",
                "key_id": key_id("MLKEM768-X25519", hybrid),
                "public": _b64(hybrid),
            }
        ]
        classical = self.x25519_private_key()
        if classical is not None:
            raw = classical.public_key().public_bytes_raw()
            encryption.append(
                {"alg": "X25519", "key_id": key_id("X25519", raw), "public": _b64(raw)}
            )
        return {
            "encryption": encryption,
            "signing": [
                {"alg": alg, "key_id": keys.key_id(alg), "public": _b64(keys.public(alg))}
                for alg in ("ed25519", "ml-dsa-65")
            ],
        }


def sign_document(secrets: MemberSecrets, label: str, document: Any) -> list[dict[str, str]]:
    """Return both signatures of ``document`` under ``label``, as JSON objects."""
    return [s.model_dump() for s in secrets.sign(label, document)]


def build_key_bundle(
    secrets: MemberSecrets,
    *,
    member: str,
    sequence: int,
    previous: SignedKeyBundle | None,
    endorser: MemberSecrets | None,
    now: datetime | None = None,
) -> SignedKeyBundle:
    """Return the signed key bundle of ``secrets`` for ``member``.

    A rotation (``previous`` given) is endorsed by ``endorser``, the keys of
    the bundle in force.
    """
    created = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bundle = {
        "format": KEYS_FORMAT,
        "member": member,
        "sequence": sequence,
        "previous": None if previous is None else previous.digest,
        "created": created,
        **secrets.public_json(),
    }
    endorsements = [] if endorser is None else sign_document(endorser, KEYS_LABEL, bundle)
    return parse_key_bundle(
        {
            "bundle": bundle,
            "signatures": sign_document(secrets, KEYS_LABEL, bundle),
            "endorsements": endorsements,
        }
    )


def fingerprint(keys: SigningKeys) -> str:
    """A short fingerprint of a member's signing identity, to compare over the phone.

    Twenty decimal digits in four groups (66 bits of SHA-256 over both public keys).
    """
    raw = hashlib.sha256(b"trend-exchange/fingerprint/1\n" + keys.ed25519 + keys.ml_dsa_65).digest()
    number = int.from_bytes(raw[:9], "big") % 10**20
    digits = f"{number:020d}"
    return " ".join(digits[i : i + 5] for i in range(0, 20, 5))
