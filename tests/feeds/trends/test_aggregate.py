"""Aggregation against a brute-force reference."""

from __future__ import annotations

import json
import tempfile
from itertools import product
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.trends.aggregate import aggregate, margins_of, with_margins
from feeds.trends.periods import parse_period
from feeds.trends.records import read_incidents

Q3 = parse_period("2026-Q3")
REGIONS = ["DE", "FR", "150"]
OFFENCES = ["illegal-access", "computer-related-fraud"]
SECTORS = ["banking", "health"]
ENABLERS = ["ransomware-as-a-service", "dark-web-markets"]

record = st.fixed_dictionaries(
    {
        "date": st.sampled_from(["2026-07-01", "2026-09-30T23:59:59Z", "2026-10-01"]),
        "region": st.sampled_from(REGIONS),
        "offence_category": st.sampled_from(OFFENCES),
        "sector": st.sampled_from(SECTORS),
        "victims": st.one_of(st.none(), st.integers(0, 50)),
        "loss": st.one_of(st.none(), st.decimals(0, 10_000, places=2).map(str)),
        "currency": st.sampled_from(["EUR", "USD"]),
        "enablers": st.lists(st.sampled_from(ENABLERS), max_size=2),
    }
)


def reference(
    rows: list[dict[str, Any]], dims: tuple[str, ...], k: int
) -> dict[tuple[str, str, tuple[str | None, ...]], Any]:
    """Every cell and margin of every series, by naive loops over the rows."""
    inside = [row for row in rows if row["date"] != "2026-10-01"]
    values: dict[str, list[str]] = {
        "region": REGIONS,
        "offence_category": OFFENCES,
        "sector": SECTORS,
    }
    found: dict[tuple[str, str, tuple[str | None, ...]], Any] = {}
    for key in product(*([*values[d], None] for d in dims)):
        members = [
            row
            for row in inside
            if all(part is None or row[d] == part for d, part in zip(dims, key, strict=True))
        ]
        if not members:
            continue
        found["incidents", "count", key] = len(members)
        found["victims", "count", key] = sum(row["victims"] or 0 for row in members)
        for code in ("EUR", "USD"):
            losses = [
                row["loss"]
                for row in members
                if row["loss"] is not None and row["currency"] == code
            ]
            if losses:
                found["reported-losses", code, key] = sum(
                    round(float(loss) * 100) for loss in losses
                )
        if None not in key:
            tags = tuple(
                tag for tag in ENABLERS if sum(tag in row["enablers"] for row in members) >= k
            )
            if tags:
                found["enablers", "", key] = tuple(sorted(tags, key=ENABLERS.index))
    return found


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(record, min_size=1, max_size=40),
    by_sector=st.booleans(),
    k=st.integers(1, 3),
)
def test_aggregation_matches_brute_force(
    rows: list[dict[str, Any]], by_sector: bool, k: int
) -> None:
    dims = ("region", "offence_category", "sector") if by_sector else ("region", "offence_category")
    if all(row["date"] == "2026-10-01" for row in rows):
        rows = [*rows, rows[0] | {"date": "2026-08-01"}]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "incidents.jsonl"
        path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
        table = aggregate(read_incidents(path, Q3, dimensions=dims), k=k)
    got: dict[tuple[str, str, tuple[str | None, ...]], Any] = {}
    for series in table.series:
        for key, value in series.values.items():
            got[series.metric, series.unit, key] = value
    for key, tags in table.enablers.items():
        got["enablers", "", key] = tags
    assert got == reference(rows, dims, k)
    assert table.metrics == ("incidents", "victims", "reported-losses")


def test_margins_of_every_proper_subset() -> None:
    assert margins_of(("DE", "fraud")) == [("DE", None), (None, "fraud"), (None, None)]
    assert len(margins_of(("DE", "fraud", "banking"))) == 7
    assert margins_of(("DE", None)) == [(None, None)]
    assert with_margins({("a", "x"): 1, ("b", "x"): 2}) == {
        ("a", "x"): 1,
        ("b", "x"): 2,
        ("a", None): 1,
        ("b", None): 2,
        (None, "x"): 3,
        (None, None): 3,
    }


def test_metrics_only_for_columns_present(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text("date,region,offence_category,arrests\n2026-07-01,DE,illegal-access,2\n")
    records = read_incidents(path, Q3)
    assert aggregate(records).metrics == ("incidents", "arrests")
    explicit = aggregate(records, metrics=["takedowns"])
    assert explicit.metrics == ("takedowns",)
    assert explicit.series[0].values[("DE", "illegal-access")] == 0
