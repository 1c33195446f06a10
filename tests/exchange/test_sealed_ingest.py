"""The hub's checks on ingest (issue 4, item 3) and the proof it holds no plaintext (item 6).

A sealed report is stored only if it parses, its publisher is the member
posting it, both signatures verify against the publisher's current registered
keys, it was sealed for this feed under a policy version the feed has (with
its digest), its recipients are exactly that version's readers plus the
publisher under their current encryption keys, and its TLP marking is the
policy's. Every refusal is a failure in the status naming its reason, and
nothing is stored. Plain STIX goes only into TLP:CLEAR feeds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from exchange.db import tables
from exchange.db.session import read_transaction
from exchange.protocol.envelope import (
    ENVELOPE_LABEL,
    EXTENSION_DEFINITION,
    parse_sealed_report,
)
from exchange.services import admin
from exchange.services.sealed import PLAIN_REFUSED
from feeds.crypto.envelope import RecipientKey, open_report, rewrap_report, seal_report
from feeds.crypto.keys import MemberSecrets, sign_document
from policies import TLP_MARKINGS, SignedPolicy, TlpLevel, parse_signed_policy
from tests.exchange.conftest import StixFactory, World
from tests.policy_kit import OwnerKeys, install_policy, register_keys, rotate_keys

MARKER = "MARKER-5c1e7a-sealed-plaintext-never-at-rest"
INNER_ID = "indicator--0f6a3b52-8c1d-4e7f-9a2b-3c4d5e6f7a8b"
GREEN = TLP_MARKINGS[TlpLevel.GREEN]


def _plaintext() -> bytes:
    bundle = {
        "type": "bundle",
        "id": "bundle--6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": INNER_ID,
                "created": "2026-01-01T00:00:00.000Z",
                "modified": "2026-01-01T00:00:00.000Z",
                "name": MARKER,
                "pattern": "[ipv4-addr:value = '198.51.100.7']",
                "pattern_type": "stix",
                "valid_from": "2026-01-01T00:00:00.000Z",
            }
        ],
    }
    return json.dumps(bundle).encode()


@dataclass
class Sealed:
    """The reports feed under a TLP:GREEN policy, with keys for everyone."""

    w: World
    policy: SignedPolicy
    keys: dict[str, OwnerKeys]

    def key(self, role: str) -> OwnerKeys:
        return self.keys[self.w.members[role].id]

    def recipient(self, role: str, secrets: MemberSecrets | None = None) -> RecipientKey:
        held = secrets or self.key(role).secrets
        return RecipientKey(self.w.members[role].id, "MLKEM768-X25519", held.hybrid_public_bytes())

    def seal(
        self,
        *,
        publisher: str = "writer",
        roles: tuple[str, ...] = ("owner", "reader", "writer"),
        signer: MemberSecrets | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "feed": self.w.feed_id,
            "publisher": self.w.members[publisher].id,
            "policy_version": self.policy.policy.version,
            "policy_digest": self.policy.digest,
            "tlp_marking": GREEN,
            "recipients": [self.recipient(r) for r in roles],
            "signer": signer or self.key(publisher).secrets,
        }
        arguments.update(overrides)
        return seal_report(_plaintext(), **arguments)

    def expected(self, roles: tuple[str, ...]) -> dict[str, set[str]]:
        return {r.member: {r.key_id} for r in (self.recipient(x) for x in roles)}

    def open_as(
        self,
        role: str,
        report: dict[str, Any],
        *,
        wrapper: str = "writer",
        roles: tuple[str, ...] = ("owner", "reader", "writer"),
    ) -> bytes:
        _, plaintext = open_report(
            report,
            me=self.w.members[role].id,
            feed=self.w.feed_id,
            generations=[self.key(role).secrets],
            publisher_keys=self.key("writer").secrets.signing_keys(),
            wrapper_keys=self.key(wrapper).secrets.signing_keys(),
            expected_recipients=self.expected(roles),
        )
        return plaintext

    def digest_of(self, version: int) -> str:
        """The digest of the feed's stored policy version ``version``."""
        with read_transaction(self.w.hub.engine) as conn:
            stored = self.w.hub.policies.get(conn, self.w.feed_id, version)
        assert stored is not None
        return stored.digest

    def stored(self, stix_id: str) -> int:
        o = tables.stix_object
        query = select(func.count()).select_from(o).where(o.c.stix_id == stix_id)
        with read_transaction(self.w.hub.engine) as conn:
            return int(conn.execute(query).scalar_one())

    def refused(self, report: dict[str, Any], reason: str, who: str = "writer") -> None:
        response = self.w.post([report], who=who)
        assert response.status_code == 202, response.text
        status = response.json()
        assert (status["success_count"], status["failure_count"]) == (0, 1), status
        [failure] = status["failures"]
        assert failure["id"] == report["id"]
        assert reason in failure["message"], failure
        assert self.stored(report["id"]) == 0

    def refused_version(self, report: dict[str, Any], reason: str, who: str = "writer") -> None:
        """Like `refused`, for a new version of a stored report: nothing more is stored."""
        before = self.stored(report["id"])
        response = self.w.post([report], who=who)
        [failure] = response.json()["failures"]
        assert reason in failure["message"], failure
        assert self.stored(report["id"]) == before


def green_feed(w: World) -> Sealed:
    """Give every member keys; publish a TLP:GREEN policy: readers owner and reader,
    writers owner and writer."""
    assert w.owner_keys is not None
    others = [w.members[r] for r in ("reader", "writer", "outsider")]
    keys = {w.members["owner"].id: w.owner_keys, **register_keys(w.hub, *others)}
    with read_transaction(w.hub.engine) as conn:
        latest = w.hub.policies.latest(conn, w.feed_id)
    assert latest is not None
    policy = install_policy(
        w.hub,
        "reports",
        w.owner_keys,
        readers=[w.members["owner"], w.members["reader"]],
        writers=[w.members["owner"], w.members["writer"]],
        template="community",
        previous=parse_signed_policy(latest.document),
    )
    assert policy.policy.tlp == GREEN
    return Sealed(w, policy, keys)


@pytest.fixture
def sealed(world: World) -> Sealed:
    return green_feed(world)


@pytest.fixture
def sqlite_sealed(sqlite_world: World) -> Sealed:
    return green_feed(sqlite_world)


def test_a_valid_sealed_report_is_stored_served_unchanged_and_opens(sealed: Sealed) -> None:
    w = sealed.w
    report = sealed.seal()
    status = w.post_ok([report], who="writer")
    assert [s["id"] for s in status["successes"]] == [report["id"]]
    served = w.get(w.object_url(report["id"]), who="reader")
    assert served.status_code == 200, served.text
    [got] = served.json()["objects"]
    assert got == report
    assert sealed.open_as("reader", got) == _plaintext()


def _flip_wrapped(report: dict[str, Any]) -> dict[str, Any]:
    altered = copy.deepcopy(report)
    wrapped = altered["envelope"]["recipients"][0]["wrapped"]
    middle = len(wrapped) // 2
    flipped = "B" if wrapped[middle] != "B" else "C"
    altered["envelope"]["recipients"][0]["wrapped"] = (
        wrapped[:middle] + flipped + wrapped[middle + 1 :]
    )
    return altered


REFUSALS: dict[str, tuple[Callable[[Sealed], dict[str, Any]], str, str]] = {
    "another writer posts it": (
        lambda s: s.seal(),
        "not wrapped by the member posting it",
        "owner",
    ),
    "signed by keys not registered": (
        lambda s: s.seal(signer=MemberSecrets.generate()),
        "signatures do not verify",
        "writer",
    ),
    "one byte flipped in the signed part": (
        lambda s: _flip_wrapped(s.seal()),
        "signatures do not verify",
        "writer",
    ),
    "unknown policy version": (
        lambda s: s.seal(policy_version=99),
        "not the version in force",
        "writer",
    ),
    "an older policy version (that may name removed readers)": (
        lambda s: s.seal(policy_version=1, policy_digest=s.digest_of(1)),
        "wrapped under policy version 1, not the version in force",
        "writer",
    ),
    "wrong policy digest": (
        lambda s: s.seal(policy_digest="sha256:" + "00" * 32),
        "does not match",
        "writer",
    ),
    "ghost recipient": (
        lambda s: s.seal(roles=("owner", "reader", "writer", "outsider")),
        "ghost recipient",
        "writer",
    ),
    "missing reader": (
        lambda s: s.seal(roles=("owner", "writer")),
        "left out",
        "writer",
    ),
    "wrong TLP marking": (
        lambda s: s.seal(tlp_marking=TLP_MARKINGS[TlpLevel.AMBER]),
        "TLP marking is not the policy's",
        "writer",
    ),
    "sealed for another feed (replay)": (
        lambda s: s.seal(feed="7a3e2b1c-9d8f-4e6a-b5c4-d3e2f1a0b9c8"),
        "another feed",
        "writer",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_refusal_is_a_failure_with_its_reason(sealed: Sealed, case: str) -> None:
    build, reason, who = REFUSALS[case]
    sealed.refused(build(sealed), reason, who=who)


def test_a_report_sealed_for_another_real_feed_is_a_replay(sqlite_sealed: Sealed) -> None:
    s = sqlite_sealed
    with read_transaction(s.w.hub.engine) as conn:
        hidden = s.w.hub.feeds.find(conn, "hidden")
    assert hidden is not None
    s.refused(s.seal(feed=hidden.id), "sealed for another feed")


def test_a_reader_key_stale_after_its_rotation_is_refused(sealed: Sealed) -> None:
    report = sealed.seal()  # to the reader's first keys
    rotate_keys(sealed.w.hub, sealed.key("reader"))
    sealed.refused(report, "not its current registered encryption key")
    fresh = sealed.seal()  # to the reader's new keys
    sealed.w.post_ok([fresh], who="writer")


def test_an_exact_duplicate_stays_a_success_after_the_keys_moved_on(sealed: Sealed) -> None:
    """TAXII §5.5: re-posting what is stored is a success, even once a reader has rotated
    (the report would no longer be admitted as new, but it is not new)."""
    report = sealed.seal()
    sealed.w.post_ok([report], who="writer")
    rotate_keys(sealed.w.hub, sealed.key("reader"))
    status = sealed.w.post_ok([report], who="writer")
    assert [s["message"] for s in status["successes"]] == ["Already stored."]
    assert sealed.stored(report["id"]) == 1


def _add_outsider(s: Sealed) -> SignedPolicy:
    """The operator grants the outsider the feed; the owner's next policy version adds it
    as a reader."""
    m = s.w.members
    assert s.w.owner_keys is not None
    admin.grant(s.w.hub, "outsider", "reports", read=True, write=False)
    return install_policy(
        s.w.hub,
        "reports",
        s.w.owner_keys,
        readers=[m["owner"], m["reader"], m["outsider"]],
        writers=[m["owner"], m["writer"]],
        template="community",
        previous=s.policy,
    )


def _rewrap(s: Sealed, report: dict[str, Any], by: str, policy: SignedPolicy) -> dict[str, Any]:
    return rewrap_report(
        parse_sealed_report(report),
        me=s.w.members[by].id,
        generations=[s.key(by).secrets],
        policy_version=policy.policy.version,
        policy_digest=policy.digest,
        tlp_marking=GREEN,
        recipients=[s.recipient(r) for r in ("owner", "outsider", "reader", "writer")],
        signer=s.key(by).secrets,
    )


def test_a_rewrap_for_a_new_reader_is_a_new_version_the_new_reader_opens(
    sealed: Sealed,
) -> None:
    """Item 5: the owner (a writer holding the content key) re-wraps the writer's report
    for the reader the next policy version adds; same content, new STIX version."""
    w = sealed.w
    report = sealed.seal()
    w.post_ok([report], who="writer")
    policy = _add_outsider(sealed)
    # The old version is now stale: a new one under the version in force is needed.
    again = sealed.seal()
    sealed.refused(again, "not the version in force")
    rewrapped = _rewrap(sealed, report, "owner", policy)
    assert rewrapped["id"] == report["id"]
    assert rewrapped["modified"] > report["modified"]
    assert rewrapped["envelope"]["ciphertext"] == report["envelope"]["ciphertext"]
    w.post_ok([rewrapped], who="owner")
    assert sealed.stored(report["id"]) == 2
    served = w.get(w.object_url(report["id"]), who="outsider")
    assert served.status_code == 200, served.text
    [latest] = served.json()["objects"]
    assert latest == rewrapped
    everyone = ("outsider", "owner", "reader", "writer")
    assert sealed.open_as("outsider", latest, wrapper="owner", roles=everyone) == _plaintext()
    assert sealed.open_as("writer", latest, wrapper="owner", roles=everyone) == _plaintext()


def test_a_rewrap_must_keep_the_content_and_come_from_a_recipient(sealed: Sealed) -> None:
    w = sealed.w
    report = sealed.seal()
    w.post_ok([report], who="writer")
    policy = _add_outsider(sealed)
    # New content under the old id, even signed by the publisher itself: refused.
    other = sealed.seal(policy_version=policy.policy.version, policy_digest=policy.digest,
                        roles=("owner", "outsider", "reader", "writer"))  # fmt: skip
    other["id"] = report["id"]
    other["created"] = report["created"]
    forged = copy.deepcopy(_rewrap(sealed, report, "writer", policy))
    forged["envelope"]["ciphertext"] = other["envelope"]["ciphertext"]
    forged["envelope"]["ct_sha256"] = other["envelope"]["ct_sha256"]
    resigned = _resign(sealed, forged, "writer")
    sealed.refused_version(resigned, "keep the content")
    # A first version wrapped by someone other than its publisher: refused.
    fresh = sealed.seal()
    by_owner = _rewrap(sealed, fresh, "owner", policy)
    sealed.refused(by_owner, "first version of a sealed report must be wrapped by its publisher",
                   who="owner")  # fmt: skip


def _resign(s: Sealed, report: dict[str, Any], by: str) -> dict[str, Any]:
    body = {k: v for k, v in report.items() if k != "signatures"}
    body["signatures"] = sign_document(s.key(by).secrets, ENVELOPE_LABEL, body)
    return body


def test_plain_stix_only_in_clear_feeds(sealed: Sealed, stix: StixFactory) -> None:
    indicator = stix.indicator()
    response = sealed.w.post([indicator], who="writer")
    assert response.status_code == 202, response.text
    status = response.json()
    assert status["success_count"] == 0
    assert [f["message"] for f in status["failures"]] == [PLAIN_REFUSED]
    assert sealed.stored(indicator["id"]) == 0


def test_plain_stix_into_a_clear_feed_is_accepted(world: World, stix: StixFactory) -> None:
    indicator = stix.indicator()
    world.post_ok([indicator], who="writer")


def test_the_extension_definition_is_served(sqlite_world: World) -> None:
    response = sqlite_world.get("/exchange/v1/extension-definitions", who="reader")
    assert response.status_code == 200, response.text
    assert response.json() == {"extension_definitions": [EXTENSION_DEFINITION]}
    assert sqlite_world.get("/exchange/v1/extension-definitions", who=None).status_code == 401


def test_no_plaintext_at_rest(sealed: Sealed) -> None:
    w = sealed.w
    report = sealed.seal()
    w.post_ok([report], who="writer")
    secrets = (MARKER.encode(), INNER_ID.encode(), INNER_ID.split("--")[1].encode())
    if w.hub.settings.is_sqlite:
        w.hub.engine.dispose()
        database = Path(w.hub.settings.sqlalchemy_url().removeprefix("sqlite:///"))
        files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        assert database in files
        contents = b"".join(path.read_bytes() for path in files)
        assert report["id"].encode() in contents  # the report is there, sealed
        assert all(s not in contents for s in secrets)
    else:
        with read_transaction(w.hub.engine) as conn:
            bodies = [str(b) for b in conn.execute(text("SELECT body FROM stix_object")).scalars()]
        assert any(report["id"] in b for b in bodies)
        dump = "\n".join(bodies).encode()
        assert all(s not in dump for s in secrets)
