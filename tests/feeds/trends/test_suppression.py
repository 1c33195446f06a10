"""Suppression: nothing below k is published, and no suppressed cell can be recovered.

The property test checks the published table by brute force, independently of the LP
code: it enumerates integer completions of the suppressed cells consistent with every
published value, the margin equations and an informed attacker's bounds (cells below k
hold 1..k-1 records, other suppressed cells k or more).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from itertools import product
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.errors import InvalidParameter
from feeds.trends.aggregate import Key, with_margins
from feeds.trends.build import build_trend_report
from feeds.trends.periods import parse_period
from feeds.trends.suppression import Check, primary_suppressions, protect

Q3 = parse_period("2026-Q3")
REGIONS = ["DE", "FR", "NL", "BE"]
OFFENCES = ["illegal-access", "computer-related-fraud", "data-interference"]
SECTORS = ["banking", "health"]


def write_counts(folder: Path, counts: Mapping[Key, int], dims: tuple[str, ...]) -> Path:
    path = folder / "incidents.csv"
    lines = ["date,region,offence_category,sector"]
    for key, count in counts.items():
        sector = key[2] if len(key) > 2 else ""
        lines += [f"2026-08-01,{key[0]},{key[1]},{sector}"] * count
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def feasible(
    truth: Mapping[Key, int],
    published: Mapping[Key, int],
    k: int,
    fixed: tuple[Key, int],
    unknown_margins_too: bool = False,
) -> bool:
    """Whether some integer completion of the unpublished cells has ``fixed`` and is
    consistent with ``published``, the margin equations and the informed bounds.

    A plain branch-and-prune search: interval bounds are propagated through every margin
    equation, then the cell with the narrowest range is tried at each value."""
    cells = [key for key in truth if None not in key]
    margins = [key for key in truth if None in key]
    primary = {key for key, count in truth.items() if count < k}
    cap = 2 * max(truth.values()) + 2 * k + 10  # the cap the LP code uses too

    def allowed(key: Key) -> tuple[int, int]:
        if key == fixed[0]:
            return fixed[1], fixed[1]
        if key in published and not unknown_margins_too:
            return published[key], published[key]
        return (1, k - 1) if key in primary else (k, cap * len(cells))

    under = {
        m: [c for c in cells if all(p is None or p == q for p, q in zip(m, c, strict=True))]
        for m in margins
    }
    bounds = {m: allowed(m) for m in margins}
    start = {c: allowed(c) for c in cells}
    start = {c: (low, min(high, cap)) for c, (low, high) in start.items()}

    def propagate(ranges: dict[Key, tuple[int, int]]) -> bool:
        changed = True
        while changed:
            changed = False
            for margin in margins:
                low_m, high_m = bounds[margin]
                least = sum(ranges[c][0] for c in under[margin])
                most = sum(ranges[c][1] for c in under[margin])
                if least > high_m or most < low_m:
                    return False
                for c in under[margin]:
                    low, high = ranges[c]
                    new_low = max(low, low_m - (most - high))
                    new_high = min(high, high_m - (least - low))
                    if new_low > new_high:
                        return False
                    if (new_low, new_high) != (low, high):
                        ranges[c] = (new_low, new_high)
                        least += new_low - low
                        most += new_high - high
                        changed = True
        return True

    def search(ranges: dict[Key, tuple[int, int]]) -> bool:
        if not propagate(ranges):
            return False
        open_cells = [c for c in cells if ranges[c][0] < ranges[c][1]]
        if not open_cells:
            return True  # every cell fixed and every margin within its bounds
        cell = min(open_cells, key=lambda c: (ranges[c][1] - ranges[c][0], str(c)))
        low, high = ranges[cell]
        true = truth[cell]
        for value in sorted(range(low, high + 1), key=lambda v: abs(v - true)):
            if search({**ranges, cell: (value, value)}):
                return True
        return False

    return search(start)


tables = st.builds(
    lambda regions, offences, by_sector, k, data: (regions, offences, by_sector, k, data),
    st.integers(2, 4),
    st.integers(2, 3),
    st.booleans(),
    st.integers(3, 4),
    st.data(),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tables)
def test_no_suppressed_cell_is_recoverable(
    table: tuple[int, int, bool, int, st.DataObject],
) -> None:
    regions, offences, by_sector, k, data = table
    dims = ("region", "offence_category", *(("sector",) if by_sector else ()))
    axes = [REGIONS[:regions], OFFENCES[:offences], *([SECTORS] if by_sector else [])]
    drawn = {key: data.draw(st.integers(0, 3 * k), label=str(key)) for key in product(*axes)}
    counts: dict[Key, int] = {key: count for key, count in drawn.items() if count}
    if not counts:
        counts = {tuple(axis[0] for axis in axes): 1}
    truth = with_margins(counts)
    with tempfile.TemporaryDirectory() as folder:
        built = build_trend_report(
            write_counts(Path(folder), counts, dims),
            period=Q3,
            reporter_kind="authority",
            k=k,
            dimensions=dims,
            metrics=["incidents"],
        )
    published: dict[Key, int] = {}
    suppressed: set[Key] = set()
    for cell in built.extension.cells:
        key = cell.key(dims)
        assert key in truth  # absent cells are not listed
        if cell.suppressed:
            suppressed.add(key)
        else:
            assert cell.value == truth[key]  # published values are the truth
            assert truth[key] >= k  # nothing below k is published
            published[key] = int(cell.value)
    assert set(published) | suppressed == set(truth)
    primary = {key for key, count in truth.items() if count < k}
    assert primary <= suppressed
    unprotectable = set(built.summary.unprotectable)
    for target in sorted(primary, key=str):
        values = [v for v in range(1, k) if feasible(truth, published, k, (target, v))]
        if target in unprotectable:
            # The code claims no pattern can help: even with everything unknown the
            # structure pins the value down.
            everything = [
                v
                for v in range(1, k)
                if feasible(truth, {}, k, (target, v), unknown_margins_too=True)
            ]
            assert len(everything) == 1
        else:
            assert len(values) >= 2, f"{target} (true {truth[target]}) recoverable: {values}"
    assert (
        built.extension.disclosure.suppressed_cells + built.extension.disclosure.suppressed_margins
        == len(suppressed)
    )


def test_a_lone_small_cell_needs_a_rectangle() -> None:
    base: dict[Key, int] = {
        ("A", "x"): 1, ("A", "y"): 20, ("A", "z"): 15,
        ("B", "x"): 30, ("B", "y"): 25, ("B", "z"): 12,
        ("C", "x"): 9, ("C", "y"): 40, ("C", "z"): 3,
    }  # fmt: skip
    values = with_margins(base)
    protection = protect(
        [Check(values, "informed")], primary_suppressions(values, 5), k=5, weights=values
    )
    assert protection.primary == {("A", "x"), ("C", "z")}
    assert protection.secondary == {("A", "z"), ("C", "x")}
    assert protection.suppressed == protection.primary | protection.secondary


def test_a_suppressed_margin_is_protected_too() -> None:
    # Row A totals 4 (< k): its margin is suppressed, and so must be enough else that
    # the column margins and grand total do not give it away.
    base: dict[Key, int] = {("A", "x"): 2, ("A", "y"): 2, ("B", "x"): 10, ("B", "y"): 11}
    values = with_margins(base)
    protection = protect(
        [Check(values, "informed")], primary_suppressions(values, 5), k=5, weights=values
    )
    assert ("A", None) in protection.primary
    assert not {(None, "x"), (None, "y"), (None, None)} & protection.primary
    # The grand total minus row B would give row A away.
    assert {("B", None), (None, None)} & protection.suppressed


def test_summed_metric_protection_width_and_zero() -> None:
    counts = with_margins({("A", "x"): 1, ("A", "y"): 20, ("B", "x"): 30, ("B", "y"): 25})
    victims = with_margins({("A", "x"): 7, ("A", "y"): 0, ("B", "x"): 0, ("B", "y"): 3})
    protection = protect(
        [Check(counts, "informed"), Check(victims)],
        primary_suppressions(counts, 5),
        k=5,
        weights=counts,
    )
    # Counts alone are protected by the rectangle; victims are too (7 could be 0..7).
    assert protection.suppressed == {("A", "x"), ("A", "y"), ("B", "x"), ("B", "y")}


def test_k_two_is_refused(tmp_path: Path) -> None:
    path = write_counts(tmp_path, {("DE", "illegal-access"): 3}, ("region", "offence_category"))
    with pytest.raises(InvalidParameter, match="k: 2 protects nothing"):
        build_trend_report(path, period=Q3, reporter_kind="authority", k=2)
