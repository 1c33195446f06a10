"""The trend report: a STIX 2.1 ``report`` carrying the trend property extension.

The extension (its own ``extension-definition``, :data:`EXTENSION_DEFINITION`,
STIX 2.1 §7.3) holds one period's aggregated cells, what each cell counts, and
the disclosure control applied to them::

    {
      "extension_type": "property-extension",
      "taxonomy_version": "2026.1",
      "period": "2026-07-01T00:00:00Z/2026-10-01T00:00:00Z",
      "period_label": "2026-Q3",
      "reporter_kind": "authority",
      "dimensions": ["region", "offence_category"],
      "metrics": ["incidents", "reported-losses"],
      "disclosure": {"k": 10, "secondary_suppression": "interval-protection", ...},
      "cells": [
        {"region": "DE", "offence_category": "computer-related-fraud",
         "metric": "incidents", "unit": "count", "value": 412, "suppressed": false,
         "enablers": ["cryptocurrency-laundering"]},
        {"region": "DE", "offence_category": null, ...}          # a margin: all categories
      ]
    }

A cell names a value for every dimension of the report; ``null`` in a
dimension means "all values of it" (a marginal total). Dimensions not in
``dimensions`` are absent (null) everywhere. A suppressed cell has no value.
Every value is checked against the shipped taxonomy (:mod:`feeds.trends.taxonomy`);
:func:`extension_schema` is the JSON Schema of the extension, shipped as
``data/trend-report-1.schema.json``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from feeds.trends.taxonomy import taxonomy

__all__ = [
    "DIMENSIONS",
    "EXTENSION_DEFINITION",
    "EXTENSION_ID",
    "Cell",
    "DifferentialPrivacy",
    "Disclosure",
    "MetricNoise",
    "TrendExtension",
    "TrendReport",
    "extension_schema",
    "trend_bundle",
    "trend_report",
    "trend_reports",
]

EXTENSION_ID = "extension-definition--6c1e2f3a-8b4d-4e5f-9a0b-7c2d1e3f4a5b"
SCHEMA_ID = "urn:trend-exchange:schema:trend-report:1"
_IDENTITY = "identity--5e8a2c1d-7b4f-4d9e-8a6c-2f1b3d4e5a60"

EXTENSION_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": EXTENSION_ID,
    "created_by_ref": _IDENTITY,
    "created": "2026-11-29T00:00:00.000Z",
    "modified": "2026-11-29T00:00:00.000Z",
    "name": "Trend Exchange cybercrime trend report",
    "description": (
        "Aggregated cybercrime trends of one period on a STIX report: cells of period x"
        " region x offence category (Budapest Convention Art. 2-10; optionally x sector,"
        " x RSIT modus operandi) with their marginal totals, each a metric (incidents,"
        " victims, reported losses, takedowns, arrests) with its unit, and the disclosure"
        " control applied: k-threshold suppression with secondary suppression, and"
        " optionally differential privacy (mechanism, epsilon per release, cumulative"
        " epsilon)."
    ),
    "schema": SCHEMA_ID,
    "version": "1.0.0",
    "extension_types": ["property-extension"],
}
"""The extension-definition of the trend property extension (in every trend bundle)."""

DIMENSIONS = ("region", "offence_category", "sector", "modus_operandi")
"""The dimensions a report may break its cells down by, in this order; the first two
are always there."""

_AXES = {
    "region": "regions",
    "offence_category": "offence_categories",
    "sector": "sectors",
    "modus_operandi": "modus_operandi",
}


def _member_of(axis: str) -> Any:
    """A string type restricted to the ids of taxonomy ``axis`` (checked and in the schema)."""
    ids = taxonomy().ids(axis)
    allowed = frozenset(ids)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not in the taxonomy's {axis.replace('_', ' ')}")
        return value

    return Annotated[
        str, AfterValidator(check), WithJsonSchema({"type": "string", "enum": list(ids)})
    ]


if TYPE_CHECKING:
    Region: TypeAlias = str
    Offence: TypeAlias = str
    Sector: TypeAlias = str
    ModusOperandi: TypeAlias = str
    Enabler: TypeAlias = str
    Metric: TypeAlias = str
    ReporterKind: TypeAlias = str
else:
    Region = _member_of("regions")
    Offence = _member_of("offence_categories")
    Sector = _member_of("sectors")
    ModusOperandi = _member_of("modus_operandi")
    Enabler = _member_of("enablers")
    Metric = _member_of("metrics")
    ReporterKind = _member_of("reporter_kinds")
Dimension = Literal["region", "offence_category", "sector", "modus_operandi"]
Unit = Annotated[str, Field(pattern=r"^(count|[A-Z]{3})$")]
"""``count``, or the ISO 4217 code of the currency of a reported-losses value."""
_INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
_INTERVAL = f"^{_INSTANT}/{_INSTANT}$"
Epsilon = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class MetricNoise(_Strict):
    """The noise one metric's values were released with."""

    metric: Metric
    mechanism: Literal["discrete-laplace", "laplace"]
    scale: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    epsilon: Epsilon
    """This metric's share of the release's epsilon (OpenDP's privacy map)."""
    bounds: tuple[float, float] | None = None
    """Summed metrics: each record's value was clamped to these bounds first."""


class DifferentialPrivacy(_Strict):
    """Differential privacy applied to every value of the report."""

    library: str
    """The library that added the noise and computed epsilon, with its version."""
    unit_of_privacy: Literal["incident-record"] = "incident-record"
    """Neighbouring data sets differ by one incident record added or removed."""
    epsilon: Epsilon
    """The epsilon of this release (all metrics composed)."""
    cumulative_epsilon: Epsilon
    """The member's epsilon spent on this period's records so far, this release included."""
    metrics: tuple[MetricNoise, ...]
    note: str = ""


class Disclosure(_Strict):
    """The disclosure control applied: stated in full, so that every value is traceable."""

    k: Annotated[int, Field(ge=1)]
    """Cells with fewer than ``k`` contributing incident records are suppressed."""
    secondary_suppression: Literal["interval-protection"] | None
    """How further cells and margins were suppressed so no suppressed cell can be
    recovered from the published values (None only if nothing was suppressed)."""
    suppressed_cells: Annotated[int, Field(ge=0)]
    suppressed_margins: Annotated[int, Field(ge=0)]
    differential_privacy: DifferentialPrivacy | None = None
    notes: tuple[str, ...] = ()
    """Plain-language statements of every control applied, for readers."""


class Cell(_Strict):
    """One value: a metric for one combination of dimension values (null = all)."""

    region: Region | None = None
    offence_category: Offence | None = None
    sector: Sector | None = None
    modus_operandi: ModusOperandi | None = None
    metric: Metric
    unit: Unit
    value: Annotated[float, Field(allow_inf_nan=False)] | None
    suppressed: bool
    enablers: tuple[Enabler, ...] = ()
    """Enabler tags present in at least ``k`` of the cell's records."""

    @model_validator(mode="after")
    def _value_iff_published(self) -> Cell:
        if self.suppressed != (self.value is None):
            raise ValueError("a cell has a value if and only if it is not suppressed")
        if self.suppressed and self.enablers:
            raise ValueError("a suppressed cell names no enablers")
        return self

    def key(self, dimensions: Iterable[str]) -> tuple[str | None, ...]:
        """The cell's values along ``dimensions``."""
        return tuple(getattr(self, name) for name in dimensions)

    @property
    def is_margin(self) -> bool:
        """Whether the cell totals over some dimension (a null in one of them)."""
        return self.region is None or self.offence_category is None


class TrendExtension(_Strict):
    """The trend property extension of a STIX report."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "$id": SCHEMA_ID,
            "$schema": "https://json-schema.org/draft/2020-12/schema",
        },
    )

    extension_type: Literal["property-extension"] = "property-extension"
    taxonomy_version: str
    period: Annotated[str, Field(pattern=_INTERVAL)]
    """ISO 8601 interval, half-open: ``[start, end)`` in UTC."""
    period_label: Annotated[str, Field(min_length=1, max_length=64)]
    reporter_kind: ReporterKind
    dimensions: tuple[Dimension, ...]
    metrics: tuple[Metric, ...]
    disclosure: Disclosure
    cells: tuple[Cell, ...]

    @model_validator(mode="after")
    def _consistent(self) -> TrendExtension:
        if self.taxonomy_version != taxonomy().version:
            raise ValueError(
                f"taxonomy version {self.taxonomy_version!r} is not known here"
                f" (this client has {taxonomy().version!r})"
            )
        if self.dimensions[:2] != ("region", "offence_category") or list(self.dimensions) != [
            name for name in DIMENSIONS if name in self.dimensions
        ]:
            raise ValueError(
                "dimensions must be region, offence_category, then optionally sector and"
                " modus_operandi, in that order"
            )
        start, end = (datetime.fromisoformat(part) for part in self.period.split("/"))
        if end <= start:
            raise ValueError("the period ends before it starts")
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("a metric is listed twice")
        seen: set[tuple[Any, ...]] = set()
        for cell in self.cells:
            if cell.metric not in self.metrics:
                raise ValueError(f"cell metric {cell.metric!r} is not among the report's metrics")
            for name in DIMENSIONS:
                if name not in self.dimensions and getattr(cell, name) is not None:
                    raise ValueError(f"a cell has a {name} but the report is not broken down by it")
            if (cell.unit == "count") != (cell.metric != "reported-losses"):
                raise ValueError(f"metric {cell.metric!r} cannot have unit {cell.unit!r}")
            key = (*cell.key(self.dimensions), cell.metric, cell.unit)
            if key in seen:
                raise ValueError(f"two cells for {key}")
            seen.add(key)
        return self

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.period.split("/")[0]).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromisoformat(self.period.split("/")[1]).astimezone(UTC)


def extension_schema() -> dict[str, Any]:
    """The JSON Schema of the trend extension (shipped as ``data/trend-report-1.schema.json``)."""
    return TrendExtension.model_json_schema(mode="validation")


def _timestamp(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def trend_report(
    extension: TrendExtension,
    *,
    created_by: str | None = None,
    name: str | None = None,
    now: datetime | None = None,
    report_id: str | None = None,
) -> dict[str, Any]:
    """The STIX 2.1 ``report`` object carrying ``extension``.

    ``created_by`` is the reporting member's id (an ``identity--`` id).
    """
    now = now or datetime.now(UTC)
    stamp = _timestamp(now)
    report: dict[str, Any] = {
        "type": "report",
        "spec_version": "2.1",
        "id": report_id or f"report--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "name": name or f"Cybercrime trends {extension.period_label} ({extension.reporter_kind})",
        "description": " ".join(extension.disclosure.notes),
        "report_types": ["threat-report"],
        "published": stamp,
        "object_refs": [EXTENSION_ID],
        "labels": ["cybercrime-trends"],
        "extensions": {EXTENSION_ID: extension.model_dump(mode="json")},
    }
    if created_by is not None:
        report["created_by_ref"] = created_by
    return report


def trend_bundle(*reports: Mapping[str, Any]) -> dict[str, Any]:
    """A STIX bundle of ``reports`` and the extension-definition they use."""
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": [EXTENSION_DEFINITION, *reports],
    }


@dataclass(frozen=True, slots=True)
class TrendReport:
    """A trend report read from STIX: the report's identity and its extension."""

    id: str
    created: datetime
    modified: datetime
    created_by: str | None
    name: str
    extension: TrendExtension


def _moment(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"the report's {what} is missing")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None or not math.isfinite(moment.timestamp()):
        raise ValueError(f"the report's {what} is not a UTC timestamp")
    return moment.astimezone(UTC)


def trend_reports(document: Mapping[str, Any]) -> list[TrendReport]:
    """The trend reports in ``document`` (a STIX bundle or a single report).

    Objects other than reports with the trend extension are skipped. Raises
    `ValueError` (pydantic's `ValidationError` included) if a trend report is malformed.
    """
    objects: Iterable[Any]
    if document.get("type") == "bundle":
        found = document.get("objects", [])
        objects = found if isinstance(found, list) else []
    else:
        objects = [document]
    reports = []
    for obj in objects:
        if not isinstance(obj, Mapping) or obj.get("type") != "report":
            continue
        extensions = obj.get("extensions")
        if not isinstance(extensions, Mapping) or EXTENSION_ID not in extensions:
            continue
        try:
            extension = TrendExtension.model_validate(extensions[EXTENSION_ID])
        except ValidationError as exc:
            raise ValueError(f"{obj.get('id')}: {_first_error(exc)}") from None
        reports.append(
            TrendReport(
                id=str(obj.get("id")),
                created=_moment(obj.get("created"), "created"),
                modified=_moment(obj.get("modified"), "modified"),
                created_by=obj.get("created_by_ref")
                if isinstance(obj.get("created_by_ref"), str)
                else None,
                name=str(obj.get("name", "")),
                extension=extension,
            )
        )
    return reports


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
