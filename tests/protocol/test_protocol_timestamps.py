"""TAXII and STIX timestamps (TAXII 2.1 §2.1, STIX 2.1 §3.2)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from exchange.protocol.errors import MalformedPayload
from exchange.protocol.timestamps import (
    format_timestamp,
    micros_now,
    parse_timestamp_micros,
    version_key,
)

TAXII_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
MICROS = 1_000_000
# 2026-01-31T12:00:00Z
NOON = int(datetime(2026, 1, 31, 12, tzinfo=UTC).timestamp()) * MICROS


class TestFormat:
    def test_epoch(self) -> None:
        assert format_timestamp(0) == "1970-01-01T00:00:00.000000Z"

    def test_microsecond_precision_and_utc(self) -> None:
        assert format_timestamp(NOON + 7) == "2026-01-31T12:00:00.000007Z"
        assert format_timestamp(NOON + 123_456) == "2026-01-31T12:00:00.123456Z"

    def test_always_six_fractional_digits(self) -> None:
        for micros in (0, 1, NOON, NOON + 999_999, 253402300799 * MICROS):
            assert TAXII_TIMESTAMP.match(format_timestamp(micros))

    @pytest.mark.parametrize("micros", [0, 1, NOON, NOON + 1, NOON + 987_654])
    def test_round_trip(self, micros: int) -> None:
        assert parse_timestamp_micros(format_timestamp(micros)) == micros


class TestNow:
    def test_close_to_the_clock(self) -> None:
        before = time.time_ns() // 1000
        now = micros_now()
        after = time.time_ns() // 1000
        assert before - 1000 <= now <= after + 1000
        assert isinstance(now, int)


class TestParse:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2026-01-31T12:00:00Z", NOON),
            ("2026-01-31t12:00:00z", NOON),
            ("2026-01-31T12:00:00.5Z", NOON + 500_000),
            ("2026-01-31T12:00:00.000001Z", NOON + 1),
            ("2026-01-31T12:00:00.123456Z", NOON + 123_456),
            # Digits past the microsecond are dropped, never rounded up.
            ("2026-01-31T12:00:00.1234569Z", NOON + 123_456),
            ("2026-01-31T12:00:00.999999999Z", NOON + 999_999),
            ("2026-01-31T12:00:00." + "9" * 32 + "Z", NOON + 999_999),
            ("2026-01-31T13:30:00+01:30", NOON),
            ("2026-01-31T10:15:00-01:45", NOON),
            ("2026-01-31T12:00:00+00:00", NOON),
            ("2026-01-31T12:00:00.25-00:00", NOON + 250_000),
        ],
    )
    def test_valid(self, value: str, expected: int) -> None:
        assert parse_timestamp_micros(value) == expected

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "yesterday",
            "2026-01-31",
            "2026-01-31T12:00:00",  # no zone
            "2026-01-31 12:00:00Z",
            "2026-01-31T12:00Z",
            "2026-01-31T12:00:00.Z",
            "2026-01-31T12:00:00." + "1" * 33 + "Z",
            "2026-01-31T12:00:00+0100",
            "2026-1-31T12:00:00Z",
            " 2026-01-31T12:00:00Z",
            "2026-01-31T12:00:00Z ",
        ],
    )
    def test_not_rfc3339(self, value: str) -> None:
        with pytest.raises(MalformedPayload, match="expected an RFC 3339 timestamp") as info:
            parse_timestamp_micros(value)
        assert info.value.field == "timestamp"

    @pytest.mark.parametrize(
        "value",
        [
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-01-31T24:00:00Z",
            "2026-01-31T12:60:00Z",
            "2026-01-31T12:00:61Z",
            "2025-02-29T00:00:00Z",
        ],
    )
    def test_invalid_calendar_dates(self, value: str) -> None:
        with pytest.raises(MalformedPayload, match="not a valid calendar date and time"):
            parse_timestamp_micros(value)

    def test_field_names_the_parameter(self) -> None:
        with pytest.raises(MalformedPayload, match=r"^added_after: expected") as info:
            parse_timestamp_micros("soon", field="added_after")
        assert info.value.field == "added_after"
        assert info.value.reason.startswith("expected an RFC 3339 timestamp")

    def test_leap_day(self) -> None:
        assert format_timestamp(parse_timestamp_micros("2024-02-29T00:00:00Z")) == (
            "2024-02-29T00:00:00.000000Z"
        )


class TestVersionKey:
    def test_whole_seconds_equal_zero_fraction(self) -> None:
        assert version_key("2016-05-12T08:17:27Z") == version_key("2016-05-12T08:17:27.000Z")
        assert version_key("2016-05-12T08:17:27Z") == "2016-05-12T08:17:27.000000000Z"

    @pytest.mark.parametrize(
        ("value", "key"),
        [
            ("2016-05-12T08:17:27.1Z", "2016-05-12T08:17:27.100000000Z"),
            ("2016-05-12T08:17:27.123Z", "2016-05-12T08:17:27.123000000Z"),
            ("2016-05-12T08:17:27.123456Z", "2016-05-12T08:17:27.123456000Z"),
            ("2016-05-12T08:17:27.123456789Z", "2016-05-12T08:17:27.123456789Z"),
        ],
    )
    def test_fixed_width(self, value: str, key: str) -> None:
        assert version_key(value) == key

    def test_equivalent_precisions(self) -> None:
        assert version_key("2016-05-12T08:17:27.1Z") == version_key("2016-05-12T08:17:27.100000Z")

    def test_sorts_like_the_instants(self) -> None:
        values = [
            "2016-05-12T08:17:27.9Z",
            "2016-05-12T08:17:27Z",
            "2016-05-12T08:17:27.123456789Z",
            "2016-05-12T08:17:28Z",
            "2016-05-12T08:17:27.12Z",
        ]
        ordered = sorted(values, key=version_key)
        assert ordered == [
            "2016-05-12T08:17:27Z",
            "2016-05-12T08:17:27.12Z",
            "2016-05-12T08:17:27.123456789Z",
            "2016-05-12T08:17:27.9Z",
            "2016-05-12T08:17:28Z",
        ]

    @pytest.mark.parametrize(
        "value",
        [
            "2016-05-12T08:17:27.1234567890Z",  # ten fractional digits
            "2016-05-12T08:17:27+00:00",  # STIX timestamps are in UTC with Z
            "2016-05-12T08:17:27z",
            "2016-05-12t08:17:27Z",
            "2016-05-12T08:17:27",
            "2016-05-12",
            "last",
            "",
        ],
    )
    def test_not_a_stix_timestamp(self, value: str) -> None:
        with pytest.raises(MalformedPayload, match="expected a STIX timestamp") as info:
            version_key(value)
        assert info.value.field == "version"

    @pytest.mark.parametrize("value", ["2016-02-30T08:17:27Z", "2016-05-12T25:17:27.000Z"])
    def test_invalid_calendar_dates(self, value: str) -> None:
        with pytest.raises(MalformedPayload, match="not a valid calendar date and time"):
            version_key(value, field="modified")

    def test_field_names_the_property(self) -> None:
        with pytest.raises(MalformedPayload, match=r"^modified: ") as info:
            version_key("x", field="modified")
        assert info.value.field == "modified"


def test_micros_and_datetimes_convert_both_ways() -> None:
    from datetime import UTC, datetime

    from exchange.protocol.timestamps import datetime_to_micros, micros_to_datetime

    moment = datetime(2026, 11, 29, 5, 58, 0, 123456, tzinfo=UTC)
    assert micros_to_datetime(datetime_to_micros(moment)) == moment
    assert datetime_to_micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0
