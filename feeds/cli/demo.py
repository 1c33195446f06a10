"""``feeds demo``: the sealed-report flow, end to end, on a throwaway hub."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from feeds.cli._output import emit_json, stdout
from feeds.cli._session import reported
from feeds.cli.options import JsonOpt
from feeds.demo import Step, run_demo

__all__ = ["demo"]


def demo(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Where to write the merged trend table and its charts (trends.html).",
        ),
    ] = Path("feeds-demo"),
    as_json: JsonOpt = False,
) -> None:
    """Run the whole flow on a throwaway loopback hub and say what each step proved.

    An authority owns a feed and signs its policy; a technology company
    publishes a sealed trend report; the authority pulls and opens it; a third
    member that the operator granted the feed, and an auditor, cannot read it;
    the authority merges the trend reports it opened and charts them into
    DIR/trends.html. Needs no hub, token or keys of yours, and leaves nothing
    behind but DIR.
    """
    started = time.monotonic()

    def show(step: Step) -> None:
        if not as_json:
            number = len(steps) + 1
            stdout.print(f"[bold]{number}.[/bold] {escape(step.title)}")
            stdout.print(f"   proved: {escape(step.proved)}")

    steps: list[Step] = []

    def record(step: Step) -> None:
        show(step)
        steps.append(step)

    with reported():
        run_demo(record, out)
    seconds = round(time.monotonic() - started, 1)
    if as_json:
        emit_json({"steps": [asdict(s) for s in steps], "seconds": seconds, "out": str(out)})
    else:
        stdout.print(
            f"done in {seconds} s; the hub and every key are gone."
            f" Open {escape(str(out / 'trends.html'))} in a browser to see the trends."
        )
