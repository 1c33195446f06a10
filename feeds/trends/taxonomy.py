"""The shared trend taxonomy, shipped as versioned data in ``feeds/trends/data/``.

Every member codes its incidents and every reader reads trend reports against
the same lists: offence categories (Council of Europe Budapest Convention,
Art. 2–10, each cyber-dependent or cyber-enabled), modus operandi (the RSIT
incident classes), enablers, metrics, reporter kinds, sectors (NIS2 Annex I
and II plus a few outside it), and regions (ISO 3166-1 alpha-2 countries and
UN M49 regions, the latter by their three-digit codes). A report names the
taxonomy version it was coded against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal

__all__ = ["Entry", "Region", "Taxonomy", "taxonomy"]

Nature = Literal["cyber-dependent", "cyber-enabled"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One value of a taxonomy axis: its ``id`` (what reports carry) and display ``name``."""

    id: str
    name: str
    source: str | None = None
    nature: Nature | None = None
    """Offence categories only: cyber-dependent or cyber-enabled."""
    unit: str | None = None
    """Metrics only: ``count``, or ``currency`` (the unit is then an ISO 4217 code)."""
    column: str | None = None
    """Metrics only: the incident-record column summed, or None for a count of records."""


@dataclass(frozen=True, slots=True)
class Region:
    """An ISO 3166-1 alpha-2 country (``DE``) or a UN M49 region (``150``)."""

    code: str
    name: str
    within: tuple[str, ...]
    """The M49 regions that contain it, innermost first (ending with ``001``, World)."""


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """One version of the taxonomy. Axes keep the order of the data file."""

    version: str
    offence_categories: tuple[Entry, ...]
    modus_operandi: tuple[Entry, ...]
    enablers: tuple[Entry, ...]
    metrics: tuple[Entry, ...]
    reporter_kinds: tuple[Entry, ...]
    sectors: tuple[Entry, ...]
    regions: tuple[Region, ...]

    def ids(self, axis: str) -> tuple[str, ...]:
        """The ids of ``axis`` (``offence_categories``, ``regions``, ...) in file order."""
        if axis == "regions":
            return tuple(region.code for region in self.regions)
        entries: tuple[Entry, ...] = getattr(self, axis)
        return tuple(entry.id for entry in entries)

    def entry(self, axis: str, id: str) -> Entry:
        """The entry ``id`` of ``axis``. Raises `KeyError` if there is none."""
        entries: tuple[Entry, ...] = getattr(self, axis)
        for entry in entries:
            if entry.id == id:
                return entry
        raise KeyError(id)

    def region(self, code: str) -> Region:
        """The region ``code``. Raises `KeyError` if there is none."""
        return _regions_by_code(self)[code]


@cache
def _regions_by_code(taxonomy: Taxonomy) -> dict[str, Region]:
    return {region.code: region for region in taxonomy.regions}


def _entries(raw: list[dict[str, Any]]) -> tuple[Entry, ...]:
    return tuple(Entry(**item) for item in raw)


@cache
def taxonomy() -> Taxonomy:
    """The taxonomy shipped with this package."""
    data = files("feeds.trends") / "data"
    raw = json.loads((data / "taxonomy.json").read_text("utf-8"))
    places = json.loads((data / "regions.json").read_text("utf-8"))
    if places["version"] != raw["version"]:  # pragma: no cover - a packaging mistake
        raise RuntimeError("taxonomy.json and regions.json are of different versions")
    regions = tuple(
        Region(code=item["code"], name=item["name"], within=tuple(item["regions"]))
        for item in places["countries"]
    ) + tuple(
        Region(
            code=item["code"],
            name=item["name"],
            within=() if item["parent"] is None else _ancestors(places, item["parent"]),
        )
        for item in places["m49_regions"]
    )
    return Taxonomy(
        version=raw["version"],
        offence_categories=_entries(raw["offence_categories"]),
        modus_operandi=_entries(raw["modus_operandi"]),
        enablers=_entries(raw["enablers"]),
        metrics=_entries(raw["metrics"]),
        reporter_kinds=_entries(raw["reporter_kinds"]),
        sectors=_entries(raw["sectors"]),
        regions=regions,
    )


def _ancestors(places: dict[str, Any], code: str) -> tuple[str, ...]:
    parents = {item["code"]: item["parent"] for item in places["m49_regions"]}
    chain: list[str] = []
    current: str | None = code
    while current is not None:
        chain.append(current)
        current = parents[current]
    return tuple(chain)
