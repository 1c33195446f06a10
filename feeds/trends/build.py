"""Build a trend report from the member's incident records, on the member's machine.

:func:`build_trend_report` reads the records (:mod:`feeds.trends.records`), aggregates
them with every margin (:mod:`feeds.trends.aggregate`), optionally adds OpenDP noise
(:mod:`feeds.trends.privacy`), suppresses small cells and whatever would reveal them
(:mod:`feeds.trends.suppression`), and returns the STIX bundle with the trend report
plus a local summary for the member. The report holds aggregated values only: no
record, date or per-record value is in it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feeds.errors import InvalidParameter
from feeds.trends.aggregate import Key, Series, Table, aggregate, is_margin, select_metrics
from feeds.trends.periods import Period
from feeds.trends.privacy import LIBRARY, charge_release, plan_release
from feeds.trends.records import RowProblem, read_incidents
from feeds.trends.report import (
    DIMENSIONS,
    DifferentialPrivacy,
    Disclosure,
    MetricNoise,
    TrendExtension,
    trend_bundle,
    trend_report,
)
from feeds.trends.suppression import Check, Protection, primary_suppressions, protect, sort_key
from feeds.trends.taxonomy import taxonomy

__all__ = ["BuildSummary", "Built", "build_trend_report"]


@dataclass(frozen=True, slots=True)
class BuildSummary:
    """What the build did, for the member only (it may say what the report must not)."""

    path: str
    period: str
    period_label: str
    report_id: str
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    k: int
    rows: int
    """Data rows read."""
    valid: int
    """Valid rows in the period (the records aggregated)."""
    outside_period: int
    problems: tuple[RowProblem, ...]
    ignored_columns: tuple[str, ...]
    cells: int
    """Base cells (combinations with at least one record)."""
    margins: int
    published_values: int
    suppressed_primary: int
    """Values suppressed for having fewer than k contributing records."""
    suppressed_secondary: int
    """Values suppressed to protect those."""
    unprotectable: tuple[Key, ...] = ()
    """Primary cells whose count the table's structure alone reveals to an attacker who
    knows which cells exist and which are below k (see :mod:`feeds.trends.suppression`)."""
    epsilon: float | None = None
    cumulative_epsilon: float | None = None
    ledger: str | None = None
    noise: tuple[MetricNoise, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data (``--json``)."""
        return {
            "path": self.path,
            "period": self.period,
            "period_label": self.period_label,
            "report_id": self.report_id,
            "dimensions": list(self.dimensions),
            "metrics": list(self.metrics),
            "k": self.k,
            "rows": self.rows,
            "valid": self.valid,
            "outside_period": self.outside_period,
            "problems": [{"line": p.line, "reason": p.reason} for p in self.problems],
            "ignored_columns": list(self.ignored_columns),
            "cells": self.cells,
            "margins": self.margins,
            "published_values": self.published_values,
            "suppressed_primary": self.suppressed_primary,
            "suppressed_secondary": self.suppressed_secondary,
            "unprotectable": [list(key) for key in self.unprotectable],
            "epsilon": self.epsilon,
            "cumulative_epsilon": self.cumulative_epsilon,
            "ledger": self.ledger,
            "noise": [noise.model_dump(mode="json") for noise in self.noise],
        }


@dataclass(frozen=True, slots=True)
class Built:
    """A built trend report: the STIX bundle to share, its extension, and the local summary."""

    bundle: dict[str, Any]
    report: dict[str, Any]
    extension: TrendExtension
    summary: BuildSummary


_MEMBER = re.compile(
    r"identity--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)


def _check_parameters(
    k: int,
    epsilon: float | None,
    epsilon_budget: float | None,
    dimensions: Sequence[str],
    reporter_kind: str,
) -> tuple[str, ...]:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidParameter("k", "must be a positive integer")
    if k == 2 and epsilon is None:
        raise InvalidParameter(
            "k",
            "2 protects nothing: a suppressed cell with fewer than 2 records holds exactly one;"
            " use k = 1 (no suppression) or k >= 3",
        )
    if epsilon is not None and not (epsilon > 0 and epsilon < float("inf")):
        raise InvalidParameter("epsilon", "must be a positive number")
    if epsilon_budget is not None and not epsilon_budget > 0:
        raise InvalidParameter("epsilon budget", "must be a positive number")
    if reporter_kind not in taxonomy().ids("reporter_kinds"):
        raise InvalidParameter(
            "reporter kind",
            f"{reporter_kind!r} is not one of {', '.join(taxonomy().ids('reporter_kinds'))}",
        )
    chosen = set(dimensions)
    unknown = sorted(chosen - set(DIMENSIONS))
    if unknown:
        raise InvalidParameter("dimensions", f"unknown dimension {unknown[0]!r}")
    return ("region", "offence_category", *(d for d in DIMENSIONS[2:] if d in chosen))


def _suppress(table: Table, k: int, noised: bool) -> dict[tuple[str, str], Protection]:
    """The suppression pattern of every series, by ``(metric, unit)``."""
    primary = primary_suppressions(table.counts, k)
    shared = [
        Check(
            series.values,
            bounds="informed" if series.metric == "incidents" and not noised else "nonnegative",
        )
        for series in table.series
        if series.unit == "count"
    ]
    pattern = protect(shared, primary, k=k, weights=table.counts)
    found: dict[tuple[str, str], Protection] = {}
    for series in table.series:
        if series.unit == "count":
            found[series.metric, series.unit] = pattern
            continue
        own = protect(
            [Check(series.values, min_width=series.per_unit, integer=False)],
            (primary | primary_suppressions(series.contributors, k)) & series.values.keys(),
            k=k,
            weights=series.contributors,
            already=pattern.suppressed,
        )
        found[series.metric, series.unit] = own
    return found


def _value(series: Series, key: Key) -> float:
    value = series.values[key]
    return value if series.per_unit == 1 else round(value / series.per_unit, 2)


def _cells(
    table: Table, patterns: Mapping[tuple[str, str], Protection]
) -> tuple[list[dict[str, Any]], int, int]:
    cells: list[dict[str, Any]] = []
    base = margins = 0
    for series in table.series:
        suppressed = patterns[series.metric, series.unit].suppressed
        for key in sorted(series.values, key=lambda key: (key.count(None), sort_key(key))):
            hidden = key in suppressed
            cell: dict[str, Any] = dict(zip(table.dimensions, key, strict=True))
            cell |= {
                "metric": series.metric,
                "unit": series.unit,
                "value": None if hidden else _value(series, key),
                "suppressed": hidden,
            }
            if series.metric == "incidents" and not hidden and key in table.enablers:
                cell["enablers"] = list(table.enablers[key])
            if hidden:
                if is_margin(key):
                    margins += 1
                else:
                    base += 1
            cells.append(cell)
    return cells, base, margins


def _notes(
    *,
    k: int,
    table: Table,
    primary: int,
    secondary: int,
    suppressed_cells: int,
    suppressed_margins: int,
    privacy: DifferentialPrivacy | None,
) -> list[str]:
    notes = [
        "Values are aggregated from the member's incident records by "
        + " x ".join(name.replace("_", " ") for name in table.dimensions)
        + ", with every marginal total (a null dimension means all of its values); no"
        " incident record, date or per-record value is included in this report.",
    ]
    if k > 1:
        notes.append(
            f"Every cell and marginal total with fewer than k = {k} contributing incident"
            " records is suppressed, for all its metrics; a reported-losses value is also"
            f" suppressed when fewer than {k} of its records reported a loss in that currency."
        )
    else:
        notes.append("No k-threshold was applied (k = 1): no value is suppressed for its size.")
    if primary or secondary:
        notes.append(
            f"In all {suppressed_cells} cell values and {suppressed_margins} marginal totals are"
            f" suppressed: {primary} for falling below the threshold and {secondary} more"
            " (secondary suppression) so that none of those can be recovered; the report does"
            " not say which is which."
        )
        notes.append(
            "Secondary suppression (interval protection): for an attacker who knows every"
            " published value, which cells exist and which are suppressed, k, that each margin"
            " is the sum of the cells under it, and even which suppressed cells fall below k,"
            " the feasible range of every such value, computed by integer and linear"
            " programming (HiGHS via SciPy), spans at least one unit (two record counts, one"
            " victim, one unit of currency); a summed value of zero needs no range."
        )
    if privacy is None:
        notes.append(
            f"Enabler tags are listed on a cell's incident count only when at least {k} of its"
            " records carry them."
            if k > 1
            else "Enabler tags are listed on a cell's incident count when its records carry them."
        )
        notes.append("No noise was added: published values are exact.")
        return notes
    parts = []
    for noise in privacy.metrics:
        clamp = (
            f", each record's value clamped to [{noise.bounds[0]:g}, {noise.bounds[1]:g}]"
            if noise.bounds is not None
            else ""
        )
        parts.append(
            f"{noise.metric}: {noise.mechanism} noise of scale {noise.scale:g}{clamp},"
            f" epsilon {noise.epsilon:g}"
        )
    notes.append(
        f"Differential privacy ({privacy.library}), the unit of privacy being one incident"
        f" record added or removed: epsilon {privacy.epsilon:g} for this release, composed by"
        f" OpenDP over the metrics ({'; '.join(parts)}). The member's cumulative epsilon"
        f" on records of this period, this release included, is {privacy.cumulative_epsilon:g}."
    )
    notes.append(
        "Noisy values below zero are published as zero, losses in whole cents, and every"
        " marginal total is the sum of the noisy cells under it. Enabler tags are omitted"
        " under differential privacy."
    )
    notes.append(
        "Which cells exist and which are suppressed is decided on the true record counts and"
        " is not covered by the differential-privacy guarantee; secondary suppression is"
        " computed on the published noisy values."
    )
    return notes


def build_trend_report(
    path: str | Path,
    *,
    period: Period,
    reporter_kind: str,
    k: int = 10,
    epsilon: float | None = None,
    dimensions: Sequence[str] = ("region", "offence_category"),
    metrics: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    ledger: str | Path | None = None,
    epsilon_budget: float | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> Built:
    """Build the trend report of ``period`` from the incident records at ``path``.

    ``k`` is the suppression threshold (1 disables it); ``epsilon`` (optional) adds
    OpenDP noise, recorded in the privacy ``ledger`` (a path; required with ``epsilon``)
    before this returns; ``epsilon_budget`` caps the cumulative epsilon of the period.
    ``bounds`` overrides :data:`feeds.trends.privacy.DEFAULT_BOUNDS`. Returns the
    :class:`Built` report. Raises `DocumentError` (`NoValidRecords`) for the records or
    the ledger, `InvalidParameter` for a bad parameter, `PrivacyBudgetExceeded` (before
    any noise is drawn) if the release would exceed the budget.
    """
    dims = _check_parameters(k, epsilon, epsilon_budget, dimensions, reporter_kind)
    if epsilon is not None and ledger is None:
        raise InvalidParameter("ledger", "a differentially private release needs a ledger")
    now = now or datetime.now(UTC)
    report_id = f"report--{uuid.uuid4()}"
    if created_by is not None and not _MEMBER.fullmatch(created_by):
        raise InvalidParameter("member", f"{created_by!r} is not a member id (identity--<uuid>)")
    records = read_incidents(path, period, dimensions=dims, progress=progress)
    try:
        chosen = select_metrics(records, metrics)
    except ValueError as exc:
        raise InvalidParameter("metrics", str(exc)) from None
    table = aggregate(records, metrics=chosen, k=k)
    privacy: DifferentialPrivacy | None = None
    if epsilon is not None:
        assert ledger is not None
        try:
            plan = plan_release(records, table, epsilon, bounds=bounds)
        except ValueError as exc:
            raise InvalidParameter("epsilon or bounds", str(exc)) from None
        cumulative = charge_release(
            ledger,
            report=report_id,
            period=period,
            epsilon=plan.epsilon,
            budget=epsilon_budget,
            now=now,
        )
        table = plan.release(records, table)
        privacy = DifferentialPrivacy(
            library=LIBRARY,
            epsilon=plan.epsilon,
            cumulative_epsilon=cumulative,
            metrics=plan.noise,
            note=(
                "Epsilon split equally over the metrics; each metric's epsilon is OpenDP's"
                " privacy map at one record; enabler tags omitted; the suppression pattern"
                " is not covered."
            ),
        )
    patterns = _suppress(table, k, noised=privacy is not None)
    cells, suppressed_cells, suppressed_margins = _cells(table, patterns)
    primary = sum(len(patterns[s.metric, s.unit].primary & s.values.keys()) for s in table.series)
    hidden = suppressed_cells + suppressed_margins
    notes = _notes(
        k=k,
        table=table,
        primary=primary,
        secondary=hidden - primary,
        suppressed_cells=suppressed_cells,
        suppressed_margins=suppressed_margins,
        privacy=privacy,
    )
    extension = TrendExtension.model_validate(
        {
            "taxonomy_version": taxonomy().version,
            "period": period.interval,
            "period_label": period.label,
            "reporter_kind": reporter_kind,
            "dimensions": list(dims),
            "metrics": list(table.metrics),
            "disclosure": Disclosure(
                k=k,
                secondary_suppression="interval-protection" if hidden else None,
                suppressed_cells=suppressed_cells,
                suppressed_margins=suppressed_margins,
                differential_privacy=privacy,
                notes=tuple(notes),
            ),
            "cells": cells,
        }
    )
    report = trend_report(extension, created_by=created_by, now=now, report_id=report_id)
    unprotectable = sorted(
        {key for protection in patterns.values() for key in protection.unprotectable},
        key=sort_key,
    )
    summary = BuildSummary(
        path=str(path),
        period=period.interval,
        period_label=period.label,
        report_id=report_id,
        dimensions=dims,
        metrics=table.metrics,
        k=k,
        rows=records.rows,
        valid=len(records),
        outside_period=records.outside_period,
        problems=records.problems,
        ignored_columns=records.ignored_columns,
        cells=sum(1 for key in table.counts if not is_margin(key)),
        margins=sum(1 for key in table.counts if is_margin(key)),
        published_values=len(cells) - hidden,
        suppressed_primary=primary,
        suppressed_secondary=hidden - primary,
        unprotectable=tuple(unprotectable),
        epsilon=None if privacy is None else privacy.epsilon,
        cumulative_epsilon=None if privacy is None else privacy.cumulative_epsilon,
        ledger=None if ledger is None else str(ledger),
        noise=() if privacy is None else privacy.metrics,
    )
    return Built(trend_bundle(report), report, extension, summary)
