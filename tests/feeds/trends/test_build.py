"""Building the trend report: a valid STIX bundle holding aggregates only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stix2

from feeds.errors import InvalidParameter, NoValidRecords
from feeds.trends.build import build_trend_report
from feeds.trends.periods import parse_period
from feeds.trends.report import EXTENSION_ID, TrendExtension, trend_reports

Q3 = parse_period("2026-Q3")
MEMBER = "identity--0d6f1a7e-3c2b-4e8d-9a1f-5b7c3e2d1a40"
NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
CANARY = "CANARY-7f3a9c"


def write_records(folder: Path) -> Path:
    """DE fraud: 25 records (+ 1 canary); DE access: 12; FR fraud: 14; FR access: 2 (below
    k = 5); NL fraud: 20, NL access: 15; plus a bad row, a row outside the period and an
    unknown column with a canary value."""
    path = folder / "incidents.csv"
    lines = ["date,region,offence_category,sector,enablers,victims,loss,currency,note"]
    cells = [
        ("DE", "computer-related-fraud", 25),
        ("DE", "illegal-access", 12),
        ("FR", "computer-related-fraud", 14),
        ("FR", "illegal-access", 2),
        ("NL", "computer-related-fraud", 20),
        ("NL", "illegal-access", 15),
    ]
    for region, offence, count in cells:
        for i in range(count):
            enablers = "cryptocurrency-laundering" if i % 2 == 0 else ""
            lines.append(
                f"2026-07-{1 + i % 28:02d},{region},{offence},banking,{enablers},{i % 3},"
                f"{100 + i}.10,EUR,{CANARY}"
            )
    lines.append(f"2026-08-17T13:37:42Z,DE,computer-related-fraud,health,,1,98765.43,EUR,{CANARY}")
    lines.append("2026-07-02,ZZ,illegal-access,banking,,,,,")
    lines.append("2025-12-31,DE,illegal-access,banking,,,,,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bundle_is_valid_stix_and_a_trend_report(tmp_path: Path) -> None:
    built = build_trend_report(
        write_records(tmp_path),
        period=Q3,
        reporter_kind="authority",
        k=5,
        created_by=MEMBER,
        now=NOW,
    )
    parsed = stix2.parse(built.bundle, allow_custom=False)
    assert parsed.type == "bundle"
    (report,) = trend_reports(built.bundle)
    assert report.extension == built.extension
    assert report.created_by == MEMBER
    assert report.created == NOW
    assert report.id == built.summary.report_id
    TrendExtension.model_validate(built.report["extensions"][EXTENSION_ID])
    extension = built.extension
    assert extension.period == "2026-07-01T00:00:00Z/2026-10-01T00:00:00Z"
    assert extension.metrics == ("incidents", "victims", "reported-losses")
    cells = {(c.region, c.offence_category, c.metric, c.unit): c for c in extension.cells}
    incidents = cells["NL", "computer-related-fraud", "incidents", "count"]
    assert incidents.value == 20
    assert incidents.enablers == ("cryptocurrency-laundering",)  # in 10 of its records
    assert cells["NL", "computer-related-fraud", "victims", "count"].enablers == ()
    assert cells["DE", None, "incidents", "count"].enablers == ()
    small = cells["FR", "illegal-access", "incidents", "count"]
    assert small.suppressed
    assert small.value is None
    # A rectangle of suppressed cells protects the small one; the margins stay.
    hidden = {(c.region, c.offence_category) for c in extension.cells if c.suppressed}
    assert hidden == {
        ("FR", "illegal-access"),
        ("FR", "computer-related-fraud"),
        ("DE", "illegal-access"),
        ("DE", "computer-related-fraud"),
    }
    assert cells["FR", None, "incidents", "count"].value == 16
    assert cells[None, None, "incidents", "count"].value == 89
    losses = cells[None, None, "reported-losses", "EUR"]
    assert losses.value == pytest.approx(
        sum(100 + i + 0.1 for count in (25, 12, 14, 2, 20, 15) for i in range(count)) + 98765.43
    )
    disclosure = extension.disclosure
    assert disclosure.k == 5
    assert disclosure.secondary_suppression == "interval-protection"
    assert disclosure.differential_privacy is None
    assert any("k = 5" in note for note in disclosure.notes)
    assert any("interval protection" in note for note in disclosure.notes)
    assert any("No noise" in note for note in disclosure.notes)
    assert built.report["description"] == " ".join(disclosure.notes)


def test_summary_says_what_happened(tmp_path: Path) -> None:
    built = build_trend_report(write_records(tmp_path), period=Q3, reporter_kind="industry", k=5)
    summary = built.summary
    assert summary.rows == 91
    assert summary.valid == 89
    assert summary.outside_period == 1
    assert [(p.line, p.reason) for p in summary.problems] == [
        (91, "region 'ZZ' is not in the taxonomy")
    ]
    assert summary.ignored_columns == ("note",)
    assert summary.cells == 6
    assert summary.margins == 6
    # The small cell, for each of the three series (incidents, victims, EUR losses).
    assert summary.suppressed_primary == 3
    assert summary.suppressed_secondary > 0
    assert summary.published_values + summary.suppressed_primary + summary.suppressed_secondary == (
        len(built.extension.cells)
    )
    disclosure = built.extension.disclosure
    assert disclosure.suppressed_cells + disclosure.suppressed_margins == (
        summary.suppressed_primary + summary.suppressed_secondary
    )
    data = summary.as_json()
    assert json.loads(json.dumps(data)) == data
    assert data["problems"] == [{"line": 91, "reason": "region 'ZZ' is not in the taxonomy"}]
    assert data["epsilon"] is None


def test_no_raw_record_leaves_in_the_report(tmp_path: Path) -> None:
    for epsilon in (None, 2.0):
        built = build_trend_report(
            write_records(tmp_path),
            period=Q3,
            reporter_kind="authority",
            k=5,
            epsilon=epsilon,
            ledger=tmp_path / "ledger.json",
        )
        text = json.dumps(built.bundle)
        assert CANARY not in text
        for raw in ("2026-08-17", "13:37:42", "98765.43", "98765", "100.1", "2026-07-02"):
            assert raw not in text
        assert "banking" not in text  # sector is not a dimension of this report


def test_break_down_by_sector(tmp_path: Path) -> None:
    built = build_trend_report(
        write_records(tmp_path),
        period=Q3,
        reporter_kind="authority",
        k=1,
        dimensions=("region", "offence_category", "sector"),
        metrics=["incidents"],
    )
    assert built.extension.dimensions == ("region", "offence_category", "sector")
    cells = {c.key(built.extension.dimensions): c for c in built.extension.cells}
    assert cells["DE", "computer-related-fraud", "health"].value == 1
    assert cells["DE", "computer-related-fraud", None].value == 26
    assert cells[None, None, "banking"].value == 88
    assert cells[None, None, None].value == 89
    assert cells["DE", "computer-related-fraud", "banking"].enablers == (
        "cryptocurrency-laundering",
    )
    # 7 cells; margins (r,c,*) 6, (r,*,s) 4, (*,c,s) 3, (r,*,*) 3, (*,c,*) 2, (*,*,s) 2, total 1
    assert len(cells) == 7 + 6 + 4 + 3 + 3 + 2 + 2 + 1
    assert not any(c.suppressed for c in built.extension.cells)
    assert built.extension.disclosure.secondary_suppression is None
    assert built.summary.suppressed_primary == 0
    stix2.parse(built.bundle, allow_custom=False)


def test_differentially_private_report(tmp_path: Path) -> None:
    built = build_trend_report(
        write_records(tmp_path),
        period=Q3,
        reporter_kind="research",
        k=5,
        epsilon=1.5,
        ledger=tmp_path / "ledger.json",
        bounds={"reported-losses": (0, 500)},
    )
    stix2.parse(built.bundle, allow_custom=False)
    (report,) = trend_reports(built.bundle)
    privacy = report.extension.disclosure.differential_privacy
    assert privacy is not None
    assert privacy.epsilon <= 1.5
    assert privacy.cumulative_epsilon == privacy.epsilon
    assert [m.metric for m in privacy.metrics] == ["incidents", "victims", "reported-losses"]
    assert privacy.metrics[2].bounds == (0, 500)
    assert not any(cell.enablers for cell in report.extension.cells)
    assert any(
        "not covered by the differential-privacy" in n for n in built.extension.disclosure.notes
    )
    assert built.summary.noise == privacy.metrics
    # The small cell is still suppressed: the k rule is about true record counts.
    small = [
        c
        for c in report.extension.cells
        if (c.region, c.offence_category) == ("FR", "illegal-access")
    ]
    assert small
    assert all(c.suppressed for c in small)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"k": 0}, "k: must be a positive integer"),
        ({"epsilon": -1.0, "ledger": "x"}, "epsilon: must be a positive number"),
        ({"epsilon": 1.0}, "ledger: a differentially private release needs a ledger"),
        ({"metrics": ["incidents", "deaths"]}, "unknown metric 'deaths'"),
        ({"dimensions": ("region", "offence_category", "city")}, "unknown dimension 'city'"),
        ({"reporter_kind": "journalist"}, "'journalist' is not one of"),
    ],
)
def test_bad_parameters(tmp_path: Path, options: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"period": Q3, "reporter_kind": "authority"} | options
    with pytest.raises(InvalidParameter, match=match):
        build_trend_report(write_records(tmp_path), **arguments)  # type: ignore[arg-type]


def test_nothing_in_the_period(tmp_path: Path) -> None:
    with pytest.raises(NoValidRecords):
        build_trend_report(
            write_records(tmp_path), period=parse_period("2027"), reporter_kind="authority"
        )
