"""Progress of commands that work through a feed report by report.

On a terminal, a rich progress bar on stderr (the count of reports so far;
problems are printed above it as they happen); otherwise one plain line per
report on stdout, which logs and pipes keep; with ``--json``, nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from feeds.cli._output import stderr, stdout

__all__ = ["report_progress"]

_T = TypeVar("_T")


@contextmanager
def report_progress(
    enabled: bool, label: str, describe: Callable[[_T], str], loud: Callable[[_T], bool]
) -> Iterator[Callable[[_T], None] | None]:
    """Yield a callback to call once per report, or None when ``enabled`` is false.

    ``describe`` renders a report's outcome as one line; on a terminal only
    the outcomes ``loud`` selects (refusals, failures) are printed.
    """
    if not enabled:
        yield None
        return
    if not stderr.is_terminal:

        def line(outcome: _T) -> None:
            stdout.print(escape(describe(outcome)))

        yield line
        return
    columns = (
        SpinnerColumn(),
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed} reports"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def tick(outcome: _T) -> None:
            bar.advance(task)
            if loud(outcome):
                bar.console.print(escape(describe(outcome)))

        yield tick


@contextmanager
def count_progress(enabled: bool, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield ``tick(n)`` to call as ``n`` more items (records, rows) are done.

    On a terminal, a rich progress bar on stderr; otherwise a plain line on
    stdout at every tenth of ``total`` (or every 100,000 items when the total is
    unknown); with ``enabled`` false, nothing.
    """
    if not enabled:
        yield lambda _n: None
        return
    if not stderr.is_terminal:
        step = max(total // 10, 1) if total else 100_000
        done = [0, step]

        def line(n: int) -> None:
            done[0] += n
            while done[0] >= done[1]:
                of = f" of {total:,}" if total else ""
                stdout.print(f"{label}: {min(done[1], total or done[1]):,}{of}")
                done[1] += step

        yield line
        return
    columns = (
        SpinnerColumn(),
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed:,.0f}" + (f" of {total:,}" if total else "")),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
