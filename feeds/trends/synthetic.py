"""Synthetic incident records for demos, tests and benchmarks: seeded, with stated assumptions.

:func:`generate_incidents` yields records in the incident-record format the trend
builder reads (``date``, ``region``, ``offence_category``, ``modus_operandi``,
``sector``, ``enablers``, ``victims``, ``loss`` + ``currency``, ``takedowns``,
``arrests``); :func:`write_incidents` writes them as CSV or JSONL. The same
arguments give the same records, byte for byte, on every run and platform (only
the standard library's ``random.Random(seed)`` draws them).

The data are invented. Every assumption is a parameter below, none is a
measurement:

* **Volume.** Exactly ``count`` records, or ``rate`` records a day on average
  (``round(rate x days)`` records), spread over ``[start, end)``.
* **Offence-category mix** (:attr:`Profile.category_mix`). The ``authority``
  profile: computer-related fraud 40 %, illegal access 15 %, data interference
  10 %, child sexual abuse material 9 %, computer-related forgery 8 %, system
  interference 7 %, copyright 5 %, misuse of devices 4 %, illegal interception
  2 % (cyber-enabled 62 %, cyber-dependent 38 %). The ``industry`` profile sees
  mostly intrusions: illegal access 30 %, data interference 18 %, fraud 18 %,
  system interference 14 %, ... (cyber-dependent 72 %). ``research`` is in between.
* **Yearly seasonality** (:data:`SEASONALITY`). Each category's daily intensity
  is multiplied by ``1 + A cos(2 pi (day of year - peak) / 365.25)``: fraud and
  forgery peak at the start of December (amplitude 0.35 and 0.20, the shopping
  season), data interference (ransomware) in mid-November (0.15), copyright
  offences at year end (0.15); the others vary by 10 % or less. So for fraud Q4
  is well above Q2.
* **Weekly pattern** (:data:`WEEKDAY_FACTORS`). Monday to Wednesday 1.10/1.10/1.08,
  Thursday 1.05, Friday 1.00, Saturday 0.85, Sunday 0.82.
* **Growth** (:data:`ANNUAL_GROWTH`). Each category's intensity grows by a fixed
  factor a year: data interference +20 %, fraud +12 %, forgery +10 %, illegal
  access +8 %, system interference +6 %, CSAM +5 %, misuse of devices +4 %,
  illegal interception 0 %, copyright offences -5 %.
* **Regional mix** (:data:`DEFAULT_REGIONS`, or ``regions=``). Twelve countries in
  five M49 regions: US 17 %, DE 16 %, FR 13 %, GB 13 %, ES 7 %, IT 7 %, BR 6 %,
  NL 5 %, PL 5 %, IN 5 %, JP 3 %, NG 3 %. Independent of the category.
* **Modus operandi** (:data:`MODUS_OPERANDI`): an RSIT class drawn given the
  category, e.g. fraud: fraud 75 %, information gathering 10 %, malicious code
  10 %, intrusions 5 %; system interference: availability 70 %, malicious code
  20 %, intrusions 10 %; CSAM: abusive content 95 %.
* **Enablers** (:data:`ENABLERS`): each tagged independently with a
  category-dependent probability, e.g. ransomware-as-a-service on 45 % of data
  interference, cryptocurrency laundering on 35 % of data interference and 25 %
  of fraud, AI-generated content on 30 % of forgery.
* **Sectors** (:data:`SECTORS`): one mix for cyber-enabled offences (individuals
  and households 45 %, retail 15 %, banking 15 %, ...) and one for cyber-dependent
  ones (manufacturing 14 %, health 12 %, public administration 12 %, ...).
* **Victims**: ``floor(X)`` with ``X`` Pareto-distributed from 1 (shape 1.1 for
  data and system interference, 1.2-1.5 for access, interception, CSAM, 1.8 for
  fraud, 2.0 otherwise): mostly 1, a heavy tail of mass victimisation, capped at
  one million. Recorded on 90 % of ``authority`` records, 50 % of ``industry`` ones.
* **Losses** (:data:`LOSSES`): present with a category-dependent probability
  (85 % of fraud, 60 % of data interference, none for CSAM). A lognormal body
  (median per category, from EUR 600 for fraud to EUR 25,000 for data
  interference, sigma 1.2) spliced with a Pareto tail: with probability 3 % the
  loss is ``25 x median x Pareto(1.3)`` (finite mean, infinite variance), capped
  at EUR 1e9. Amounts are in the region's currency (:data:`CURRENCIES`: EUR in
  the euro area, GBP, USD, PLN, BRL, INR, JPY, NGN, ...; USD elsewhere),
  converted at fixed rough rates (:data:`PER_EUR`), rounded to cents.
* **Takedowns and arrests** are rare: takedowns on 0.2-3 % of records (misuse of
  devices, CSAM, copyright highest; three times as often for ``industry``),
  arrests on 0.3-4 % (CSAM and fraud highest) and only for ``authority``.
  ``industry`` records no arrests, ``research`` neither takedowns nor arrests.
* **Dates**: ``authority`` records carry dates (``2026-07-14``), the others UTC
  instants (``2026-07-14T09:30:00Z``), uniform within the day.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import IO, Any, Literal

from feeds.errors import DocumentError
from feeds.trends._files import write_private
from feeds.trends.records import COLUMNS
from feeds.trends.taxonomy import taxonomy

__all__ = [
    "ANNUAL_GROWTH",
    "COLUMNS",
    "CURRENCIES",
    "DEFAULT_REGIONS",
    "ENABLERS",
    "LOSSES",
    "MODUS_OPERANDI",
    "PER_EUR",
    "PROFILES",
    "SEASONALITY",
    "SECTORS",
    "WEEKDAY_FACTORS",
    "Profile",
    "generate_incidents",
    "write_incidents",
]


SEASONALITY: dict[str, tuple[float, int]] = {
    "computer-related-fraud": (0.35, 335),
    "computer-related-forgery": (0.20, 335),
    "data-interference": (0.15, 320),
    "copyright-related-offences": (0.15, 360),
    "illegal-access": (0.10, 300),
    "system-interference": (0.10, 330),
    "child-sexual-abuse-material": (0.05, 200),
    "misuse-of-devices": (0.05, 30),
    "illegal-interception": (0.05, 1),
}
"""Per category: (amplitude, day of year of the peak) of the yearly sinusoid."""

WEEKDAY_FACTORS = (1.10, 1.10, 1.08, 1.05, 1.00, 0.85, 0.82)
"""Intensity by weekday, Monday first."""

ANNUAL_GROWTH: dict[str, float] = {
    "data-interference": 0.20,
    "computer-related-fraud": 0.12,
    "computer-related-forgery": 0.10,
    "illegal-access": 0.08,
    "system-interference": 0.06,
    "child-sexual-abuse-material": 0.05,
    "misuse-of-devices": 0.04,
    "illegal-interception": 0.0,
    "copyright-related-offences": -0.05,
}
"""Per category: growth of the intensity per year (0.12 = +12 % a year)."""

DEFAULT_REGIONS: dict[str, float] = {
    "US": 0.17,
    "DE": 0.16,
    "FR": 0.13,
    "GB": 0.13,
    "ES": 0.07,
    "IT": 0.07,
    "BR": 0.06,
    "NL": 0.05,
    "PL": 0.05,
    "IN": 0.05,
    "JP": 0.03,
    "NG": 0.03,
}
"""The default regional mix: weights over twelve countries in five M49 regions."""

_EURO_AREA = frozenset("AT BE HR CY EE FI FR DE GR IE IT LV LT LU MT NL PT SK SI ES".split())  # noqa: SIM905
CURRENCIES: dict[str, str] = {
    **dict.fromkeys(sorted(_EURO_AREA), "EUR"),
    "GB": "GBP",
    "US": "USD",
    "PL": "PLN",
    "BR": "BRL",
    "IN": "INR",
    "JP": "JPY",
    "NG": "NGN",
    "AU": "AUD",
    "CA": "CAD",
    "CH": "CHF",
    "SE": "SEK",
    "ZA": "ZAR",
}
"""The currency losses of a region are recorded in; USD for a region not listed."""

PER_EUR: dict[str, float] = {
    "EUR": 1.0,
    "GBP": 0.85,
    "USD": 1.08,
    "PLN": 4.3,
    "BRL": 6.0,
    "INR": 90.0,
    "JPY": 160.0,
    "NGN": 1600.0,
    "AUD": 1.65,
    "CAD": 1.48,
    "CHF": 0.95,
    "SEK": 11.5,
    "ZAR": 20.0,
}
"""Fixed rough exchange rates (units of the currency per euro) scaling the loss model."""

MODUS_OPERANDI: dict[str, dict[str, float]] = {
    "illegal-access": {
        "intrusions": 0.5,
        "intrusion-attempts": 0.3,
        "information-gathering": 0.1,
        "malicious-code": 0.1,
    },
    "illegal-interception": {
        "information-gathering": 0.5,
        "intrusions": 0.3,
        "information-content-security": 0.2,
    },
    "data-interference": {
        "malicious-code": 0.6,
        "information-content-security": 0.25,
        "intrusions": 0.15,
    },
    "system-interference": {"availability": 0.7, "malicious-code": 0.2, "intrusions": 0.1},
    "misuse-of-devices": {"malicious-code": 0.5, "vulnerable": 0.3, "other": 0.2},
    "computer-related-forgery": {"fraud": 0.6, "information-content-security": 0.3, "other": 0.1},
    "computer-related-fraud": {
        "fraud": 0.75,
        "information-gathering": 0.1,
        "malicious-code": 0.1,
        "intrusions": 0.05,
    },
    "child-sexual-abuse-material": {"abusive-content": 0.95, "other": 0.05},
    "copyright-related-offences": {"fraud": 0.6, "abusive-content": 0.2, "other": 0.2},
}
"""Per category: the RSIT modus-operandi classes it is committed by, with their shares."""

ENABLERS: dict[str, dict[str, float]] = {
    "ransomware-as-a-service": {
        "data-interference": 0.45,
        "system-interference": 0.15,
        "illegal-access": 0.10,
    },
    "cryptocurrency-laundering": {
        "data-interference": 0.35,
        "computer-related-fraud": 0.25,
        "misuse-of-devices": 0.20,
        "child-sexual-abuse-material": 0.10,
    },
    "dark-web-markets": {
        "misuse-of-devices": 0.50,
        "child-sexual-abuse-material": 0.30,
        "computer-related-fraud": 0.10,
        "copyright-related-offences": 0.10,
    },
    "bulletproof-hosting": {
        "child-sexual-abuse-material": 0.30,
        "copyright-related-offences": 0.30,
        "system-interference": 0.20,
        "computer-related-fraud": 0.10,
    },
    "ai-generated-content": {
        "computer-related-forgery": 0.30,
        "computer-related-fraud": 0.12,
        "child-sexual-abuse-material": 0.10,
    },
}
"""Per enabler: the probability that a record of each category is tagged with it."""

SECTORS: dict[str, dict[str, float]] = {
    "cyber-enabled": {
        "individuals": 0.45,
        "retail": 0.15,
        "banking": 0.15,
        "digital-providers": 0.05,
        "public-administration": 0.04,
        "health": 0.03,
        "education": 0.03,
        "other": 0.10,
    },
    "cyber-dependent": {
        "manufacturing": 0.14,
        "health": 0.12,
        "public-administration": 0.12,
        "digital-infrastructure": 0.08,
        "ict-service-management": 0.08,
        "education": 0.08,
        "banking": 0.07,
        "digital-providers": 0.07,
        "retail": 0.06,
        "energy": 0.05,
        "transport": 0.05,
        "individuals": 0.05,
        "research": 0.03,
    },
}
"""The sector mix of cyber-enabled and of cyber-dependent offences."""

LOSSES: dict[str, tuple[float, float]] = {
    "computer-related-fraud": (0.85, 600.0),
    "computer-related-forgery": (0.50, 1500.0),
    "data-interference": (0.60, 25000.0),
    "system-interference": (0.30, 8000.0),
    "illegal-access": (0.30, 5000.0),
    "illegal-interception": (0.20, 3000.0),
    "misuse-of-devices": (0.10, 1000.0),
    "copyright-related-offences": (0.30, 2000.0),
    "child-sexual-abuse-material": (0.0, 1.0),
}
"""Per category: (probability that a loss is recorded, median loss in EUR)."""

_LOSS_SIGMA = 1.2
_TAIL_PROBABILITY = 0.03
_TAIL_SCALE = 25.0
_TAIL_SHAPE = 1.3
_LOSS_CAP_EUR = 1e9
_VICTIM_SHAPE = {
    "data-interference": 1.1,
    "system-interference": 1.1,
    "illegal-access": 1.2,
    "illegal-interception": 1.3,
    "child-sexual-abuse-material": 1.5,
    "computer-related-fraud": 1.8,
}
_VICTIM_CAP = 1_000_000
_TAKEDOWNS = {
    "misuse-of-devices": 0.02,
    "child-sexual-abuse-material": 0.03,
    "copyright-related-offences": 0.03,
    "system-interference": 0.01,
    "computer-related-fraud": 0.005,
}
_ARRESTS = {
    "child-sexual-abuse-material": 0.04,
    "computer-related-fraud": 0.01,
    "data-interference": 0.004,
    "illegal-access": 0.004,
}
_RARE_DEFAULT = (0.002, 0.003)
_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class Profile:
    """What one kind of member sees and records."""

    category_mix: Mapping[str, float]
    """Weights over offence categories (over the whole window, before growth)."""
    date_format: Literal["date", "instant"] = "instant"
    victims_recorded: float = 0.9
    """Probability that a record states its number of victims."""
    takedown_scale: float | None = 1.0
    """Multiplies the takedown probabilities; None: takedowns are not recorded."""
    arrest_scale: float | None = 1.0
    """Multiplies the arrest probabilities; None: arrests are not recorded."""


PROFILES: dict[str, Profile] = {
    "authority": Profile(
        category_mix={
            "computer-related-fraud": 0.40,
            "illegal-access": 0.15,
            "data-interference": 0.10,
            "child-sexual-abuse-material": 0.09,
            "computer-related-forgery": 0.08,
            "system-interference": 0.07,
            "copyright-related-offences": 0.05,
            "misuse-of-devices": 0.04,
            "illegal-interception": 0.02,
        },
        date_format="date",
        victims_recorded=0.9,
        takedown_scale=1.0,
        arrest_scale=1.0,
    ),
    "industry": Profile(
        category_mix={
            "illegal-access": 0.30,
            "data-interference": 0.18,
            "computer-related-fraud": 0.18,
            "system-interference": 0.14,
            "misuse-of-devices": 0.06,
            "computer-related-forgery": 0.05,
            "illegal-interception": 0.04,
            "child-sexual-abuse-material": 0.03,
            "copyright-related-offences": 0.02,
        },
        date_format="instant",
        victims_recorded=0.5,
        takedown_scale=3.0,
        arrest_scale=None,
    ),
    "research": Profile(
        category_mix={
            "computer-related-fraud": 0.25,
            "illegal-access": 0.22,
            "data-interference": 0.15,
            "system-interference": 0.12,
            "misuse-of-devices": 0.08,
            "computer-related-forgery": 0.07,
            "illegal-interception": 0.05,
            "child-sexual-abuse-material": 0.03,
            "copyright-related-offences": 0.03,
        },
        date_format="instant",
        victims_recorded=0.7,
        takedown_scale=None,
        arrest_scale=None,
    ),
}
"""The built-in profiles, by reporter kind."""


def _moment(value: date | datetime, what: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{what} has no time zone; give it in UTC")
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


class _Table:
    """Keys with cumulative weights, for drawing with one uniform number."""

    __slots__ = ("cumulative", "keys", "total")

    def __init__(self, weights: Mapping[str, float] | Sequence[tuple[Any, float]]) -> None:
        items = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
        if not items or any(not math.isfinite(w) or w < 0 for _, w in items):
            raise ValueError("weights must be finite and non-negative")
        self.keys = [key for key, _ in items]
        self.cumulative = list(accumulate(w for _, w in items))
        self.total = self.cumulative[-1]
        if self.total <= 0:
            raise ValueError("weights must not all be zero")

    def draw(self, uniform: float) -> Any:
        index = bisect_right(self.cumulative, uniform * self.total)
        return self.keys[min(index, len(self.keys) - 1)]


def generate_incidents(
    *,
    seed: int,
    start: date | datetime,
    end: date | datetime,
    count: int | None = None,
    rate: float | None = None,
    regions: Mapping[str, float] | Sequence[str] | None = None,
    reporter_kind: str = "authority",
    profile: Profile | None = None,
) -> Iterator[dict[str, Any]]:
    """Synthetic incident records over ``[start, end)``, following the module's assumptions.

    Give exactly one of ``count`` (records) and ``rate`` (records a day on average).
    ``regions`` is a mix of region codes (weights, or a list for equal weights;
    default :data:`DEFAULT_REGIONS`). ``reporter_kind`` picks the built-in
    :data:`PROFILES` entry unless ``profile`` is given. Each record is a dict with
    the incident-record columns; columns not recorded are absent. Records come in
    no particular order. Raises `ValueError` if an argument is out of range or
    names something not in the taxonomy.
    """
    low, high = _moment(start, "start"), _moment(end, "end")
    if high <= low:
        raise ValueError("the window ends before it starts")
    if (count is None) == (rate is None):
        raise ValueError("give exactly one of count and rate")
    span_days = (high - low).total_seconds() / 86400
    if count is None:
        assert rate is not None
        if not math.isfinite(rate) or rate < 0:
            raise ValueError("rate must be a non-negative number of records a day")
        count = round(rate * span_days)
    if count < 0:
        raise ValueError("count must not be negative")
    chosen = profile or PROFILES.get(reporter_kind)
    if chosen is None:
        raise ValueError(f"no built-in profile for reporter kind {reporter_kind!r}")
    known = taxonomy()
    mix = DEFAULT_REGIONS if regions is None else regions
    region_weights = dict(mix) if isinstance(mix, Mapping) else dict.fromkeys(mix, 1.0)
    region_ids = set(known.ids("regions"))
    for code in region_weights:
        if code not in region_ids:
            raise ValueError(f"region {code!r} is not in the taxonomy")
    categories = set(known.ids("offence_categories"))
    for category in chosen.category_mix:
        if category not in categories:
            raise ValueError(f"offence category {category!r} is not in the taxonomy")
    rng = random.Random(seed)  # noqa: S311 - reproducible made-up data, not secrets
    return _generate(rng, low, high, count, _Table(region_weights), chosen)


def _day_weights(low: datetime, high: datetime) -> list[tuple[date, int, int]]:
    """The days of ``[low, high)``: each with the seconds of it inside the window."""
    days = []
    day = low.date()
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if midnight >= high:
            break
        first = max(0, int((low - midnight).total_seconds()))
        last = min(86400, math.ceil((high - midnight).total_seconds()))
        if last > first:
            days.append((day, first, last))
        day += timedelta(days=1)
    return days


def _generate(
    rng: random.Random,
    low: datetime,
    high: datetime,
    count: int,
    regions: _Table,
    profile: Profile,
) -> Iterator[dict[str, Any]]:
    known = taxonomy()
    nature = {entry.id: entry.nature or "cyber-enabled" for entry in known.offence_categories}
    days = _day_weights(low, high)
    origin = days[0][0]
    dates: dict[str, _Table] = {}
    for name in profile.category_mix:
        amplitude, peak = SEASONALITY.get(name, (0.0, 1))
        growth = ANNUAL_GROWTH.get(name, 0.0)
        weights = []
        for position, (day, first, last) in enumerate(days):
            season = 1 + amplitude * math.cos(
                2 * math.pi * (day.timetuple().tm_yday - peak) / 365.25
            )
            trend = (1 + growth) ** ((day - origin).days / 365.25)
            share = (last - first) / 86400
            weights.append((position, season * WEEKDAY_FACTORS[day.weekday()] * trend * share))
        dates[name] = _Table(weights)
    labels = [day.isoformat() for day, _, _ in days]
    category_table = _Table(profile.category_mix)
    modus = {category: _Table(MODUS_OPERANDI[category]) for category in MODUS_OPERANDI}
    sectors = {kind: _Table(mix) for kind, mix in SECTORS.items()}
    enablers = list(ENABLERS.items())
    uniform = rng.random
    pareto = rng.paretovariate
    for _ in range(count):
        category: str = category_table.draw(uniform())
        index: int = dates[category].draw(uniform())
        day, first, last = days[index]
        record: dict[str, Any] = {}
        if profile.date_format == "date" and first == 0 and last == 86400:
            record["date"] = labels[index]
        else:
            second = first + int(uniform() * (last - first))
            hours, rest = divmod(second, 3600)
            record["date"] = f"{labels[index]}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
        region: str = regions.draw(uniform())
        record["region"] = region
        record["offence_category"] = category
        record["modus_operandi"] = modus[category].draw(uniform()) if category in modus else "other"
        record["sector"] = sectors[nature[category]].draw(uniform())
        tags = [name for name, shares in enablers if uniform() < shares.get(category, 0.0)]
        if tags:
            record["enablers"] = tags
        if uniform() < profile.victims_recorded:
            shape = _VICTIM_SHAPE.get(category, 2.0)
            record["victims"] = min(_VICTIM_CAP, int(pareto(shape)))
        probability, median = LOSSES.get(category, (0.0, 1.0))
        if uniform() < probability:
            if uniform() < _TAIL_PROBABILITY:
                euros = _TAIL_SCALE * median * pareto(_TAIL_SHAPE)
            else:
                euros = rng.lognormvariate(math.log(median), _LOSS_SIGMA)
            currency = CURRENCIES.get(region, "USD")
            amount = min(euros, _LOSS_CAP_EUR) * PER_EUR[currency]
            record["loss"] = round(amount, 2)
            record["currency"] = currency
        if profile.takedown_scale is not None:
            p = _TAKEDOWNS.get(category, _RARE_DEFAULT[0]) * profile.takedown_scale
            record["takedowns"] = int(pareto(2.5)) if uniform() < p else 0
        if profile.arrest_scale is not None:
            p = _ARRESTS.get(category, _RARE_DEFAULT[1]) * profile.arrest_scale
            record["arrests"] = int(pareto(2.0)) if uniform() < p else 0
        yield record


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    return str(value)


def write_incidents(records: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write ``records`` to ``path`` as CSV (``.csv``) or JSONL (``.jsonl``, ``.ndjson``).

    The file is written with mode 0600 and replaced atomically. CSV has a header row
    of :data:`COLUMNS` and ``;``-separated enablers; JSONL has one object a line,
    absent columns left out. Returns the number of records written. Raises
    `DocumentError` if the extension is neither or the file cannot be written.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise DocumentError(str(path), "give incident records a .csv, .jsonl or .ndjson file name")
    written = 0

    def write(stream: IO[bytes]) -> None:
        nonlocal written
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=False)
        if suffix == ".csv":
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(COLUMNS)
            for record in records:
                writer.writerow([_csv_value(record.get(column)) for column in COLUMNS])
                written += 1
        else:
            for record in records:
                text.write(json.dumps(dict(record), ensure_ascii=False, separators=(",", ":")))
                text.write("\n")
                written += 1
        text.flush()
        text.detach()

    write_private(path, write)
    return written
