"""TAXII and STIX timestamps (TAXII 2.1 §2.1, STIX 2.1 §3.2).

The hub keeps ``date_added`` as integer microseconds since the Unix epoch, so
that ordering, ``added_after`` and cursors are exact integer comparisons, and
renders it in the TAXII form ``YYYY-MM-DDTHH:MM:SS.ssssssZ``.

STIX ``modified``/``created`` values may carry any number of fractional digits.
:func:`version_key` turns one into a fixed-width string (nine fractional digits)
that sorts and compares like the instant it names, so ``...48Z`` and
``...48.000Z`` are the same version.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from exchange.protocol.errors import MalformedPayload

__all__ = [
    "datetime_to_micros",
    "format_timestamp",
    "micros_now",
    "micros_to_datetime",
    "parse_timestamp_micros",
    "version_key",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,32}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_STIX = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z\Z")


def micros_now() -> int:
    """Return the current time as integer microseconds since the epoch."""
    return datetime_to_micros(datetime.now(UTC))


def micros_to_datetime(micros: int) -> datetime:
    """Return ``micros`` (since the epoch) as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=micros)


def datetime_to_micros(moment: datetime) -> int:
    """Return an aware datetime as integer microseconds since the epoch."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_timestamp(micros: int) -> str:
    """Return ``micros`` (since the epoch) as a TAXII timestamp with six fractional digits."""
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp_micros(value: str, *, field: str = "timestamp") -> int:
    """Parse an RFC 3339 timestamp into integer microseconds since the epoch.

    Fractional seconds are optional and may have any precision; digits past the
    microsecond are dropped (rounding down keeps "strictly after" exact for
    integer-microsecond values). A ``Z`` or a numeric offset is required.

    Raises `MalformedPayload` if ``value`` is not such a timestamp.
    """
    match = _RFC3339.match(value)
    if match is None:
        raise MalformedPayload(field, "expected an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError as exc:
        raise MalformedPayload(field, "not a valid calendar date and time") from exc
    if zulu is None:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        moment = moment - offset if sign == "+" else moment + offset
    delta = moment - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000
    if fraction:
        micros += int((fraction + "000000")[:6])
    return micros


def version_key(value: str, *, field: str = "version") -> str:
    """Return a fixed-width, sortable key for a STIX timestamp (STIX 2.1 §3.2).

    Raises `MalformedPayload` if ``value`` is not a STIX timestamp (UTC, ``Z``,
    at most nine fractional digits) or names no real date.
    """
    match = _STIX.match(value)
    if match is None:
        raise MalformedPayload(field, "expected a STIX timestamp such as 2026-01-31T12:00:00.000Z")
    whole, fraction = match.groups()
    try:
        datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    except ValueError as exc:
        raise MalformedPayload(field, "not a valid calendar date and time") from exc
    return f"{whole}.{(fraction or '').ljust(9, '0')}Z"
