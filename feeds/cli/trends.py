"""``feeds trends``: incident records to trend reports, and trend reports to one picture.

``generate`` writes synthetic incident records; ``build`` turns a member's own
incident records into a trend report (cells under k suppressed, optionally
differentially private); ``merge`` combines opened trend reports of many
members and periods into one table; ``chart`` draws that table.
None of them talks to a hub or touches a key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.markup import escape

from feeds.cli._factory import typer_factory
from feeds.cli._output import EXIT_USAGE, emit_json, fail, stderr, stdout
from feeds.cli._progress import count_progress
from feeds.cli._session import reported
from feeds.cli.options import JsonOpt, KeystoreOpt
from feeds.crypto.keystore import Keystore
from feeds.errors import DocumentError, InvalidParameter
from feeds.settings import load_settings
from feeds.trends._files import write_private
from feeds.trends.build import BuildSummary, build_trend_report
from feeds.trends.chart import write_chart
from feeds.trends.merge import merge_reports, read_merged, write_merged
from feeds.trends.periods import Period, parse_period
from feeds.trends.records import read_incidents
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


LEDGER_FILE = "privacy-ledger.json"
"""The privacy ledger's name in the keystore directory (its default place)."""


def _bounds(given: list[str]) -> dict[str, tuple[float, float]]:
    bounds: dict[str, tuple[float, float]] = {}
    for text in given:
        metric, _, span = text.partition("=")
        low, _, high = span.partition(":")
        try:
            bounds[metric.strip()] = (float(low), float(high))
        except ValueError:
            fail(
                f"--bound {text!r} is not METRIC=LOW:HIGH (say, reported-losses=0:50000)",
                EXIT_USAGE,
            )
    return bounds


def _member(keystore: Keystore) -> str | None:
    """The member id the keystore was registered as, if it was."""
    try:
        member = keystore.state().get("member") if keystore.exists() else None
    except DocumentError:
        return None
    return member if isinstance(member, str) else None


def _print_build(summary: BuildSummary, output: Path) -> None:
    for problem in summary.problems:
        stderr.print(f"line {problem.line}: {escape(problem.reason)}")
    stdout.print(
        f"read {summary.rows:,} rows: {summary.valid:,} records in {summary.period_label},"
        f" {summary.outside_period:,} outside it, {len(summary.problems):,} bad"
        + (" (listed above, skipped)" if summary.problems else "")
    )
    if summary.ignored_columns:
        stdout.print(f"ignored columns: {escape(', '.join(summary.ignored_columns))}")
    stdout.print(
        f"{summary.cells:,} cells and {summary.margins:,} margins;"
        f" {summary.published_values:,} values published,"
        f" {summary.suppressed_primary:,} suppressed for fewer than {summary.k} records,"
        f" {summary.suppressed_secondary:,} more so that none can be worked out"
    )
    if summary.unprotectable:
        stderr.print(
            f"warning: {len(summary.unprotectable)} suppressed value(s) can be worked out from"
            " which cells exist and are below k alone (too few records overall); raise k or"
            " leave those rows out"
        )
    if summary.epsilon is not None:
        stdout.print(
            f"differential privacy: epsilon {summary.epsilon:g} for this release,"
            f" {summary.cumulative_epsilon:g} spent on this period so far"
            f" (ledger {escape(str(summary.ledger))})"
        )
    stdout.print(f"wrote trend report {summary.report_id} -> {escape(str(output))}")


def _refuse_bad_rows(incidents: Path, window: Period, dimensions: tuple[str, ...]) -> None:
    """--strict: refuse a file with any bad row before anything is built or spent."""
    try:
        problems = read_incidents(incidents, window, dimensions=dimensions).problems
    except InvalidParameter as exc:
        fail(exc.message, EXIT_USAGE)
    if problems:
        for problem in problems:
            stderr.print(f"line {problem.line}: {escape(problem.reason)}")
        raise DocumentError(str(incidents), f"{len(problems)} bad row(s), listed above (--strict)")


def build(
    incidents: Annotated[
        Path,
        typer.Argument(
            metavar="INCIDENTS",
            show_default=False,
            help="Your incident records: .csv or .jsonl (columns in the README).",
        ),
    ],
    period: Annotated[
        str,
        typer.Option(
            "--period",
            metavar="PERIOD",
            show_default=False,
            help="The report's period: 2026, 2026-H2, 2026-Q3, 2026-07, or START/END.",
        ),
    ],
    reporter_kind: Annotated[
        str,
        typer.Option(
            "--reporter-kind",
            metavar="KIND",
            show_default=False,
            help="What you are: authority, industry or research.",
        ),
    ],
    output: OutFileOpt,
    k: Annotated[
        int,
        typer.Option("--k", min=1, help="Suppress every cell with fewer records (1: none)."),
    ] = 10,
    epsilon: Annotated[
        float | None,
        typer.Option(
            "--epsilon",
            min=0.0,
            help="Add differentially private noise (OpenDP) with this epsilon for the release.",
        ),
    ] = None,
    epsilon_budget: Annotated[
        float | None,
        typer.Option(
            "--epsilon-budget",
            min=0.0,
            help="Refuse a release that would bring the period's cumulative epsilon above this.",
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            metavar="DIMENSION",
            help="Also break cells down by sector and/or modus_operandi (repeatable).",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            metavar="METRIC",
            help="Metrics to report (repeatable; default: incidents and every metric whose"
            " column the file has).",
        ),
    ] = None,
    bound: Annotated[
        list[str] | None,
        typer.Option(
            "--bound",
            metavar="METRIC=LOW:HIGH",
            help="With --epsilon: clamp each record's value of a summed metric to these"
            " bounds (defaults in the README).",
        ),
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            metavar="FILE",
            show_default=False,
            help=f"The privacy ledger (default: {LEDGER_FILE} in your keystore directory).",
        ),
    ] = None,
    member: Annotated[
        str | None,
        typer.Option(
            "--member",
            metavar="ID",
            show_default=False,
            help="Your member id, as the report's creator (default: your keystore's).",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail if any row is bad, instead of skipping it.")
    ] = False,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn your incident records into a trend report that reveals no small cell.

    Aggregates by period x region x offence category (and --by sector or
    modus_operandi), suppresses every cell and margin with fewer than k records
    and enough others that none can be worked out from totals, and with
    --epsilon adds OpenDP noise, recording the epsilon in your privacy ledger.
    The report states every control applied; no record goes into it. Bad rows
    are listed with their line numbers. Publish the report with feeds publish.
    """
    window = _period(period)
    with reported():
        settings = load_settings(keystore=keystore)
        store = Keystore(settings.keystore)
        dimensions = ("region", "offence_category", *(by or ()))
        if strict:
            _refuse_bad_rows(incidents, window, dimensions)
        try:
            with count_progress(not as_json, "reading records", None) as tick:
                built = build_trend_report(
                    incidents,
                    period=window,
                    reporter_kind=reporter_kind,
                    k=k,
                    epsilon=epsilon,
                    dimensions=dimensions,
                    metrics=metric or None,
                    bounds=_bounds(bound or []),
                    ledger=ledger or (store.path / LEDGER_FILE if epsilon is not None else None),
                    epsilon_budget=epsilon_budget,
                    created_by=member or _member(store),
                    progress=tick,
                )
        except InvalidParameter as exc:
            fail(exc.message, EXIT_USAGE)
        data = json.dumps(built.bundle, indent=2, ensure_ascii=False).encode() + b"\n"

        def write(stream: IO[bytes]) -> None:
            stream.write(data)

        write_private(output, write)
    if as_json:
        emit_json({"output": str(output), **built.summary.as_json()})
    else:
        _print_build(built.summary, output)


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
    app.command("build")(build)
    app.command("merge")(merge)
    app.command("chart")(chart)
    return app
