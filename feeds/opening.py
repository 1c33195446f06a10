"""Opening a feed's sealed reports as one of their readers, trusting only what verifies.

A `ReportOpener` holds a feed's verified policy history (`feeds.feed_policy`)
and, per member, the verified key chain the hub serves (`feeds.trust`). For
each sealed report it:

0. parses it, and finds the policy version it names in the verified history
   (fetching the history again, once, if the report names a newer version),
   with the same digest;
1. checks that the member who wrapped this version was a writer of that
   policy version;
2. finds the publisher's and the wrapper's keys in their verified chains,
   by the key ids their signatures name;
3. resolves the expected recipients: that version's readers plus the
   publisher, each to the encryption keys of its verified chain;
4. given a `DirectoryCheck`, proves the policy version and every key bundle
   of those members are in the hub's directory log (`feeds.transparency`);
5. opens it (`feeds.crypto.envelope.open_report`: signatures, exactly the
   expected recipients, our entry, the commitment, the content).

Anything that fails is an `EnvelopeRefused` naming the report and the reason;
a report with no entry for our keys is `NotARecipient`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exchange.protocol.envelope import PolicyRef, SealedReport, parse_sealed_report
from exchange.protocol.errors import MalformedPayload
from exchange.protocol.keys import SignedKeyBundle
from feeds.crypto.envelope import open_report
from feeds.crypto.keys import MemberSecrets
from feeds.errors import EnvelopeRefused, TrustError
from feeds.exchange_api import ExchangeApi
from feeds.feed_policy import FeedPolicy
from feeds.transparency import DirectoryCheck
from feeds.trust import verify_key_chain
from policies import Signature, SignedPolicy, SigningKeys

__all__ = ["Opened", "ReportOpener"]


@dataclass(frozen=True, slots=True)
class Opened:
    """A sealed report that verified and opened, and its inner STIX bundle's bytes."""

    report: SealedReport
    plaintext: bytes
    policy: SignedPolicy


class ReportOpener:
    """Verify and open the sealed reports of one feed as member ``me``."""

    def __init__(
        self,
        api: ExchangeApi,
        feed: FeedPolicy,
        *,
        me: str,
        generations: Sequence[MemberSecrets],
        refresh: Callable[[], FeedPolicy] | None = None,
        log_check: DirectoryCheck | None = None,
    ) -> None:
        self._api = api
        self._log_check = log_check
        self.feed = feed
        self.me = me
        self._generations = list(generations)
        self._refresh = refresh
        self._chains: dict[str, tuple[SignedKeyBundle, ...] | TrustError] = {}

    def parse(self, raw: bytes | str | dict[str, Any]) -> SealedReport:
        """Parse a sealed report. Raises `EnvelopeRefused` if it is malformed."""
        try:
            return parse_sealed_report(raw)
        except MalformedPayload as exc:
            name = raw.get("id") if isinstance(raw, dict) else None
            raise EnvelopeRefused(str(name or "(unparsed)"), str(exc)) from exc

    def open(self, raw: bytes | str | dict[str, Any] | SealedReport) -> Opened:
        """Verify and open one sealed report (steps 0-4 of the module docstring).

        Raises `EnvelopeRefused` or `NotARecipient`, and `HubError` if the hub
        cannot be asked for a policy history or a key chain.
        """
        # 0. Form and policy version.
        report = raw if isinstance(raw, SealedReport) else self.parse(raw)
        signed = self.policy_version(report)
        # 1. Wrapped by a writer.
        if report.wrapped_by not in signed.policy.writers:
            raise EnvelopeRefused(
                report.id,
                f"it was wrapped by {report.wrapped_by}, not a writer of policy version"
                f" {signed.policy.version}",
            )
        # 2. The signers' keys.
        publisher_keys = self._signing_keys(
            report, report.publisher, report.envelope.content_signatures
        )
        wrapper_keys = self._signing_keys(report, report.wrapped_by, report.signatures)
        # 3. The expected recipients.
        members = {*signed.policy.readers, report.publisher}
        expected = {member: self._encryption_key_ids(report, member) for member in members}
        # 3b. Everything relied on is in the hub's directory log.
        if self._log_check is not None:
            self._log_check.require_policies(self.feed.collection.id, [signed])
            for member in sorted(members | {report.wrapped_by}):
                self._log_check.require_bundles(member, self.chain(member))
        # 5. Open.
        _, plaintext = open_report(
            report,
            me=self.me,
            feed=self.feed.collection.id,
            generations=self._generations,
            publisher_keys=publisher_keys,
            wrapper_keys=wrapper_keys,
            expected_recipients=expected,
        )
        return Opened(report, plaintext, signed)

    def policy_version(self, report: SealedReport) -> SignedPolicy:
        """Return the verified policy version ``report`` names (digest checked).

        Raises `EnvelopeRefused` if the verified history has no such version or
        another digest for it.
        """
        ref: PolicyRef = report.envelope.policy
        versions = self.feed.trusted.versions
        if ref.version > len(versions) and self._refresh is not None:
            self.feed = self._refresh()
            versions = self.feed.trusted.versions
        if ref.version > len(versions):
            raise EnvelopeRefused(
                report.id,
                f"it names policy version {ref.version}, which the feed's verified history"
                f" (up to version {len(versions)}) does not have",
            )
        signed = versions[ref.version - 1]
        if signed.digest != ref.digest:
            raise EnvelopeRefused(
                report.id,
                f"it names policy version {ref.version} with another digest than the verified one",
            )
        return signed

    def chain(self, member: str) -> tuple[SignedKeyBundle, ...]:
        """Return ``member``'s verified key chain, oldest first (fetched once).

        Raises `TrustError` if the chain does not verify, `HubError` if the hub
        cannot be asked.
        """
        known = self._chains.get(member)
        if known is None:
            bundles = self._api.key_bundles(member)
            try:
                verify_key_chain(bundles, member)
                known = tuple(bundles)
            except TrustError as exc:
                known = exc
            self._chains[member] = known
        if isinstance(known, TrustError):
            raise known
        return known

    def _verified_chain(self, report: SealedReport, member: str) -> tuple[SignedKeyBundle, ...]:
        try:
            return self.chain(member)
        except TrustError as exc:
            raise EnvelopeRefused(report.id, exc.message) from exc

    def _signing_keys(
        self, report: SealedReport, member: str, signatures: Sequence[Signature]
    ) -> SigningKeys:
        named = {s.key_id for s in signatures}
        for bundle in self._verified_chain(report, member):
            keys = bundle.keys.signing_keys()
            if {keys.key_id("ed25519"), keys.key_id("ml-dsa-65")} == named:
                return keys
        raise EnvelopeRefused(report.id, f"it is not signed by the registered keys of {member}")

    def _encryption_key_ids(self, report: SealedReport, member: str) -> frozenset[str]:
        return frozenset(
            key.key_id
            for bundle in self._verified_chain(report, member)
            for key in bundle.keys.encryption
        )
