"""Differential privacy through OpenDP, and the privacy ledger."""

from __future__ import annotations

import json
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import opendp.prelude as dp
import pytest

from feeds.errors import DocumentError, PrivacyBudgetExceeded
from feeds.trends import build as build_module
from feeds.trends.aggregate import aggregate, is_margin, margins_of
from feeds.trends.build import build_trend_report
from feeds.trends.periods import parse_period
from feeds.trends.privacy import (
    DPRelease,
    charge_release,
    ledger_entries,
    plan_release,
    record_release,
    spent_epsilon,
)
from feeds.trends.records import read_incidents

Q3 = parse_period("2026-Q3")
REGIONS = ["DE", "FR", "NL", "BE", "AT", "PL"]
OFFENCES = ["illegal-access", "computer-related-fraud", "data-interference"]


def write_records(folder: Path, per_cell: int = 30) -> Path:
    path = folder / "incidents.csv"
    lines = ["date,region,offence_category,victims,loss,currency,takedowns"]
    for r, region in enumerate(REGIONS):
        for o, offence in enumerate(OFFENCES):
            for i in range(per_cell + r + o):
                currency = "EUR" if i % 3 else "USD"
                lines.append(
                    f"2026-08-01,{region},{offence},{i % 7},{(i * 37) % 900}.25,{currency},{i % 2}"
                )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_opendp_release_parameters(tmp_path: Path) -> None:
    records = read_incidents(write_records(tmp_path), Q3)
    table = aggregate(records)
    plan = plan_release(records, table, 1.0, bounds={"victims": (0, 50)})
    assert plan.epsilon <= 1.0
    assert plan.epsilon == pytest.approx(1.0, rel=1e-6)
    assert plan.epsilon == plan.measurement.map(1)  # type: ignore[no-untyped-call]
    assert [noise.metric for noise in plan.noise] == [
        "incidents",
        "victims",
        "reported-losses",
        "takedowns",
    ]
    by_metric = {noise.metric: noise for noise in plan.noise}
    assert {noise.mechanism for noise in plan.noise} == {"discrete-laplace"}
    assert by_metric["incidents"].bounds is None
    assert by_metric["victims"].bounds == (0, 50)
    assert by_metric["reported-losses"].bounds == (0, 1_000_000)
    assert by_metric["takedowns"].bounds == (0, 10)
    # Each metric's epsilon is what OpenDP maps it to: sensitivity / scale for (discrete)
    # Laplace, one record moving one count by 1, a sum by its upper bound.
    sensitivity = {"incidents": 1, "victims": 50, "reported-losses": 1_000_000, "takedowns": 10}
    for metric, noise in by_metric.items():
        assert noise.epsilon == pytest.approx(sensitivity[metric] / noise.scale, rel=1e-9)
        assert noise.epsilon <= 1.0 / 4 + 1e-12
    assert sum(noise.epsilon for noise in plan.noise) == pytest.approx(plan.epsilon)
    # The library computes the same epsilon for a measurement we rebuild from the scale.
    rebuilt = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T="i64")),
        dp.l1_distance(T="i64"),
        scale=by_metric["incidents"].scale,
    )
    rebuilt_epsilon = rebuilt.map(1)  # type: ignore[no-untyped-call]
    assert rebuilt_epsilon == pytest.approx(by_metric["incidents"].epsilon)


def test_noise_differs_but_the_table_stays_additive(tmp_path: Path) -> None:
    records = read_incidents(write_records(tmp_path), Q3)
    table = aggregate(records)
    noised = plan_release(records, table, 1.0).release(records, table)
    assert noised.counts == table.counts  # the k rule keeps using true record counts
    assert noised.enablers == {}
    differs = 0
    for true, noisy in zip(table.series, noised.series, strict=True):
        assert (true.metric, true.unit) == (noisy.metric, noisy.unit)
        assert noisy.values.keys() == true.values.keys()
        assert all(value >= 0 for value in noisy.values.values())
        differs += sum(noisy.values[key] != true.values[key] for key in true.values)
        for key, value in noisy.values.items():
            if not is_margin(key):
                continue
            under = [
                cell for cell in noisy.values if not is_margin(cell) and key in margins_of(cell)
            ]
            assert value == sum(noisy.values[cell] for cell in under)
    assert differs > 0


def test_bad_epsilon_or_bounds(tmp_path: Path) -> None:
    records = read_incidents(write_records(tmp_path, per_cell=2), Q3)
    table = aggregate(records)
    with pytest.raises(ValueError, match="epsilon"):
        plan_release(records, table, 0.0)
    with pytest.raises(ValueError, match="bounds of victims"):
        plan_release(records, table, 1.0, bounds={"victims": (5, 1)})
    with pytest.raises(ValueError, match="no bounds apply"):
        plan_release(records, table, 1.0, bounds={"incidents": (0, 1)})


def build(path: Path, ledger: Path, period: str, epsilon: float, **options: Any) -> Any:
    return build_trend_report(
        path,
        period=parse_period(period),
        reporter_kind="authority",
        k=5,
        epsilon=epsilon,
        ledger=ledger,
        **options,
    )


def test_ledger_sums_overlapping_periods_only(tmp_path: Path) -> None:
    records = write_records(tmp_path, per_cell=3)
    ledger = tmp_path / "keystore" / "privacy-ledger.json"
    first = build(records, ledger, "2026-Q3", 0.5)
    assert first.summary.cumulative_epsilon == pytest.approx(0.5)
    august = build(records, ledger, "2026-08", 0.25)  # overlaps Q3
    assert august.summary.cumulative_epsilon == pytest.approx(0.75)
    record_release(ledger, report="report--q4", period=parse_period("2026-Q4"), epsilon=2.0)
    again = build(records, ledger, "2026-07-01/2026-10-01", 0.5)
    assert again.summary.cumulative_epsilon == pytest.approx(1.25)
    dp_info = again.extension.disclosure.differential_privacy
    assert dp_info is not None
    assert dp_info.cumulative_epsilon == pytest.approx(1.25)
    assert dp_info.epsilon == pytest.approx(0.5)
    assert dp_info.library == f"opendp {dp.__version__}"
    entries = ledger_entries(ledger)
    assert [entry.report for entry in entries] == [
        first.summary.report_id,
        august.summary.report_id,
        "report--q4",
        again.summary.report_id,
    ]
    assert entries[1].period == "2026-08-01T00:00:00Z/2026-09-01T00:00:00Z"
    # Disjoint periods do not add up; touching ends are disjoint (half-open).
    assert spent_epsilon(ledger, parse_period("2026-Q4")) == 2.0
    assert spent_epsilon(ledger, parse_period("2026-06")) == 0
    assert spent_epsilon(ledger, parse_period("2026-09")) == pytest.approx(1.0)
    assert stat.S_IMODE(os.stat(ledger).st_mode) == 0o600


def test_budget_refusal_draws_no_noise_and_leaves_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = write_records(tmp_path, per_cell=3)
    ledger = tmp_path / "ledger.json"
    build(records, ledger, "2026-Q3", 0.75, epsilon_budget=1.0)
    before = ledger.read_bytes()

    def no_noise(*_: Any) -> None:
        raise AssertionError("noise drawn")

    monkeypatch.setattr(DPRelease, "release", no_noise)
    with pytest.raises(PrivacyBudgetExceeded) as caught:
        build(records, ledger, "2026-08", 0.5, epsilon_budget=1.0)
    assert caught.value.spent == pytest.approx(0.75)
    assert caught.value.budget == 1.0
    assert ledger.read_bytes() == before


def test_ledger_entry_is_written_before_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = write_records(tmp_path, per_cell=3)
    ledger = tmp_path / "ledger.json"

    def broken(*_: Any, **__: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(build_module, "trend_report", broken)
    with pytest.raises(OSError, match="disk full"):
        build(records, ledger, "2026-Q3", 0.5)
    assert [entry.epsilon for entry in ledger_entries(ledger)] == [pytest.approx(0.5)]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 2, "releases": []}',
        '{"version": 1, "releases": [{"report": "r", "period": "x", "epsilon": 1, "time": "t"}]}',
        '{"version": 1, "releases": [{"report": "r", "period": "2026-07-01T00:00:00Z/2026-10-01T'
        '00:00:00Z", "epsilon": -1, "time": "t"}]}',
    ],
)
def test_a_corrupt_ledger_is_an_error_and_kept(tmp_path: Path, content: str) -> None:
    ledger = tmp_path / "ledger.json"
    ledger.write_text(content)
    with pytest.raises(DocumentError, match="privacy ledger is corrupt"):
        build(write_records(tmp_path, per_cell=3), ledger, "2026-Q3", 0.5)
    with pytest.raises(DocumentError):
        record_release(ledger, report="report--x", period=Q3, epsilon=0.1)
    assert ledger.read_text() == content


def test_ledger_is_json_with_every_release(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.json"
    record_release(ledger, report="report--a", period=Q3, epsilon=0.3)
    record_release(ledger, report="report--b", period=parse_period("2026"), epsilon=0.2)
    data = json.loads(ledger.read_text())
    assert data["version"] == 1
    assert [(e["report"], e["epsilon"]) for e in data["releases"]] == [
        ("report--a", 0.3),
        ("report--b", 0.2),
    ]
    assert spent_epsilon(ledger, Q3) == pytest.approx(0.5)
    assert spent_epsilon(ledger, parse_period("2027")) == 0
    # No temporary file left behind (the lock file stays, empty).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.json", "ledger.json.lock"]


def test_concurrent_releases_lose_no_entry_and_respect_the_budget(tmp_path: Path) -> None:
    """Builds running at once take turns on the ledger: every charge is recorded, and
    together they never spend more than the budget."""
    ledger = tmp_path / "ledger.json"
    period = parse_period("2026-Q3")
    start = threading.Barrier(12)

    def charge(number: int) -> float | None:
        start.wait()
        try:
            return charge_release(
                ledger, report=f"report-{number}", period=period, epsilon=0.5, budget=4.0
            )
        except PrivacyBudgetExceeded:
            return None

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(charge, range(12)))
    charged = sorted(r for r in results if r is not None)
    assert charged == [0.5 * n for n in range(1, 9)]  # 8 fit in a budget of 4
    assert results.count(None) == 4
    entries = ledger_entries(ledger)
    assert len(entries) == 8
    assert spent_epsilon(ledger, period) == 4.0
