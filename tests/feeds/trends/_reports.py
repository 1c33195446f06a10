"""Trend reports for the merge and chart tests, built directly (not by the builder)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feeds.trends.periods import Period, parse_period
from feeds.trends.report import TrendExtension, trend_bundle, trend_report
from feeds.trends.taxonomy import taxonomy

AUTHORITY = "identity--0d6f1a7e-3c2b-4e8d-9a1f-5b7c3e2d1a40"
INDUSTRY = "identity--7a2b9c4d-1e3f-4a5b-8c6d-9e0f1a2b3c4d"
WRAPPER = "identity--11111111-2222-4333-8444-555555555555"


def cell(
    region: str | None,
    category: str | None,
    value: float | None,
    *,
    metric: str = "incidents",
    unit: str = "count",
    enablers: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "region": region,
        "offence_category": category,
        "metric": metric,
        "unit": unit,
        "value": value,
        "suppressed": value is None,
        "enablers": list(enablers),
    }


def extension(
    period: str,
    cells: Sequence[Mapping[str, Any]],
    *,
    reporter_kind: str = "authority",
    k: int = 10,
    metrics: Sequence[str] = ("incidents",),
    dp: Mapping[str, Any] | None = None,
    notes: Sequence[str] = ("Cells with fewer than 10 incidents are suppressed.",),
) -> TrendExtension:
    parsed = parse_period(period)
    margins = [c["region"] is None or c["offence_category"] is None for c in cells]
    suppressed = sum(1 for c, m in zip(cells, margins, strict=True) if c["suppressed"] and not m)
    hidden = sum(1 for c, m in zip(cells, margins, strict=True) if c["suppressed"] and m)
    return TrendExtension.model_validate(
        {
            "taxonomy_version": taxonomy().version,
            "period": parsed.interval,
            "period_label": parsed.label,
            "reporter_kind": reporter_kind,
            "dimensions": ["region", "offence_category"],
            "metrics": list(metrics),
            "disclosure": {
                "k": k,
                "secondary_suppression": "interval-protection" if suppressed + hidden else None,
                "suppressed_cells": suppressed,
                "suppressed_margins": hidden,
                "differential_privacy": dp,
                "notes": list(notes),
            },
            "cells": list(cells),
        }
    )


def report(
    ext: TrendExtension,
    member: str | None,
    *,
    modified: datetime | None = None,
    name: str | None = None,
    report_id: str | None = None,
) -> dict[str, Any]:
    return trend_report(
        ext,
        created_by=member,
        name=name,
        now=modified or datetime(2026, 11, 1, tzinfo=UTC),
        report_id=report_id,
    )


def write_opened(
    directory: Path,
    *reports: Mapping[str, Any],
    publisher: str | None = None,
    policy_version: int = 3,
) -> Path:
    """Write a bundle as ``feeds pull`` would, with a sidecar if ``publisher`` is given."""
    directory.mkdir(parents=True, exist_ok=True)
    envelope = f"sealed-envelope--{uuid.uuid4()}"
    path = directory / f"{envelope}.json"
    path.write_text(json.dumps(trend_bundle(*reports)))
    if publisher is not None:
        sidecar = {
            "envelope_id": envelope,
            "sealed_report": f"sealed-report--{uuid.uuid4()}",
            "version": "2026-11-01T00:00:00.000Z",
            "publisher": publisher,
            "wrapped_by": WRAPPER,
            "policy": {"feed": "trends", "version": policy_version, "digest": "sha256:ab"},
        }
        (directory / f"{envelope}.source.json").write_text(json.dumps(sidecar))
    return path


def aggregate(
    records: Iterable[Mapping[str, Any]],
    periods: Sequence[Period],
    *,
    k: int = 10,
    metrics: Sequence[str] = ("incidents", "reported-losses"),
) -> dict[str, list[dict[str, Any]]]:
    """Region x category cells per period label; cells under ``k`` records suppressed.

    A stand-in for the builder, good enough to draw charts from (region margins are
    suppressed wherever a cell of the region is, so no cell is recoverable).
    """
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    losses: dict[tuple[str, str, str, str], float] = defaultdict(float)
    loss_counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for record in records:
        moment = datetime.fromisoformat(
            record["date"] + ("T00:00:00+00:00" if len(record["date"]) == 10 else "")
        ).astimezone(UTC)
        for period in periods:
            if moment in period:
                key = (period.label, record["region"], record["offence_category"])
                counts[key] += 1
                if "loss" in record:
                    money = (*key, record["currency"])
                    losses[money] += record["loss"]
                    loss_counts[money] += 1
                break
    out: dict[str, list[dict[str, Any]]] = {period.label: [] for period in periods}
    hidden: set[tuple[str, str]] = set()
    for (label, region, category), n in sorted(counts.items()):
        out[label].append(cell(region, category, n if n >= k else None))
        if n < k:
            hidden.add((label, region))
    if "reported-losses" in metrics:
        for (label, region, category, currency), total in sorted(losses.items()):
            published = loss_counts[label, region, category, currency] >= k
            out[label].append(
                cell(
                    region,
                    category,
                    round(total, 2) if published else None,
                    metric="reported-losses",
                    unit=currency,
                )
            )
    for label, region in sorted({(label, region) for label, region, _ in counts}):
        total = sum(n for (lb, rg, _), n in counts.items() if lb == label and rg == region)
        out[label].append(cell(region, None, None if (label, region) in hidden else total))
    return out
