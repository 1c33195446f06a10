"""Charts and a self-contained HTML report of a merged trend table.

:func:`write_chart` draws, from the *combined* values of a :class:`~feeds.trends.merge.Merged`
table (the sum over members, suppressed wherever any member suppressed), one group
of time series per metric (per currency for reported losses): small multiples per
offence category, cyber-dependent categories first, one line per region (the
regions with the largest published volume). A suppressed value is a gap in its line
and an open circle on the x axis. ``.png`` gets the charts as one image;
``.html`` a page that opens offline (inline SVG and CSS, no script, no network):
the charts, every combined value with its members and disclosure, every value of
every source, the sources with their verification and disclosure, each report's
disclosure notes verbatim, and the files refused. Everything that came from a
report is HTML-escaped.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from feeds.errors import DocumentError
from feeds.trends._files import write_private
from feeds.trends.merge import Combined, Merged, Row, Source
from feeds.trends.taxonomy import taxonomy

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure

__all__ = ["ChartGroup", "ChartSummary", "chart_groups", "write_chart"]

TOP_REGIONS = 6
"""Regions drawn per chart group (the largest by published volume); the rest are in the tables."""
_COLUMNS = 3
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
_MAX_CURRENCIES = 3


@dataclass(frozen=True, slots=True)
class Series:
    """One region's line in one category's chart: ``None`` = suppressed, absent = not reported."""

    region: str
    points: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class ChartGroup:
    """The charts of one metric (and unit): per category, per region, over the periods."""

    metric: str
    unit: str
    dimensions: tuple[str, ...]
    periods: tuple[str, ...]
    """Period intervals on the x axis, in order."""
    regions: tuple[str, ...]
    """The regions drawn, largest first."""
    categories: dict[str, tuple[Series, ...]]
    members: tuple[str, ...]
    values: int
    suppressed: int


@dataclass(frozen=True, slots=True)
class ChartSummary:
    """What :func:`write_chart` wrote."""

    path: str
    format: str
    groups: tuple[tuple[str, str], ...]
    """(metric, unit) of each chart group, in the order drawn."""
    charts: int
    """Small multiples drawn (one per group and offence category)."""
    values: int
    suppressed: int
    left_out: list[str] = field(default_factory=list)
    """Why some combined values are in the tables only."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "path": self.path,
            "format": self.format,
            "groups": [{"metric": m, "unit": u} for m, u in self.groups],
            "charts": self.charts,
            "values": self.values,
            "suppressed": self.suppressed,
            "left_out": self.left_out,
        }


def _length(period: str) -> float:
    start, end = (datetime.fromisoformat(part.replace("Z", "+00:00")) for part in period.split("/"))
    return (end - start).total_seconds() / 86400


def _granularity(days: float) -> str:
    for name, low, high in (
        ("day", 0.9, 1.1),
        ("week", 6.9, 7.1),
        ("month", 27.9, 31.1),
        ("quarter", 89.9, 92.1),
        ("half-year", 180.9, 184.1),
        ("year", 364.9, 366.1),
    ):
        if low <= days <= high:
            return name
    return f"{days:g}-day period"


def _granularity_of(periods: Sequence[str]) -> str:
    return _granularity(_length(periods[0])) if periods else "period"


def _period_class(period: str) -> str:
    return _granularity(_length(period))


def chart_groups(
    merged: Merged, *, top_regions: int = TOP_REGIONS
) -> tuple[list[ChartGroup], list[str]]:
    """The chart groups of ``merged``, and why combined values were left out of the charts.

    Charts show region x offence-category values (no sector or modus operandi
    breakdown), of the reports' dimension set that most members used, of the period
    length most values have; reported losses in at most three currencies.
    """
    cells = [
        c
        for c in merged.combined
        if c.region is not None
        and c.offence_category is not None
        and c.sector is None
        and c.modus_operandi is None
    ]
    left_out: list[str] = []
    if len(cells) < len(merged.combined):
        left_out.append(
            f"{len(merged.combined) - len(cells)} margins and sector or modus-operandi"
            " breakdowns are in the tables only"
        )
    if not cells:
        return [], left_out
    members_by_dimensions: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for c in cells:
        members_by_dimensions[c.dimensions].update(c.members)
    dimensions = min(
        members_by_dimensions, key=lambda d: (-len(members_by_dimensions[d]), len(d), d)
    )
    chosen = [c for c in cells if c.dimensions == dimensions]
    if len(chosen) < len(cells):
        left_out.append(
            f"{len(cells) - len(chosen)} values of reports broken down by other dimensions"
            " are in the tables only"
        )
    lengths = Counter(_period_class(c.period) for c in chosen)
    granularity = min(lengths, key=lambda g: (-lengths[g], g))
    kept = [c for c in chosen if _period_class(c.period) == granularity]
    if len(kept) < len(chosen):
        left_out.append(
            f"{len(chosen) - len(kept)} values of periods other than a {granularity} are in"
            " the tables only"
        )
    known = taxonomy()
    metric_order = {entry.id: index for index, entry in enumerate(known.metrics)}
    by_group: dict[tuple[str, str], list[Combined]] = defaultdict(list)
    for c in kept:
        by_group[c.metric, c.unit].append(c)
    currencies = Counter(
        unit
        for (metric, unit), values in by_group.items()
        if metric == "reported-losses"
        for _ in values
    )
    allowed = {unit for unit, _ in currencies.most_common(_MAX_CURRENCIES)}
    dropped = sorted(set(currencies) - allowed)
    if dropped:
        left_out.append(
            "reported losses in " + ", ".join(dropped) + " are in the tables only"
            f" (charts show the {_MAX_CURRENCIES} currencies with the most values)"
        )
    order = [
        key
        for key in sorted(
            by_group, key=lambda k: (metric_order.get(k[0], 99), -currencies.get(k[1], 0), k[1])
        )
        if key[0] != "reported-losses" or key[1] in allowed
    ]
    nature_rank = {"cyber-dependent": 0, "cyber-enabled": 1}
    category_rank = {
        entry.id: (nature_rank.get(entry.nature or "", 2), index)
        for index, entry in enumerate(known.offence_categories)
    }
    groups = []
    for metric, unit in order:
        values = by_group[metric, unit]
        periods = tuple(sorted({c.period for c in values}))
        volume: dict[str, float] = defaultdict(float)
        for c in values:
            volume[c.region or ""] += c.value or 0
        regions = tuple(sorted(volume, key=lambda region: (-volume[region], region))[:top_regions])
        categories: dict[str, tuple[Series, ...]] = {}
        for category in sorted(
            {c.offence_category or "" for c in values},
            key=lambda cat: category_rank.get(cat, (3, 0)),
        ):
            series = []
            for region in regions:
                points = {
                    c.period: c.value
                    for c in values
                    if c.region == region and c.offence_category == category
                }
                if points:
                    series.append(Series(region, {p: _float(v) for p, v in points.items()}))
            categories[category] = tuple(series)
        drawn = [c for c in values if c.region in regions]
        groups.append(
            ChartGroup(
                metric=metric,
                unit=unit,
                dimensions=dimensions,
                periods=periods,
                regions=regions,
                categories=categories,
                members=tuple(sorted({m for c in values for m in c.members})),
                values=len(drawn),
                suppressed=sum(c.suppressed for c in drawn),
            )
        )
    return groups, left_out


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _nature(category: str) -> str:
    try:
        return taxonomy().entry("offence_categories", category).nature or ""
    except KeyError:
        return ""


def _float(value: int | float | None) -> float | None:
    return None if value is None else float(value)


def _region_name(code: str) -> str:
    try:
        return f"{taxonomy().region(code).name} ({code})"
    except KeyError:
        return code


def _category_name(category: str) -> str:
    try:
        return taxonomy().entry("offence_categories", category).name
    except KeyError:
        return category


def _metric_name(metric: str) -> str:
    try:
        return taxonomy().entry("metrics", metric).name
    except KeyError:
        return metric


def _group_title(group: ChartGroup) -> str:
    what = _metric_name(group.metric)
    if group.unit != "count":
        what = f"{what} ({group.unit})"
    members = len(group.members)
    return (
        f"{what} per {_granularity_of(group.periods)}, combined across {members}"
        f" member{'s' if members != 1 else ''}"
    )


def _compact(value: float, _position: object = None) -> str:
    size = abs(value)
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else f"{int(value)}"


def _draw_group(target: Figure | SubFigure, group: ChartGroup, labels: dict[str, str]) -> int:
    """Draw ``group`` into ``target``; return the number of small multiples."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    starts = {
        period: datetime.fromisoformat(period.split("/")[0].replace("Z", "+00:00"))
        for period in group.periods
    }
    colours = {region: _COLOURS[i % len(_COLOURS)] for i, region in enumerate(group.regions)}
    # suppressed markers of different regions side by side, not on top of each other
    spread = timedelta(days=_length(group.periods[0]) * 0.09) if group.periods else timedelta()
    middle = (len(group.regions) - 1) / 2
    nudge = {region: (i - middle) * spread for i, region in enumerate(group.regions)}
    categories = list(group.categories)
    columns = _columns(group)
    rows = math.ceil(len(categories) / columns)
    axes = target.subplots(rows, columns, sharex=True, squeeze=False)
    step = max(1, math.ceil(len(group.periods) / 6))
    ticks = [starts[p] for p in group.periods][::step]
    tick_labels = [labels.get(p, p) for p in group.periods][::step]
    any_suppressed = False
    for index, axis in enumerate(axes.flat):
        if index >= len(categories):
            axis.set_visible(False)
            continue
        category = categories[index]
        nature = _nature(category)
        axis.set_title(
            f"{_category_name(category)}\n{nature}", fontsize=9.5, loc="left", linespacing=1.3
        )
        published = False
        for series in group.categories[category]:
            xs = [starts[p] for p in group.periods]
            ys = [_or_nan(series.points.get(p)) for p in group.periods]
            colour = colours[series.region]
            published = published or any(not math.isnan(y) for y in ys)
            axis.plot(xs, ys, color=colour, marker="o", markersize=3.5, linewidth=1.6)
            shift = nudge[series.region]
            hidden = [starts[p] + shift for p, v in series.points.items() if v is None]
            if hidden:
                any_suppressed = True
                axis.plot(
                    hidden,
                    [0.0] * len(hidden),
                    linestyle="none",
                    marker="o",
                    markersize=6,
                    markerfacecolor="white",
                    markeredgecolor=colour,
                    markeredgewidth=1.5,
                    clip_on=False,
                    zorder=5,
                )
        axis.margins(x=0.06)
        if published:
            axis.set_ylim(bottom=0)
            axis.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=group.unit == "count"))
            axis.yaxis.set_major_formatter(FuncFormatter(_compact))
        else:
            axis.set_ylim(0, 1)
            axis.set_yticks([])
            axis.text(
                0.5,
                0.5,
                "no published value",
                transform=axis.transAxes,
                ha="center",
                va="center",
                color="#777777",
                fontsize=9,
            )
        axis.set_xticks(ticks, tick_labels, fontsize=8)
        axis.tick_params(axis="y", labelsize=8)
        axis.grid(axis="y", color="#dddddd", linewidth=0.6)
        axis.spines[["top", "right"]].set_visible(False)
        for label in axis.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    handles: list[Any] = [
        Line2D([], [], color=colours[r], marker="o", markersize=4, linewidth=1.6)
        for r in group.regions
    ]
    names = [_region_name(r) for r in group.regions]
    if any_suppressed:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=7,
                markerfacecolor="white",
                markeredgecolor="#555555",
                markeredgewidth=1.5,
            )
        )
        names.append("suppressed (a member had fewer than k records)")
    target.legend(
        handles,
        names,
        loc="outside lower center",
        ncols=min(len(handles), 4 if _columns(group) > 1 else 2),
        frameon=False,
        fontsize=9,
    )
    target.suptitle(_group_title(group), fontsize=12, x=0.01, ha="left", fontweight="bold")
    return len(categories)


def _columns(group: ChartGroup) -> int:
    return max(1, min(_COLUMNS, len(group.categories)))


def _rows_of(group: ChartGroup) -> int:
    return math.ceil(len(group.categories) / _COLUMNS)


def _size(group: ChartGroup) -> tuple[float, float]:
    """Width and height in inches: about 4 x 2.5 per chart, plus title and legend."""
    return max(7.0, 1.0 + 3.9 * _columns(group)), 1.5 + 2.5 * _rows_of(group)


def _figure(group: ChartGroup) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=_size(group), dpi=100, layout="constrained")


def _labels(merged: Merged) -> dict[str, str]:
    return {period.period: period.label for period in merged.periods}


def _svg(group: ChartGroup, labels: dict[str, str]) -> str:
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "trend-exchange"}):
        figure = _figure(group)
        _draw_group(figure, group, labels)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text.replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "", 1).replace(
        "xlink:href", "href"
    )


def _png(groups: Sequence[ChartGroup], labels: dict[str, str], stream: IO[bytes]) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    heights = [_size(g)[1] for g in groups]
    width = max(_size(g)[0] for g in groups)
    with matplotlib.rc_context({"svg.hashsalt": "trend-exchange"}):
        figure = Figure(figsize=(width, sum(heights)), dpi=110, layout="constrained")
        parts = figure.subfigures(len(groups), 1, height_ratios=heights, squeeze=False)
        for part, group in zip(parts.flat, groups, strict=True):
            _draw_group(part, group, labels)
        figure.savefig(stream, format="png", metadata={"Software": None})


def _empty_png(stream: IO[bytes], text: str) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 2), dpi=100)
    figure.text(0.5, 0.5, text, ha="center", va="center", fontsize=12)
    figure.savefig(stream, format="png", metadata={"Software": None})


def write_chart(merged: Merged, path: Path, *, top_regions: int = TOP_REGIONS) -> ChartSummary:
    """Draw ``merged`` to ``path``: ``.html`` (a self-contained report) or ``.png`` (the charts).

    The file is written with mode 0600 and replaced atomically. Returns what was
    drawn. Raises `DocumentError` if the extension is neither or it cannot be written.
    """
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise DocumentError(str(path), "give the chart an .html or .png file name")
    groups, left_out = chart_groups(merged, top_regions=top_regions)
    labels = _labels(merged)
    charts = sum(len(g.categories) for g in groups)
    summary = ChartSummary(
        path=str(path),
        format="png" if suffix == ".png" else "html",
        groups=tuple((g.metric, g.unit) for g in groups),
        charts=charts,
        values=sum(g.values for g in groups),
        suppressed=sum(g.suppressed for g in groups),
        left_out=left_out,
    )
    if suffix == ".png":

        def write_png(stream: IO[bytes]) -> None:
            if groups:
                _png(groups, labels, stream)
            else:
                _empty_png(stream, "No region x offence-category values to chart.")

        write_private(path, write_png)
    else:
        page = _html(merged, groups, left_out, labels).encode("utf-8")

        def write_html(stream: IO[bytes]) -> None:
            stream.write(page)

        write_private(path, write_html)
    return summary


# --- HTML -------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0 auto;max-width:1240px;padding:1.5rem 2rem 4rem;color:#1b1f24;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0 .3rem}h2{font-size:1.2rem;margin:2.2rem 0 .6rem;
border-bottom:1px solid #d0d7de;padding-bottom:.25rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
.meta{color:#57606a;margin:0 0 1rem}
.summary{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}
.summary div{border:1px solid #d0d7de;border-radius:6px;padding:.45rem .8rem;min-width:7.5rem}
.summary b{display:block;font-size:1.25rem}
.note{background:#f6f8fa;border-left:4px solid #8c959f;padding:.5rem .8rem;margin:.6rem 0}
figure{margin:1rem 0 2rem}figure svg{max-width:100%;height:auto}
figcaption{color:#57606a;font-size:.9rem;margin-top:.3rem}
table{border-collapse:collapse;font-size:12.5px;width:100%;margin:.4rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.22rem .45rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
td.p{white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.sup td{color:#8c959f}.sup-tag{font-style:italic;color:#8c959f}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px;
word-break:break-all}
.yes{color:#1a7f37;font-weight:600}.no{color:#9a6700;font-weight:600}
blockquote{margin:.3rem 0 .8rem;padding:.3rem .8rem;border-left:3px solid #d0d7de;
white-space:pre-wrap}
details summary{cursor:pointer;color:#0969da}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: int | float | None, unit: str) -> str:
    if value is None:
        return '<span class="sup-tag">suppressed</span>'
    if unit == "count" and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _member_labels(merged: Merged) -> dict[str, str]:
    members = sorted({s.member for s in merged.sources})
    return {member: f"M{index + 1}" for index, member in enumerate(members)}


def _dims(cell: Combined | Row) -> list[str]:
    return [
        _e(_region_name(cell.region)) if cell.region else "<i>all regions</i>",
        _e(_category_name(cell.offence_category))
        if cell.offence_category
        else "<i>all categories</i>",
        _e(cell.sector or "—") if "sector" in cell.dimensions else "",
        _e(cell.modus_operandi or "—") if "modus_operandi" in cell.dimensions else "",
    ]


def _row_control(row: Row) -> str:
    d = row.disclosure
    text = f"k={d.k}"
    if d.dp_mechanism:
        text += f"; {d.dp_mechanism} ε={d.epsilon:g} (cumulative ε={d.cumulative_epsilon:g}"
        text += f", scale {d.scale:g})"
    return _e(text)


def _table(head: Sequence[str], body: Iterable[str]) -> str:
    cells = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html(
    merged: Merged, groups: Sequence[ChartGroup], left_out: Sequence[str], labels: dict[str, str]
) -> str:
    members = _member_labels(merged)
    kinds = {s.member: s.reporter_kind for s in merged.sources}
    has_sector = any("sector" in s.dimensions for s in merged.sources)
    has_modus = any("modus_operandi" in s.dimensions for s in merged.sources)
    dim_head = ["Region", "Offence category"]
    dim_head += ["Sector"] if has_sector else []
    dim_head += ["Modus operandi"] if has_modus else []

    def dims(cell: Combined | Row) -> str:
        parts = _dims(cell)
        chosen = parts[:2] + (parts[2:3] if has_sector else []) + (parts[3:4] if has_modus else [])
        return "".join(f"<td>{p}</td>" for p in chosen)

    rows_by_key: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in merged.rows:
        rows_by_key[row.key()].append(row)

    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'; img-src data:\">",
        "<title>Cybercrime trends: merged report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Cybercrime trends: merged report</h1>",
        f'<p class="meta">Merged at {_e(merged.generated_at)} from {len(merged.sources)}'
        f" report(s) · taxonomy {_e(merged.taxonomy_version)} · format {_e(merged.format)}</p>",
    ]
    periods = [p.label for p in merged.periods]
    span = f"{periods[0]} – {periods[-1]}" if periods else "none"
    stats = [
        ("Periods", f"{len(periods)}", span),
        ("Members", f"{len(members)}", ", ".join(sorted(set(kinds.values()))) or "none"),
        (
            "Reports",
            f"{len(merged.sources)}",
            f"{sum(s.verified for s in merged.sources)} with verified publisher",
        ),
        ("Values", f"{len(merged.rows):,}", "by source"),
        ("Combined", f"{len(merged.combined):,}", "across members"),
        (
            "Suppressed",
            f"{sum(c.suppressed for c in merged.combined):,}",
            "combined values",
        ),
        ("Refused files", f"{len(merged.refused)}", f"{len(merged.superseded)} superseded"),
    ]
    out.append('<div class="summary">')
    out += [f"<div>{_e(t)}<b>{_e(n)}</b>{_e(s)}</div>" for t, n, s in stats]
    out.append("</div>")
    out.append(
        '<p class="note">The charts show <b>combined</b> values: for each period, region and'
        " offence category, the sum over the members that reported it, only if every one of"
        " them published its value. If any member suppressed its cell (fewer than its k"
        " records), the combined value is suppressed too and drawn as an open circle on the"
        ' x axis, never estimated. Members are listed as M1, M2, … (see <a href="#sources">'
        'Sources</a>); values by member are in <a href="#by-source">Values by source</a>.'
        " Values marked noised carry differential-privacy noise.</p>"
    )

    out.append("<h2>Charts</h2>")
    if not groups:
        out.append("<p>No region × offence-category values to chart.</p>")
    for group in groups:
        names = ", ".join(_region_name(r) for r in group.regions)
        who = ", ".join(f"{members.get(m, m)} ({kinds.get(m, '?')})" for m in group.members)
        out.append("<figure>")
        out.append(_svg(group, labels))
        out.append(
            f"<figcaption>{_e(_group_title(group))}. Members: {_e(who)}. Lines: the"
            f" {len(group.regions)} regions with the largest published volume ({_e(names)});"
            " every region is in the tables below. Dimensions of the reports drawn: "
            f"{_e(' × '.join(group.dimensions))}.</figcaption>"
        )
        out.append("</figure>")
    for reason in left_out:
        out.append(f'<p class="note">Not charted: {_e(reason)}.</p>')

    out.append('<h2 id="combined">Combined values</h2>')
    body = []
    for c in merged.combined:
        contributors = rows_by_key.get(c.key(), [])
        control = "<br>".join(
            f"{_e(members.get(r.source.member, r.source.member))}: {_row_control(r)}"
            + (" <b>suppressed</b>" if r.suppressed else "")
            for r in sorted(contributors, key=lambda r: members.get(r.source.member, ""))
        )
        who = ", ".join(_e(members.get(m, m)) for m in c.members)
        body.append(
            f'<tr class="{"sup" if c.suppressed else ""}"><td class="p">{_e(c.period_label)}</td>'
            f"{dims(c)}<td>{_e(_metric_name(c.metric))}</td><td>{_e(c.unit)}</td>"
            f'<td class="n">{_number(c.value, c.unit)}</td><td>{who}</td>'
            f"<td>{'yes' if c.noised else 'no'}</td><td>{control}</td></tr>"
        )
    out.append(
        _table(
            ["Period", *dim_head, "Metric", "Unit", "Value", "Members", "Noised", "Disclosure"],
            body,
        )
    )

    out.append('<h2 id="by-source">Values by source</h2>')
    body = []
    for row in merged.rows:
        enablers = ", ".join(row.enablers)
        body.append(
            f'<tr class="{"sup" if row.suppressed else ""}">'
            f'<td class="p">{_e(row.period_label)}</td>'
            f"{dims(row)}<td>{_e(_metric_name(row.metric))}</td><td>{_e(row.unit)}</td>"
            f'<td class="n">{_number(row.value, row.unit)}</td>'
            f"<td>{_e(members.get(row.source.member, row.source.member))}</td>"
            f'<td class="id">{_e(row.source.report)}</td><td>{_row_control(row)}</td>'
            f"<td>{_e(enablers)}</td></tr>"
        )
    out.append(
        "<details><summary>"
        f"{len(merged.rows):,} values, one per member, period and cell</summary>"
        + _table(
            [
                "Period",
                *dim_head,
                "Metric",
                "Unit",
                "Value",
                "Member",
                "Report",
                "Disclosure",
                "Enablers",
            ],
            body,
        )
        + "</details>"
    )

    out.append('<h2 id="sources">Sources</h2>')
    out.append(
        "<p>Verified: the publisher is the member whose signature on the sealed envelope was"
        " verified when it was pulled. Not verified: the member named by the report itself"
        " (<code>created_by_ref</code>), from a file without provenance.</p>"
    )
    body = [_source_row(s, members) for s in merged.sources]
    out.append(
        _table(
            [
                "",
                "Member",
                "Kind",
                "Report",
                "Period",
                "Verified",
                "Envelope / policy",
                "k",
                "Suppressed",
                "Differential privacy",
                "File",
            ],
            body,
        )
    )

    out.append('<h2 id="notes">Disclosure notes</h2>')
    for s in merged.sources:
        out.append(
            f"<h3>{_e(members[s.member])} · {_e(s.period_label)} · {_e(s.name)}</h3>"
            f'<p class="id">{_e(s.report)}</p>'
        )
        notes = list(s.disclosure.notes)
        dp = s.disclosure.differential_privacy
        if dp is not None and dp.note:
            notes.append(dp.note)
        if notes:
            out += [f"<blockquote>{_e(note)}</blockquote>" for note in notes]
        else:
            out.append("<p><i>No notes given.</i></p>")

    out.append('<h2 id="refused">Refused and superseded files</h2>')
    if merged.refused:
        out.append(
            _table(
                ["File", "Reason"],
                (
                    f'<tr><td class="id">{_e(r.file)}</td><td>{_e(r.reason)}</td></tr>'
                    for r in merged.refused
                ),
            )
        )
    else:
        out.append("<p>No file was refused.</p>")
    if merged.ignored:
        out.append(
            "<p>Without any trend report (ignored): "
            + ", ".join(f'<span class="id">{_e(r.file)}</span>' for r in merged.ignored)
            + "</p>"
        )
    if merged.superseded:
        out.append(
            _table(
                ["Report", "Member", "Modified", "File", "Superseded by", "Reason"],
                (
                    f'<tr><td class="id">{_e(s.report)}</td>'
                    f"<td>{_e(members.get(s.member, s.member))}</td><td>{_e(s.modified)}</td>"
                    f'<td class="id">{_e(s.file)}</td>'
                    f'<td class="id">{_e(s.by_report)} ({_e(s.by_modified)})</td>'
                    f"<td>{_e(s.reason)}</td></tr>"
                    for s in merged.superseded
                ),
            )
        )
    out.append("</body></html>\n")
    return "\n".join(out)


def _source_row(s: Source, members: dict[str, str]) -> str:
    d = s.disclosure
    dp = d.differential_privacy
    if dp is None:
        privacy = "none"
    else:
        per_metric = "; ".join(
            f"{_metric_name(m.metric)}: {m.mechanism}, ε={m.epsilon:g}, scale {m.scale:g}"
            for m in dp.metrics
        )
        privacy = (
            f"ε={dp.epsilon:g} this release, cumulative ε={dp.cumulative_epsilon:g}"
            f" ({dp.library}); {per_metric}"
        )
    verified = '<span class="yes">yes</span>' if s.verified else '<span class="no">no</span>'
    envelope = (
        f"{_e(s.envelope_id)}<br>policy {_e(s.policy_feed)} v{_e(s.policy_version)}"
        if s.envelope_id
        else "—"
    )
    return (
        f'<tr><td>{_e(members[s.member])}</td><td class="id">{_e(s.member)}</td>'
        f"<td>{_e(s.reporter_kind)}</td>"
        f'<td><span class="id">{_e(s.report)}</span><br>{_e(s.name)}<br>'
        f"modified {_e(s.modified)}</td>"
        f'<td class="p">{_e(s.period_label)}</td><td>{verified}</td>'
        f'<td class="id">{envelope}</td>'
        f'<td class="n">{d.k}</td>'
        f"<td>{d.suppressed_cells} cells, {d.suppressed_margins} margins"
        f"{'; ' + _e(d.secondary_suppression) if d.secondary_suppression else ''}</td>"
        f'<td>{_e(privacy)}</td><td class="id">{_e(s.file)}</td></tr>'
    )
