"""**Hazardous**: sealing, opening and re-wrapping ``hub-env/1`` reports (crypto-notes §1.4–1.5).

Sealing (the publisher):

1. a random 32-byte content key (CEK) and envelope id;
2. HKDF-SHA256 expands the CEK into the content key and a 32-byte key
   *commitment*, published in the header: every recipient must hold the same
   CEK, so all open the same plaintext;
3. AES-256-GCM encrypts the bundle with the canonical header as AAD;
4. the publisher signs the content (header, nonce, ciphertext hash) with
   Ed25519 and ML-DSA-65;
5. per recipient (sorted by member, key id), HPKE wraps the CEK with an
   ``info`` that binds envelope, feed, publisher, the wrapping member, policy
   version and digest, recipient, key id, suite, content algorithm, ciphertext
   hash and commitment;
6. the wrapping member (here the publisher) signs the whole STIX object.

Re-wrapping (a writer who can open the report, when readers were added):
the same content and content signatures, steps 5-6 again for the new policy
version's readers, as a new STIX version of the same object.

Opening (a recipient) checks, in order: both pairs of signatures, that the
recipient set is exactly the expected one (no ghost, none missing), its own
entry, the HPKE unwrap, the commitment, then the content AEAD. Every
cryptographic failure after the signatures is one opaque reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from exchange.protocol.envelope import (
    CONTENT_LABEL,
    CONTENT_TYPE,
    ENVELOPE_FORMAT,
    ENVELOPE_LABEL,
    ENVELOPE_TYPE,
    EXTENSION_ID,
    PolicyRef,
    Recipient,
    SealedHeader,
    SealedReport,
    new_envelope_id,
    parse_sealed_report,
    recipient_info,
    verify_sealed_report,
)
from exchange.protocol.errors import MalformedPayload
from feeds.crypto.keys import MemberSecrets, sign_document
from feeds.errors import EnvelopeRefused, NotARecipient
from policies import PolicyError, SigningKeys, key_id
from policies.canonical import canonical_bytes

__all__ = ["RecipientKey", "open_report", "rewrap_report", "seal_report"]

_SUITES = {
    "MLKEM768-X25519": hpke.Suite(
        hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM
    ),
    "X25519": hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
}
_OPAQUE = "it does not open (wrong key, or altered in transit)"


@dataclass(frozen=True, slots=True)
class RecipientKey:
    """A recipient's public encryption key, from its verified key bundle."""

    member: str
    suite: str
    public: bytes

    @property
    def key_id(self) -> str:
        """The key's id, as the key bundle lists it."""
        return key_id(self.suite, self.public)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _expand(cek: bytes, envelope_id: str) -> tuple[bytes, bytes]:
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=64,
        salt=None,
        info=b"hub-env/1\ncek-expand\n" + envelope_id.encode(),
    ).derive(cek)
    return okm[:32], okm[32:]


def _public_key(recipient: RecipientKey) -> Any:
    if recipient.suite == "X25519":
        return x25519.X25519PublicKey.from_public_bytes(recipient.public)
    if recipient.suite == "MLKEM768-X25519" and len(recipient.public) == 1216:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(recipient.public[:1184]),
            x25519.X25519PublicKey.from_public_bytes(recipient.public[1184:]),
        )
    raise ValueError(f"no {recipient.suite} key of the right size for {recipient.member}")


def _stamp(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def seal_report(
    plaintext: bytes,
    *,
    feed: str,
    publisher: str,
    policy_version: int,
    policy_digest: str,
    tlp_marking: str,
    recipients: Iterable[RecipientKey],
    signer: MemberSecrets,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Seal ``plaintext`` (a STIX bundle's bytes) to ``recipients``; return the STIX object.

    The publisher is a recipient only if ``recipients`` names it (the caller
    adds it: a publisher always keeps access to what it published).
    Raises ValueError for a recipient listed twice or a malformed key.
    """
    ordered = _ordered(recipients)
    envelope_id = new_envelope_id()
    stamp = _stamp(now or datetime.now(UTC))
    cek = os.urandom(32)
    content_key, commit = _expand(cek, envelope_id)
    header = SealedHeader.model_validate_json(
        canonical_bytes(
            {
                "format": ENVELOPE_FORMAT,
                "envelope_id": envelope_id,
                "feed": feed,
                "publisher": publisher,
                "created": stamp,
                "content_type": CONTENT_TYPE,
                "aead": "A256GCM",
                "commit": _b64(commit),
            }
        )
    )
    header_json = header.model_dump(mode="json")
    nonce = _b64(os.urandom(12))
    ciphertext = AESGCM(content_key).encrypt(base64.b64decode(nonce), plaintext, _aad(header_json))
    ct_sha256 = hashlib.sha256(ciphertext).hexdigest()
    content = {"header": header_json, "nonce": nonce, "ct_sha256": ct_sha256}
    report: dict[str, Any] = {
        "type": ENVELOPE_TYPE,
        "spec_version": "2.1",
        "id": f"{ENVELOPE_TYPE}--{envelope_id}",
        "created": stamp,
        "modified": stamp,
        "created_by_ref": publisher,
        "object_marking_refs": [tlp_marking],
        "extensions": {EXTENSION_ID: {"extension_type": "new-sdo"}},
        "envelope": {
            **content,
            "ciphertext": _b64(ciphertext),
            "content_signatures": sign_document(signer, CONTENT_LABEL, content),
        },
    }
    policy = PolicyRef(version=policy_version, digest=policy_digest)
    return _wrap(report, header, cek, ordered, policy=policy, wrapper=publisher, signer=signer)


def rewrap_report(
    report: SealedReport,
    *,
    me: str,
    generations: Sequence[MemberSecrets],
    policy_version: int,
    policy_digest: str,
    tlp_marking: str,
    recipients: Iterable[RecipientKey],
    signer: MemberSecrets,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return a new version of ``report`` wrapped by ``me`` to ``recipients``.

    The content, its signatures and ``created`` are kept; the policy, the
    marking, the recipients and ``wrapped_by`` are this version's, and
    ``modified`` is ``now`` (at least a millisecond after the version before).
    The caller has opened ``report`` (`open_report`) and so verified it; this
    unwraps the content key with ``me``'s entry and checks the commitment.
    Raises `NotARecipient`, `EnvelopeRefused`, or ValueError for bad recipients.
    """
    ordered = _ordered(recipients)
    cek = _content_key(report, me, generations)
    earliest = datetime.strptime(report.modified, "%Y-%m-%dT%H:%M:%S.%f%z") + timedelta(
        milliseconds=1
    )
    stamp = _stamp(max(now or datetime.now(UTC), earliest))
    outer = report.model_dump(mode="json", exclude={"signatures"})
    outer["modified"] = stamp
    outer["object_marking_refs"] = [tlp_marking]
    envelope = outer["envelope"]
    for key in ("policy", "wrapped_by", "recipients"):
        del envelope[key]
    policy = PolicyRef(version=policy_version, digest=policy_digest)
    header = report.envelope.header
    return _wrap(outer, header, cek, ordered, policy=policy, wrapper=me, signer=signer)


def _ordered(recipients: Iterable[RecipientKey]) -> list[RecipientKey]:
    ordered = sorted(recipients, key=lambda r: (r.member, r.key_id))
    if len({(r.member, r.key_id) for r in ordered}) != len(ordered) or not ordered:
        raise ValueError("recipients must be non-empty and each listed once")
    return ordered


def _wrap(
    report: dict[str, Any],
    header: SealedHeader,
    cek: bytes,
    ordered: Sequence[RecipientKey],
    *,
    policy: PolicyRef,
    wrapper: str,
    signer: MemberSecrets,
) -> dict[str, Any]:
    """Add the wrapping (policy, wrapped_by, one HPKE wrap per recipient) and sign."""
    envelope = report["envelope"]
    stanzas = []
    for target in ordered:
        stanza = Recipient.model_validate_json(
            canonical_bytes(
                {
                    "member": target.member,
                    "key_id": target.key_id,
                    "suite": target.suite,
                    "wrapped": "",
                }
            )
        )
        info = recipient_info(
            header, stanza, ct_sha256=envelope["ct_sha256"], policy=policy, wrapped_by=wrapper
        )
        wrapped = _SUITES[target.suite].encrypt(cek, _public_key(target), info=info)
        stanzas.append({**stanza.model_dump(mode="json"), "wrapped": _b64(wrapped)})
    envelope["policy"] = policy.model_dump(mode="json")
    envelope["wrapped_by"] = wrapper
    envelope["recipients"] = stanzas
    report["signatures"] = sign_document(signer, ENVELOPE_LABEL, report)
    parse_sealed_report(report)  # what we publish must parse as anyone will parse it
    return report


def _aad(header_json: dict[str, Any]) -> bytes:
    return canonical_bytes(header_json)


def _private_key(secrets: MemberSecrets, suite: str) -> Any:
    if suite == "X25519":
        return secrets.x25519_private_key()
    return secrets.hybrid_private_key()


def _my_keys(generations: Sequence[MemberSecrets]) -> dict[str, tuple[str, MemberSecrets]]:
    mine: dict[str, tuple[str, MemberSecrets]] = {}
    for secrets in generations:
        for entry in secrets.public_json()["encryption"]:
            mine[entry["key_id"]] = (entry["alg"], secrets)
    return mine


def _content_key(report: SealedReport, me: str, generations: Sequence[MemberSecrets]) -> bytes:
    """Unwrap the content key from ``me``'s entry and check it against the commitment."""
    mine = _my_keys(generations)
    entry = next(
        (r for r in report.envelope.recipients if r.member == me and r.key_id in mine), None
    )
    if entry is None:
        raise NotARecipient(report.id)
    suite, secrets = mine[entry.key_id]
    envelope = report.envelope
    try:
        info = recipient_info(
            envelope.header,
            entry,
            ct_sha256=envelope.ct_sha256,
            policy=envelope.policy,
            wrapped_by=envelope.wrapped_by,
        )
        cek = _SUITES[entry.suite].decrypt(
            entry.wrapped_bytes(), _private_key(secrets, suite), info=info
        )
        if len(cek) != 32:
            raise InvalidTag
        _, commit = _expand(cek, envelope.header.envelope_id)
        if not hmac.compare_digest(commit, report.commit_bytes()):
            raise InvalidTag
    except (InvalidTag, ValueError, TypeError, MalformedPayload) as exc:
        raise EnvelopeRefused(report.id, _OPAQUE) from exc
    return cek


def open_report(
    data: bytes | str | dict[str, Any] | SealedReport,
    *,
    me: str,
    feed: str,
    generations: Sequence[MemberSecrets],
    publisher_keys: SigningKeys,
    wrapper_keys: SigningKeys,
    expected_recipients: Mapping[str, Collection[str]],
) -> tuple[SealedReport, bytes]:
    """Verify and open a sealed report addressed to member ``me``; return it and the plaintext.

    ``feed`` is the feed it was fetched from; ``publisher_keys`` and
    ``wrapper_keys`` are the verified signing keys of its publisher and of the
    member who wrapped this version (the same for a first version);
    ``expected_recipients`` maps each member the feed's signed policy version
    resolves to (its readers plus the publisher) to the key ids it may be
    sealed to.

    Steps:
    0. the report parses (form, sizes, ciphertext hash) and was sealed for ``feed``;
    1. the publisher's content signatures and the wrapper's signatures verify;
    2. its recipients are exactly ``expected_recipients`` (ghost or missing: refused);
    3. one recipient entry is for ``me`` under one of ``generations``' keys;
    4. the content key unwraps, matches the commitment, and decrypts the content.

    Raises `EnvelopeRefused` naming the failing step, or `NotARecipient` (step 3).
    """
    # 0. Form.
    try:
        report = data if isinstance(data, SealedReport) else parse_sealed_report(data)
    except MalformedPayload as exc:
        raise EnvelopeRefused("(unparsed)", str(exc)) from exc
    name = report.id
    if report.envelope.header.feed != feed:
        raise EnvelopeRefused(name, "it was sealed for another feed (a replay)")
    # 1. Signatures.
    try:
        verify_sealed_report(report, publisher_keys=publisher_keys, wrapper_keys=wrapper_keys)
    except PolicyError as exc:
        raise EnvelopeRefused(name, f"signature check failed: {exc.message}") from exc
    # 2. Exactly the expected recipients.
    entries = report.envelope.recipients
    ghosts = sorted(
        f"{r.member} ({r.key_id})"
        for r in entries
        if r.key_id not in expected_recipients.get(r.member, ())
    )
    missing = sorted(set(expected_recipients) - {r.member for r in entries})
    if ghosts:
        raise EnvelopeRefused(name, f"ghost recipient(s) not in the policy: {', '.join(ghosts)}")
    if missing:
        raise EnvelopeRefused(name, f"recipient(s) of the policy left out: {', '.join(missing)}")
    if len({r.member for r in entries}) != len(entries):
        raise EnvelopeRefused(name, "a recipient is listed under more than one key")
    # 3-4. Our entry, the content key, the content.
    cek = _content_key(report, me, generations)
    content_key, _ = _expand(cek, report.envelope.header.envelope_id)
    try:
        plaintext = AESGCM(content_key).decrypt(
            report.nonce_bytes(),
            report.ciphertext_bytes(),
            _aad(report.envelope.header.model_dump(mode="json")),
        )
    except (InvalidTag, ValueError, MalformedPayload) as exc:
        raise EnvelopeRefused(name, _OPAQUE) from exc
    return report, plaintext
