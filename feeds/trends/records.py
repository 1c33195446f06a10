"""A member's incident records: read from CSV or JSONL, checked row by row.

The records are the member's raw data. They are read here, aggregated by
:mod:`feeds.trends.aggregate`, and never leave the member's machine: nothing in
this module writes or sends them anywhere.

Columns (CSV header / JSONL keys)::

    date              required  ISO 8601 date (2026-07-14) or UTC instant (2026-07-14T09:30:00Z)
    region            required  ISO 3166-1 alpha-2 country or UN M49 region code (taxonomy)
    offence_category  required  taxonomy offence category id
    modus_operandi    optional  RSIT class id; required on every row when broken down by it
    sector            optional  sector id; required on every row when broken down by it
    enablers          optional  enabler ids, ``;``-separated in CSV, a JSON list in JSONL
    victims           optional  non-negative integer
    loss              optional  non-negative decimal amount of reported losses
    currency          with loss ISO 4217 code, upper case (EUR)
    takedowns         optional  non-negative integer
    arrests           optional  non-negative integer

An empty value means "not recorded" (0 in a sum). Unknown columns are ignored and
listed in :attr:`Records.ignored_columns`. Every bad row becomes a :class:`RowProblem`
with its line number and reason; rows dated outside the period are counted, not errors.
"""

from __future__ import annotations

import csv
import json
import re
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from feeds.errors import DocumentError, NoValidRecords
from feeds.trends.periods import Period
from feeds.trends.taxonomy import taxonomy

__all__ = [
    "COLUMNS",
    "INTEGER_COLUMNS",
    "REQUIRED_COLUMNS",
    "Records",
    "RowProblem",
    "read_incidents",
]

COLUMNS = (
    "date",
    "region",
    "offence_category",
    "modus_operandi",
    "sector",
    "enablers",
    "victims",
    "loss",
    "currency",
    "takedowns",
    "arrests",
)
"""The columns an incident-record file may have; others are ignored."""
REQUIRED_COLUMNS = ("date", "region", "offence_category")
INTEGER_COLUMNS = ("victims", "takedowns", "arrests")
"""The summed columns holding non-negative integers (``loss`` is a decimal amount)."""

_DIMENSION_AXES = {
    "region": "regions",
    "offence_category": "offence_categories",
    "sector": "sectors",
    "modus_operandi": "modus_operandi",
}
_CURRENCY = re.compile(r"[A-Z]{3}\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
_MAX_INTEGER = 10**12
"""Larger integers (and losses of more than this many cents) are rejected as implausible."""
_MAX_LOSS = Decimal(10**13)
"""Larger losses are rejected as implausible: 10 trillion units, above a billion euros
in any currency in use (1.6 trillion naira), and well inside a 64-bit integer of cents."""
_CENT = Decimal("0.01")
_NO_CURRENCY = -1


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that was not used: its 1-based ``line`` in the file and the ``reason``."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Records:
    """The valid incident records of one period, column-wise and compact.

    Record ``i`` falls in cell ``keys[cell[i]]`` (its values along ``dimensions``);
    ``victims``, ``takedowns`` and ``arrests`` hold 0 where not recorded; ``loss`` is in
    cents of ``currencies[currency[i]]``, or 0 with ``currency[i] == -1`` where no loss
    was recorded; ``enablers[i]`` is a bit mask over the taxonomy's enablers (bit ``j``
    = ``taxonomy().enablers[j]``).
    """

    path: str
    period: Period
    dimensions: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]
    cell: array[int]
    victims: array[int]
    takedowns: array[int]
    arrests: array[int]
    loss: array[int]
    currency: array[int]
    currencies: tuple[str, ...]
    enablers: array[int]
    columns: frozenset[str]
    """The known columns the file has (a CSV header's, or keys found in any JSONL row)."""
    ignored_columns: tuple[str, ...]
    """Unknown columns, ignored, in the order first seen."""
    rows: int
    """Data rows read (blank lines not counted)."""
    outside_period: int
    """Rows dated outside the period (not errors; not used)."""
    problems: tuple[RowProblem, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.cell)

    def column(self, name: str) -> array[int]:
        """The per-record values of summed column ``name`` (``loss`` in cents)."""
        if name not in (*INTEGER_COLUMNS, "loss"):
            raise KeyError(name)
        values: array[int] = getattr(self, name)
        return values


class _Bad(Exception):
    """A row problem found while parsing one row."""


class _Outside(Exception):
    """The row is dated outside the period."""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _integer(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.match(value.strip()):
        number = int(value.strip())
    else:
        raise _Bad(f"{name} {_shown(value)!r} is not a non-negative integer")
    if number < 0:
        raise _Bad(f"{name} {_shown(value)!r} is not a non-negative integer")
    if number > _MAX_INTEGER:
        raise _Bad(f"{name} {_shown(value)!r} is implausibly large")
    return number


def _cents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Bad(f"loss {_shown(value)!r} is not a non-negative decimal amount")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise _Bad(f"loss {_shown(value)!r} is not a non-negative decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise _Bad(f"loss {_shown(value)!r} is not a non-negative decimal amount")
    if amount > _MAX_LOSS:
        raise _Bad(f"loss {_shown(value)!r} is implausibly large")
    return int(amount.quantize(_CENT, rounding=ROUND_HALF_EVEN) * 100)


class _Parser:
    """Turns one row (a mapping of column to raw value) into the record's fields."""

    def __init__(self, period: Period, dimensions: tuple[str, ...], csv_mode: bool) -> None:
        tax = taxonomy()
        self.period = period
        self.dimensions = dimensions
        self.csv_mode = csv_mode
        self.allowed = {name: frozenset(tax.ids(axis)) for name, axis in _DIMENSION_AXES.items()}
        self.enabler_bit = {id: 1 << index for index, id in enumerate(tax.ids("enablers"))}
        self.dates: dict[str, datetime] = {}
        self.keys: dict[tuple[str, ...], int] = {}
        self.currencies: dict[str, int] = {}

    def moment(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise _Bad(f"date {_shown(value)!r} is not an ISO 8601 date or UTC instant")
        text = value.strip()
        found = self.dates.get(text)
        if found is not None:
            return found
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            else:
                moment = datetime.fromisoformat(text)
        except ValueError:
            raise _Bad(f"date {_shown(value)!r} is not an ISO 8601 date or UTC instant") from None
        if moment.tzinfo is None:
            raise _Bad(f"date {_shown(value)!r} has no time zone (give UTC, ending in Z)")
        moment = moment.astimezone(UTC)
        if len(self.dates) < 100_000:
            self.dates[text] = moment
        return moment

    def category(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or value.strip() not in self.allowed[name]:
            raise _Bad(f"{name} {_shown(value)!r} is not in the taxonomy")
        return value.strip()

    def enablers(self, value: Any) -> int:
        if self.csv_mode:
            items: list[Any] = [part.strip() for part in str(value).split(";") if part.strip()]
        elif isinstance(value, list):
            items = value
        else:
            raise _Bad(f"enablers {_shown(value)!r} is not a JSON list")
        mask = 0
        for item in items:
            bit = self.enabler_bit.get(item.strip()) if isinstance(item, str) else None
            if bit is None:
                raise _Bad(f"enabler {_shown(item)!r} is not in the taxonomy")
            mask |= bit
        return mask

    def row(self, raw: Mapping[str, Any]) -> tuple[int, int, int, int, int, int, int]:
        """``(cell, victims, takedowns, arrests, loss cents, currency, enablers)``.

        Raises `_Outside` for a row dated outside the period, `_Bad` for a bad row.
        """
        for name in REQUIRED_COLUMNS:
            if name not in raw:
                raise _Bad(f"missing required column {name}")
            if _missing(raw[name]):
                raise _Bad(f"required column {name} is empty")
        if self.moment(raw["date"]) not in self.period:
            raise _Outside
        key = []
        for name in self.dimensions:
            value = raw.get(name)
            if _missing(value):
                raise _Bad(f"missing {name} (required when breaking down by {name})")
            key.append(self.category(name, value))
        for name in ("sector", "modus_operandi"):
            if name not in self.dimensions and not _missing(raw.get(name)):
                self.category(name, raw[name])
        counts = [
            0 if _missing(raw.get(name)) else _integer(name, raw[name]) for name in INTEGER_COLUMNS
        ]
        loss, currency = 0, _NO_CURRENCY
        code = raw.get("currency")
        if not _missing(code) and (not isinstance(code, str) or not _CURRENCY.match(code.strip())):
            raise _Bad(f"currency {_shown(code)!r} is not an upper-case ISO 4217 code")
        if not _missing(raw.get("loss")):
            loss = _cents(raw["loss"])
            if _missing(code):
                raise _Bad("loss without currency")
        mask = 0 if _missing(raw.get("enablers")) else self.enablers(raw["enablers"])
        if not _missing(raw.get("loss")):
            assert isinstance(code, str)
            currency = self.currencies.setdefault(code.strip(), len(self.currencies))
        cell = self.keys.setdefault(tuple(key), len(self.keys))
        return cell, counts[0], counts[1], counts[2], loss, currency, mask


def _csv_rows(
    path: Path, handle: Any, columns: list[str], ignored: list[str]
) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        raise DocumentError(str(path), "the file is empty (a CSV needs a header row)") from None
    header = [name.strip() for name in header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DocumentError(str(path), f"the header names column {duplicated[0]!r} twice")
    for name in REQUIRED_COLUMNS:
        if name not in header:
            raise DocumentError(str(path), f"the header has no {name} column (required)")
    columns.extend(name for name in header if name in COLUMNS)
    ignored.extend(name for name in header if name not in COLUMNS)
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DocumentError(str(path), f"line {line}: not valid CSV ({exc})") from None
        if not row:
            continue
        if len(row) != len(header):
            yield line, f"{len(row)} fields where the header has {len(header)}"
            continue
        yield line, dict(zip(header, row, strict=True))


def _jsonl_rows(
    handle: Any, columns: list[str], ignored: list[str]
) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    seen: set[str] = set()
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        except RecursionError:
            yield line, "not valid JSON (nested too deeply)"
            continue
        if not isinstance(value, dict):
            yield line, "not a JSON object"
            continue
        for name in value:
            if name not in seen:
                seen.add(name)
                (columns if name in COLUMNS else ignored).append(name)
        yield line, value


PROGRESS_ROWS = 10_000
"""How often `read_incidents` reports progress, in rows."""


def read_incidents(
    path: str | Path,
    period: Period,
    *,
    dimensions: Sequence[str] = ("region", "offence_category"),
    progress: Callable[[int], None] | None = None,
) -> Records:
    """Read the incident records of ``period`` from the CSV or JSONL file at ``path``.

    ``progress`` is called with the number of rows read since its last call, every
    :data:`PROGRESS_ROWS` rows and at the end.

    ``dimensions`` are the breakdown (a sector or modus operandi breakdown makes that
    column required on every row). Returns the valid rows in the period, with every bad
    row as a :class:`RowProblem`. Raises `DocumentError` if the file is missing,
    unreadable, not UTF-8, of an unsupported extension or has a malformed header, and
    `NoValidRecords` if no row is valid and in the period.
    """
    path = Path(path)
    dims = tuple(dimensions)
    unknown = [name for name in dims if name not in _DIMENSION_AXES]
    if unknown or dims[:2] != ("region", "offence_category"):
        raise ValueError(f"dimensions {dims!r} must start with region, offence_category")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise DocumentError(
            str(path), f"unsupported extension {suffix or '(none)'!r}: use .csv, .jsonl or .ndjson"
        )
    parser = _Parser(period, dims, csv_mode=suffix == ".csv")
    columns: list[str] = []
    ignored: list[str] = []
    problems: list[RowProblem] = []
    cell, currency = array("l"), array("l")
    victims, takedowns, arrests, loss, enablers = (array("q") for _ in range(5))
    appenders: tuple[Callable[[int], None], ...] = tuple(
        target.append for target in (cell, victims, takedowns, arrests, loss, currency, enablers)
    )
    rows = outside = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            source = (
                _csv_rows(path, handle, columns, ignored)
                if parser.csv_mode
                else _jsonl_rows(handle, columns, ignored)
            )
            for line, raw in source:
                rows += 1
                if progress is not None and rows % PROGRESS_ROWS == 0:
                    progress(PROGRESS_ROWS)
                if isinstance(raw, str):
                    problems.append(RowProblem(line, raw))
                    continue
                try:
                    fields = parser.row(raw)
                except _Outside:
                    outside += 1
                    continue
                except _Bad as bad:
                    problems.append(RowProblem(line, str(bad)))
                    continue
                for append, value in zip(appenders, fields, strict=True):
                    append(value)
    except FileNotFoundError:
        raise DocumentError(str(path), "no such file") from None
    except IsADirectoryError:
        raise DocumentError(str(path), "is a directory, not a file") from None
    except UnicodeDecodeError:
        raise DocumentError(
            str(path), f"not UTF-8 text (after {rows} rows; save it as UTF-8)"
        ) from None
    except OSError as exc:
        raise DocumentError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    if progress is not None and rows % PROGRESS_ROWS:
        progress(rows % PROGRESS_ROWS)
    if not cell:
        raise NoValidRecords(
            str(path), tuple((problem.line, problem.reason) for problem in problems), outside
        )
    return Records(
        path=str(path),
        period=period,
        dimensions=dims,
        keys=tuple(parser.keys),
        cell=cell,
        victims=victims,
        takedowns=takedowns,
        arrests=arrests,
        loss=loss,
        currency=currency,
        currencies=tuple(parser.currencies),
        enablers=enablers,
        columns=frozenset(columns),
        ignored_columns=tuple(ignored),
        rows=rows,
        outside_period=outside,
        problems=tuple(problems),
    )
