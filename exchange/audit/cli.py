"""``exchange audit``: the auditor's commands, run against a hub over HTTPS.

``verify`` proves the logs were not edited, dropped, reordered or forked since
the last run (exit 0 only when everything verifies, 3 when something did not,
1 when the hub could not be asked); ``log`` shows access-log entries,
filtered; ``export`` writes them as JSON Lines or CSV.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from exchange.audit.verify import AuditClient, AuditError, Report, verify_log

__all__ = ["app"]

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    help="Verify a hub's tamper-evident logs and read its access log (as an auditor).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

EXIT_TAMPERED = 3

HubOpt = Annotated[
    str,
    typer.Option("--hub", envvar="EXCHANGE_HUB", metavar="URL", help="The hub's base URL."),
]
TokenOpt = Annotated[
    SecretStr,
    typer.Option(
        "--token",
        envvar="EXCHANGE_TOKEN",
        parser=SecretStr,
        metavar="TOKEN",
        help="Your API token (prefer EXCHANGE_TOKEN: others can read command lines).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
LogOpt = Annotated[
    str,
    typer.Option("--log", help="Which log: access, directory, or all."),
]
_LOGS = {"access": ("access",), "directory": ("directory",), "all": ("access", "directory")}


def _fail(message: str, code: int = 1) -> NoReturn:
    stderr.print(f"error: {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def _client(hub: str, token: SecretStr) -> Iterator[AuditClient]:
    if not hub.startswith(("http://", "https://")):
        _fail("--hub must be an http:// or https:// URL", 2)
    client = AuditClient(hub, token.get_secret_value())
    try:
        yield client
    except AuditError as exc:
        _fail(exc.message)
    finally:
        client.close()


def _report_json(report: Report) -> dict[str, Any]:
    return {
        "log": report.log,
        "ok": report.ok,
        "size": report.size,
        "root": report.root,
        "previous_size": report.previous_size,
        "new_entries": report.new_entries,
        "findings": [
            {"index": f.index, "kind": f.kind, "detail": f.detail} for f in report.findings
        ],
    }


@app.command("verify")
def verify(
    hub: HubOpt,
    token: TokenOpt,
    state: Annotated[
        Path,
        typer.Option(
            "--state",
            metavar="DIR",
            help="Where the last verified checkpoints and leaf hashes are kept.",
        ),
    ] = Path("~/.config/trend-exchange/audit"),
    log: LogOpt = "all",
    as_json: JsonOpt = False,
) -> None:
    """Verify the logs: every entry, the signed checkpoint, and consistency with last time.

    Downloads every entry, recomputes the tree, checks the checkpoint's Ed25519 and
    ML-DSA-44 signatures and that it extends the checkpoint verified last time (kept
    in --state), and names any tampering: index and kind (modified, removed,
    reordered, inserted, truncated, forked, bad signature). Exit 0 only when
    everything verifies; 3 when something does not.
    """
    if log not in _LOGS:
        _fail("--log must be access, directory or all", 2)
    reports = []
    with _client(hub, token) as client:
        for name in _LOGS[log]:
            if sys.stderr.isatty() and not as_json:
                columns = (TextColumn(f"{name} log"), BarColumn(), TextColumn("{task.completed}"))
                with Progress(*columns, console=stderr, transient=True) as bar:
                    task = bar.add_task(name, total=None)

                    def tick(done: int, total: int, *, _task: Any = task, _bar: Any = bar) -> None:
                        _bar.update(_task, completed=done, total=total)

                    reports.append(verify_log(client, name, state.expanduser(), progress=tick))
            else:
                reports.append(verify_log(client, name, state.expanduser()))
    ok = all(r.ok for r in reports)
    if as_json:
        sys.stdout.write(json.dumps({"ok": ok, "logs": [_report_json(r) for r in reports]}) + "\n")
    else:
        for report in reports:
            verdict = "verified" if report.ok else "TAMPERED"
            since = (
                "first verification"
                if report.previous_size is None
                else f"{report.new_entries} new since {report.previous_size}"
            )
            stdout.print(f"{report.log} log: {verdict}, {report.size} entries ({since})")
            for f in report.findings:
                where = "" if f.index is None else f" at index {f.index}"
                stdout.print(f"  {f.kind}{where}: {escape(f.detail)}")
    if not ok:
        raise typer.Exit(EXIT_TAMPERED)


def _micros(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"{name} must be an ISO 8601 time, such as 2026-11-29T08:00:00Z", 2)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def _entries(
    client: AuditClient,
    member: str | None,
    feed: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
) -> Iterator[dict[str, Any]]:
    for entry in client.entries(
        "access",
        0,
        member=member,
        feed=feed,
        action=action,
        since=_micros(since, "--since"),
        until=_micros(until, "--until"),
    ):
        yield {"index": entry["index"], **entry["event"]}


MemberFilter = Annotated[str | None, typer.Option(help="Only this member's requests (id).")]
FeedFilter = Annotated[str | None, typer.Option(help="Only requests about this feed (id).")]
ActionFilter = Annotated[str | None, typer.Option(help="Only this action (objects.read, …).")]
SinceFilter = Annotated[str | None, typer.Option(help="From this time (ISO 8601).")]
UntilFilter = Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")]


@app.command("log")
def log_command(
    hub: HubOpt,
    token: TokenOpt,
    member: MemberFilter = None,
    feed: FeedFilter = None,
    action: ActionFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    as_json: JsonOpt = False,
) -> None:
    """Show access-log entries (all of them to an auditor; a feed owner sees its feeds')."""
    with _client(hub, token) as client:
        rows = list(_entries(client, member, feed, action, since, until))
    if as_json:
        sys.stdout.write(json.dumps({"entries": rows}) + "\n")
        return
    table = Table("#", "time", "action", "member", "feed", "decision", "reason")
    for row in rows:
        table.add_row(
            str(row["index"]),
            row["time"],
            row["action"],
            row["member"] or "(anonymous)",
            row["feed"] or "",
            row["decision"],
            escape(row["reason"] or ""),
        )
    stdout.print(table)


_CSV_COLUMNS = [
    "index",
    "time",
    "request_id",
    "action",
    "member",
    "member_kind",
    "feed",
    "decision",
    "reason",
    "objects",
    "detail",
]


@app.command("export")
def export_command(
    hub: HubOpt,
    token: TokenOpt,
    format_: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default stdout).")
    ] = None,
    member: MemberFilter = None,
    feed: FeedFilter = None,
    action: ActionFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --output: print a JSON summary on stdout.")
    ] = False,
) -> None:
    """Export access-log entries as JSON Lines (one event per line) or CSV."""
    if format_ not in ("jsonl", "csv"):
        _fail("--format must be jsonl or csv", 2)
    if as_json and output is None:
        _fail("--json needs --output FILE: the export and the summary cannot share stdout", 2)
    buffer = io.StringIO()
    count = 0
    with _client(hub, token) as client:
        rows = _entries(client, member, feed, action, since, until)
        if format_ == "jsonl":
            for row in rows:
                buffer.write(json.dumps(row, sort_keys=True) + "\n")
                count += 1
        else:
            writer = csv.DictWriter(buffer, fieldnames=_CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                flat = {k: row.get(k) for k in _CSV_COLUMNS}
                for key in ("objects", "detail"):
                    flat[key] = json.dumps(row.get(key), sort_keys=True)
                writer.writerow(flat)
                count += 1
    if output is None:
        sys.stdout.write(buffer.getvalue())
        return
    output.write_text(buffer.getvalue(), encoding="utf-8")
    if as_json:
        summary = {"format": format_, "entries": count, "output": str(output)}
        sys.stdout.write(json.dumps(summary) + "\n")
