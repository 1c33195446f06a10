"""Merging opened trend reports of many members and periods into one table.

:func:`merge_reports` reads opened STIX bundles (what ``feeds pull --out DIR``
writes: ``<envelope id>.json``, next to an optional ``<envelope id>.source.json``
provenance sidecar) and returns a :class:`Merged` document, written by
:func:`write_merged` as ``merged.json``::

    {
      "format": "trend-exchange/merged/1",
      "taxonomy_version": "2026.1",
      "generated_at": "2026-11-29T10:00:00Z",
      "inputs": ["pulled/"],
      "sources": [            # one per merged report: who, from which file, how verified,
        {...}                 # and its full disclosure (k, suppression, DP, notes)
      ],
      "periods": [{"period": "2026-07-01T00:00:00Z/2026-10-01T00:00:00Z", "label": "2026-Q3",
                   "start": "...", "end": "..."}],
      "rows": [               # one per (source, period, cell)
        {"period": ..., "dimensions": ["region", "offence_category"], "region": "DE",
         "offence_category": "computer-related-fraud", "sector": null, "modus_operandi": null,
         "metric": "incidents", "unit": "count", "value": 412, "suppressed": false,
         "enablers": [...],
         "source": {"member": "identity--...", "reporter_kind": "authority",
                    "report": "report--...", "modified": "...", "file": "pulled/x.json",
                    "verified": true, "envelope_id": "...", "policy_version": 3},
         "disclosure": {"k": 10, "secondary_suppression": "interval-protection",
                        "dp_mechanism": "discrete-laplace", "epsilon": 0.5,
                        "cumulative_epsilon": 1.0, "scale": 2.0}}
      ],
      "combined": [           # one per (period, dimensions, cell key, metric, unit)
        {..., "value": 530, "suppressed": false, "members": [...], "reports": [...],
         "suppressed_by": [], "noised": false}
      ],
      "refused": [{"file": "...", "reason": "..."}],     # not merged, and why
      "ignored": [{"file": "...", "reason": "..."}],     # no trend report in it
      "superseded": [{"report": ..., "by_report": ..., "reason": ...}]
    }

Rules:

* **Provenance.** With a sidecar, the report's ``created_by_ref`` must be the
  sidecar's ``publisher`` (whose signature on the envelope ``feeds pull``
  verified), else the file is refused; the source is then ``verified``. Without
  one, the source is the report's own ``created_by_ref``, not verified.
* **Versions.** Of one member's reports with the same id, the latest
  ``modified`` is kept; of one member's reports for the same period and the same
  dimensions, the latest ``modified`` is kept. The others are listed as superseded.
* **Combined view.** Only like is combined with like: cells of reports with the
  same period and dimensions, with the same values (nulls included, so margins
  with margins of the same kind), metric and unit (currencies are never added
  up). The combined value is the sum over the contributing members when every
  contributor published its cell; if any suppressed it, the combined cell is
  suppressed too. It is never un-suppressed, and never the sum of the published
  parts presented as a total.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from feeds.errors import DocumentError
from feeds.trends._files import write_private
from feeds.trends.report import (
    Disclosure,
    Enabler,
    Metric,
    ModusOperandi,
    Offence,
    Region,
    ReporterKind,
    Sector,
    TrendReport,
    trend_reports,
)
from feeds.trends.taxonomy import taxonomy

__all__ = [
    "FORMAT",
    "Combined",
    "Merged",
    "PeriodEntry",
    "Provenance",
    "Refusal",
    "Row",
    "RowDisclosure",
    "RowSource",
    "Source",
    "Superseded",
    "merge_reports",
    "read_merged",
    "write_merged",
]

FORMAT = "trend-exchange/merged/1"
MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Larger report files are refused unread."""
MAX_MERGED_BYTES = 512 * 1024 * 1024

_IDENTITY = r"^identity--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_REPORT = r"^report--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_INSTANT = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"
_INTERVAL = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
_IDENTITY_ID = re.compile(_IDENTITY.strip("^$"))
_REPORT_ID = re.compile(_REPORT.strip("^$"))
Identity = Annotated[str, Field(pattern=_IDENTITY)]
ReportId = Annotated[str, Field(pattern=_REPORT)]
Instant = Annotated[str, Field(pattern=_INSTANT)]
Interval = Annotated[str, Field(pattern=_INTERVAL)]
Text = Annotated[str, Field(max_length=4096)]
Dimension = Literal["region", "offence_category", "sector", "modus_operandi"]
Unit = Annotated[str, Field(pattern=r"^(count|[A-Z]{3})$")]
Value = int | Annotated[float, Field(allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyRef(BaseModel):
    """The feed policy a sealed report was published under (from the sidecar)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    feed: Text
    version: Annotated[int, Field(ge=0)]
    digest: Text


class Provenance(BaseModel):
    """A provenance sidecar, ``<envelope id>.source.json``, written by ``feeds pull``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    envelope_id: Text
    sealed_report: Text
    version: Text
    """The ``modified`` of the sealed report (the envelope's version)."""
    publisher: Identity
    """The member whose signature on the envelope was verified."""
    wrapped_by: Text
    policy: PolicyRef


class Source(_Model):
    """One merged report: who published it, where it was read, how it was verified."""

    member: Identity
    """``verified``: the envelope's signer; else the report's own ``created_by_ref``."""
    reporter_kind: ReporterKind
    report: ReportId
    name: Text
    modified: Instant
    file: Text
    verified: bool
    envelope_id: Text | None = None
    sealed_report: Text | None = None
    envelope_version: Text | None = None
    wrapped_by: Text | None = None
    policy_feed: Text | None = None
    policy_version: int | None = None
    policy_digest: Text | None = None
    period: Interval
    period_label: Text
    dimensions: tuple[Dimension, ...]
    metrics: tuple[Metric, ...]
    disclosure: Disclosure


class RowSource(_Model):
    """The source of one row, in short (the full entry is in ``sources``)."""

    member: Identity
    reporter_kind: ReporterKind
    report: ReportId
    modified: Instant
    file: Text
    verified: bool
    envelope_id: Text | None = None
    policy_version: int | None = None


class RowDisclosure(_Model):
    """The disclosure control behind one row's value."""

    k: Annotated[int, Field(ge=1)]
    secondary_suppression: Literal["interval-protection"] | None
    dp_mechanism: Literal["discrete-laplace", "laplace"] | None = None
    epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    """This metric's epsilon in the release."""
    cumulative_epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    scale: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None


class _Cell(_Model):
    period: Interval
    period_label: Text
    dimensions: tuple[Dimension, ...]
    region: Region | None = None
    offence_category: Offence | None = None
    sector: Sector | None = None
    modus_operandi: ModusOperandi | None = None
    metric: Metric
    unit: Unit
    value: Value | None
    suppressed: bool

    @model_validator(mode="after")
    def _value_iff_published(self) -> _Cell:
        if self.suppressed != (self.value is None):
            raise ValueError("a value is there if and only if it is not suppressed")
        return self

    def key(self) -> tuple[Any, ...]:
        """What like is combined with like by."""
        return (
            self.period,
            self.dimensions,
            self.region,
            self.offence_category,
            self.sector,
            self.modus_operandi,
            self.metric,
            self.unit,
        )


class Row(_Cell):
    """One source's value for one cell of one period."""

    enablers: tuple[Enabler, ...] = ()
    source: RowSource
    disclosure: RowDisclosure


class Combined(_Cell):
    """One cell of one period, across the members that reported it."""

    members: tuple[Identity, ...]
    reports: tuple[ReportId, ...]
    suppressed_by: tuple[Identity, ...] = ()
    """The members whose cell was suppressed (then so is this one)."""
    noised: bool
    """Whether any contributor's value carries differential-privacy noise."""

    @model_validator(mode="after")
    def _never_unsuppressed(self) -> Combined:
        if not self.members or len(self.members) != len(self.reports):
            raise ValueError("a combined value names each contributing member and report")
        if self.suppressed != bool(self.suppressed_by):
            raise ValueError("a combined value is suppressed if and only if a contributor's is")
        return self


class PeriodEntry(_Model):
    """A period present in the merge."""

    period: Interval
    label: Text
    start: Instant
    end: Instant


class Refusal(_Model):
    """A file not merged (or merged in no part), and why."""

    file: Text
    reason: Text


class Superseded(_Model):
    """A report left out because a later one replaces it."""

    report: ReportId
    member: Identity
    modified: Instant
    file: Text
    by_report: ReportId
    by_modified: Instant
    by_file: Text
    reason: Text


class Merged(_Model):
    """The merged table: ``rows`` per source, ``combined`` across sources."""

    format: Literal["trend-exchange/merged/1"] = "trend-exchange/merged/1"
    taxonomy_version: str
    generated_at: Instant
    inputs: tuple[Text, ...] = ()
    sources: tuple[Source, ...]
    periods: tuple[PeriodEntry, ...]
    rows: tuple[Row, ...]
    combined: tuple[Combined, ...]
    refused: tuple[Refusal, ...] = ()
    ignored: tuple[Refusal, ...] = ()
    superseded: tuple[Superseded, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Merged:
        if self.taxonomy_version != taxonomy().version:
            raise ValueError(
                f"made with taxonomy {self.taxonomy_version!r}; this client has"
                f" {taxonomy().version!r}"
            )
        reports = {source.report for source in self.sources}
        if len(reports) != len(self.sources):
            raise ValueError("a report is listed twice among the sources")
        if any(row.source.report not in reports for row in self.rows):
            raise ValueError("a row names a report that is not among the sources")
        for combined in self.combined:
            if not set(combined.reports) <= reports:
                raise ValueError("a combined value names a report that is not among the sources")
        return self

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary: counts, periods, sources, refused files."""
        return {
            "format": self.format,
            "generated_at": self.generated_at,
            "periods": [period.label for period in self.periods],
            "sources": [
                {
                    "member": source.member,
                    "reporter_kind": source.reporter_kind,
                    "report": source.report,
                    "period": source.period_label,
                    "verified": source.verified,
                    "file": source.file,
                }
                for source in self.sources
            ],
            "rows": len(self.rows),
            "rows_suppressed": sum(row.suppressed for row in self.rows),
            "combined": len(self.combined),
            "combined_suppressed": sum(value.suppressed for value in self.combined),
            "refused": [refusal.model_dump() for refusal in self.refused],
            "ignored": [refusal.model_dump() for refusal in self.ignored],
            "superseded": [entry.model_dump() for entry in self.superseded],
        }


@dataclass(frozen=True, slots=True)
class _Candidate:
    report: TrendReport
    file: str
    member: str
    provenance: Provenance | None

    @property
    def rank(self) -> tuple[datetime, bool, str]:
        return (self.report.modified, self.provenance is not None, self.file)


def _instant(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{moment.microsecond // 1000:03d}Z" if moment.microsecond else f"{stamp}Z"


def _files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            children = sorted(
                child
                for child in path.iterdir()
                if child.suffix == ".json"
                and not child.name.endswith(".source.json")
                and child.is_file()
            )
        elif path.is_file():
            children = [path]
        else:
            raise DocumentError(str(path), "no such file or directory")
        for child in children:
            resolved = child.resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.append(child)
    return found


def _load_json(path: Path) -> Any:
    """The JSON document in ``path``. Raises `ValueError` saying why it is unreadable."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_INPUT_BYTES:
        raise ValueError(f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("not a JSON document") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _read(path: Path) -> tuple[list[_Candidate], list[str], bool]:
    """The reports in ``path`` to merge; the reasons the file or some reports are refused;
    whether it holds any trend report."""
    if path.name.endswith(".source.json"):
        return [], ["a provenance sidecar, not a report"], True
    try:
        document = _load_json(path)
    except ValueError as exc:
        return [], [str(exc)], True
    if not isinstance(document, dict):
        return [], ["not a STIX bundle or report (not a JSON object)"], True
    try:
        reports = trend_reports(document)
    except ValueError as exc:
        return [], [f"a malformed trend report: {exc}"], True
    if not reports:
        return [], [], False
    provenance: Provenance | None = None
    sidecar = path.with_name(path.name[: -len(".json")] + ".source.json")
    if sidecar.exists():
        try:
            provenance = Provenance.model_validate(_load_json(sidecar))
        except ValueError as exc:
            reason = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
            return [], [f"its provenance sidecar {sidecar.name} is malformed: {reason}"], True
    candidates, refusals = [], []
    for report in reports:
        if not _REPORT_ID.fullmatch(report.id):
            refusals.append(f"a trend report has no valid id ({report.id[:80]!r})")
        elif provenance is not None and report.created_by != provenance.publisher:
            refusals.append(
                f"{report.id} names {report.created_by or 'no creator'} as its creator, but"
                f" envelope {provenance.envelope_id} was signed by {provenance.publisher}"
            )
        elif provenance is not None:
            candidates.append(_Candidate(report, str(path), provenance.publisher, provenance))
        elif report.created_by is None or not _IDENTITY_ID.fullmatch(report.created_by):
            refusals.append(
                f"{report.id} names no creator (created_by_ref) and there is no"
                " provenance sidecar to name its publisher"
            )
        else:
            candidates.append(_Candidate(report, str(path), report.created_by, None))
    return candidates, refusals, True


def _latest(
    groups: dict[Any, list[_Candidate]], reason: str, same: str
) -> tuple[list[_Candidate], list[Superseded]]:
    kept: list[_Candidate] = []
    superseded: list[Superseded] = []
    for group in groups.values():
        group.sort(key=lambda candidate: candidate.rank, reverse=True)
        winner = group[0]
        kept.append(winner)
        for loser in group[1:]:
            why = same if loser.report.modified == winner.report.modified else reason
            superseded.append(
                Superseded(
                    report=loser.report.id,
                    member=loser.member,
                    modified=_instant(loser.report.modified),
                    file=loser.file,
                    by_report=winner.report.id,
                    by_modified=_instant(winner.report.modified),
                    by_file=winner.file,
                    reason=why,
                )
            )
    return kept, superseded


def _source(candidate: _Candidate) -> Source:
    report, provenance = candidate.report, candidate.provenance
    extension = report.extension
    return Source(
        member=candidate.member,
        reporter_kind=extension.reporter_kind,
        report=report.id,
        name=report.name[:4096],
        modified=_instant(report.modified),
        file=candidate.file,
        verified=provenance is not None,
        envelope_id=provenance.envelope_id if provenance else None,
        sealed_report=provenance.sealed_report if provenance else None,
        envelope_version=provenance.version if provenance else None,
        wrapped_by=provenance.wrapped_by if provenance else None,
        policy_feed=provenance.policy.feed if provenance else None,
        policy_version=provenance.policy.version if provenance else None,
        policy_digest=provenance.policy.digest if provenance else None,
        period=extension.period,
        period_label=extension.period_label,
        dimensions=extension.dimensions,
        metrics=extension.metrics,
        disclosure=extension.disclosure,
    )


def _number(value: float, unit: str) -> int | float:
    if unit == "count" and value.is_integer():
        return int(value)
    return value


def _rows(source: Source, report: TrendReport) -> list[Row]:
    disclosure = source.disclosure
    privacy = disclosure.differential_privacy
    noise = {entry.metric: entry for entry in privacy.metrics} if privacy else {}
    short = RowSource(
        member=source.member,
        reporter_kind=source.reporter_kind,
        report=source.report,
        modified=source.modified,
        file=source.file,
        verified=source.verified,
        envelope_id=source.envelope_id,
        policy_version=source.policy_version,
    )
    controls: dict[str, RowDisclosure] = {}
    for metric in report.extension.metrics:
        entry = noise.get(metric)
        controls[metric] = RowDisclosure(
            k=disclosure.k,
            secondary_suppression=disclosure.secondary_suppression,
            dp_mechanism=entry.mechanism if entry else None,
            epsilon=entry.epsilon if entry else None,
            cumulative_epsilon=privacy.cumulative_epsilon if privacy and entry else None,
            scale=entry.scale if entry else None,
        )
    return [
        Row(
            period=source.period,
            period_label=source.period_label,
            dimensions=source.dimensions,
            region=cell.region,
            offence_category=cell.offence_category,
            sector=cell.sector,
            modus_operandi=cell.modus_operandi,
            metric=cell.metric,
            unit=cell.unit,
            value=None if cell.value is None else _number(cell.value, cell.unit),
            suppressed=cell.suppressed,
            enablers=cell.enablers,
            source=short,
            disclosure=controls[cell.metric],
        )
        for cell in report.extension.cells
    ]


def _combine(rows: Iterable[Row], labels: dict[str, str]) -> list[Combined]:
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.key()].append(row)
    combined = []
    for group in groups.values():
        first = group[0]
        suppressed_by = tuple(sorted({row.source.member for row in group if row.suppressed}))
        value: int | float | None = None
        if not suppressed_by:
            total = math.fsum(float(row.value) for row in group if row.value is not None)
            value = _number(total, first.unit)
        ordered = sorted(group, key=lambda row: row.source.member)
        combined.append(
            Combined(
                period=first.period,
                period_label=labels[first.period],
                dimensions=first.dimensions,
                region=first.region,
                offence_category=first.offence_category,
                sector=first.sector,
                modus_operandi=first.modus_operandi,
                metric=first.metric,
                unit=first.unit,
                value=value,
                suppressed=bool(suppressed_by),
                members=tuple(row.source.member for row in ordered),
                reports=tuple(row.source.report for row in ordered),
                suppressed_by=suppressed_by,
                noised=any(row.disclosure.dp_mechanism is not None for row in group),
            )
        )
    combined.sort(key=_order)
    return combined


def _order(cell: _Cell) -> tuple[Any, ...]:
    return tuple((value is None, value) for value in cell.key())


def merge_reports(paths: Sequence[Path], *, now: datetime | None = None) -> Merged:
    """Merge the trend reports in ``paths`` (directories, scanned for ``*.json``, or files).

    Files that cannot be read, are not JSON, hold a malformed trend report, or whose
    report contradicts its provenance sidecar are listed in ``refused`` with the
    reason; files without trend reports in ``ignored``; replaced versions in
    ``superseded``. Raises `DocumentError` if a path does not exist.
    """
    refused: list[Refusal] = []
    ignored: list[Refusal] = []
    candidates: list[_Candidate] = []
    for path in _files(paths):
        found, reasons, any_report = _read(path)
        refused.extend(Refusal(file=str(path), reason=reason) for reason in reasons)
        if not any_report:
            ignored.append(Refusal(file=str(path), reason="holds no trend report"))
        candidates.extend(found)

    by_id: dict[Any, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_id[candidate.member, candidate.report.id].append(candidate)
    kept, superseded = _latest(
        by_id,
        "an earlier version of the same report",
        "the same version of the same report, also in another file",
    )
    by_scope: dict[Any, list[_Candidate]] = defaultdict(list)
    for candidate in kept:
        extension = candidate.report.extension
        by_scope[candidate.member, extension.period, extension.dimensions].append(candidate)
    kept, replaced = _latest(
        by_scope,
        "a later report from the same member for the same period and dimensions",
        "another report from the same member for the same period and dimensions,"
        " modified at the same time",
    )
    superseded.extend(replaced)
    kept.sort(key=lambda c: (c.report.extension.start, c.member, c.report.id))

    sources = [_source(candidate) for candidate in kept]
    rows = [row for source, c in zip(sources, kept, strict=True) for row in _rows(source, c.report)]
    rows.sort(key=lambda row: (*_order(row), row.source.member))
    label_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for source in sources:
        label_votes[source.period][source.period_label] += 1
    labels = {
        period: min(votes, key=lambda label: (-votes[label], label))
        for period, votes in label_votes.items()
    }
    periods = sorted(labels)
    return Merged(
        taxonomy_version=taxonomy().version,
        generated_at=_instant((now or datetime.now(UTC)).replace(microsecond=0)),
        inputs=tuple(str(path) for path in paths),
        sources=tuple(sources),
        periods=tuple(
            PeriodEntry(
                period=period,
                label=labels[period],
                start=period.split("/")[0],
                end=period.split("/")[1],
            )
            for period in periods
        ),
        rows=tuple(rows),
        combined=tuple(_combine(rows, labels)),
        refused=tuple(refused),
        ignored=tuple(ignored),
        superseded=tuple(sorted(superseded, key=lambda entry: (entry.member, entry.report))),
    )


def write_merged(merged: Merged, path: Path) -> None:
    """Write ``merged`` as indented JSON to ``path`` (mode 0600, replaced atomically).

    Raises `DocumentError` if it cannot be written.
    """
    data = merged.model_dump_json(indent=2).encode("utf-8") + b"\n"

    def write(stream: IO[bytes]) -> None:
        stream.write(data)

    write_private(path, write)


def read_merged(path: Path) -> Merged:
    """The merged document in ``path``, validated.

    Raises `DocumentError` if it cannot be read, is not JSON, or is not a valid
    ``trend-exchange/merged/1`` document.
    """
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_MERGED_BYTES + 1)
    except OSError as exc:
        raise DocumentError(
            str(path), f"cannot read it ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(data) > MAX_MERGED_BYTES:
        raise DocumentError(str(path), "is too large for a merged trend table")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DocumentError(str(path), "is not a JSON document") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DocumentError(str(path), f"is not a {FORMAT} document")
    try:
        return Merged.model_validate(document)
    except ValidationError as exc:
        raise DocumentError(
            str(path), f"is not a valid merged table: {_first_error(exc)}"
        ) from None
