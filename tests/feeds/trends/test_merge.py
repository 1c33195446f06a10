"""Merging opened trend reports: sources, combined values, suppression, provenance, versions."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.errors import DocumentError
from feeds.trends.merge import FORMAT, Merged, merge_reports, read_merged, write_merged
from tests.feeds.trends._reports import (
    AUTHORITY,
    INDUSTRY,
    cell,
    extension,
    report,
    write_opened,
)

DP = {
    "library": "opendp 0.16.0",
    "epsilon": 1.0,
    "cumulative_epsilon": 2.5,
    "metrics": [
        {"metric": "incidents", "mechanism": "discrete-laplace", "scale": 2.0, "epsilon": 1.0}
    ],
}


def two_members(directory: Path) -> None:
    """Two members x two quarters; the industry member suppressed DE fraud in Q4."""
    for period, de_fraud, fr_fraud in (("2026-Q3", 40, 12), ("2026-Q4", 55, 20)):
        write_opened(
            directory,
            report(
                extension(
                    period,
                    [
                        cell(
                            "DE", "computer-related-fraud", de_fraud, enablers=["dark-web-markets"]
                        ),
                        cell("FR", "computer-related-fraud", fr_fraud),
                        cell("DE", None, de_fraud + 30),
                    ],
                ),
                AUTHORITY,
            ),
            publisher=AUTHORITY,
        )
    industry: list[tuple[str, int | None]] = [("2026-Q3", 15), ("2026-Q4", None)]
    for period, suppressed_or_not in industry:
        write_opened(
            directory,
            report(
                extension(
                    period,
                    [
                        cell("DE", "computer-related-fraud", suppressed_or_not),
                        cell("FR", "computer-related-fraud", 30),
                        cell("DE", None, None if suppressed_or_not is None else 100),
                    ],
                    reporter_kind="industry",
                    k=5,
                    dp=DP,
                    notes=["Discrete Laplace noise, epsilon 1.0."],
                ),
                INDUSTRY,
            ),
        )


def combined(merged: Merged, period: str, region: str, category: str | None) -> Any:
    (found,) = [
        c
        for c in merged.combined
        if c.period_label == period and c.region == region and c.offence_category == category
    ]
    return found


def test_two_members_two_periods(tmp_path: Path) -> None:
    two_members(tmp_path / "pulled")
    merged = merge_reports([tmp_path / "pulled"], now=datetime(2026, 12, 1, tzinfo=UTC))
    assert merged.refused == ()
    assert [p.label for p in merged.periods] == ["2026-Q3", "2026-Q4"]
    assert len(merged.sources) == 4
    assert len(merged.rows) == 12
    verified = {s.member: s.verified for s in merged.sources}
    assert verified == {AUTHORITY: True, INDUSTRY: False}

    row = next(
        r
        for r in merged.rows
        if r.source.member == AUTHORITY
        and r.period_label == "2026-Q3"
        and r.region == "DE"
        and r.offence_category == "computer-related-fraud"
    )
    assert row.value == 40
    assert row.enablers == ("dark-web-markets",)
    assert row.source.verified
    assert row.source.envelope_id is not None
    assert row.source.file.endswith(f"{row.source.envelope_id}.json")
    assert row.source.policy_version == 3
    assert row.disclosure.k == 10
    assert row.disclosure.dp_mechanism is None
    noised = next(r for r in merged.rows if r.source.member == INDUSTRY and not r.suppressed)
    assert noised.disclosure.k == 5
    assert noised.disclosure.dp_mechanism == "discrete-laplace"
    assert noised.disclosure.epsilon == 1.0
    assert noised.disclosure.cumulative_epsilon == 2.5
    assert noised.disclosure.scale == 2.0
    assert noised.source.envelope_id is None

    q3 = combined(merged, "2026-Q3", "DE", "computer-related-fraud")
    assert (q3.value, q3.suppressed, q3.noised) == (55, False, True)
    assert set(q3.members) == {AUTHORITY, INDUSTRY}
    assert combined(merged, "2026-Q3", "DE", None).value == 170
    q4 = combined(merged, "2026-Q4", "DE", "computer-related-fraud")
    assert q4.suppressed
    assert q4.value is None
    assert q4.suppressed_by == (INDUSTRY,)
    assert combined(merged, "2026-Q4", "DE", None).suppressed
    assert combined(merged, "2026-Q4", "FR", "computer-related-fraud").value == 50
    # margins are combined with margins only
    assert all(
        c.offence_category is None for c in merged.combined if c.region == "DE" and c.value == 170
    )


def test_currencies_and_dimension_sets_are_not_mixed(tmp_path: Path) -> None:
    loss = {"metric": "reported-losses"}
    write_opened(
        tmp_path,
        report(
            extension(
                "2026-Q3",
                [
                    cell("DE", "computer-related-fraud", 100.5, unit="EUR", **loss),
                    cell("DE", "computer-related-fraud", 10.25, unit="USD", **loss),
                ],
                metrics=["reported-losses"],
            ),
            AUTHORITY,
        ),
    )
    write_opened(
        tmp_path,
        report(
            extension(
                "2026-Q3",
                [cell("DE", "computer-related-fraud", 1.0, unit="EUR", **loss)],
                metrics=["reported-losses"],
                reporter_kind="industry",
            ),
            INDUSTRY,
        ),
    )
    merged = merge_reports([tmp_path])
    values = {(c.unit, c.value) for c in merged.combined}
    assert values == {("EUR", 101.5), ("USD", 10.25)}


def test_sidecar_mismatch_is_refused(tmp_path: Path) -> None:
    path = write_opened(
        tmp_path,
        report(extension("2026-Q3", [cell("DE", "illegal-access", 12)]), INDUSTRY),
        publisher=AUTHORITY,
    )
    merged = merge_reports([tmp_path])
    assert merged.rows == ()
    assert len(merged.refused) == 1
    assert merged.refused[0].file == str(path)
    assert INDUSTRY in merged.refused[0].reason
    assert AUTHORITY in merged.refused[0].reason


def test_a_report_without_creator_or_sidecar_is_refused(tmp_path: Path) -> None:
    write_opened(tmp_path, report(extension("2026-Q3", [cell("DE", "illegal-access", 12)]), None))
    (refusal,) = merge_reports([tmp_path]).refused
    assert "no creator" in refusal.reason


def test_superseding(tmp_path: Path) -> None:
    ext = extension("2026-Q3", [cell("DE", "illegal-access", 12)])
    newer = extension("2026-Q3", [cell("DE", "illegal-access", 14)])
    rid = "report--3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    old = write_opened(tmp_path / "a", report(ext, AUTHORITY, report_id=rid))
    new = write_opened(
        tmp_path / "b",
        report(newer, AUTHORITY, report_id=rid, modified=datetime(2026, 11, 2, tzinfo=UTC)),
    )
    # a different report of the same member, period and dimensions, later still
    latest = write_opened(
        tmp_path / "c",
        report(
            extension("2026-Q3", [cell("DE", "illegal-access", 16)]),
            AUTHORITY,
            modified=datetime(2026, 11, 3, tzinfo=UTC),
        ),
    )
    merged = merge_reports([tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    assert [r.value for r in merged.rows] == [16]
    assert merged.rows[0].source.file == str(latest)
    by_file = {entry.file: entry for entry in merged.superseded}
    assert set(by_file) == {str(old), str(new)}
    assert by_file[str(old)].by_file == str(new)
    assert "earlier version" in by_file[str(old)].reason
    assert by_file[str(new)].by_file == str(latest)
    assert "later report" in by_file[str(new)].reason


def test_malformed_inputs_are_reported(tmp_path: Path) -> None:
    good = write_opened(
        tmp_path, report(extension("2026-Q3", [cell("DE", "illegal-access", 12)]), AUTHORITY)
    )
    (tmp_path / "garbage.json").write_bytes(b"\xff{not json")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "deep.json").write_text("[" * 100_000)
    bad = report(extension("2026-Q3", [cell("DE", "illegal-access", 12)]), AUTHORITY)
    bad["extensions"][next(iter(bad["extensions"]))]["cells"][0]["region"] = "Atlantis"
    (tmp_path / "bad.json").write_text(json.dumps({"type": "bundle", "objects": [bad]}))
    (tmp_path / "other.json").write_text(
        json.dumps({"type": "bundle", "objects": [{"type": "indicator"}]})
    )
    (tmp_path / "notes.txt").write_text("not scanned")
    broken_sidecar = write_opened(
        tmp_path, report(extension("2026-Q4", [cell("DE", "illegal-access", 9)]), AUTHORITY)
    )
    broken_sidecar.with_name(broken_sidecar.stem + ".source.json").write_text('{"publisher": 1}')

    merged = merge_reports([tmp_path])
    reasons = {Path(r.file).name: r.reason for r in merged.refused}
    assert reasons.keys() == {
        "garbage.json",
        "list.json",
        "deep.json",
        "bad.json",
        broken_sidecar.name,
    }
    assert "not a JSON document" in reasons["garbage.json"]
    assert "Atlantis" in reasons["bad.json"]
    assert "sidecar" in reasons[broken_sidecar.name]
    assert [Path(r.file).name for r in merged.ignored] == ["other.json"]
    assert [r.source.file for r in merged.rows] == [str(good)]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file"):
        merge_reports([tmp_path / "nowhere"])


def test_write_and_read_back(tmp_path: Path) -> None:
    two_members(tmp_path / "pulled")
    merged = merge_reports([tmp_path / "pulled"])
    path = tmp_path / "merged.json"
    write_merged(merged, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["format"] == FORMAT
    assert set(document) >= {
        "taxonomy_version",
        "generated_at",
        "sources",
        "periods",
        "rows",
        "combined",
        "refused",
        "superseded",
    }
    assert read_merged(path) == merged
    summary = merged.summary()
    assert summary["combined_suppressed"] == 2
    json.dumps(summary)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="something/else"), "not a trend-exchange/merged/1"),
        (lambda d: d["combined"][0].update(value=5), "suppressed"),
        (lambda d: d["combined"][0].update(suppressed_by=[]), "suppressed"),
        (
            lambda d: d["rows"][0]["source"].update(
                report="report--00000000-0000-4000-8000-000000000000"
            ),
            "not among the sources",
        ),
        (lambda d: d["rows"][0].update(region="<script>"), "region"),
        (lambda d: d.update(taxonomy_version="1999.1"), "1999.1"),
    ],
)
def test_read_refuses_bad_documents(tmp_path: Path, mutate: Any, message: str) -> None:
    two_members(tmp_path / "pulled")
    merged = merge_reports([tmp_path / "pulled"])
    document = json.loads(merged.model_dump_json())
    document["combined"].sort(key=lambda c: not c["suppressed"])
    mutate(document)
    path = tmp_path / "merged.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DocumentError, match=message):
        read_merged(path)


def test_read_refuses_non_json(tmp_path: Path) -> None:
    path = tmp_path / "merged.json"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(DocumentError, match="not a JSON document"):
        read_merged(path)
    with pytest.raises(DocumentError, match="cannot read"):
        read_merged(tmp_path / "absent.json")


REGIONS = ["DE", "FR", "NL"]
CATEGORIES = ["illegal-access", "computer-related-fraud"]
MEMBERS = [AUTHORITY, INDUSTRY, "identity--22222222-3333-4444-8555-666666666666"]


@st.composite
def member_tables(draw: st.DrawFn) -> list[dict[tuple[str, str], int | None]]:
    tables = []
    for _ in MEMBERS:
        keys = draw(
            st.sets(st.sampled_from([(r, c) for r in REGIONS for c in CATEGORIES]), min_size=1)
        )
        tables.append({key: draw(st.none() | st.integers(0, 1000)) for key in sorted(keys)})
    return tables


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tables=member_tables())
def test_no_combined_value_is_published_over_a_suppressed_contributor(
    tmp_path_factory: pytest.TempPathFactory, tables: list[dict[tuple[str, str], int | None]]
) -> None:
    directory = tmp_path_factory.mktemp("pulled")
    for member, table in zip(MEMBERS, tables, strict=True):
        cells = [cell(region, category, value) for (region, category), value in table.items()]
        write_opened(directory, report(extension("2026-Q3", cells), member), publisher=member)
    merged = merge_reports([directory])
    assert merged.refused == ()
    for value in merged.combined:
        key = (value.region, value.offence_category)
        contributions = [t[key] for t in tables if key in t]
        assert len(value.members) == len(contributions)
        if any(c is None for c in contributions):
            assert value.suppressed
            assert value.value is None
        else:
            assert not value.suppressed
            assert value.value == sum(c for c in contributions if c is not None)
    keys = {key for table in tables for key in table}
    assert len(merged.combined) == len(keys)
