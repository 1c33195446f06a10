"""Content negotiation rules of exchange.protocol.media (TAXII 2.1 §1.6.8, §3.1, App. B)."""

from __future__ import annotations

import pytest

from exchange.protocol.media import (
    STIX_21,
    TAXII_21,
    MediaRange,
    accepts,
    is_taxii_content_type,
    parse_media_ranges,
)


def test_constants_are_the_21_media_types() -> None:
    assert TAXII_21 == "application/taxii+json;version=2.1"
    assert STIX_21 == "application/stix+json;version=2.1"


class TestParseMediaRanges:
    def test_type_params_and_default_q(self) -> None:
        (media,) = parse_media_ranges("Application/TAXII+JSON; Version=2.1")
        assert media == MediaRange("application/taxii+json", (("version", "2.1"),), 1.0)
        assert media.param("version") == "2.1"
        assert media.param("charset") is None

    def test_several_elements_keep_order(self) -> None:
        ranges = parse_media_ranges("application/taxii+json;version=2.1, application/json;q=0.5")
        assert [r.type for r in ranges] == ["application/taxii+json", "application/json"]
        assert [r.q for r in ranges] == [1.0, 0.5]

    def test_q_is_not_a_param_and_quotes_are_stripped(self) -> None:
        (media,) = parse_media_ranges('application/taxii+json ; version="2.1" ; q=0.7')
        assert media.params == (("version", "2.1"),)
        assert media.q == pytest.approx(0.7)

    @pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "nan", ""])
    def test_invalid_or_out_of_range_q_weighs_zero(self, raw: str) -> None:
        (media,) = parse_media_ranges(f"application/taxii+json;q={raw}")
        assert media.q == 0.0

    @pytest.mark.parametrize("raw", ["0", "0.0", "1", "1.0", "0.001"])
    def test_valid_q_is_kept(self, raw: str) -> None:
        (media,) = parse_media_ranges(f"application/taxii+json;q={raw}")
        assert media.q == float(raw)

    def test_params_without_value_or_name_are_skipped(self) -> None:
        (media,) = parse_media_ranges("application/taxii+json;;version;=2.0;charset=utf-8")
        assert media.params == (("charset", "utf-8"),)

    def test_garbage_elements_are_skipped(self) -> None:
        assert parse_media_ranges("garbage, ;q=1, , text") == []
        ranges = parse_media_ranges("nonsense,application/taxii+json")
        assert [r.type for r in ranges] == ["application/taxii+json"]


class TestAccepts:
    @pytest.mark.parametrize(
        "header",
        [
            "application/taxii+json",
            "application/taxii+json;version=2.1",
            "application/taxii+json; version=2.1",
            "application/taxii+json ;  version=2.1 ; charset=utf-8",
            "APPLICATION/TAXII+JSON;VERSION=2.1",
            'application/taxii+json;version="2.1"',
            "application/vnd.oasis.taxii+json",
            "application/vnd.oasis.taxii+json; version=2.1",
            "*/*",
            "application/*",
            "application/*;q=0.1",
            "text/html, */*;q=0.8",
            # OpenCTI-style header with q weights, refused by Medallion.
            "application/taxii+json;version=2.1;q=0.9, application/json;q=0.8",
            "application/json;q=1, application/taxii+json;q=0.2",
            "garbage, application/taxii+json",
        ],
    )
    def test_admits_taxii_21(self, header: str) -> None:
        assert accepts(header)

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "application/json",
            "text/html",
            "application/taxii+json;version=2.0",
            "application/taxii+json; version=2.0",
            "application/vnd.oasis.taxii+json;version=2.0",
            "application/taxii+json;q=0",
            "application/taxii+json;version=2.1;q=0",
            "application/taxii+json;q=0.0, application/json",
            "application/taxii+json;q=bogus",
            "application/taxii+json;q=2",
            "*/*;q=0",
            "application/*;q=0",
            "garbage",
            ";;;,,,",
            "taxii+json",
        ],
    )
    def test_refuses(self, header: str | None) -> None:
        assert not accepts(header)

    def test_stix_only_where_allowed(self) -> None:
        assert not accepts(STIX_21)
        assert accepts(STIX_21, allow_stix=True)
        assert accepts("application/stix+json", allow_stix=True)
        assert accepts("application/vnd.oasis.stix+json; version=2.1", allow_stix=True)
        assert not accepts("application/stix+json;version=2.0", allow_stix=True)
        assert not accepts("application/stix+json;version=2.1;q=0", allow_stix=True)

    def test_manifest_accept_list_of_the_spec(self) -> None:
        assert accepts(f"{TAXII_21},{STIX_21}", allow_stix=True)


class TestContentType:
    @pytest.mark.parametrize(
        "header",
        [
            TAXII_21,
            "application/taxii+json",
            "application/taxii+json; version=2.1",
            "application/taxii+json;version=2.1;charset=utf-8",
            "Application/Taxii+Json; Version=2.1",
            "application/vnd.oasis.taxii+json;version=2.1",
        ],
    )
    def test_taxii_21_bodies(self, header: str) -> None:
        assert is_taxii_content_type(header)

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "application/json",
            STIX_21,
            "application/taxii+json;version=2.0",
            "*/*",
            "garbage",
            # A Content-Type is one media type, not a list.
            "application/json, application/taxii+json",
        ],
    )
    def test_other_bodies(self, header: str | None) -> None:
        assert not is_taxii_content_type(header)
