"""The trend extension: its model, its JSON Schema, the taxonomy and periods."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import pytest
import stix2
from pydantic import ValidationError

from feeds.trends.periods import parse_period
from feeds.trends.report import (
    EXTENSION_DEFINITION,
    EXTENSION_ID,
    TrendExtension,
    extension_schema,
    trend_bundle,
    trend_report,
    trend_reports,
)
from feeds.trends.taxonomy import taxonomy

MEMBER = "identity--0d6f1a7e-3c2b-4e8d-9a1f-5b7c3e2d1a40"


def extension(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "taxonomy_version": taxonomy().version,
        "period": "2026-07-01T00:00:00Z/2026-10-01T00:00:00Z",
        "period_label": "2026-Q3",
        "reporter_kind": "authority",
        "dimensions": ["region", "offence_category"],
        "metrics": ["incidents", "reported-losses"],
        "disclosure": {
            "k": 10,
            "secondary_suppression": "interval-protection",
            "suppressed_cells": 1,
            "suppressed_margins": 0,
        },
        "cells": [
            {
                "region": "DE",
                "offence_category": "computer-related-fraud",
                "metric": "incidents",
                "unit": "count",
                "value": 412,
                "suppressed": False,
                "enablers": ["cryptocurrency-laundering"],
            },
            {
                "region": "DE",
                "offence_category": "illegal-access",
                "metric": "incidents",
                "unit": "count",
                "value": None,
                "suppressed": True,
            },
            {
                "region": "DE",
                "offence_category": None,
                "metric": "reported-losses",
                "unit": "EUR",
                "value": 1250000.5,
                "suppressed": False,
            },
        ],
    }
    data.update(changes)
    return data


def test_shipped_schema_is_the_models() -> None:
    shipped = json.loads(
        (files("feeds.trends") / "data" / "trend-report-1.schema.json").read_text()
    )
    assert shipped == json.loads(json.dumps(extension_schema()))
    regions = shipped["$defs"]["Cell"]["properties"]["region"]["anyOf"][0]["enum"]
    assert "DE" in regions
    assert "150" in regions


def test_taxonomy_axes() -> None:
    tax = taxonomy()
    natures = [entry.nature for entry in tax.offence_categories]
    assert len(natures) == 9
    assert natures == sorted(natures, key=lambda n: n != "cyber-dependent")  # cyber-dependent first
    assert tax.offence_categories[0].source == "Budapest Convention (ETS 185) Art. 2"
    assert tax.ids("enablers") == (
        "ransomware-as-a-service",
        "cryptocurrency-laundering",
        "dark-web-markets",
        "bulletproof-hosting",
        "ai-generated-content",
    )
    assert len([r for r in tax.regions if len(r.code) == 2]) == 249
    assert tax.region("DE").within == ("155", "150", "001")
    assert tax.region("419").within == ("019", "001")
    assert {"incidents", "victims", "reported-losses", "takedowns", "arrests"} == set(
        tax.ids("metrics")
    )


def test_report_round_trips_through_stix2() -> None:
    ext = TrendExtension.model_validate(extension())
    report = trend_report(ext, created_by=MEMBER, now=datetime(2026, 10, 2, tzinfo=UTC))
    bundle = trend_bundle(report)
    parsed = stix2.parse(json.dumps(bundle), allow_custom=False)
    assert parsed.objects[1].id == report["id"]
    assert bundle["objects"][0] == EXTENSION_DEFINITION
    [read] = trend_reports(bundle)
    assert read.extension == ext
    assert read.created_by == MEMBER
    assert read.id == report["id"]
    assert trend_reports(report)[0].extension == ext
    assert trend_reports({"type": "bundle", "objects": [{"type": "note"}]}) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"taxonomy_version": "1999.1"}, "taxonomy version"),
        ({"reporter_kind": "journalist"}, "reporter kinds"),
        ({"dimensions": ["offence_category", "region"]}, "dimensions"),
        ({"dimensions": ["region", "offence_category", "modus_operandi", "sector"]}, "dimensions"),
        ({"metrics": ["incidents", "incidents"]}, "twice"),
        ({"metrics": ["incidents"]}, "not among"),
        ({"period": "2026-10-01T00:00:00Z/2026-07-01T00:00:00Z"}, "ends before"),
        ({"period": "2026-Q3"}, "pattern"),
        ({"unknown": 1}, "Extra inputs"),
    ],
)
def test_bad_extensions_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrendExtension.model_validate(extension(**change))


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ({"region": "XX"}, "regions"),
        ({"offence_category": "murder"}, "offence categories"),
        ({"value": None}, "if and only if"),
        ({"suppressed": True}, "if and only if"),
        ({"unit": "EUR"}, "cannot have unit"),
        ({"sector": "banking"}, "not broken down"),
        ({"enablers": ["phishing-kits"]}, "enablers"),
        ({"value": float("nan")}, "finite"),
    ],
)
def test_bad_cells_are_refused(cell: dict[str, Any], message: str) -> None:
    data = extension()
    data["cells"][0] = {**data["cells"][0], **cell}
    with pytest.raises(ValidationError, match=message):
        TrendExtension.model_validate(data)


def test_duplicate_cells_are_refused() -> None:
    data = extension()
    data["cells"].append(dict(data["cells"][0]))
    with pytest.raises(ValidationError, match="two cells"):
        TrendExtension.model_validate(data)


def test_a_malformed_trend_report_names_itself() -> None:
    report = trend_report(TrendExtension.model_validate(extension()))
    report["extensions"][EXTENSION_ID]["cells"][0]["region"] = "XX"
    with pytest.raises(ValueError, match=report["id"]):
        trend_reports(report)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026", "2026-01-01", "2027-01-01"),
        ("2026-H2", "2026-07-01", "2027-01-01"),
        ("2026-Q3", "2026-07-01", "2026-10-01"),
        ("2026-Q4", "2026-10-01", "2027-01-01"),
        ("2026-12", "2026-12-01", "2027-01-01"),
        ("2026-07-01/2026-08-15", "2026-07-01", "2026-08-15"),
    ],
)
def test_periods(text: str, start: str, end: str) -> None:
    period = parse_period(text)
    assert period.start == datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert period.end == datetime.fromisoformat(end).replace(tzinfo=UTC)
    assert period.interval.endswith(end + "T00:00:00Z")
    assert period.start in period
    assert period.end not in period


@pytest.mark.parametrize(
    "text",
    ["2026-Q5", "26", "2026-13", "2026-08-01/2026-07-01", "2026-07-01T00:00/2026-08-01", "x/y"],
)
def test_bad_periods(text: str) -> None:
    with pytest.raises(ValueError, match=r"period|ISO 8601|time zone"):
        parse_period(text)
