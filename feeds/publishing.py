"""Publishing a STIX bundle to a feed, sealed to the readers its verified policy names.

`publish_report` fetches and verifies the feed's policy (`feeds.feed_policy`),
checks that we are one of its writers, resolves every reader and ourselves to
the key bundle in force (chain verified, `feeds.trust.verify_key_chain`),
seals the bundle (`feeds.crypto.envelope.seal_report`) and posts the sealed
report to the feed's TAXII collection with taxii2-client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from taxii2client.v21 import Collection as TaxiiCollection

from exchange.protocol.keys import SignedKeyBundle
from feeds.client import BearerAuth, hub_errors
from feeds.crypto.envelope import RecipientKey, seal_report
from feeds.crypto.keys import MemberSecrets
from feeds.errors import DocumentError, FeedsError, TrustError, UnexpectedResponse
from feeds.exchange_api import ExchangeApi
from feeds.feed_policy import FeedPolicy, fetch_feed_policy
from feeds.pinning import PinStore
from feeds.transparency import DirectoryCheck
from feeds.trust import verify_key_chain
from policies import SignedPolicy

__all__ = [
    "NotAWriter",
    "Published",
    "bundle_bytes",
    "check_signer",
    "post_objects",
    "publish_report",
    "recipient_key",
    "recipient_keys",
]

_PREFERRED = ("MLKEM768-X25519", "X25519")


class NotAWriter(FeedsError):
    """The feed's policy in force does not let this member publish."""

    def __init__(self, feed: str, member: str) -> None:
        super().__init__(
            f"refusing to publish to {feed}: the feed's policy does not name you ({member})"
            " as a writer"
        )


@dataclass(frozen=True, slots=True)
class Published:
    """What a publication produced: the sealed report, its recipients, the hub's status."""

    feed: str
    envelope_id: str
    recipients: tuple[str, ...]
    status: str
    success: bool
    message: str | None


def bundle_bytes(data: bytes, name: str) -> bytes:
    """Return the bytes to seal: ``data`` itself if it is a STIX bundle, else a bundle of it.

    Raises `DocumentError` if ``data`` is not a JSON STIX object.
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DocumentError(name, "is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        raise DocumentError(name, "is neither a STIX bundle nor a STIX object")
    if document["type"] == "bundle":
        if not isinstance(document.get("objects"), list):
            raise DocumentError(name, "is a bundle without a list of objects")
        return data
    if not isinstance(document.get("id"), str):
        raise DocumentError(name, "is a STIX object without an id")
    wrapped = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [document]}
    return json.dumps(wrapped, separators=(",", ":")).encode()


def _encryption_key(member: str, bundle: SignedKeyBundle) -> RecipientKey:
    keys = bundle.keys
    for alg in _PREFERRED:
        key = keys.encryption_key(alg)
        if key is not None:
            return RecipientKey(member, key.alg, key.raw())
    raise TrustError(f"the key bundles of {member}", "the bundle in force has no encryption key")


def check_signer(api: ExchangeApi, me: str, signer: MemberSecrets) -> None:
    """Check that ``signer`` holds the signing keys of our bundle in force on the hub.

    The hub verifies what we post with those keys only; signing with keys it
    does not hold (a rotation not registered yet) would fail there instead.
    Raises `TrustError` (also if our key chain does not verify), or `HubError`.
    """
    current = verify_key_chain(api.key_bundles(me), me).keys.signing_keys()
    mine = signer.signing_keys()
    if any(current.key_id(alg) != mine.key_id(alg) for alg in ("ed25519", "ml-dsa-65")):
        raise TrustError(
            "your signing keys",
            "your newest local keys are not the ones in force on the hub; run"
            " `feeds keys register` first",
        )


def recipient_key(
    api: ExchangeApi, member: str, log_check: DirectoryCheck | None = None
) -> RecipientKey:
    """Return ``member``'s encryption key in force, from its verified key chain (each
    bundle of which is proven to be in the directory log, given ``log_check``).

    The key is the MLKEM768-X25519 one if the bundle in force has it, else the
    X25519 one. Raises `HubError`, or `TrustError` if there is no verified key.
    """
    bundles = api.key_bundles(member)
    try:
        current = verify_key_chain(bundles, member)
    except TrustError as exc:
        raise TrustError(
            f"the keys of recipient {member}", f"no verified key to seal to ({exc.message})"
        ) from exc
    if log_check is not None:
        log_check.require_bundles(member, bundles)
    return _encryption_key(member, current)


def recipient_keys(
    api: ExchangeApi,
    signed: SignedPolicy,
    publisher: str,
    log_check: DirectoryCheck | None = None,
) -> list[RecipientKey]:
    """Return the encryption key in force (`recipient_key`) of every reader of ``signed``
    and of ``publisher``.

    Raises `HubError`, or `TrustError` naming a member with no verified key.
    """
    members: Iterable[str] = sorted({*signed.policy.readers, publisher})
    return [recipient_key(api, member, log_check) for member in members]


def _status_message(status: Any) -> str | None:
    failures = getattr(status, "failures", None) or []
    messages = [str(f.get("message", f)) if isinstance(f, dict) else str(f) for f in failures]
    return "; ".join(messages) or None


def post_objects(url: str, token: SecretStr, objects: list[dict[str, Any]]) -> Any:
    """Post ``objects`` to the TAXII collection at ``url``; wait for and return the status.

    Raises `HubError` (`UnexpectedResponse` when the hub returns no status).
    """
    with hub_errors(url):
        collection = TaxiiCollection(url, auth=BearerAuth(token))
        try:
            status = collection.add_objects({"objects": objects}, wait_for_completion=True)
        finally:
            collection.close()
    if status is None:
        raise UnexpectedResponse(url, "the hub returned no status")
    return status


def publish_report(
    api: ExchangeApi,
    token: SecretStr,
    ref: str,
    plaintext: bytes,
    *,
    signer: MemberSecrets,
    now: datetime,
    pins: PinStore | None,
    log_check: DirectoryCheck | None = None,
) -> Published:
    """Seal ``plaintext`` (a STIX bundle's bytes) to the feed ``ref``'s readers and post it.

    Steps:
    0. fetch and verify the feed's policy (`fetch_feed_policy`, pinned with ``pins``);
    1. we (``api.whoami``) are one of its writers, and ``signer`` holds our
       signing keys in force on the hub (`check_signer`);
    2. every reader and we resolve to a verified key (`recipient_keys`); with
       ``log_check``, the policy's versions and every key bundle relied on are
       proven to be in the hub's directory log (`feeds.transparency`);
    3. seal with the policy version and digest in force and its TLP marking;
    4. post the sealed report to the feed's TAXII collection and wait for the status.

    Returns the publication, whose ``success`` is False when the hub's status
    reports a failure. Raises `HubError`, `TrustError`, or `NotAWriter` (1).
    """
    # 0. The policy in force.
    feed: FeedPolicy = fetch_feed_policy(api, ref, now=now, pins=pins)
    signed = feed.current
    # 1. Ours to write.
    me = api.whoami().id
    if me not in signed.policy.writers:
        raise NotAWriter(ref, me)
    check_signer(api, me, signer)
    if log_check is not None:
        log_check.require_policies(feed.collection.id, feed.trusted.versions)
    # 2. Recipients.
    recipients = recipient_keys(api, signed, me, log_check)
    # 3. Sealed.
    report = seal_report(
        plaintext,
        feed=feed.collection.id,
        publisher=me,
        policy_version=signed.policy.version,
        policy_digest=signed.digest,
        tlp_marking=signed.policy.tlp,
        recipients=recipients,
        signer=signer,
        now=now,
    )
    # 4. Posted.
    url = f"{api.api_root()}collections/{feed.collection.id}/"
    status = post_objects(url, token, [report])
    success = status.status == "complete" and not status.failure_count
    return Published(
        feed=feed.collection.id,
        envelope_id=str(report["envelope"]["header"]["envelope_id"]),
        recipients=tuple(r.member for r in recipients),
        status=str(status.status),
        success=success,
        message=_status_message(status),
    )
