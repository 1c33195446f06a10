"""``feeds publish``: seal a STIX bundle to a feed's readers and post it to the hub."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from feeds.cli._output import emit_json, fail, stdout
from feeds.cli._session import Session, reported
from feeds.cli.options import FeedOpt, HubUrlOpt, JsonOpt, KeystoreOpt, TokenOpt
from feeds.errors import DocumentError
from feeds.pinning import PinStore
from feeds.publishing import bundle_bytes, publish_report
from feeds.transparency import DirectoryCheck

__all__ = ["publish"]

StixFileArg = Annotated[
    Path,
    typer.Argument(
        metavar="FILE", show_default=False, help="A STIX 2.1 bundle, or one STIX object (JSON)."
    ),
]


def publish(
    file: StixFileArg,
    feed: FeedOpt,
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Seal a STIX bundle to the readers of a feed's verified policy and publish it."""
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise DocumentError(str(file), exc.strerror or "cannot be read") from exc
        session.require_hub()  # before asking for a passphrase
        plaintext = bundle_bytes(data, str(file))
        signer = session.keystore.load(session.passphrase()).current
        with session.hub() as api:
            done = publish_report(
                api,
                session.settings.require_token(),
                feed,
                plaintext,
                signer=signer,
                now=datetime.now(UTC),
                pins=PinStore(session.keystore),
                log_check=DirectoryCheck(api, session.keystore),
            )
    result = {
        "feed": done.feed,
        "envelope_id": done.envelope_id,
        "recipients": list(done.recipients),
        "status": "success" if done.success else "failure",
        "taxii_status": done.status,
        "message": done.message,
    }
    if as_json:
        emit_json(result)
    else:
        stdout.print(f"envelope: {done.envelope_id}")
        stdout.print(f"recipients: {', '.join(done.recipients)}")
        stdout.print(f"status: {result['status']} ({escape(done.status)})")
    if not done.success:
        fail(f"the hub did not accept the report: {done.message or done.status}")
