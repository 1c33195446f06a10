"""Sealing and opening hub-env/1 reports: round trips, and every tamper detected."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from exchange.protocol.envelope import (
    EXTENSION_DEFINITION,
    EXTENSION_ID,
    parse_sealed_report,
    same_content,
    verify_sealed_report,
)
from exchange.protocol.errors import MalformedPayload
from feeds.crypto.envelope import RecipientKey, open_report, rewrap_report, seal_report
from feeds.crypto.keys import MemberSecrets, sign_document
from feeds.errors import EnvelopeRefused, NotARecipient
from policies import TLP_MARKINGS, PolicySignatureError, TlpLevel

FEED = "3d019860-0ec0-49e7-9098-c7cffacea28c"
OTHER_FEED = "7a3e2b1c-9d8f-4e6a-b5c4-d3e2f1a0b9c8"
PUBLISHER = "identity--11111111-1111-4111-8111-111111111111"
READER = "identity--22222222-2222-4222-8222-222222222222"
SECOND = "identity--33333333-3333-4333-8333-333333333333"
OUTSIDER = "identity--44444444-4444-4444-8444-444444444444"
DIGEST = "sha256:" + "ab" * 32
MARKER = b"MARKER-7f3a9c-unique-plaintext"
BUNDLE = (
    json.dumps(
        {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": []}
    ).encode()
    + MARKER
)

Keys = dict[str, MemberSecrets]


@pytest.fixture(scope="module")
def keys() -> Keys:
    return {
        member: MemberSecrets.generate(classical=True)
        for member in (PUBLISHER, READER, SECOND, OUTSIDER)
    }


def recipient(keys: Keys, member: str, suite: str = "MLKEM768-X25519") -> RecipientKey:
    secrets = keys[member]
    if suite == "X25519":
        classical = secrets.x25519_private_key()
        assert classical is not None
        return RecipientKey(member, suite, classical.public_key().public_bytes_raw())
    return RecipientKey(member, suite, secrets.hybrid_public_bytes())


def seal(
    keys: Keys,
    suite: str = "MLKEM768-X25519",
    members: tuple[str, ...] = (PUBLISHER, READER, SECOND),
) -> dict[str, Any]:
    return seal_report(
        BUNDLE,
        feed=FEED,
        publisher=PUBLISHER,
        policy_version=3,
        policy_digest=DIGEST,
        tlp_marking=TLP_MARKINGS[TlpLevel.AMBER],
        recipients=[recipient(keys, m, suite) for m in members],
        signer=keys[PUBLISHER],
    )


def expected(
    keys: Keys,
    suite: str = "MLKEM768-X25519",
    members: tuple[str, ...] = (PUBLISHER, READER, SECOND),
) -> dict[str, set[str]]:
    return {m: {recipient(keys, m, suite).key_id} for m in members}


def open_as(
    keys: Keys, report: Any, member: str = READER, suite: str = "MLKEM768-X25519", feed: str = FEED
) -> bytes:
    _, plaintext = open_report(
        report,
        me=member,
        feed=feed,
        generations=[keys[member]],
        publisher_keys=keys[PUBLISHER].signing_keys(),
        wrapper_keys=keys[PUBLISHER].signing_keys(),
        expected_recipients=expected(keys, suite),
    )
    return plaintext


@pytest.mark.parametrize("suite", ["MLKEM768-X25519", "X25519"])
def test_every_recipient_opens_the_same_plaintext(keys: Keys, suite: str) -> None:
    report = seal(keys, suite)
    for member in (PUBLISHER, READER, SECOND):
        assert open_as(keys, report, member, suite) == BUNDLE
    assert report["type"] == "sealed-report"
    assert report["extensions"] == {EXTENSION_ID: {"extension_type": "new-sdo"}}
    assert EXTENSION_DEFINITION["extension_types"] == ["new-sdo"]


def test_the_wire_form_holds_no_plaintext(keys: Keys) -> None:
    text = json.dumps(seal(keys)).encode()
    assert MARKER not in text
    assert b"bundle--5d0092c5" not in text


def test_a_member_outside_the_recipients_cannot_open(keys: Keys) -> None:
    with pytest.raises(NotARecipient, match="not addressed to your keys"):
        open_as(keys, seal(keys), OUTSIDER)


def test_a_reader_with_another_generation_of_keys_is_not_addressed(keys: Keys) -> None:
    report = seal(keys)
    with pytest.raises(NotARecipient):
        open_report(
            report,
            me=READER,
            feed=FEED,
            generations=[MemberSecrets.generate()],
            publisher_keys=keys[PUBLISHER].signing_keys(),
            wrapper_keys=keys[PUBLISHER].signing_keys(),
            expected_recipients=expected(keys),
        )


def test_a_replay_into_another_feed_is_refused(keys: Keys) -> None:
    with pytest.raises(EnvelopeRefused, match="sealed for another feed"):
        open_as(keys, seal(keys), feed=OTHER_FEED)


def test_a_report_signed_by_a_non_member_is_refused(keys: Keys) -> None:
    report = seal(keys)
    stranger = MemberSecrets.generate()
    unsigned = {k: v for k, v in report.items() if k != "signatures"}
    report["signatures"] = sign_document(stranger, "trend-exchange/envelope/1", unsigned)
    with pytest.raises(EnvelopeRefused, match="signature check failed"):
        open_as(keys, report)


def _resign(keys: Keys, report: dict[str, Any]) -> dict[str, Any]:
    """Re-sign an altered report with the publisher's keys (a malicious publisher)."""
    unsigned = {k: v for k, v in report.items() if k != "signatures"}
    report["signatures"] = sign_document(keys[PUBLISHER], "trend-exchange/envelope/1", unsigned)
    return report


def test_a_ghost_recipient_is_detected_even_when_the_publisher_signs_it(keys: Keys) -> None:
    """The hub cannot add one (no signature); a publisher that does is caught by the policy."""
    report = seal(keys, members=(PUBLISHER, READER, SECOND, OUTSIDER))
    with pytest.raises(EnvelopeRefused, match="ghost recipient"):
        open_as(keys, report)


def test_a_dropped_recipient_is_detected(keys: Keys) -> None:
    report = seal(keys, members=(PUBLISHER, READER))
    with pytest.raises(EnvelopeRefused, match="left out"):
        open_as(keys, report)


def test_adding_removing_or_swapping_entries_breaks_the_signature(keys: Keys) -> None:
    report = seal(keys)
    entries = report["envelope"]["recipients"]
    ghost = seal(keys, members=(OUTSIDER,))["envelope"]["recipients"][0]
    variants = [
        [*entries, ghost],  # added (out of order too)
        entries[:-1],  # dropped
        [entries[0], entries[2], entries[1]],  # reordered
        [entries[0], {**entries[1], "wrapped": entries[2]["wrapped"]}, entries[2]],  # swapped key
    ]
    for recipients in variants:
        altered = copy.deepcopy(report)
        altered["envelope"]["recipients"] = recipients
        with pytest.raises(EnvelopeRefused):
            open_as(keys, altered)


def test_a_swapped_wrap_re_signed_by_the_publisher_does_not_open(keys: Keys) -> None:
    """Recipient binding: one recipient's wrap under another's entry fails HPKE's info."""
    report = seal(keys)
    entries = report["envelope"]["recipients"]
    by_member = {e["member"]: e for e in entries}
    by_member[READER]["wrapped"], by_member[SECOND]["wrapped"] = (
        by_member[SECOND]["wrapped"],
        by_member[READER]["wrapped"],
    )
    with pytest.raises(EnvelopeRefused, match="does not open"):
        open_as(keys, _resign(keys, report))


def _flip_base64(value: str, index: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _paths(value, (*prefix, key))]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in _paths(value, (*prefix, i))]
    return [prefix]


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def test_flipping_any_field_makes_opening_fail(keys: Keys) -> None:
    """Every leaf of the object, altered (a bit of binary, a character of text, a number
    bumped): opening fails, whether or not the publisher re-signs."""
    report = seal(keys)
    for path in _paths(report):
        value = _get(report, path)
        if isinstance(value, int) and not isinstance(value, bool):
            changed: Any = value + 1
        elif isinstance(value, str) and path[-1] in (
            "nonce",
            "ciphertext",
            "commit",
            "wrapped",
            "value",
        ):
            changed = _flip_base64(value, 7)
        elif isinstance(value, str):
            changed = value[:-1] + ("0" if value[-1] != "0" else "1")
        else:  # pragma: no cover - the object has no other leaves
            raise AssertionError(path)
        # A change to one recipient's entry is felt by that recipient (the others'
        # entries are intact); any other change by everyone.
        inside = path[:2] == ("envelope", "recipients")
        who = report["envelope"]["recipients"][path[2]]["member"] if inside else READER
        for resign in (False, True):
            altered = copy.deepcopy(report)
            _set(altered, path, changed)
            if resign and path[0] != "signatures":
                altered = _resign(keys, altered)
            with pytest.raises((EnvelopeRefused, NotARecipient)):
                open_as(keys, altered, who)


def test_every_byte_of_the_ciphertext_is_authenticated(keys: Keys) -> None:
    report = seal(keys)
    raw = base64.b64decode(report["envelope"]["ciphertext"])
    for index in range(0, len(raw), max(1, len(raw) // 64)):
        altered = copy.deepcopy(report)
        altered["envelope"]["ciphertext"] = _flip_base64(report["envelope"]["ciphertext"], index)
        with pytest.raises(EnvelopeRefused):
            open_as(keys, altered)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda r: r.update(id="sealed-report--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12),
            "must be sealed-report",
        ),
        (lambda r: r.update(created="2020-01-01T00:00:00.000Z"), "created must be the header"),
        (lambda r: r.update(modified="2020-01-01T00:00:00.000Z"), "not be earlier than created"),
        (lambda r: r.update(created_by_ref=READER), "must be the header's publisher"),
        (lambda r: r.update(extensions={}), "as new-sdo"),
        (
            lambda r: r.update(
                object_marking_refs=["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]
            ),
            "TLP 2.0",
        ),
        (lambda r: r["envelope"]["recipients"].reverse(), "sorted and unique"),
        (
            lambda r: r["envelope"].update(nonce=base64.b64encode(b"x" * 11).decode() + "="),
            "well-formed|12 bytes",
        ),
        (lambda r: r["envelope"].update(ct_sha256="0" * 64), "does not match ct_sha256"),
        (lambda r: r.update(extra=1), "not a well-formed"),
        (lambda r: r["envelope"].update(nonce="A" * 14 + "=="), "must be 12 bytes"),
        (
            lambda r: r["envelope"]["header"].update(commit="A" * 42 + "=="),
            "must be 32 bytes",
        ),
        (
            lambda r: r["envelope"]["recipients"][0].update(wrapped="AAAA"),
            "wrong length for its suite",
        ),
        (lambda r: r["envelope"]["recipients"][0].update(wrapped="!!!!"), "is not base64"),
    ],
)
def test_malformed_reports_are_refused_by_form(
    keys: Keys, edit: Callable[[dict[str, Any]], None], match: str
) -> None:
    report = seal(keys)
    edit(report)
    with pytest.raises(MalformedPayload, match=match):
        parse_sealed_report(report)


@pytest.mark.parametrize("which", ["signatures", "content_signatures"])
def test_stripping_one_signature_is_refused(keys: Keys, which: str) -> None:
    report = parse_sealed_report(seal(keys))
    if which == "signatures":
        stripped = report.model_copy(update={"signatures": report.signatures[:1]})
    else:
        envelope = report.envelope.model_copy(
            update={"content_signatures": report.envelope.content_signatures[1:]}
        )
        stripped = report.model_copy(update={"envelope": envelope})
    mine = keys[PUBLISHER].signing_keys()
    with pytest.raises(PolicySignatureError, match="exactly one ed25519 and one ml-dsa-65"):
        verify_sealed_report(stripped, publisher_keys=mine, wrapper_keys=mine)


def rewrap(
    keys: Keys,
    report: dict[str, Any],
    *,
    by: str = READER,
    members: tuple[str, ...] = (PUBLISHER, READER, OUTSIDER),
    suite: str = "MLKEM768-X25519",
) -> dict[str, Any]:
    return rewrap_report(
        parse_sealed_report(report),
        me=by,
        generations=[keys[by]],
        policy_version=4,
        policy_digest="sha256:" + "cd" * 32,
        tlp_marking=TLP_MARKINGS[TlpLevel.AMBER],
        recipients=[recipient(keys, m, suite) for m in members],
        signer=keys[by],
    )


def open_version(
    keys: Keys,
    report: dict[str, Any],
    member: str,
    *,
    by: str = READER,
    members: tuple[str, ...] = (PUBLISHER, READER, OUTSIDER),
) -> bytes:
    _, plaintext = open_report(
        report,
        me=member,
        feed=FEED,
        generations=[keys[member]],
        publisher_keys=keys[PUBLISHER].signing_keys(),
        wrapper_keys=keys[by].signing_keys(),
        expected_recipients=expected(keys, members=members),
    )
    return plaintext


@pytest.mark.parametrize("suite", ["MLKEM768-X25519", "X25519"])
def test_a_rewrap_reaches_the_new_readers_without_re_encrypting(keys: Keys, suite: str) -> None:
    """Item 5: a recipient who may write re-wraps the content key for the policy's new
    readers; the content and the publisher's content signatures are untouched."""
    report = seal(keys, suite)
    later = rewrap(keys, report, suite=suite)
    assert later["id"] == report["id"]
    assert later["modified"] > report["modified"]
    for field in ("header", "nonce", "ciphertext", "ct_sha256", "content_signatures"):
        assert later["envelope"][field] == report["envelope"][field]
    assert later["envelope"]["wrapped_by"] == READER
    parsed = parse_sealed_report(later)
    assert (parsed.publisher, parsed.wrapped_by) == (PUBLISHER, READER)
    assert later["envelope"]["policy"]["version"] == 4
    assert same_content(parse_sealed_report(report), parse_sealed_report(later))
    members = (PUBLISHER, READER, OUTSIDER)
    for member in members:
        _, plaintext = open_report(
            later,
            me=member,
            feed=FEED,
            generations=[keys[member]],
            publisher_keys=keys[PUBLISHER].signing_keys(),
            wrapper_keys=keys[READER].signing_keys(),
            expected_recipients=expected(keys, suite, members),
        )
        assert plaintext == BUNDLE
    # The reader the new version leaves out (SECOND) is not addressed by it.
    with pytest.raises(NotARecipient):
        open_report(
            later,
            me=SECOND,
            feed=FEED,
            generations=[keys[SECOND]],
            publisher_keys=keys[PUBLISHER].signing_keys(),
            wrapper_keys=keys[READER].signing_keys(),
            expected_recipients=expected(keys, suite, members),
        )


def test_only_a_recipient_can_rewrap(keys: Keys) -> None:
    with pytest.raises(NotARecipient):
        rewrap(keys, seal(keys), by=OUTSIDER)


def test_a_rewrap_claiming_another_wrapper_does_not_open(keys: Keys) -> None:
    """``wrapped_by`` is bound into every wrap: re-signing the version under another
    member's name (with that member's keys) leaves every wrap unopenable."""
    later = rewrap(keys, seal(keys))
    later["envelope"]["wrapped_by"] = SECOND
    unsigned = {k: v for k, v in later.items() if k != "signatures"}
    later["signatures"] = sign_document(keys[SECOND], "trend-exchange/envelope/1", unsigned)
    with pytest.raises(EnvelopeRefused, match="does not open"):
        open_version(keys, later, OUTSIDER, by=SECOND)


def test_a_rewrap_with_other_content_fails_the_publishers_content_signatures(
    keys: Keys,
) -> None:
    """A writer cannot pass off its own content as the publisher's: the content signatures
    are the publisher's, and the new content does not carry them."""
    later = rewrap(keys, seal(keys))
    mine = seal(keys)  # other content (another content key, nonce, ciphertext)
    for field in ("nonce", "ciphertext", "ct_sha256"):
        later["envelope"][field] = mine["envelope"][field]
    unsigned = {k: v for k, v in later.items() if k != "signatures"}
    later["signatures"] = sign_document(keys[READER], "trend-exchange/envelope/1", unsigned)
    with pytest.raises(EnvelopeRefused, match="signature check failed"):
        open_version(keys, later, OUTSIDER)
    assert not same_content(parse_sealed_report(seal(keys)), parse_sealed_report(later))


def test_sealing_refuses_duplicate_or_no_recipients(keys: Keys) -> None:
    with pytest.raises(ValueError, match="each listed once"):
        seal(keys, members=(READER, READER))
    with pytest.raises(ValueError, match="each listed once"):
        seal(keys, members=())
