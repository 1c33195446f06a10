"""Checkpoints of the hub's Merkle logs: C2SP ``tlog-checkpoint`` signed notes.

A checkpoint is a C2SP ``signed-note`` whose text is three lines, the log's
*origin*, its size in decimal and its RFC 6962 root in base64, followed by a
blank line and signature lines ``— <key name> base64(key id ‖ signature)``.
The hub signs each checkpoint with its log key twice, and a verifier needs
both:

* an Ed25519 note signature (type ``0x01``) over the note text;
* an ML-DSA-44 ``subtree/v1`` cosignature (type ``0x06``, C2SP
  ``tlog-cosignature``): a ``timestamped_signature`` (u64 time ‖ signature)
  over the ``cosigned_message`` that binds the key name, the time, the origin,
  the range ``[0, size)`` and the root.

The key name of each signature is the log's origin, so each key id
(``SHA-256(name ‖ "\\n" ‖ type ‖ public key)[:4]``) is bound to one log.
Signature lines with other names or key ids are ignored, as the signed-note
spec requires. Everything here takes public keys only; the hub's log key
lives in ``exchange.audit.signer``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from exchange.protocol.errors import ProofError

__all__ = [
    "ED25519_TYPE",
    "MLDSA44_TYPE",
    "LogPublicKey",
    "SignedCheckpoint",
    "checkpoint_text",
    "cosigned_message",
    "key_id",
    "parse_checkpoint",
    "verify_checkpoint",
    "vkey",
]

ED25519_TYPE = 0x01
MLDSA44_TYPE = 0x06
_SUBTREE_LABEL = b"subtree/v1\n\x00"
_DASH = "\u2014 "
_MAX_NOTE = 64 * 1024
_MAX_SIGNATURES = 64
_ORIGIN = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,254}\Z")
_SIZES = {ED25519_TYPE: 64, MLDSA44_TYPE: 8 + 2420}


@dataclass(frozen=True, slots=True)
class LogPublicKey:
    """The public half of the hub's log key: Ed25519 and ML-DSA-44 public keys."""

    ed25519: bytes
    ml_dsa_44: bytes

    def fingerprint(self) -> str:
        """``sha256:<hex>`` over both keys: what an operator reads out to auditors."""
        digest = hashlib.sha256(b"trend-exchange/log-key/1\n" + self.ed25519 + self.ml_dsa_44)
        return "sha256:" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint whose two signatures verified."""

    origin: str
    size: int
    root: bytes
    timestamp: int
    """When the hub signed it (POSIX seconds, from the ML-DSA-44 cosignature)."""
    text: str


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    """Return the 4-byte key id ``SHA-256(name ‖ "\\n" ‖ type ‖ public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


def vkey(name: str, sig_type: int, public: bytes) -> str:
    """Return the signed-note verifier key ``name+hex(key id)+base64(type ‖ public key)``."""
    encoded = base64.b64encode(bytes([sig_type]) + public).decode()
    return f"{name}+{key_id(name, sig_type, public).hex()}+{encoded}"


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The note text of a checkpoint: origin, size and root lines, each ending in a newline."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def cosigned_message(name: str, timestamp: int, origin: str, size: int, root: bytes) -> bytes:
    """The ML-DSA-44 ``cosigned_message`` for the checkpoint ``[0, size)`` with ``root``."""
    return (
        _SUBTREE_LABEL
        + _opaque8(name.encode())
        + struct.pack(">Q", timestamp)
        + _opaque8(origin.encode())
        + struct.pack(">QQ", 0, size)
        + root
    )


def _opaque8(value: bytes) -> bytes:
    return bytes([len(value)]) + value


def _decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProofError(f"{what} is not base64") from exc


def parse_checkpoint(note: str) -> tuple[str, int, bytes, str, list[tuple[str, bytes, bytes]]]:
    """Split a signed checkpoint into origin, size, root, its text and its signatures.

    Each signature is (key name, key id, signature bytes). Raises `ProofError`
    if the note is not a well-formed checkpoint.
    """
    # 0. Text, a blank line, signature lines.
    if len(note) > _MAX_NOTE or not note.endswith("\n"):
        raise ProofError("a checkpoint is a signed note ending in a newline")
    text, separator, signatures = note.partition("\n\n")
    if not separator or not signatures:
        raise ProofError("the checkpoint has no signature lines")
    text += "\n"
    lines = text.split("\n")[:-1]
    # 1. Origin, decimal size, base64 root (extension lines are allowed, and ignored).
    if len(lines) < 3 or not _ORIGIN.match(lines[0]):
        raise ProofError("the checkpoint does not start with an origin line")
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", lines[1]):
        raise ProofError("the checkpoint's size line is not a decimal number")
    root = _decode(lines[2], "the checkpoint's root")
    if len(root) != 32:
        raise ProofError("the checkpoint's root is not 32 bytes")
    # 2. Signature lines.
    parsed = []
    signature_lines = signatures.split("\n")[:-1]
    if len(signature_lines) > _MAX_SIGNATURES:
        raise ProofError("the checkpoint has too many signature lines")
    for line in signature_lines:
        if not line.startswith(_DASH) or line.count(" ") != 2:
            raise ProofError("a signature line is malformed")
        name, encoded = line[len(_DASH) :].split(" ")
        raw = _decode(encoded, "a signature")
        if len(raw) < 5:
            raise ProofError("a signature is too short")
        parsed.append((name, raw[:4], raw[4:]))
    return lines[0], int(lines[1]), root, text, parsed


def verify_checkpoint(note: str, origin: str, key: LogPublicKey) -> SignedCheckpoint:
    """Verify that ``note`` is a checkpoint of the log ``origin`` signed by ``key``.

    Steps:
    0. the note parses (`parse_checkpoint`) and names ``origin``;
    1. exactly one Ed25519 and one ML-DSA-44 signature carry our key name and key
       ids (others are ignored), each of the right size;
    2. the Ed25519 signature verifies over the note text;
    3. the ML-DSA-44 cosignature verifies over the ``cosigned_message``.

    Raises `ProofError` naming the failing step.
    """
    # 0. A checkpoint of this log.
    named, size, root, text, signatures = parse_checkpoint(note)
    if named != origin:
        raise ProofError(f"the checkpoint is of log {named!r}, not {origin!r}")
    # 1. Our two signatures.
    wanted = {
        key_id(origin, ED25519_TYPE, key.ed25519): ED25519_TYPE,
        key_id(origin, MLDSA44_TYPE, key.ml_dsa_44): MLDSA44_TYPE,
    }
    found: dict[int, bytes] = {}
    for name, kid, signature in signatures:
        sig_type = wanted.get(kid) if name == origin else None
        if sig_type is None:
            continue
        if sig_type in found:
            raise ProofError("the checkpoint carries two signatures by one key")
        if len(signature) != _SIZES[sig_type]:
            raise ProofError("a signature of the log key has the wrong size")
        found[sig_type] = signature
    if set(found) != {ED25519_TYPE, MLDSA44_TYPE}:
        raise ProofError("the checkpoint lacks the log key's Ed25519 or ML-DSA-44 signature")
    # 2. Ed25519 over the note text.
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(key.ed25519).verify(
            found[ED25519_TYPE], text.encode()
        )
    except (InvalidSignature, ValueError) as exc:
        raise ProofError("the checkpoint's Ed25519 signature does not verify") from exc
    # 3. ML-DSA-44 over the cosigned message.
    timestamp = struct.unpack(">Q", found[MLDSA44_TYPE][:8])[0]
    if timestamp >= 2**63:
        raise ProofError("the checkpoint's cosignature time is out of range")
    message = cosigned_message(origin, timestamp, origin, size, root)
    try:
        mldsa.MLDSA44PublicKey.from_public_bytes(key.ml_dsa_44).verify(
            found[MLDSA44_TYPE][8:], message
        )
    except (InvalidSignature, ValueError) as exc:
        raise ProofError("the checkpoint's ML-DSA-44 signature does not verify") from exc
    return SignedCheckpoint(origin, size, root, timestamp, note)
