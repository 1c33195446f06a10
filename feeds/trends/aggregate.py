"""Aggregation of incident records into cells and their marginal totals.

A cell key holds one value per breakdown dimension (``Records.dimensions``, in
:data:`feeds.trends.report.DIMENSIONS` order); ``None`` in a position means "all
values" (a marginal total). For ``d`` dimensions every base cell has ``2**d - 1``
margins above it: every proper subset of its dimensions kept, the others summed out.
Only cells with at least one record exist; an absent cell is zero.

Values are integers in the metric's smallest unit: counts, or cents for reported
losses (one :class:`Series` per currency).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, product

from feeds.trends.records import Records
from feeds.trends.taxonomy import taxonomy

__all__ = [
    "METRIC_COLUMNS",
    "Key",
    "Series",
    "Table",
    "aggregate",
    "is_margin",
    "margins_of",
    "select_metrics",
    "with_margins",
]

Key = tuple[str | None, ...]
"""A cell's values along the report's dimensions; None = all values (a margin)."""

METRIC_COLUMNS = {
    "victims": "victims",
    "reported-losses": "loss",
    "takedowns": "takedowns",
    "arrests": "arrests",
}
"""The summed metrics and the record column each sums (``incidents`` counts records)."""

CENTS = 100
"""Reported losses are aggregated in cents: ``Series.values / Series.per_unit``."""


@dataclass(frozen=True, slots=True)
class Series:
    """One metric (in one unit) over every cell and margin that exists.

    ``values`` are in integer sub-units (``per_unit`` of them make one ``unit``);
    ``contributors`` counts the records behind each value: every record of the cell,
    or, for reported losses, the records of the cell with a loss in ``unit``.
    """

    metric: str
    unit: str
    values: dict[Key, int]
    contributors: dict[Key, int]
    per_unit: int = 1


@dataclass(frozen=True, slots=True)
class Table:
    """The aggregated records: record counts, one series per metric (and currency), and
    the enabler tags present in at least ``k`` records of each base cell."""

    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    counts: dict[Key, int]
    """Records per cell and per margin (every key that exists)."""
    series: tuple[Series, ...]
    enablers: dict[Key, tuple[str, ...]]


def is_margin(key: Key) -> bool:
    """Whether ``key`` totals over some dimension."""
    return None in key


def margins_of(key: Key) -> list[Key]:
    """Every margin above ``key`` (its values with one or more further positions summed
    out), in a fixed order; ``key`` itself is not included."""
    known = [index for index, value in enumerate(key) if value is not None]
    found = []
    for drop in product((False, True), repeat=len(known)):
        if any(drop):
            margin = list(key)
            for index, dropped in zip(known, drop, strict=True):
                if dropped:
                    margin[index] = None
            found.append(tuple(margin))
    return found


def with_margins(base: Mapping[Key, int]) -> dict[Key, int]:
    """``base`` (cells without a None) plus every margin, each the sum of the cells under
    it. Margins exist only above existing cells."""
    total: dict[Key, int] = dict(base)
    if not base:
        return total
    width = len(next(iter(base)))
    masks = [keep for keep in product((True, False), repeat=width) if not all(keep)]
    for key, value in base.items():
        for keep in masks:
            margin = tuple(part if k else None for part, k in zip(key, keep, strict=True))
            total[margin] = total.get(margin, 0) + value
    return total


def select_metrics(records: Records, metrics: Sequence[str] | None) -> tuple[str, ...]:
    """The metrics to report, in taxonomy order: ``metrics`` if given, else ``incidents``
    plus every summed metric whose column the file has. Raises `ValueError` for an
    unknown metric."""
    order = taxonomy().ids("metrics")
    if metrics is None:
        chosen = {"incidents"} | {m for m, col in METRIC_COLUMNS.items() if col in records.columns}
    else:
        unknown = [metric for metric in metrics if metric not in order]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r} (known: {', '.join(order)})")
        if not metrics:
            raise ValueError("no metric chosen")
        chosen = set(metrics)
    return tuple(metric for metric in order if metric in chosen)


def _sums(cells: Iterable[int], values: Iterable[int], size: int) -> list[int]:
    total = [0] * size
    for cell, value in zip(cells, values, strict=True):
        total[cell] += value
    return total


def aggregate(records: Records, *, metrics: Sequence[str] | None = None, k: int = 1) -> Table:
    """Aggregate ``records`` by cell, with every margin.

    ``metrics`` as for :func:`select_metrics`. Enablers of a base cell: the tags present
    in at least ``k`` of its records. Returns the :class:`Table`.
    """
    chosen = select_metrics(records, metrics)
    keys: list[Key] = list(records.keys)
    size = len(keys)
    per_cell = Counter(records.cell)
    counts = with_margins({keys[index]: count for index, count in per_cell.items()})
    series: list[Series] = []
    for metric in chosen:
        if metric == "incidents":
            series.append(Series(metric, "count", dict(counts), counts))
        elif metric == "reported-losses":
            series.extend(_losses(records, keys))
        else:
            sums = _sums(records.cell, records.column(METRIC_COLUMNS[metric]), size)
            values = with_margins({keys[index]: sums[index] for index in per_cell})
            series.append(Series(metric, "count", values, counts))
    return Table(records.dimensions, chosen, counts, tuple(series), _enablers(records, keys, k))


def _losses(records: Records, keys: list[Key]) -> list[Series]:
    found: list[Series] = []
    for code_index, code in sorted(enumerate(records.currencies), key=lambda item: item[1]):
        values: dict[Key, int] = {}
        contributors: dict[Key, int] = {}
        for cell, cents, currency in zip(records.cell, records.loss, records.currency, strict=True):
            if currency == code_index:
                key = keys[cell]
                values[key] = values.get(key, 0) + cents
                contributors[key] = contributors.get(key, 0) + 1
        if contributors:
            found.append(
                Series(
                    "reported-losses",
                    code,
                    with_margins(values),
                    with_margins(contributors),
                    per_unit=CENTS,
                )
            )
    return found


def _enablers(records: Records, keys: list[Key], k: int) -> dict[Key, tuple[str, ...]]:
    names = taxonomy().ids("enablers")
    tally: dict[int, list[int]] = {}
    for cell, mask in zip(records.cell, records.enablers, strict=True):
        if mask:
            counts = tally.setdefault(cell, [0] * len(names))
            for bit in range(len(names)):
                if mask >> bit & 1:
                    counts[bit] += 1
    found: dict[Key, tuple[str, ...]] = {}
    for cell, counts in tally.items():
        tags = tuple(compress(names, (count >= k for count in counts)))
        if tags:
            found[keys[cell]] = tags
    return found
