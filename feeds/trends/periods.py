"""Reporting periods: ``2026``, ``2026-H2``, ``2026-Q3``, ``2026-07``, or an explicit
ISO 8601 interval of two UTC instants or dates (``2026-07-01/2026-10-01``).

A period is half-open, ``[start, end)``, in UTC; reports carry it as an ISO 8601
interval of two instants (``2026-07-01T00:00:00Z/2026-10-01T00:00:00Z``) plus
the label it was given as.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = ["Period", "parse_period"]

_YEAR = re.compile(r"(\d{4})\Z")
_HALF = re.compile(r"(\d{4})-H([12])\Z")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])\Z")
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])\Z")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """``[start, end)`` in UTC, and the ``label`` it is shown as."""

    start: datetime
    end: datetime
    label: str

    @property
    def interval(self) -> str:
        """The ISO 8601 interval, ``<start>/<end>``, both instants in UTC with ``Z``."""
        return f"{_instant(self.start)}/{_instant(self.end)}"

    def __contains__(self, moment: object) -> bool:
        if not isinstance(moment, datetime):
            return False
        return self.start <= moment < self.end


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _first(year: int, month: int) -> datetime:
    if month > 12:
        year, month = year + 1, month - 12
    return datetime(year, month, 1, tzinfo=UTC)


def _boundary(text: str) -> datetime:
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or UTC instant") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; give it in UTC (ending in Z)")
    return moment.astimezone(UTC)


def parse_period(text: str) -> Period:
    """Parse a period. Raises `ValueError` saying what is wrong."""
    text = text.strip()
    if match := _YEAR.match(text):
        year = int(match[1])
        return Period(_first(year, 1), _first(year, 13), text)
    if match := _HALF.match(text):
        year, half = int(match[1]), int(match[2])
        return Period(_first(year, 6 * half - 5), _first(year, 6 * half + 1), text)
    if match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        return Period(_first(year, 3 * quarter - 2), _first(year, 3 * quarter + 1), text)
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        return Period(_first(year, month), _first(year, month + 1), text)
    if text.count("/") == 1:
        start, end = (_boundary(part) for part in text.split("/"))
        if end <= start:
            raise ValueError(f"period {text!r} ends before it starts")
        period = Period(start, end, text)
        return Period(start, end, period.interval)
    raise ValueError(
        f"period {text!r} is not a year (2026), half (2026-H2), quarter (2026-Q3),"
        " month (2026-07) or ISO 8601 interval (2026-07-01/2026-10-01)"
    )
