"""The sealed report ``hub-env/1``: a STIX 2.1 object only its recipients can open.

A ``sealed-report`` is a new STIX Domain Object type defined by the
extension-definition :data:`EXTENSION_DEFINITION` (STIX 2.1 §7.3,
``new-sdo``), so that any TAXII client can store, filter (id, type, version)
and forward it. Its ``envelope`` property holds, in the clear, only what
routing and verification need, in two parts:

* the *content*, fixed for the envelope's life: the header (envelope id,
  feed, publisher, time, algorithms, the key commitment; its canonical bytes
  are the content AEAD's associated data), the nonce, the AES-256-GCM
  ciphertext of the inner STIX bundle, its SHA-256, and the publisher's
  Ed25519 and ML-DSA-65 ``content_signatures`` over header, nonce and hash;
* the *wrapping*, one per STIX version: the policy version and digest it
  follows, the member who wrapped it (``wrapped_by``), and one HPKE-wrapped
  content key per recipient (member id, key id, suite). ``wrapped_by`` signs
  the whole object (minus ``signatures``) with both algorithms.

The first version is wrapped by its publisher. When a feed's owner adds
readers, a writer who holds the content key publishes a new version (same
id, later ``modified``) with the same content, wrapped to the new policy
version's readers: nothing is re-encrypted, and the publisher's content
signatures still prove who sealed it (crypto-notes §1.4).

This module parses and checks form, and verifies signatures with public keys.
Sealing and opening live in ``feeds.crypto.envelope`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exchange.protocol.errors import MalformedPayload
from policies.canonical import canonical_bytes
from policies.document import load_json
from policies.errors import PolicyError
from policies.model import TLP_MARKINGS
from policies.signature import Signature, SigningKeys, verify_signatures

__all__ = [
    "CONTENT_LABEL",
    "CONTENT_TYPE",
    "ENVELOPE_FORMAT",
    "ENVELOPE_LABEL",
    "ENVELOPE_TYPE",
    "EXTENSION_DEFINITION",
    "EXTENSION_ID",
    "PolicyRef",
    "Recipient",
    "SealedHeader",
    "SealedReport",
    "new_envelope_id",
    "parse_sealed_report",
    "recipient_info",
    "same_content",
    "verify_sealed_report",
]

ENVELOPE_FORMAT = "hub-env/1"
ENVELOPE_LABEL = "trend-exchange/envelope/1"
"""The signature domain of a sealed report's version (signed by ``wrapped_by``)."""
CONTENT_LABEL = "trend-exchange/envelope-content/1"
"""The signature domain of a sealed report's content (signed by its publisher)."""
ENVELOPE_TYPE = "sealed-report"
CONTENT_TYPE = "application/stix+json;version=2.1"
EXTENSION_ID = "extension-definition--9f3c1a52-5d2e-4b8a-a1d7-3e6f0c2b8d41"
_IDENTITY = "identity--5e8a2c1d-7b4f-4d9e-8a6c-2f1b3d4e5a60"

EXTENSION_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": EXTENSION_ID,
    "created_by_ref": _IDENTITY,
    "created": "2026-11-29T00:00:00.000Z",
    "modified": "2026-11-29T00:00:00.000Z",
    "name": "Trend Exchange sealed report",
    "description": (
        "A STIX bundle encrypted end to end (hub-env/1): HPKE MLKEM768-X25519 (or X25519)"
        " wraps a content key per recipient, AES-256-GCM encrypts the bundle; the publisher"
        " signs the content and the member who wrapped each version signs that version,"
        " each with Ed25519 and ML-DSA-65. A later version re-wraps the same content for"
        " the readers of a later policy version."
    ),
    "schema": "https://trend-exchange.invalid/schemas/sealed-report-1.json",
    "version": "1.0.0",
    "extension_types": ["new-sdo"],
}
"""The extension-definition that defines the ``sealed-report`` type (served by the hub)."""

_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
_MEMBER = r"^identity--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_WRAPPED_SIZES = {"MLKEM768-X25519": 1120 + 32 + 16, "X25519": 32 + 32 + 16}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PolicyRef(_Strict):
    """The policy version a version of a report was wrapped under."""

    version: int = Field(ge=1, le=2**53 - 1)
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class SealedHeader(_Strict):
    """What the content AEAD authenticates (its canonical bytes are the AAD)."""

    format: Literal["hub-env/1"]
    envelope_id: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )
    feed: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )
    publisher: str = Field(pattern=_MEMBER)
    created: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
    content_type: Literal["application/stix+json;version=2.1"]
    aead: Literal["A256GCM"]
    commit: str = Field(min_length=44, max_length=44)


class Recipient(_Strict):
    """One recipient's wrapped content key."""

    member: str = Field(pattern=_MEMBER)
    key_id: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    suite: Literal["MLKEM768-X25519", "X25519"]
    wrapped: str = Field(max_length=4096)

    def wrapped_bytes(self) -> bytes:
        """The HPKE output (``enc ‖ ciphertext``). Raises `MalformedPayload` if malformed."""
        raw = _b64("recipients.wrapped", self.wrapped)
        if len(raw) != _WRAPPED_SIZES[self.suite]:
            raise MalformedPayload("recipients.wrapped", "has the wrong length for its suite")
        return raw


class Envelope(_Strict):
    """The ``envelope`` property of a sealed report: its content, then this version's wrapping."""

    header: SealedHeader
    nonce: str = Field(min_length=16, max_length=16)
    ciphertext: str
    ct_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_signatures: tuple[Signature, ...]
    policy: PolicyRef
    wrapped_by: str = Field(pattern=_MEMBER)
    recipients: tuple[Recipient, ...] = Field(min_length=1, max_length=10_000)

    def content_part(self) -> dict[str, Any]:
        """What the publisher's content signatures sign: header, nonce and ciphertext hash."""
        return {
            "header": self.header.model_dump(mode="json"),
            "nonce": self.nonce,
            "ct_sha256": self.ct_sha256,
        }


class SealedReport(_Strict):
    """A sealed report as a STIX object (what a TAXII envelope carries)."""

    type: Literal["sealed-report"]
    spec_version: Literal["2.1"]
    id: str
    created: str
    modified: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
    created_by_ref: str = Field(pattern=_MEMBER)
    object_marking_refs: tuple[str, ...] = Field(min_length=1, max_length=1)
    extensions: dict[str, dict[str, str]]
    envelope: Envelope
    signatures: tuple[Signature, ...]

    @property
    def publisher(self) -> str:
        """The member who sealed the content."""
        return self.envelope.header.publisher

    @property
    def wrapped_by(self) -> str:
        """The member who wrapped (and signed) this version."""
        return self.envelope.wrapped_by

    def signed_part(self) -> dict[str, Any]:
        """The object without ``signatures``: what ``wrapped_by`` signs."""
        return self.model_dump(mode="json", exclude={"signatures"})

    def nonce_bytes(self) -> bytes:
        """The 12-byte AES-GCM nonce."""
        raw = _b64("envelope.nonce", self.envelope.nonce)
        if len(raw) != 12:
            raise MalformedPayload("envelope.nonce", "must be 12 bytes")
        return raw

    def ciphertext_bytes(self) -> bytes:
        """The content ciphertext, checked against ``ct_sha256``."""
        raw = _b64("envelope.ciphertext", self.envelope.ciphertext)
        if hashlib.sha256(raw).hexdigest() != self.envelope.ct_sha256:
            raise MalformedPayload("envelope.ciphertext", "does not match ct_sha256")
        return raw

    def commit_bytes(self) -> bytes:
        """The 32-byte key commitment."""
        raw = _b64("envelope.header.commit", self.envelope.header.commit)
        if len(raw) != 32:
            raise MalformedPayload("envelope.header.commit", "must be 32 bytes")
        return raw


def _b64(field: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedPayload(field, "is not base64") from exc


def recipient_info(
    header: SealedHeader,
    recipient: Recipient,
    *,
    ct_sha256: str,
    policy: PolicyRef,
    wrapped_by: str,
) -> bytes:
    """The HPKE ``info`` of one recipient: it binds the envelope, feed, publisher, the
    wrapping member and policy version, the recipient and its key, the content
    algorithm, the ciphertext and the commitment."""
    return canonical_bytes(
        {
            "ctx": "hub-env/1 rcpt",
            "envelope_id": header.envelope_id,
            "feed": header.feed,
            "publisher": header.publisher,
            "wrapped_by": wrapped_by,
            "policy_version": policy.version,
            "policy_digest": policy.digest,
            "recipient": recipient.member,
            "key_id": recipient.key_id,
            "suite": recipient.suite,
            "content_alg": header.aead,
            "ct_sha256": ct_sha256,
            "commit": header.commit,
        }
    )


def parse_sealed_report(data: bytes | str | dict[str, Any]) -> SealedReport:
    """Parse a sealed report and check its form (not its signatures).

    Checks: the STIX id is ``sealed-report--<envelope id>``; ``created`` is
    the header's time and ``modified`` is not earlier; the publisher is ``created_by_ref``;
    the only extension is ours, as ``new-sdo``; the marking is an OASIS TLP 2.0
    one; recipients are sorted and unique by (member, key id); every binary
    field decodes to its size. Raises `MalformedPayload` otherwise.
    """
    try:
        outer = data if isinstance(data, dict) else load_json(data)
        report = SealedReport.model_validate_json(canonical_bytes(outer))
    except (ValidationError, PolicyError, ValueError) as exc:
        raise MalformedPayload("sealed report", "is not a well-formed hub-env/1 object") from exc
    header = report.envelope.header
    if report.id != f"{ENVELOPE_TYPE}--{header.envelope_id}" or not _UUID4.match(
        header.envelope_id
    ):
        raise MalformedPayload("id", "must be sealed-report--<the header's envelope_id>")
    if report.created != header.created:
        raise MalformedPayload("created", "created must be the header's time")
    if report.modified < report.created:
        raise MalformedPayload("modified", "modified must not be earlier than created")
    if report.created_by_ref != header.publisher:
        raise MalformedPayload("created_by_ref", "must be the header's publisher")
    if report.extensions != {EXTENSION_ID: {"extension_type": "new-sdo"}}:
        raise MalformedPayload("extensions", f"must be exactly {EXTENSION_ID} as new-sdo")
    if report.object_marking_refs[0] not in TLP_MARKINGS.values():
        raise MalformedPayload("object_marking_refs", "must be one OASIS TLP 2.0 marking")
    keys = [(r.member, r.key_id) for r in report.envelope.recipients]
    if keys != sorted(set(keys)):
        raise MalformedPayload("recipients", "must be sorted and unique by (member, key_id)")
    for recipient in report.envelope.recipients:
        recipient.wrapped_bytes()
    report.nonce_bytes()
    report.commit_bytes()
    report.ciphertext_bytes()
    return report


def verify_sealed_report(
    report: SealedReport, *, publisher_keys: SigningKeys, wrapper_keys: SigningKeys
) -> None:
    """Verify the publisher's content signatures and ``wrapped_by``'s version signatures.

    Raises `PolicySignatureError` if any is missing or does not verify.
    """
    envelope = report.envelope
    verify_signatures(
        CONTENT_LABEL, envelope.content_part(), envelope.content_signatures, publisher_keys
    )
    verify_signatures(ENVELOPE_LABEL, report.signed_part(), report.signatures, wrapper_keys)


def same_content(first: SealedReport, second: SealedReport) -> bool:
    """Whether two versions of a sealed report carry the same content (and its signatures)."""
    a, b = first.envelope, second.envelope
    return (
        first.id == second.id
        and first.created == second.created
        and a.content_part() == b.content_part()
        and a.ciphertext == b.ciphertext
        and a.content_signatures == b.content_signatures
    )


def new_envelope_id() -> str:
    """A fresh envelope id (uuid4)."""
    return str(uuid.uuid4())
