"""``feeds trends``: incident records to trend reports, and trend reports to one picture.

``generate`` writes synthetic incident records; ``build`` turns a member's own
incident records into a trend report (cells under k suppressed, optionally
differentially private); ``merge`` combines opened trend reports of many
members and periods into one table; ``chart`` draws that table.
None of them talks to a hub or touches a key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from feeds.cli._factory import typer_factory
from feeds.cli._output import EXIT_USAGE, emit_json, fail, stdout
from feeds.cli._progress import count_progress
from feeds.cli._session import reported
from feeds.cli.options import JsonOpt
from feeds.trends.chart import write_chart
from feeds.trends.merge import merge_reports, read_merged, write_merged
from feeds.trends.periods import Period, parse_period
from feeds.trends.synthetic import PROFILES, generate_incidents, write_incidents

__all__ = ["create_trends_app"]

OutFileOpt = Annotated[
    Path,
    typer.Option("--output", "-o", metavar="FILE", show_default=False, help="File to write."),
]


def _period(text: str) -> Period:
    try:
        return parse_period(text)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)


def generate(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            show_default=False,
            help="Where to write the records: .csv, .jsonl or .ndjson.",
        ),
    ],
    period: Annotated[
        str,
        typer.Option(
            "--period",
            metavar="PERIOD",
            help="The window the incidents fall in: 2026, 2026-Q3, 2026-07, or START/END.",
        ),
    ] = "2026",
    count: Annotated[
        int | None,
        typer.Option("--count", min=0, help="Exactly this many records."),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option("--rate", min=0.0, help="Records a day on average (default 20)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same file.")] = 1,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            metavar="KIND",
            help=f"Whose incidents: {', '.join(PROFILES)} (category mix, what is recorded).",
        ),
    ] = "authority",
    as_json: JsonOpt = False,
) -> None:
    """Write synthetic incident records, for demos, tests and benchmarks.

    Seeded and reproducible; the assumptions (seasonality, growth, regional
    mix, heavy-tailed victims and losses) are listed in the README. The data
    are invented.
    """
    window = _period(period)
    if count is not None and rate is not None:
        fail("give --count or --rate, not both", EXIT_USAGE)
    if count is None and rate is None:
        rate = 20.0
    if profile not in PROFILES:
        fail(f"--profile must be one of {', '.join(PROFILES)}", EXIT_USAGE)
    total = count
    if total is None and rate is not None:
        total = round(rate * (window.end - window.start) / timedelta(days=1))
    with reported():
        try:
            records = generate_incidents(
                seed=seed,
                start=window.start,
                end=window.end,
                count=count,
                rate=rate,
                reporter_kind=profile,
            )
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)
        with count_progress(not as_json, "generating", total) as tick:
            written = write_incidents(_counted(records, tick), output)
    result = {
        "output": str(output),
        "records": written,
        "period": window.interval,
        "seed": seed,
        "profile": profile,
    }
    if as_json:
        emit_json(result)
    else:
        stdout.print(f"wrote {written:,} synthetic incident records to {escape(str(output))}")


def _counted(items: Iterable[Any], tick: Any, every: int = 1000) -> Iterator[Any]:
    pending = 0
    for item in items:
        yield item
        pending += 1
        if pending == every:
            tick(pending)
            pending = 0
    if pending:
        tick(pending)


def merge(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="DIR_OR_FILE...",
            show_default=False,
            help="Directories of opened bundles (what feeds pull writes), or bundle files.",
        ),
    ],
    output: OutFileOpt,
    as_json: JsonOpt = False,
) -> None:
    """Merge opened trend reports of many members and periods into one table.

    Each value keeps its source (the member, verified against the sealed
    envelope when the pull's provenance file is there) and its disclosure
    control. Combined values across members are published only where every
    member published its cell: nothing suppressed is ever un-suppressed.
    Unreadable or inconsistent files are listed with the reason, never merged.
    """
    with reported():
        merged = merge_reports(inputs)
        write_merged(merged, output)
    summary = merged.summary()
    if as_json:
        emit_json({"output": str(output), **summary})
        return
    members = len({source.member for source in merged.sources})
    stdout.print(
        f"merged {len(merged.sources)} trend report(s) from {members}"
        f" member(s) over {len(merged.periods)} period(s): {len(merged.rows)} values,"
        f" {len(merged.combined)} combined -> {escape(str(output))}"
    )
    for refusal in merged.refused:
        stdout.print(f"refused {escape(refusal.file)}: {escape(refusal.reason)}")
    for entry in merged.superseded:
        stdout.print(f"superseded {escape(entry.report)}: {escape(entry.reason)}")


def chart(
    merged_file: Annotated[
        Path,
        typer.Argument(metavar="MERGED", show_default=False, help="A merged.json from merge."),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            show_default=False,
            help="trends.html (a self-contained report that opens offline) or trends.png.",
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Draw a merged table: time series per offence category and region.

    HTML holds the charts, every value with its members and disclosure, the
    sources and each report's disclosure notes, and needs no network to open;
    PNG holds the charts only.
    """
    with reported():
        merged = read_merged(merged_file)
        summary = write_chart(merged, output)
    if as_json:
        emit_json(summary.as_json())
        return
    stdout.print(
        f"drew {summary.charts} chart(s) of {summary.values} value(s)"
        f" ({summary.suppressed} suppressed) -> {escape(summary.path)}"
    )
    for reason in summary.left_out:
        stdout.print(f"not charted: {escape(reason)}")


def create_trends_app() -> typer.Typer:
    """The ``feeds trends`` command group."""
    app = typer_factory(
        "Trend reports: build them from your incident records, merge and chart them."
    )
    app.command("generate")(generate)
    app.command("merge")(merge)
    app.command("chart")(chart)
    return app
