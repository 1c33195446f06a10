"""Opening a feed's sealed reports against a fake hub: every check of `ReportOpener`,
and what `feeds.pulling` keeps on disk."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from exchange.protocol.envelope import parse_sealed_report
from feeds.crypto.envelope import RecipientKey, rewrap_report, seal_report
from feeds.crypto.keys import MemberSecrets
from feeds.errors import DocumentError, EnvelopeRefused, NotARecipient
from feeds.feed_policy import FeedPolicy, fetch_feed_policy
from feeds.opening import ReportOpener
from feeds.pulling import SOURCE_SUFFIX, STATE_FILE, _State, write_opened
from policies import SignedPolicy
from tests.feeds.fake_hub import FakeHub, FakeMember
from tests.feeds.keymaker import T0, chain, make_policy, publish_raw, register_raw

NOW = T0 + timedelta(days=1)
BUNDLE = b'{"type":"bundle","id":"bundle--1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b","objects":[]}'


@dataclass
class Feed:
    hub: FakeHub
    feed: str
    members: dict[str, FakeMember]
    secrets: dict[str, MemberSecrets]
    v1: SignedPolicy

    def id(self, role: str) -> str:
        return self.members[role].id

    def recipient(self, role: str) -> RecipientKey:
        return RecipientKey(
            self.id(role), "MLKEM768-X25519", self.secrets[role].hybrid_public_bytes()
        )

    def seal(
        self,
        *,
        by: str = "writer",
        roles: tuple[str, ...] = ("owner", "reader", "writer"),
        policy: SignedPolicy | None = None,
        signer: MemberSecrets | None = None,
    ) -> dict[str, Any]:
        signed = policy or self.v1
        return seal_report(
            BUNDLE,
            feed=self.feed,
            publisher=self.id(by),
            policy_version=signed.policy.version,
            policy_digest=signed.digest,
            tlp_marking=signed.policy.tlp,
            recipients=[self.recipient(r) for r in roles],
            signer=signer or self.secrets[by],
        )

    def verified(self, role: str = "reader") -> FeedPolicy:
        return fetch_feed_policy(self.hub.api(self.members[role]), self.feed, now=NOW, pins=None)

    def opener(self, role: str = "reader", *, refresh: bool = True) -> ReportOpener:
        api = self.hub.api(self.members[role])
        return ReportOpener(
            api,
            self.verified(role),
            me=self.id(role),
            generations=[self.secrets[role]],
            refresh=(lambda: self.verified(role)) if refresh else None,
        )

    def next_policy(self, *, readers: tuple[str, ...]) -> SignedPolicy:
        v2 = make_policy(
            self.secrets["owner"],
            feed=self.feed,
            owner=self.id("owner"),
            version=2,
            previous=self.v1,
            readers=tuple(self.id(r) for r in readers),
            writers=(self.id("owner"), self.id("writer")),
        )
        publish_raw(self.hub, self.feed, v2)
        return v2


@pytest.fixture
def feed() -> Feed:
    hub = FakeHub()
    roles = ("owner", "reader", "writer", "newcomer")
    members = {role: hub.add_member(role) for role in roles}
    secrets = {role: MemberSecrets.generate() for role in roles}
    for role in roles:
        register_raw(hub, members[role], chain(members[role].id, secrets[role]))
    feed_id = hub.add_feed("trends")
    v1 = make_policy(
        secrets["owner"],
        feed=feed_id,
        owner=members["owner"].id,
        readers=(members["owner"].id, members["reader"].id, members["writer"].id),
        writers=(members["owner"].id, members["writer"].id),
    )
    publish_raw(hub, feed_id, v1)
    return Feed(hub, feed_id, members, secrets, v1)


def test_an_honest_report_opens(feed: Feed) -> None:
    opened = feed.opener().open(feed.seal())
    assert opened.plaintext == BUNDLE
    assert opened.policy == feed.v1


def test_a_rewrap_under_a_policy_version_published_since_opens_after_a_refresh(
    feed: Feed,
) -> None:
    report = feed.seal()
    opener = feed.opener("newcomer")  # verified history: version 1 only
    with pytest.raises(NotARecipient):  # no reader of version 1: no entry
        opener.open(report)
    v2 = feed.next_policy(readers=("owner", "reader", "writer", "newcomer"))
    later = rewrap_report(
        parse_sealed_report(report),
        me=feed.id("owner"),
        generations=[feed.secrets["owner"]],
        policy_version=2,
        policy_digest=v2.digest,
        tlp_marking=v2.policy.tlp,
        recipients=[feed.recipient(r) for r in ("owner", "reader", "writer", "newcomer")],
        signer=feed.secrets["owner"],
    )
    opened = opener.open(later)
    assert opened.plaintext == BUNDLE
    assert opened.policy.policy.version == 2


def test_a_policy_version_the_history_does_not_have_is_refused(feed: Feed) -> None:
    report = feed.seal()
    report["envelope"]["policy"]["version"] = 7
    with pytest.raises(EnvelopeRefused, match="does not have"):
        feed.opener(refresh=False).open(report)


def test_another_digest_for_a_known_version_is_refused(feed: Feed) -> None:
    report = feed.seal()
    report["envelope"]["policy"]["digest"] = "sha256:" + "00" * 32
    with pytest.raises(EnvelopeRefused, match="another digest"):
        feed.opener().open(report)


def test_a_version_wrapped_by_a_member_who_may_not_write_is_refused(feed: Feed) -> None:
    report = feed.seal()
    later = rewrap_report(
        parse_sealed_report(report),
        me=feed.id("reader"),
        generations=[feed.secrets["reader"]],
        policy_version=1,
        policy_digest=feed.v1.digest,
        tlp_marking=feed.v1.policy.tlp,
        recipients=[feed.recipient(r) for r in ("owner", "reader", "writer")],
        signer=feed.secrets["reader"],
    )
    with pytest.raises(EnvelopeRefused, match="not a writer of policy version 1"):
        feed.opener().open(later)


def test_a_report_signed_by_keys_the_publisher_never_registered_is_refused(feed: Feed) -> None:
    report = feed.seal(signer=MemberSecrets.generate())
    with pytest.raises(EnvelopeRefused, match="not signed by the registered keys"):
        feed.opener().open(report)


def test_a_publisher_without_a_verified_chain_is_refused(feed: Feed) -> None:
    feed.hub.bundles[feed.id("writer")] = []
    with pytest.raises(EnvelopeRefused, match="registered no keys"):
        feed.opener().open(feed.seal())


def test_reports_sealed_before_a_rotation_still_open(feed: Feed) -> None:
    """Keys of every verified generation count: the publisher's old signing keys and the
    reader's old encryption key."""
    report = feed.seal()
    fresh = {role: MemberSecrets.generate() for role in ("writer", "reader")}
    for role, new in fresh.items():
        register_raw(feed.hub, feed.members[role], chain(feed.id(role), feed.secrets[role], new))
    assert feed.opener().open(report).plaintext == BUNDLE


def test_a_ghost_is_refused_and_names_the_member(feed: Feed) -> None:
    report = feed.seal(roles=("owner", "reader", "writer", "newcomer"))
    with pytest.raises(EnvelopeRefused, match=f"ghost recipient.*{feed.id('newcomer')}"):
        feed.opener().open(report)


def test_write_opened_is_idempotent_and_refuses_other_content(feed: Feed, tmp_path: Path) -> None:
    opened = feed.opener().open(feed.seal())
    assert write_opened(tmp_path, opened)[0] == "opened"
    result, path = write_opened(tmp_path, opened)
    assert result == "unchanged"
    source = path.with_name(path.stem + SOURCE_SUFFIX)
    assert json.loads(source.read_text()) == {
        "envelope_id": opened.report.envelope.header.envelope_id,
        "sealed_report": opened.report.id,
        "version": opened.report.modified,
        "publisher": opened.report.publisher,
        "wrapped_by": opened.report.wrapped_by,
        "policy": {
            "feed": opened.report.envelope.header.feed,
            "version": opened.report.envelope.policy.version,
            "digest": opened.report.envelope.policy.digest,
        },
    }
    assert source.stat().st_mode & 0o777 == 0o600
    source.unlink()
    assert write_opened(tmp_path, opened)[0] == "unchanged"
    assert json.loads(source.read_text())["publisher"] == opened.report.publisher
    path.write_bytes(b"something else")
    with pytest.raises(EnvelopeRefused, match="other content"):
        write_opened(tmp_path, opened)
    assert path.read_bytes() == b"something else"


def test_the_pull_state_is_per_feed_and_member_and_refuses_garbage(tmp_path: Path) -> None:
    state = _State(tmp_path)
    assert state.cursor("feed", "me") is None
    state.save("feed", "me", "2026-01-01T00:00:00.000000Z")
    again = _State(tmp_path)
    assert again.cursor("feed", "me") == "2026-01-01T00:00:00.000000Z"
    assert again.cursor("feed", "someone else") is None
    for garbage in (b"not json", b"[]", json.dumps({"format": "feeds-pull/1"}).encode()):
        (tmp_path / STATE_FILE).write_bytes(garbage)
        with pytest.raises(DocumentError):
            _State(tmp_path)
