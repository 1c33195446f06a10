"""Charts of a merged table: a self-contained, escaped HTML report, and a PNG."""

from __future__ import annotations

import html
import re
import stat
from datetime import date
from pathlib import Path

import pytest

from feeds.errors import DocumentError
from feeds.trends.chart import ChartSummary, chart_groups, write_chart
from feeds.trends.merge import Merged, merge_reports
from feeds.trends.periods import parse_period
from feeds.trends.synthetic import generate_incidents
from tests.feeds.trends._reports import (
    AUTHORITY,
    INDUSTRY,
    aggregate,
    cell,
    extension,
    report,
    write_opened,
)

PLANTED = "<script>alert('planted')</script>"
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Merged:
    """Two members' synthetic incidents over four quarters, plus a refused file."""
    directory = tmp_path_factory.mktemp("pulled")
    periods = [parse_period(f"2025-Q{q}") for q in (1, 2, 3, 4)]
    for member, kind, seed in ((AUTHORITY, "authority", 1), (INDUSTRY, "industry", 2)):
        records = generate_incidents(
            seed=seed, start=date(2025, 1, 1), end=date(2026, 1, 1), count=4000, reporter_kind=kind
        )
        for label, cells in aggregate(records, periods).items():
            ext = extension(
                label,
                cells,
                reporter_kind=kind,
                metrics=["incidents", "reported-losses"],
                notes=[
                    f"Cells under 10 records suppressed ({kind}).",
                    f"A planted {PLANTED} note.",
                ],
            )
            write_opened(
                directory,
                report(ext, member, name=f"{kind} {label} {PLANTED}"),
                publisher=member if kind == "authority" else None,
            )
    (directory / "<img onerror=x>.json").write_text("{")
    return merge_reports([directory])


@pytest.fixture(scope="module")
def rendered(merged: Merged, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ChartSummary]:
    path = tmp_path_factory.mktemp("chart") / "trends.html"
    return path, write_chart(merged, path)


def test_html_is_self_contained_and_traceable(
    merged: Merged, rendered: tuple[Path, ChartSummary]
) -> None:
    path, summary = rendered
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    page = path.read_text("utf-8")
    assert summary.format == "html"
    assert summary.groups[0] == ("incidents", "count")
    assert summary.suppressed > 0
    assert page.count("<svg") == len(summary.groups)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= NAMESPACES
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.IGNORECASE)
    assert not re.search(r"\b(src|href)\s*=\s*(?![\"']?#)", page.replace("xlink:href", ""))
    assert "@import" not in page
    for source in merged.sources:
        assert source.member in page
        assert source.report in page
        for note in source.disclosure.notes:
            assert html.escape(note, quote=True) in page
    assert len(merged.refused) == 1
    for refusal in merged.refused:
        assert html.escape(refusal.file, quote=True) in page
        assert "<img" in refusal.file
    assert PLANTED not in page
    assert html.escape(PLANTED, quote=True) in page
    # category and region names from the taxonomy, not ids
    assert "Computer-related fraud" in page
    assert "Germany (DE)" in page


def test_every_combined_value_is_in_the_html_table(
    merged: Merged, rendered: tuple[Path, ChartSummary]
) -> None:
    page = rendered[0].read_text("utf-8")
    table = page[page.index('id="combined"') : page.index('id="by-source"')]
    rows = re.findall(r"<tr class=\"(sup)?\">(.*?)</tr>", table, re.S)
    assert len(rows) == len(merged.combined)
    assert sum(1 for suppressed, _ in rows if suppressed) == sum(
        c.suppressed for c in merged.combined
    )
    for suppressed, row in rows:
        assert "M1" in row or "M2" in row  # the contributing members
        assert "k=" in row  # and their disclosure
        if suppressed:
            assert "suppressed" in row


def test_charts_never_draw_a_suppressed_value(merged: Merged) -> None:
    groups, _ = chart_groups(merged)
    assert groups
    combined = {
        (c.period, c.region, c.offence_category, c.metric, c.unit): c.value for c in merged.combined
    }
    for group in groups:
        for category, lines in group.categories.items():
            for line in lines:
                for period, value in line.points.items():
                    assert (
                        combined[period, line.region, category, group.metric, group.unit] == value
                    )
    incidents = groups[0]
    order = list(incidents.categories)
    assert order.index("illegal-access") < order.index("computer-related-fraud")


def test_png(merged: Merged, tmp_path: Path) -> None:
    path = tmp_path / "trends.png"
    summary = write_chart(merged, path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert 800 <= width <= 2000
    assert height > width
    assert summary.format == "png"
    assert summary.charts >= 9  # nine offence categories of incidents, at least


def test_empty_merge_still_renders(tmp_path: Path) -> None:
    merged = merge_reports([tmp_path])
    for name in ("empty.png", "empty.html"):
        summary = write_chart(merged, tmp_path / name)
        assert summary.charts == 0
        assert (tmp_path / name).stat().st_size > 0
    assert "No region" in (tmp_path / "empty.html").read_text()


def test_margins_only_and_single_category(tmp_path: Path) -> None:
    write_opened(
        tmp_path / "pulled",
        report(
            extension("2026-Q3", [cell("DE", "illegal-access", 12), cell("DE", None, None)]),
            AUTHORITY,
        ),
    )
    merged = merge_reports([tmp_path / "pulled"])
    summary = write_chart(merged, tmp_path / "one.html")
    assert summary.charts == 1
    assert any("margins" in reason for reason in summary.left_out)


def test_unknown_extension_is_refused(merged: Merged, tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"html or \.png"):
        write_chart(merged, tmp_path / "trends.pdf")
    assert not (tmp_path / "trends.pdf").exists()
