"""Differential privacy for trend reports, through OpenDP, and the member's privacy ledger.

The unit of privacy is one incident record added or removed. Every base cell's value
of every metric gets noise from OpenDP:

* ``incidents``: records are mapped to their cell (a 1-stable row-by-row map), counted
  by OpenDP's ``make_count_by_categories`` and released with ``make_laplace``, which on
  integers is the discrete Laplace mechanism;
* ``victims``, ``takedowns``, ``arrests``, ``reported-losses``: each record's value is
  clamped to per-metric bounds (:data:`DEFAULT_BOUNDS`) and summed by cell (by cell and
  currency for losses, which are summed in cents), a transformation whose L1 stability
  is ``d_in * max(|lower|, |upper|)``; the sums are released with ``make_laplace``
  (discrete Laplace on the integers).

The requested epsilon is split equally across the released metrics; each metric's
scale is found with ``dp.binary_search_param`` and its epsilon is what OpenDP's privacy
map gives for ``d_in = 1``. The release's epsilon is the map of OpenDP's composition of
all of them. The two grouping transformations are user-defined (OpenDP's
"honest-but-curious" feature): OpenDP has no grouped clamped sum outside its Polars
front end, and the cell keys are those of the data, so *which* cells exist is not
covered by the guarantee (no more than the suppression pattern is).

Post-processing: negatives become 0, and margins are the sums of the noised base cells,
so the published table stays additive.

The privacy ledger (a small JSON file in the member's keystore directory) records every
release: report id, period, epsilon and time. The cumulative epsilon of a release is
the sum over all releases whose period overlaps its own (records of disjoint periods
are disjoint), itself included.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import opendp.prelude as dp

from feeds.errors import DocumentError, PrivacyBudgetExceeded
from feeds.trends.aggregate import CENTS, METRIC_COLUMNS, Key, Table, with_margins
from feeds.trends.periods import Period
from feeds.trends.records import Records
from feeds.trends.report import MetricNoise
from feeds.trends.suppression import sort_key

__all__ = [
    "DEFAULT_BOUNDS",
    "LIBRARY",
    "DPRelease",
    "LedgerEntry",
    "charge_release",
    "ledger_entries",
    "plan_release",
    "record_release",
    "spent_epsilon",
]

dp.enable_features("contrib", "honest-but-curious")

LIBRARY = f"opendp {dp.__version__}"
"""The library (and version) that adds the noise and computes epsilon."""

DEFAULT_BOUNDS: dict[str, tuple[float, float]] = {
    "victims": (0, 100),
    "reported-losses": (0, 1_000_000),
    "takedowns": (0, 10),
    "arrests": (0, 10),
}
"""Per-record clamping bounds of the summed metrics (losses: per record, in its currency)."""

_RECORDS = dp.user_domain("IncidentRecords", lambda value: isinstance(value, Records))
_INTEGERS = dp.vector_domain(dp.atom_domain(T="i64"))


def _epsilon(measurement: dp.Measurement) -> float:
    """OpenDP's privacy map of ``measurement`` at one record added or removed."""
    return float(measurement.map(1))  # type: ignore[no-untyped-call]


def _bounds(metric: str, given: Mapping[str, tuple[float, float]] | None) -> tuple[int, int]:
    """``metric``'s clamping bounds in integer sub-units (cents for losses)."""
    lower, upper = (given or {}).get(metric, DEFAULT_BOUNDS[metric])
    per_unit = CENTS if metric == "reported-losses" else 1
    scaled = (lower * per_unit, upper * per_unit)
    if not all(math.isfinite(b) and float(b).is_integer() for b in scaled) or not (
        0 <= scaled[0] < scaled[1]
    ):
        unit = "whole cents" if per_unit == CENTS else "integers"
        raise ValueError(f"bounds of {metric} must be {unit} with 0 <= lower < upper")
    return int(scaled[0]), int(scaled[1])


def _count_measurement(position: Sequence[int], size: int) -> Callable[[float], dp.Measurement]:
    def cells(records: Records) -> list[int]:
        return [position[cell] for cell in records.cell]

    to_cells = dp.t.make_user_transformation(
        _RECORDS,
        dp.symmetric_distance(),
        dp.vector_domain(dp.atom_domain(T=int)),
        dp.symmetric_distance(),
        cells,
        lambda d_in: d_in,
    )
    counts = to_cells >> dp.t.then_count_by_categories(
        categories=list(range(size)), null_category=False, MO="L1Distance<i64>", TOA="i64"
    )
    return lambda scale: counts >> dp.m.then_laplace(scale)


def _sum_measurement(
    group: Callable[[Records], list[int]], upper: int
) -> Callable[[float], dp.Measurement]:
    sums = dp.t.make_user_transformation(
        _RECORDS,
        dp.symmetric_distance(),
        _INTEGERS,
        dp.l1_distance(T="i64"),
        group,
        lambda d_in: d_in * upper,
    )
    return lambda scale: sums >> dp.m.then_laplace(scale)


def _clamped_sums(
    column: str, position: Sequence[int], size: int, lower: int, upper: int
) -> Callable[[Records], list[int]]:
    def group(records: Records) -> list[int]:
        totals = [0] * size
        for cell, value in zip(records.cell, records.column(column), strict=True):
            totals[position[cell]] += min(max(value, lower), upper)
        return totals

    return group


def _clamped_losses(
    position: Mapping[tuple[int, int], int], size: int, lower: int, upper: int
) -> Callable[[Records], list[int]]:
    def group(records: Records) -> list[int]:
        totals = [0] * size
        for cell, cents, currency in zip(records.cell, records.loss, records.currency, strict=True):
            if currency >= 0:
                totals[position[cell, currency]] += min(max(cents, lower), upper)
        return totals

    return group


@dataclass(frozen=True, slots=True)
class _Part:
    metric: str
    build: Callable[[float], dp.Measurement]
    sensitivity: int
    per_unit: int
    bounds: tuple[float, float] | None
    categories: tuple[tuple[Key, str], ...]
    """What each output position is: (base cell, unit)."""


@dataclass(frozen=True, slots=True)
class DPRelease:
    """A planned differentially private release: the composed OpenDP measurement and the
    noise parameters, before any noise is drawn (:meth:`release` draws it)."""

    measurement: dp.Measurement
    parts: tuple[_Part, ...]
    noise: tuple[MetricNoise, ...]
    epsilon: float
    """OpenDP's privacy map of the composed measurement at ``d_in = 1``."""

    def release(self, records: Records, table: Table) -> Table:
        """Draw the noise: ``table`` with every value replaced by its noised, post-processed
        value (negatives to 0, margins the sums of the noised cells). Record counts
        (``Table.counts``, ``Series.contributors``) stay true: the k rule is about records."""
        outputs = self.measurement(records)
        noised: dict[tuple[str, str], dict[Key, int]] = {}
        for part, values in zip(self.parts, outputs, strict=True):
            for (key, unit), value in zip(part.categories, values, strict=True):
                noised.setdefault((part.metric, unit), {})[key] = max(int(value), 0)
        series = []
        for item in table.series:
            base = noised.get((item.metric, item.unit))
            if base is None:
                series.append(item)
                continue
            values = with_margins(base)
            series.append(replace(item, values={key: values[key] for key in item.values}))
        return replace(table, series=tuple(series), enablers={})


def plan_release(
    records: Records,
    table: Table,
    epsilon: float,
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> DPRelease:
    """Plan the differentially private release of ``table`` (aggregated from ``records``)
    with total ``epsilon``: one OpenDP measurement per metric, composed. Draws no noise.
    Raises `ValueError` for a bad epsilon or bounds."""
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError("epsilon must be a positive number")
    for metric in bounds or {}:
        if metric not in DEFAULT_BOUNDS:
            raise ValueError(f"no bounds apply to {metric!r} (only to {', '.join(DEFAULT_BOUNDS)})")
    base_keys = list(records.keys)
    order = sorted(range(len(base_keys)), key=lambda index: sort_key(base_keys[index]))
    position = [0] * len(base_keys)
    for slot, index in enumerate(order):
        position[index] = slot
    cells = tuple((base_keys[index], "count") for index in order)
    parts: list[_Part] = []
    for metric in table.metrics:
        if metric == "incidents":
            parts.append(_Part(metric, _count_measurement(position, len(cells)), 1, 1, None, cells))
            continue
        lower, upper = _bounds(metric, bounds)
        if metric == "reported-losses":
            pairs = sorted(
                {
                    (records.keys[cell], records.currencies[currency], cell, currency)
                    for cell, currency in zip(records.cell, records.currency, strict=True)
                    if currency >= 0
                },
                key=lambda item: (item[1], sort_key(item[0])),
            )
            if not pairs:
                continue
            where = {(cell, currency): slot for slot, (_, _, cell, currency) in enumerate(pairs)}
            build = _sum_measurement(_clamped_losses(where, len(pairs), lower, upper), upper)
            loss_cells = tuple((key, code) for key, code, _, _ in pairs)
            parts.append(
                _Part(metric, build, upper, CENTS, (lower / CENTS, upper / CENTS), loss_cells)
            )
        else:
            group = _clamped_sums(METRIC_COLUMNS[metric], position, len(cells), lower, upper)
            build = _sum_measurement(group, upper)
            parts.append(_Part(metric, build, upper, 1, (float(lower), float(upper)), cells))
    if not parts:
        raise ValueError("nothing to release")
    share = epsilon / len(parts)
    for _attempt in range(20):
        scales = [
            dp.binary_search_param(part.build, d_in=1, d_out=share, T=float) for part in parts
        ]
        measurements = [part.build(scale) for part, scale in zip(parts, scales, strict=True)]
        composed = dp.c.make_composition(measurements)
        total = _epsilon(composed)
        if total <= epsilon:
            break
        share *= 1 - 1e-9  # pragma: no cover - float rounding of the sum
    else:  # pragma: no cover
        raise RuntimeError("could not fit the release into the requested epsilon")
    noise = tuple(
        MetricNoise(
            metric=part.metric,
            mechanism="discrete-laplace",
            scale=scale / part.per_unit,
            epsilon=_epsilon(measurement),
            bounds=part.bounds,
        )
        for part, scale, measurement in zip(parts, scales, measurements, strict=True)
    )
    return DPRelease(composed, tuple(parts), noise, total)


# The privacy ledger.


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One differentially private release of the member's records."""

    report: str
    period: str
    """The ISO 8601 interval of the release's period."""
    epsilon: float
    time: str

    def overlaps(self, period: Period) -> bool:
        """Whether this release's period shares an instant with ``period``."""
        start, end = (datetime.fromisoformat(part) for part in self.period.split("/"))
        return start < period.end and period.start < end


def _entry(raw: Any) -> LedgerEntry:
    if not isinstance(raw, dict) or set(raw) != {"report", "period", "epsilon", "time"}:
        raise ValueError("an entry is not {report, period, epsilon, time}")
    epsilon = raw["epsilon"]
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise ValueError("an entry's epsilon is not a number")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError("an entry's epsilon is not positive")
    if not all(isinstance(raw[name], str) for name in ("report", "period", "time")):
        raise ValueError("an entry's report, period or time is not a string")
    entry = LedgerEntry(raw["report"], raw["period"], float(epsilon), raw["time"])
    parts = entry.period.split("/")
    moments = [datetime.fromisoformat(part) for part in parts]
    if len(moments) != 2 or any(m.tzinfo is None for m in moments) or moments[1] <= moments[0]:
        raise ValueError(f"period {entry.period!r} is not a UTC interval")
    return entry


def ledger_entries(path: str | Path) -> list[LedgerEntry]:
    """The releases recorded in the ledger at ``path`` (none if it does not exist).
    Raises `DocumentError` if it is unreadable or corrupt (it is never reset)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(str(path), f"the privacy ledger cannot be read ({exc})") from None
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version 1 privacy ledger")
        releases = data.get("releases")
        if not isinstance(releases, list):
            raise ValueError("no list of releases")
        return [_entry(raw) for raw in releases]
    except (ValueError, RecursionError) as exc:
        raise DocumentError(
            str(path),
            f"the privacy ledger is corrupt ({exc}); it is not reset: restore it from a"
            " backup, or move it away knowingly (the epsilon it recorded stays spent)",
        ) from None


def spent_epsilon(path: str | Path, period: Period) -> float:
    """The epsilon already spent on ``period``'s records: the sum over every recorded
    release whose period overlaps it. Raises `DocumentError` for a corrupt ledger."""
    return math.fsum(entry.epsilon for entry in ledger_entries(path) if entry.overlaps(period))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the ledger (``<ledger>.lock``): builds running at the
    same time take their turns, so none loses another's entry or overspends the budget."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DocumentError(str(path), f"the privacy ledger cannot be locked ({exc})") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def charge_release(
    path: str | Path,
    *,
    report: str,
    period: Period,
    epsilon: float,
    budget: float | None = None,
    now: datetime | None = None,
) -> float:
    """Record a release of ``epsilon`` on ``period`` in the ledger at ``path`` and return
    the period's cumulative epsilon, this release included: under the ledger's lock, so
    the check and the entry are one step.

    Raises `PrivacyBudgetExceeded` (the ledger unchanged) if the cumulative epsilon
    would exceed ``budget``, and `DocumentError` if the ledger is corrupt or cannot be
    written.
    """
    path = Path(path)
    with _locked(path):
        spent = spent_epsilon(path, period)
        if budget is not None and spent + epsilon > budget:
            raise PrivacyBudgetExceeded(epsilon, spent, budget)
        _append(path, report=report, period=period, epsilon=epsilon, now=now)
        return spent + epsilon


def record_release(
    path: str | Path,
    *,
    report: str,
    period: Period,
    epsilon: float,
    now: datetime | None = None,
) -> LedgerEntry:
    """Append a release to the ledger at ``path`` atomically (a temporary file renamed
    over it, mode 0600), under the ledger's lock. Returns the entry. Raises
    `DocumentError` if the ledger is corrupt or cannot be written."""
    path = Path(path)
    with _locked(path):
        return _append(path, report=report, period=period, epsilon=epsilon, now=now)


def _append(
    path: Path, *, report: str, period: Period, epsilon: float, now: datetime | None
) -> LedgerEntry:
    entries = ledger_entries(path)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    entry = LedgerEntry(report, period.interval, float(epsilon), moment.isoformat())
    document = {
        "version": 1,
        "releases": [
            {"report": e.report, "period": e.period, "epsilon": e.epsilon, "time": e.time}
            for e in [*entries, entry]
        ],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(prefix=".ledger-", dir=path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                json.dump(document, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise DocumentError(str(path), f"the privacy ledger cannot be written ({exc})") from None
    return entry
