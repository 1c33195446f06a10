"""Giving a feed's new readers the reports published before they were added.

When the owner's new policy version adds readers, the sealed reports already
in the feed do not hold a content key for them. `grant_new_readers`, run by a
writer who can open those reports, publishes for each one a new STIX version
with the same content and the publisher's content signatures, its content key
re-wrapped for the readers of the policy in force plus the publisher
(`feeds.crypto.envelope.rewrap_report`): nothing is re-encrypted.

Each report is verified and opened first (`feeds.opening`), so a writer never
vouches for a report it could not verify. Reports that already reach every
reader of the policy in force are left as they are. Readers the owner
removed are not in the new version; the hub no longer serves them the feed,
but what they downloaded before stays theirs: encryption cannot take back
what was already read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import SecretStr

from exchange.protocol.envelope import ENVELOPE_TYPE
from feeds.crypto.envelope import RecipientKey, rewrap_report
from feeds.crypto.keys import MemberSecrets
from feeds.errors import EnvelopeRefused, NotARecipient
from feeds.exchange_api import ExchangeApi
from feeds.feed_policy import fetch_feed_policy
from feeds.opening import ReportOpener
from feeds.pinning import PinStore
from feeds.publishing import NotAWriter, check_signer, post_objects, recipient_key
from feeds.pulling import feed_pages
from feeds.transparency import DirectoryCheck

__all__ = ["GrantOutcome", "GrantSummary", "grant_new_readers"]

_BATCH_OBJECTS = 50
_BATCH_BYTES = 4 * 1024 * 1024

GrantResult = Literal["rewrapped", "current", "not-addressed", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class GrantOutcome:
    """What became of one sealed report of the feed."""

    stix_id: str
    result: GrantResult
    reason: str | None = None
    added: tuple[str, ...] = ()
    """The members the new version reaches that the one before did not."""


@dataclass(slots=True)
class GrantSummary:
    """Every outcome of one ``feeds grant`` run."""

    feed: str
    alias: str | None
    policy_version: int
    readers: tuple[str, ...]
    outcomes: list[GrantOutcome] = field(default_factory=list)

    def count(self, result: GrantResult) -> int:
        """How many reports ended in ``result``."""
        return sum(1 for o in self.outcomes if o.result == result)


class _Batch:
    """Re-wrapped versions waiting to be posted, a few MB at a time."""

    def __init__(self, url: str, token: SecretStr) -> None:
        self.url, self.token = url, token
        self.pending: list[tuple[dict[str, Any], tuple[str, ...]]] = []
        self.size = 0

    def add(self, report: dict[str, Any], added: tuple[str, ...]) -> list[GrantOutcome]:
        """Queue ``report``; return the outcomes of the batch this posted first, if any."""
        size = len(orjson.dumps(report))
        done = []
        if self.pending and (
            len(self.pending) >= _BATCH_OBJECTS or self.size + size > _BATCH_BYTES
        ):
            done = self.flush()
        self.pending.append((report, added))
        self.size += size
        return done

    def flush(self) -> list[GrantOutcome]:
        """Post what is queued; return one outcome per report."""
        if not self.pending:
            return []
        status = post_objects(self.url, self.token, [r for r, _ in self.pending])
        failed = {
            str(f.get("id")): str(f.get("message", ""))
            for f in (getattr(status, "failures", None) or [])
            if isinstance(f, dict)
        }
        done = []
        for report, added in self.pending:
            reason = failed.get(report["id"])
            if reason is None:
                done.append(GrantOutcome(report["id"], "rewrapped", added=added))
            else:
                done.append(GrantOutcome(report["id"], "failed", reason))
        self.pending, self.size = [], 0
        return done


def grant_new_readers(
    api: ExchangeApi,
    token: SecretStr,
    ref: str,
    *,
    generations: Sequence[MemberSecrets],
    signer: MemberSecrets,
    now: datetime,
    pins: PinStore | None,
    per_request: int = 100,
    progress: Callable[[GrantOutcome], None] | None = None,
    log_check: DirectoryCheck | None = None,
) -> GrantSummary:
    """Re-wrap the feed's reports for the readers its policy in force added.

    Steps:
    0. fetch and verify the feed's policy (pinned with ``pins``); we must be a
       writer, signing with our keys in force (`check_signer`);
    1. page through the feed's reports (latest versions);
    2. skip a report that already reaches every reader of the policy in force;
    3. open it (`ReportOpener`: every check a reader makes); one we cannot
       open is ``not-addressed`` or ``refused``;
    4. re-wrap it to the readers in force plus its publisher, under the policy
       in force, and post the new versions in batches, waiting for the status.

    Raises `HubError`, `TrustError`, or `NotAWriter`.
    """
    # 0. The policy in force, and ours to write.
    feed = fetch_feed_policy(api, ref, now=now, pins=pins)
    signed = feed.current
    me = api.whoami().id
    if me not in signed.policy.writers:
        raise NotAWriter(ref, me)
    check_signer(api, me, signer)
    opener = ReportOpener(api, feed, me=me, generations=generations, log_check=log_check)
    summary = GrantSummary(
        feed.collection.id, feed.collection.alias, signed.policy.version, signed.policy.readers
    )
    keys: dict[str, RecipientKey] = {}
    url = f"{api.api_root()}collections/{feed.collection.id}/"
    batch = _Batch(url, token)

    def record(outcome: GrantOutcome) -> None:
        summary.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    # 1. Every report, once (the versions we post come round again at the end).
    seen: set[str] = set()
    for page in feed_pages(url, token, added_after=None, per_request=per_request):
        for raw in page.objects:
            stix_id = str(raw.get("id"))
            if raw.get("type") != ENVELOPE_TYPE or stix_id in seen:
                continue
            seen.add(stix_id)
            try:
                report = opener.parse(raw)
            except EnvelopeRefused as exc:
                record(GrantOutcome(stix_id, "refused", exc.reason))
                continue
            # 2. Already reaching everyone?
            wanted = {*signed.policy.readers, report.publisher}
            added = tuple(sorted(wanted - {r.member for r in report.envelope.recipients}))
            if not added:
                record(GrantOutcome(stix_id, "current"))
                continue
            # 3. Verified and opened.
            try:
                opener.open(report)
            except NotARecipient:
                record(GrantOutcome(stix_id, "not-addressed"))
                continue
            except EnvelopeRefused as exc:
                record(GrantOutcome(stix_id, "refused", exc.reason))
                continue
            # 4. Re-wrapped.
            for member in wanted - keys.keys():
                keys[member] = recipient_key(api, member, log_check)
            later = rewrap_report(
                report,
                me=me,
                generations=generations,
                policy_version=signed.policy.version,
                policy_digest=signed.digest,
                tlp_marking=signed.policy.tlp,
                recipients=[keys[m] for m in sorted(wanted)],
                signer=signer,
                now=now,
            )
            for outcome in batch.add(later, added):
                record(outcome)
    for outcome in batch.flush():
        record(outcome)
    return summary
