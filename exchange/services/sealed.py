"""The hub's checks on sealed reports (and on plain STIX) posted to a feed.

The hub cannot open a sealed report; it checks everything it can see in the
clear before storing it, so that what it serves is what the feed's policy
allows: the report parses; the member posting it wrapped this version
(``wrapped_by``) and may write to the feed under the policy in force; both
pairs of signatures verify against current registered keys (the publisher's
content signatures, the wrapper's version signatures); it was sealed for this
feed and wrapped under the policy version in force, with its digest; its
recipients are exactly that version's readers plus the publisher, each under
its current registered encryption key; and its TLP marking is the policy's.

A first version is wrapped by its publisher. A later version (a re-wrap for
new readers) must carry exactly the content of the version stored before it
and be wrapped by one of that version's recipients: re-wrapping never
changes what was said, nor who said it.

Plain (unsealed) STIX is accepted only in feeds whose policy in force is TLP:CLEAR.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from exchange.db.records import FeedRecord, MemberRecord
from exchange.protocol.envelope import (
    ENVELOPE_TYPE,
    SealedReport,
    parse_sealed_report,
    same_content,
    verify_sealed_report,
)
from exchange.protocol.errors import MalformedPayload
from exchange.protocol.ids import StixId
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
    limit = hub.settings.max_recipients_per_envelope
    if len(report.envelope.recipients) > limit:
        return (
            f"it is wrapped for {len(report.envelope.recipients)} recipients, more than the"
            f" hub's limit of {limit}"
        )
    if report.wrapped_by != member.id:
        return "the sealed report's version was not wrapped by the member posting it"
    if header.feed != feed.id:
        return "the sealed report was sealed for another feed (a replay)"
    # A later version keeps its content and is wrapped by one who could open it.
    reason = _check_lineage(hub, conn, feed, report)
    if reason is not None:
        return reason
    publisher_keys = owner_keys(hub, conn, report.publisher, current_only=True)
    wrapper_keys = owner_keys(hub, conn, member.id, current_only=True)
    if not publisher_keys or not wrapper_keys:
        return "the publisher or the wrapping member has no registered keys"
    try:
        verify_sealed_report(report, publisher_keys=publisher_keys[0], wrapper_keys=wrapper_keys[0])
    except PolicyError as exc:
        return f"the signatures do not verify with the current registered keys: {exc.message}"
    # Only the (verified) version in force: sealing under an older version would
    # still reach readers the owner has since removed.
    if in_force is None:
        return "the feed has no policy in force"
    ref = report.envelope.policy
    if ref.version != in_force.policy.version:
        return (
            f"it was wrapped under policy version {ref.version}, not the version in"
            f" force ({in_force.policy.version})"
        )
    if ref.digest != in_force.digest:
        return f"the digest of policy version {ref.version} does not match"
    policy = in_force.policy
    if member.id not in policy.writers:
        return f"the wrapping member is not a writer of policy version {policy.version}"
    reason = _check_recipients(hub, conn, report, in_force)
    if reason is not None:
        return reason
    if report.object_marking_refs[0] != policy.tlp:
        return "the sealed report's TLP marking is not the policy's"
    return None


def _check_lineage(
    hub: Hub, conn: Connection, feed: FeedRecord, report: SealedReport
) -> str | None:
    stored = hub.objects.latest(conn, feed.id, StixId(report.id))
    if stored is None:
        if report.wrapped_by != report.publisher:
            return "the first version of a sealed report must be wrapped by its publisher"
        return None
    try:
        before = parse_sealed_report(stored)
    except MalformedPayload:
        return "an object that is not a sealed report is stored under this id"
    if not same_content(before, report):
        return "a new version of a sealed report must keep the content of the version before"
    if report.wrapped_by not in {r.member for r in before.envelope.recipients}:
        return "a new version must be wrapped by a recipient of the version before"
    return None


def _check_recipients(
    hub: Hub, conn: Connection, report: SealedReport, in_force: SignedPolicy
) -> str | None:
    policy = in_force.policy
    expected: dict[str, str] = {}
    for reader in sorted({*policy.readers, report.publisher}):
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
    return None
