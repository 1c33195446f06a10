"""The hub's parsers of request input, fuzzed (issue 8, item 7): a TAXII envelope body,
each STIX object in it, and a paged endpoint's query string with its ``next`` token.
Whatever arrives, each returns or raises its documented error, nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from exchange.api.pagination import Filters, decode_next, encode_next, parse_page_request
from exchange.db.records import ObjectQuery
from exchange.errors import InvalidParameter, MalformedBody, UnprocessableContent
from exchange.services.ingest import parse_envelope
from exchange.services.stix import InvalidObject, validate_object
from tests.fuzz_kit import FUZZ, json_values, mutated, raises_only
from tests.integration.live import load_bundle

OBJECTS = load_bundle("sighting-of-an-indicator.json") + load_bundle("using-granular-markings.json")
"""Real objects from the OASIS examples (indicator, sighting, identities, markings)."""
ENVELOPE: dict[str, Any] = {"objects": OBJECTS}
ALL = Filters.ID | Filters.TYPE | Filters.VERSION | Filters.SPEC_VERSION | Filters.PAGING
KEY = bytes(range(32))
SCOPE = "objects\x00feed\x00identity--0d6f1a7e-3c2b-4e8d-9a1f-5b7c3e2d1a40"
_NAMES = [
    "added_after",
    "limit",
    "next",
    "match[id]",
    "match[type]",
    "match[version]",
    "match[spec_version]",
    "match[other]",
]
_VALUES = st.sampled_from(
    ["", "first", "last", "all", "0", "-1", "1000", "1e3", "2.1", ",", "indicator",
     "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456Z", "2026-13-01T00:00:00Z",
     "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]
) | st.text(max_size=40)  # fmt: skip


def _envelope(body: bytes) -> None:
    objects = raises_only(
        (MalformedBody, UnprocessableContent), parse_envelope, body, max_objects=10
    )
    for raw in objects or ():
        raises_only((InvalidObject,), validate_object, raw, stix_id=raw["id"])


def test_the_sample_is_valid() -> None:
    objects = parse_envelope(json.dumps(ENVELOPE).encode(), max_objects=10)
    assert [validate_object(o, stix_id=o["id"]).stix_id for o in objects] == [
        o["id"] for o in OBJECTS
    ]


@FUZZ
@given(mutated(ENVELOPE, changes=4))
def test_a_changed_envelope(document: Any) -> None:
    _envelope(json.dumps(document).encode())


@FUZZ
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_anything_as_an_envelope(body: bytes) -> None:
    _envelope(body)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(_NAMES) | st.text(max_size=12), _VALUES), max_size=6))
def test_any_query_string(params: list[tuple[str, str]]) -> None:
    for takes in (ALL, Filters.VERSION | Filters.SPEC_VERSION | Filters.PAGING, Filters.NONE):
        request = raises_only(
            (InvalidParameter,), parse_page_request, params, takes, max_page_size=1000
        )
        if request is not None:
            assert 1 <= request.limit <= 1000
            if request.next is not None:
                raises_only(
                    (InvalidParameter,), decode_next, KEY, SCOPE, request.query, request.next
                )


@FUZZ
@given(st.text(max_size=60) | st.binary(max_size=40).map(lambda b: b.hex()))
def test_any_next_token(token: str) -> None:
    raises_only((InvalidParameter,), decode_next, KEY, SCOPE, ObjectQuery(), token)


@FUZZ
@given(st.integers(min_value=0, max_value=2**62), st.data())
def test_an_edited_next_token_is_refused(cursor: int, data: st.DataObject) -> None:
    token = encode_next(KEY, SCOPE, ObjectQuery(), cursor)
    assert decode_next(KEY, SCOPE, ObjectQuery(), token) == cursor
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789-_"))
    edited = token[:index] + replacement + token[index + 1 :]
    if edited != token:
        decoded = raises_only((InvalidParameter,), decode_next, KEY, SCOPE, ObjectQuery(), edited)
        assert decoded is None or decoded == cursor  # base64 padding bits carry nothing
