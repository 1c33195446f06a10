"""Errors of the published protocol."""

from __future__ import annotations

import pytest

from exchange import protocol
from exchange.protocol.errors import MalformedPayload, ProofError, ProtocolError


def test_malformed_payload_names_field_and_reason() -> None:
    error = MalformedPayload("added_after", "expected a timestamp")
    assert error.field == "added_after"
    assert error.reason == "expected a timestamp"
    assert str(error) == "added_after: expected a timestamp"
    with pytest.raises(ProtocolError, match=r"^added_after: expected a timestamp$"):
        raise error


def test_proof_error_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="does not verify"):
        raise ProofError("inclusion proof does not verify")
    assert not issubclass(ProofError, MalformedPayload)


def test_package_exports() -> None:
    for name in protocol.__all__:
        assert getattr(protocol, name) is not None
    assert protocol.ProtocolError is ProtocolError
    assert protocol.TAXII_21 == "application/taxii+json;version=2.1"
