"""The hub's parsers of untrusted bytes, fuzzed (issue 8, item 7): a sealed report, a key
bundle, a signed checkpoint. Whatever arrives, each returns or raises its documented
error (`MalformedPayload`, `ProofError`, `PolicySignatureError`), nothing else; and a
document that still parses after a change never verifies unless the change was
harmless."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from exchange.audit.signer import LogKey
from exchange.protocol.checkpoint import parse_checkpoint, verify_checkpoint
from exchange.protocol.envelope import parse_sealed_report, verify_sealed_report
from exchange.protocol.errors import MalformedPayload, ProofError
from exchange.protocol.keys import parse_key_bundle, verify_key_bundle
from feeds.crypto.envelope import RecipientKey, seal_report
from feeds.crypto.keys import MemberSecrets, build_key_bundle
from policies import TLP_MARKINGS, PolicySignatureError, TlpLevel
from tests.fuzz_kit import FUZZ, json_values, mutated, mutated_text, raises_only

MEMBER = "identity--0d6f1a7e-3c2b-4e8d-9a1f-5b7c3e2d1a40"
SECRETS = MemberSecrets.generate()
BUNDLE: dict[str, Any] = build_key_bundle(
    SECRETS, member=MEMBER, sequence=1, previous=None, endorser=None
).model_dump(mode="json")
REPORT: dict[str, Any] = seal_report(
    b'{"type": "bundle", "id": "bundle--6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d", "objects": []}',
    feed="5e2b7c1a-9d3f-4e8b-a6c2-1f0d9e8b7a6c",
    publisher=MEMBER,
    policy_version=1,
    policy_digest="sha256:" + "0" * 64,
    tlp_marking=TLP_MARKINGS[TlpLevel.GREEN],
    recipients=[RecipientKey(MEMBER, "MLKEM768-X25519", SECRETS.hybrid_public_bytes())],
    signer=SECRETS,
)
LOG_KEY = LogKey.generate()
ORIGIN = "trend-exchange/access"
NOTE = LOG_KEY.sign_checkpoint(ORIGIN, 42, bytes(range(32)))

_ANY_BYTES = st.binary(max_size=300) | st.text(max_size=300).map(str.encode)
_ANY_OBJECT = st.dictionaries(st.text(max_size=12), json_values, max_size=6)
"""The parsers take bytes, text or a decoded JSON object."""


def _sealed(data: Any) -> None:
    if not isinstance(data, bytes | str | dict):
        return _sealed(json.dumps(data))
    report = raises_only((MalformedPayload,), parse_sealed_report, data)
    if report is not None:
        keys = SECRETS.signing_keys()
        raises_only(
            (PolicySignatureError,),
            verify_sealed_report,
            report,
            publisher_keys=keys,
            wrapper_keys=keys,
        )


def test_the_samples_are_valid() -> None:
    keys = SECRETS.signing_keys()
    verify_sealed_report(parse_sealed_report(REPORT), publisher_keys=keys, wrapper_keys=keys)
    verify_key_bundle(parse_key_bundle(BUNDLE), None)
    assert verify_checkpoint(NOTE, ORIGIN, LOG_KEY.public).size == 42


@FUZZ
@given(mutated(REPORT))
def test_a_changed_sealed_report(document: Any) -> None:
    _sealed(document)
    _sealed(json.dumps(document))


@FUZZ
@given(_ANY_BYTES | json_values)
def test_anything_as_a_sealed_report(data: Any) -> None:
    _sealed(data)


def _bundle(data: Any) -> None:
    if not isinstance(data, bytes | str | dict):
        return _bundle(json.dumps(data))
    bundle = raises_only((MalformedPayload,), parse_key_bundle, data)
    if bundle is not None:
        raises_only((MalformedPayload, PolicySignatureError), verify_key_bundle, bundle, None)


@FUZZ
@given(mutated(BUNDLE))
def test_a_changed_key_bundle(document: Any) -> None:
    _bundle(document)
    _bundle(json.dumps(document).encode())


@FUZZ
@given(_ANY_BYTES | json_values)
def test_anything_as_a_key_bundle(data: Any) -> None:
    _bundle(data)


def _checkpoint(note: str) -> None:
    raises_only((ProofError,), parse_checkpoint, note)
    checkpoint = raises_only((ProofError,), verify_checkpoint, note, ORIGIN, LOG_KEY.public)
    if checkpoint is not None:  # only a change the signatures do not cover
        assert (checkpoint.size, checkpoint.root) == (42, bytes(range(32)))


@FUZZ
@given(mutated_text(NOTE))
def test_a_changed_checkpoint(note: str) -> None:
    _checkpoint(note)


@FUZZ
@given(st.text(max_size=400))
def test_anything_as_a_checkpoint(note: str) -> None:
    _checkpoint(note)
