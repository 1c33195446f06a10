"""``feeds grant``: re-wrap a feed's reports for the readers its policy in force added."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.markup import escape

from feeds.cli._output import emit_json, stdout
from feeds.cli._progress import report_progress
from feeds.cli._session import EXIT_UNTRUSTED, Session, reported
from feeds.cli.options import FeedOpt, HubUrlOpt, JsonOpt, KeystoreOpt, TokenOpt
from feeds.granting import GrantOutcome, GrantSummary, grant_new_readers
from feeds.pinning import PinStore
from feeds.transparency import DirectoryCheck

__all__ = ["grant"]

_LINES = {
    "rewrapped": "re-wrapped",
    "current": "already reaches every reader",
    "not-addressed": "not addressed to you, left for another writer",
    "refused": "REFUSED",
    "failed": "FAILED at the hub",
}


def _describe(outcome: GrantOutcome) -> str:
    text = f"{_LINES[outcome.result]}: {outcome.stix_id}"
    if outcome.added:
        text += f" (for {', '.join(outcome.added)})"
    if outcome.reason:
        text += f" ({outcome.reason})"
    return text


def _result(summary: GrantSummary) -> dict[str, object]:
    return {
        "feed": summary.feed,
        "alias": summary.alias,
        "policy_version": summary.policy_version,
        "readers": list(summary.readers),
        "rewrapped": summary.count("rewrapped"),
        "current": summary.count("current"),
        "not_addressed": summary.count("not-addressed"),
        "refused": summary.count("refused"),
        "failed": summary.count("failed"),
        "problems": [
            {"id": o.stix_id, "result": o.result, "reason": o.reason}
            for o in summary.outcomes
            if o.result in ("refused", "failed")
        ],
    }


def grant(
    feed: FeedOpt,
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give the readers the feed's policy added the reports published before they were added.

    For each report you can open that misses a reader of the policy in force,
    posts a new version with the same content, its key re-wrapped for every
    reader in force (nothing is re-encrypted). Readers the owner removed are
    left out of the new versions and no longer served; what they downloaded
    before cannot be taken back. Exits with 3 if a report was refused, 1 if
    the hub refused a new version.
    """
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        session.require_hub()  # before asking for a passphrase
        keyring = session.keystore.load(session.passphrase())
        with (
            session.hub() as api,
            report_progress(
                not as_json, "granting", _describe, lambda o: o.result in ("refused", "failed")
            ) as progress,
        ):
            summary = grant_new_readers(
                api,
                session.settings.require_token(),
                feed,
                generations=list(keyring.generations.values()),
                signer=keyring.current,
                now=datetime.now(UTC),
                pins=PinStore(session.keystore),
                log_check=DirectoryCheck(api, session.keystore),
                progress=progress,
            )
    result = _result(summary)
    if as_json:
        emit_json(result)
    else:
        stdout.print(
            f"{escape(summary.alias or summary.feed)} (policy version {summary.policy_version}):"
            f" {result['rewrapped']} re-wrapped, {result['current']} already reach every"
            f" reader, {result['not_addressed']} not addressed to you,"
            f" {result['refused']} refused, {result['failed']} failed"
        )
    if summary.count("refused"):
        raise typer.Exit(EXIT_UNTRUSTED)
    if summary.count("failed"):
        raise typer.Exit(1)
