"""The hub's checks on sealed reports (and on plain STIX) posted to a feed.

The hub cannot open a sealed report; it checks everything it can see in the
clear before storing it, so that what it serves is what the feed's policy
allows: the report parses; its publisher is the member posting it; both
signatures verify against the publisher's current registered keys; it was
sealed for this feed under the policy version in force, with its digest;
its recipients are exactly that version's readers plus the
publisher, each under its current registered encryption key; and its TLP
marking is the policy's. Plain (unsealed) STIX is accepted only in feeds
whose policy in force is TLP:CLEAR.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from exchange.db.records import FeedRecord, MemberRecord
from exchange.protocol.envelope import ENVELOPE_TYPE, parse_sealed_report, verify_sealed_report
from exchange.protocol.errors import MalformedPayload
from exchange.services.hub import Hub
from exchange.services.trust import current_encryption_key, owner_keys
from policies import TLP_MARKINGS, PolicyError, SignedPolicy, TlpLevel

__all__ = ["PLAIN_REFUSED", "check_object"]

PLAIN_REFUSED = "plain STIX is accepted only in TLP:CLEAR feeds; seal it"


def check_object(
    hub: Hub,
    conn: Connection,
    member: MemberRecord,
    feed: FeedRecord,
    in_force: SignedPolicy | None,
    raw: dict[str, Any],
) -> str | None:
    """Return why ``raw`` may not be stored in ``feed`` (posted by ``member``), or None."""
    if raw.get("type") != ENVELOPE_TYPE:
        if in_force is None or in_force.policy.tlp != TLP_MARKINGS[TlpLevel.CLEAR]:
            return PLAIN_REFUSED
        return None
    return _check_sealed(hub, conn, member, feed, in_force, raw)


def _check_sealed(
    hub: Hub,
    conn: Connection,
    member: MemberRecord,
    feed: FeedRecord,
    in_force: SignedPolicy | None,
    raw: dict[str, Any],
) -> str | None:
    try:
        report = parse_sealed_report(raw)
    except MalformedPayload as exc:
        return f"not a well-formed sealed report: {exc}"
    header = report.envelope.header
    if header.publisher != member.id or report.created_by_ref != member.id:
        return "the sealed report's publisher is not the member posting it"
    keys = owner_keys(hub, conn, member.id, current_only=True)
    if not keys:
        return "the publisher has no registered keys"
    try:
        verify_sealed_report(report, keys[0])
    except PolicyError as exc:
        return f"the publisher's signatures do not verify with its current keys: {exc.message}"
    if header.feed != feed.id:
        return "the sealed report was sealed for another feed (a replay)"
    # Only the (verified) version in force: sealing under an older version would
    # still reach readers the owner has since removed.
    if in_force is None:
        return "the feed has no policy in force"
    if header.policy.version != in_force.policy.version:
        return (
            f"it was sealed under policy version {header.policy.version}, not the version in"
            f" force ({in_force.policy.version})"
        )
    if header.policy.digest != in_force.digest:
        return f"the digest of policy version {header.policy.version} does not match"
    policy = in_force.policy
    expected: dict[str, str] = {}
    for reader in sorted({*policy.readers, member.id}):
        key = current_encryption_key(hub, conn, reader)
        if key is None:
            return f"recipient {reader} has no registered encryption key"
        expected[reader] = key.key_id
    for recipient in report.envelope.recipients:
        if recipient.member not in expected:
            return (
                f"ghost recipient {recipient.member}: not a reader of policy version"
                f" {policy.version}"
            )
        if recipient.key_id != expected[recipient.member]:
            return (
                f"recipient {recipient.member} is sealed to a key that is not its current"
                " registered encryption key (stale)"
            )
    present = {r.member for r in report.envelope.recipients}
    missing = sorted(set(expected) - present)
    if missing:
        return f"reader(s) of policy version {policy.version} left out: {', '.join(missing)}"
    if report.object_marking_refs[0] != policy.tlp:
        return "the sealed report's TLP marking is not the policy's"
    return None
