"""``feeds pull`` and ``feeds open``: verify and open sealed reports, write their bundles."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from feeds.cli._output import EXIT_USAGE, emit_json, fail, stdout
from feeds.cli._progress import report_progress
from feeds.cli._session import EXIT_UNTRUSTED, Session, reported
from feeds.cli.options import FeedOpt, HubUrlOpt, JsonOpt, KeystoreOpt, OutputOpt, TokenOpt
from feeds.errors import DocumentError
from feeds.feed_policy import FeedPolicy, fetch_feed_policy
from feeds.opening import ReportOpener
from feeds.pinning import PinStore
from feeds.pulling import (
    SOURCE_SUFFIX,
    Outcome,
    PullSummary,
    prepare_directory,
    provenance,
    pull_feed,
    write_private_file,
)
from feeds.transparency import DirectoryCheck

__all__ = ["open_file", "pull"]

OutDirOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        metavar="DIR",
        show_default=False,
        help="Directory for the opened bundles (<envelope-id>.json) and the pull cursor.",
    ),
]
EnvelopeFileArg = Annotated[
    Path,
    typer.Argument(
        metavar="FILE",
        show_default=False,
        help="A sealed report (JSON), or a bundle or TAXII envelope holding exactly one.",
    ),
]

_LINES = {
    "opened": "opened",
    "unchanged": "unchanged",
    "refused": "REFUSED",
    "not-addressed": "not addressed to you",
    "plain": "plain STIX, skipped",
}


def _describe(outcome: Outcome) -> str:
    text = f"{_LINES[outcome.result]}: {outcome.stix_id}"
    if outcome.path is not None:
        text += f" -> {outcome.path}"
    if outcome.reason:
        text += f" ({outcome.reason})"
    return text


def _summary_json(summary: PullSummary, out: Path) -> dict[str, Any]:
    counts = {
        result: summary.count(result)
        for result in ("opened", "unchanged", "refused", "not-addressed", "plain")
    }
    return {
        "feed": summary.feed,
        "alias": summary.alias,
        "out": str(out),
        **{k.replace("-", "_"): v for k, v in counts.items()},
        "refusals": [{"id": o.stix_id, "reason": o.reason} for o in summary.refused],
        "cursor": summary.cursor,
    }


def pull(
    feed: FeedOpt,
    out: OutDirOpt,
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a feed's new sealed reports, verify and open them into DIR.

    Incremental: a cursor per feed is kept in DIR, so pulling again fetches only
    what was added since, and an interrupted pull resumes. Exits with 3 if any
    report was refused (each is named with its reason).
    """
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        session.require_hub()  # before asking for a passphrase
        generations = list(session.keystore.load(session.passphrase()).generations.values())
        with (
            session.hub() as api,
            report_progress(
                not as_json, "pulling", _describe, lambda o: o.result == "refused"
            ) as progress,
        ):
            summary = pull_feed(
                api,
                session.settings.require_token(),
                feed,
                out,
                generations=generations,
                now=datetime.now(UTC),
                pins=PinStore(session.keystore),
                log_check=DirectoryCheck(api, session.keystore),
                progress=progress,
            )
    result = _summary_json(summary, out)
    if as_json:
        emit_json(result)
    else:
        stdout.print(
            f"{escape(summary.alias or summary.feed)}: {result['opened']} opened,"
            f" {result['unchanged']} unchanged, {result['refused']} refused,"
            f" {result['not_addressed']} not addressed to you, {result['plain']} plain"
        )
        for refusal in summary.refused:
            stdout.print(f"refused {refusal.stix_id}: {escape(refusal.reason or '')}")
    if summary.refused:
        raise typer.Exit(EXIT_UNTRUSTED)


def _sealed_object(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise DocumentError(str(path), exc.strerror or "cannot be read") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise DocumentError(str(path), "is not JSON") from exc
    if (
        isinstance(document, dict)
        and document.get("type") != "bundle"
        and "objects" not in document
    ):
        return document
    objects = document.get("objects") if isinstance(document, dict) else None
    if isinstance(objects, list) and len(objects) == 1 and isinstance(objects[0], dict):
        return objects[0]
    raise DocumentError(
        str(path), "is neither a sealed report nor a bundle or envelope holding exactly one"
    )


def open_file(
    file: EnvelopeFileArg,
    output: OutputOpt = None,
    feed: Annotated[
        str | None,
        typer.Option(
            "--feed",
            metavar="ALIAS",
            show_default=False,
            help="The feed the report must belong to (default: the feed its header names).",
        ),
    ] = None,
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify and open one sealed report file; write its STIX bundle to -o FILE or stdout.

    With -o FILE, its provenance (publisher, version, policy) goes beside it as
    FILE-without-.json plus .source.json, which feeds trends merge reads.
    """
    if as_json and output is None:
        fail("--json needs --output FILE: the bundle and the JSON cannot share stdout", EXIT_USAGE)
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        session.require_hub()  # before asking for a passphrase
        raw = _sealed_object(file)
        generations = list(session.keystore.load(session.passphrase()).generations.values())
        with session.hub() as api:
            now = datetime.now(UTC)
            pins = PinStore(session.keystore)
            ref = feed or _named_feed(raw)

            def verified() -> FeedPolicy:
                return fetch_feed_policy(api, ref, now=now, pins=pins, require_in_force=False)

            opener = ReportOpener(
                api,
                verified(),
                me=api.whoami().id,
                generations=generations,
                refresh=verified,
                log_check=DirectoryCheck(api, session.keystore),
            )
            opened = opener.open(raw)
        if output is not None:
            _write_output(output, opened.plaintext)
            described = json.dumps(provenance(opened), indent=2, sort_keys=True).encode()
            _write_output(output.with_name(output.stem + SOURCE_SUFFIX), described + b"\n")
    report = opened.report
    if as_json:
        emit_json(
            {
                "envelope_id": report.envelope.header.envelope_id,
                "feed": report.envelope.header.feed,
                "publisher": report.publisher,
                "wrapped_by": report.wrapped_by,
                "policy_version": report.envelope.policy.version,
                "recipients": [r.member for r in report.envelope.recipients],
                "output": str(output),
            }
        )
    elif output is None:
        sys.stdout.buffer.write(opened.plaintext)
        sys.stdout.buffer.flush()
    else:
        stdout.print(f"opened {report.id} -> {escape(str(output))}")


def _named_feed(raw: dict[str, Any]) -> str:
    envelope = raw.get("envelope")
    header = envelope.get("header") if isinstance(envelope, dict) else None
    named = header.get("feed") if isinstance(header, dict) else None
    if not isinstance(named, str) or not named:
        raise DocumentError("the sealed report", "names no feed; is it a sealed report?")
    return named


def _write_output(output: Path, plaintext: bytes) -> None:
    prepare_directory(output.parent)
    try:
        write_private_file(output, plaintext)
    except OSError as exc:
        raise DocumentError(str(output), exc.strerror or "cannot be written") from exc
