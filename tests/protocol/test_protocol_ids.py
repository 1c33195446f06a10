"""STIX identifiers (STIX 2.1 §2.9)."""

from __future__ import annotations

import uuid

import pytest

from exchange.protocol.ids import CollectionId, MemberId, StatusId, StixId, is_stix_id

UUID = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"


@pytest.mark.parametrize(
    "value",
    [
        f"indicator--{UUID}",
        f"x-acme-widget--{UUID}",
        f"ipv4-addr--{UUID}",
        f"abc--{UUID}",
        f"{'a' * 250}--{UUID}",
        f"identity--{uuid.uuid4()}",
        f"file--{uuid.uuid5(uuid.NAMESPACE_URL, 'x')}",
    ],
)
def test_well_formed(value: str) -> None:
    assert is_stix_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        UUID,
        f"--{UUID}",
        f"ab--{UUID}",  # types have at least 3 characters
        f"{'a' * 251}--{UUID}",
        f"Indicator--{UUID}",
        f"-indicator--{UUID}",
        f"indicator---{UUID}",
        f"indicator-{UUID}",
        f"indicator--{UUID.upper()}",
        f"indicator--{UUID.replace('-', '')}",
        f"indicator--{UUID}x",
        f"indicator--{UUID}\n",
        "indicator--not-a-uuid",
        f"indicator_x--{UUID}",
    ],
)
def test_malformed(value: str) -> None:
    assert not is_stix_id(value)


def test_id_types_are_plain_strings() -> None:
    for kind in (CollectionId, MemberId, StatusId, StixId):
        assert kind("x") == "x"
        assert type(kind("x")) is str
