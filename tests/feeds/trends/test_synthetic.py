"""The synthetic incident generator: deterministic, valid, and its assumptions visible."""

from __future__ import annotations

import csv
import json
import math
import stat
import statistics
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds.errors import DocumentError
from feeds.trends.synthetic import (
    COLUMNS,
    CURRENCIES,
    PROFILES,
    generate_incidents,
    write_incidents,
)
from feeds.trends.taxonomy import taxonomy

START, END = date(2024, 1, 1), date(2026, 1, 1)


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return list(generate_incidents(seed=7, start=START, end=END, count=60_000))


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    def write(seed: int, name: str) -> bytes:
        path = tmp_path / name
        records = generate_incidents(seed=seed, start=START, end=END, count=2000)
        assert write_incidents(records, path) == 2000
        return path.read_bytes()

    for suffix in ("csv", "jsonl"):
        first, again = write(1, f"a.{suffix}"), write(1, f"b.{suffix}")
        assert first == again
        assert write(2, f"c.{suffix}") != first


def test_files_are_private_and_round_trip(tmp_path: Path) -> None:
    records = list(
        generate_incidents(seed=3, start=START, end=END, count=500, reporter_kind="industry")
    )
    csv_path, jsonl_path = tmp_path / "r.csv", tmp_path / "r.ndjson"
    write_incidents(records, csv_path)
    write_incidents(records, jsonl_path)
    for path in (csv_path, jsonl_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [json.loads(line) for line in jsonl_path.read_text().splitlines()] == records
    with csv_path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == COLUMNS
    for row, record in zip(rows, records, strict=True):
        assert row["region"] == record["region"]
        assert row["enablers"] == ";".join(record.get("enablers", []))
        assert row["loss"] == ("" if "loss" not in record else str(record["loss"]))
        assert row["arrests"] == ""  # industry records no arrests
    assert list(tmp_path.glob(".*")) == []  # no temporary file left behind


def test_write_refuses_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"\.csv"):
        write_incidents([], tmp_path / "records.txt")
    assert not (tmp_path / "records.txt").exists()


def test_every_record_is_valid(sample: list[dict[str, Any]]) -> None:
    known = taxonomy()
    ids = {
        axis: set(known.ids(axis))
        for axis in ("regions", "offence_categories", "modus_operandi", "sectors", "enablers")
    }
    for record in sample:
        assert set(record) <= set(COLUMNS)
        day = date.fromisoformat(record["date"])  # authority: plain dates
        assert START <= day < END
        assert record["region"] in ids["regions"]
        assert record["offence_category"] in ids["offence_categories"]
        assert record["modus_operandi"] in ids["modus_operandi"]
        assert record["sector"] in ids["sectors"]
        assert set(record.get("enablers", [])) <= ids["enablers"]
        assert len(set(record.get("enablers", []))) == len(record.get("enablers", []))
        for column in ("victims", "takedowns", "arrests"):
            value = record.get(column, 0)
            assert isinstance(value, int)
            assert value >= 0
        assert ("loss" in record) == ("currency" in record)
        if "loss" in record:
            assert record["loss"] >= 0
            assert math.isfinite(record["loss"])
            assert record["currency"] == CURRENCIES.get(record["region"], "USD")


def test_instants_and_partial_days_stay_in_the_window() -> None:
    low = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    high = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    records = list(
        generate_incidents(seed=5, start=low, end=high, count=3000, reporter_kind="research")
    )
    moments = [datetime.fromisoformat(r["date"].replace("Z", "+00:00")) for r in records]
    assert all(low <= moment < high for moment in moments)
    assert min(moments) < datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert max(moments) > datetime(2026, 3, 3, 4, tzinfo=UTC)
    assert all("takedowns" not in r and "arrests" not in r for r in records)


def test_rate_sets_the_volume() -> None:
    records = list(generate_incidents(seed=1, start=START, end=date(2024, 1, 11), rate=2.5))
    assert len(records) == 25


def test_seasonality_and_growth_hold(sample: list[dict[str, Any]]) -> None:
    quarters = Counter(
        (r["date"][:4], (int(r["date"][5:7]) - 1) // 3 + 1)
        for r in sample
        if r["offence_category"] == "computer-related-fraud"
    )
    for year in ("2024", "2025"):
        assert quarters[year, 4] > 1.4 * quarters[year, 2]
    years = Counter(r["date"][:4] for r in sample if r["offence_category"] == "data-interference")
    assert years["2025"] > 1.1 * years["2024"]
    weekdays = Counter(date.fromisoformat(r["date"]).weekday() for r in sample)
    assert weekdays[0] > 1.2 * weekdays[6]


def test_heavy_tails(sample: list[dict[str, Any]]) -> None:
    losses = [r["loss"] for r in sample if r.get("currency") == "EUR"]
    assert max(losses) > 1000 * statistics.median(losses)
    victims = [r["victims"] for r in sample if "victims" in r]
    assert statistics.median(victims) == 1
    assert max(victims) > 1000


def test_modus_operandi_follows_the_category(sample: list[dict[str, Any]]) -> None:
    pairs = Counter((r["offence_category"], r["modus_operandi"]) for r in sample)
    assert pairs["child-sexual-abuse-material", "availability"] == 0
    fraud = sum(n for (c, _), n in pairs.items() if c == "computer-related-fraud")
    assert pairs["computer-related-fraud", "fraud"] > 0.7 * fraud
    ransomware = sum(
        1
        for r in sample
        if "ransomware-as-a-service" in r.get("enablers", [])
        and r["offence_category"] == "data-interference"
    )
    data = sum(1 for r in sample if r["offence_category"] == "data-interference")
    assert 0.4 * data < ransomware < 0.5 * data


def test_profiles_differ() -> None:
    def shares(kind: str) -> tuple[float, float, int]:
        records = list(
            generate_incidents(seed=11, start=START, end=END, count=20_000, reporter_kind=kind)
        )
        categories = Counter(r["offence_category"] for r in records)
        arrests = sum(r.get("arrests", 0) for r in records)
        return (
            categories["computer-related-fraud"] / len(records),
            categories["illegal-access"] / len(records),
            arrests,
        )

    authority, industry = shares("authority"), shares("industry")
    assert authority[0] > 1.5 * industry[0]
    assert industry[1] > 1.5 * authority[1]
    assert authority[2] > 0
    assert industry[2] == 0
    assert set(PROFILES) == set(taxonomy().ids("reporter_kinds"))


def test_regions_argument() -> None:
    records = list(
        generate_incidents(seed=2, start=START, end=END, count=2000, regions=["DE", "150"])
    )
    regions = Counter(r["region"] for r in records)
    assert set(regions) == {"DE", "150"}
    assert abs(regions["DE"] - regions["150"]) < 300


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"count": 10, "rate": 1.0}, "exactly one"),
        ({}, "exactly one"),
        ({"count": -1}, "negative"),
        ({"count": 1, "regions": ["XX"]}, "XX"),
        ({"count": 1, "reporter_kind": "astrologer"}, "astrologer"),
        ({"count": 1, "end": START}, "ends before"),
        ({"count": 1, "start": datetime(2024, 1, 1)}, "time zone"),
    ],
)
def test_bad_arguments(arguments: dict[str, Any], message: str) -> None:
    given: dict[str, Any] = {"seed": 1, "start": START, "end": END, **arguments}
    with pytest.raises(ValueError, match=message):
        generate_incidents(**given)
