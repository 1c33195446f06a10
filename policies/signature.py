"""Dual signatures (Ed25519 and ML-DSA-65) over canonical JSON, verified with public keys only.

A signed document carries one signature per algorithm. Both must verify:
a forger must break the classical *and* the post-quantum scheme. What is
signed is a domain label, a newline, then the RFC 8785 bytes of the document,
so a signature made for one kind of document (a policy, a key bundle, an
envelope) never verifies as another; ML-DSA also gets the label as its FIPS
204 context.

This module holds no private key; signing lives in ``feeds.crypto``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa
from pydantic import BaseModel, ConfigDict, Field

from policies.canonical import canonical_bytes
from policies.errors import PolicySignatureError

__all__ = [
    "ALGORITHMS",
    "Signature",
    "SigningKeys",
    "key_id",
    "signed_message",
    "verify_signatures",
]

ALGORITHMS = ("ed25519", "ml-dsa-65")
_PUBLIC_SIZES = {"ed25519": 32, "ml-dsa-65": 1952}
_SIGNATURE_SIZES = {"ed25519": 64, "ml-dsa-65": 3309}


class Signature(BaseModel):
    """One signature of a signed document."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    alg: Literal["ed25519", "ml-dsa-65"]
    key_id: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    value: str = Field(max_length=8192)


def key_id(alg: str, public: bytes) -> str:
    """Return the id of a public key: ``sha256:<hex>`` over a label, the algorithm and the key.

    >>> key_id("ed25519", bytes(32))[:15]
    'sha256:85b2c45e'
    """
    label = b"trend-exchange/key-id/1\n" + alg.encode() + b"\n"
    return "sha256:" + hashlib.sha256(label + public).hexdigest()


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """A member's two public signing keys (raw bytes)."""

    ed25519: bytes
    ml_dsa_65: bytes

    def __post_init__(self) -> None:
        if len(self.ed25519) != _PUBLIC_SIZES["ed25519"]:
            raise PolicySignatureError("an Ed25519 public key is 32 bytes")
        if len(self.ml_dsa_65) != _PUBLIC_SIZES["ml-dsa-65"]:
            raise PolicySignatureError("an ML-DSA-65 public key is 1952 bytes")

    def public(self, alg: str) -> bytes:
        """Return the public key for ``alg``.

        Raises `PolicySignatureError` for an algorithm other than those in `ALGORITHMS`.
        """
        if alg == "ed25519":
            return self.ed25519
        if alg == "ml-dsa-65":
            return self.ml_dsa_65
        raise PolicySignatureError(f"no {alg!r} key: the algorithms are {', '.join(ALGORITHMS)}")

    def key_id(self, alg: str) -> str:
        """Return the key id for ``alg``; raises `PolicySignatureError` for an unknown one."""
        return key_id(alg, self.public(alg))


def signed_message(label: str, document: Any) -> bytes:
    """Return the bytes that are signed for ``document`` under the domain ``label``.

    Raises `ValueError` if ``document`` has no RFC 8785 form.

    >>> signed_message("trend-exchange/policy/1", {"b": 2, "a": 1})
    b'trend-exchange/policy/1\\n{"a":1,"b":2}'
    """
    return label.encode() + b"\n" + canonical_bytes(document)


def _decode(signature: Signature) -> bytes:
    try:
        raw = base64.b64decode(signature.value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PolicySignatureError(f"the {signature.alg} signature is not base64") from exc
    if len(raw) != _SIGNATURE_SIZES[signature.alg]:
        raise PolicySignatureError(f"the {signature.alg} signature has the wrong length")
    return raw


def verify_signatures(
    label: str, document: Any, signatures: tuple[Signature, ...], keys: SigningKeys
) -> None:
    """Verify that ``signatures`` sign ``document`` under ``label`` with both of ``keys``.

    Steps:
    0. exactly one signature per algorithm, no other;
    1. each names the key id of the expected key;
    2. the document has canonical bytes (RFC 8785), the signed message;
    3. each signature decodes (base64) to a signature of the right size;
    4. the Ed25519 signature verifies;
    5. the ML-DSA-65 signature verifies (with ``label`` as its context).

    Raises `PolicySignatureError` naming the first step that fails.
    """
    # 0. One signature per algorithm.
    by_alg: dict[str, Signature] = {s.alg: s for s in signatures}
    if len(signatures) != len(ALGORITHMS) or set(by_alg) != set(ALGORITHMS):
        raise PolicySignatureError("exactly one ed25519 and one ml-dsa-65 signature are required")
    # 1. Signed by the expected keys.
    for alg in ALGORITHMS:
        if by_alg[alg].key_id != keys.key_id(alg):
            raise PolicySignatureError(f"the {alg} signature is by another key")
    # 2. The signed message.
    try:
        message = signed_message(label, document)
    except (ValueError, RecursionError) as exc:
        raise PolicySignatureError("the document has no canonical form (RFC 8785)") from exc
    # 3. Both signatures decode.
    ed_sig = _decode(by_alg["ed25519"])
    ml_sig = _decode(by_alg["ml-dsa-65"])
    # 4. Ed25519.
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(keys.ed25519).verify(ed_sig, message)
    except (InvalidSignature, ValueError) as exc:
        raise PolicySignatureError("the ed25519 signature does not verify") from exc
    # 5. ML-DSA-65.
    try:
        mldsa.MLDSA65PublicKey.from_public_bytes(keys.ml_dsa_65).verify(
            ml_sig, message, context=label.encode()
        )
    except (InvalidSignature, ValueError) as exc:
        raise PolicySignatureError("the ml-dsa-65 signature does not verify") from exc
