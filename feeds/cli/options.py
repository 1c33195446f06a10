"""Option aliases shared by every ``feeds`` command, declared once.

Each alias is an ``Annotated`` type: a command declares ``hub: HubUrlOpt = None``
and gets the same flag, environment variable and help text as every other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

__all__ = [
    "FeedOpt",
    "HubUrlOpt",
    "JsonOpt",
    "KeystoreOpt",
    "OutputOpt",
    "PolicyFileArg",
    "TokenOpt",
]

HubUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--hub",
        envvar="EXCHANGE_HUB",
        metavar="URL",
        show_default=False,
        help="Base URL of the hub, such as https://hub.example.org (http only for loopback).",
    ),
]
"""The hub's base URL; ``--hub`` or ``EXCHANGE_HUB``."""

TokenOpt = Annotated[
    SecretStr | None,
    typer.Option(
        "--token",
        envvar="EXCHANGE_TOKEN",
        parser=SecretStr,
        metavar="TOKEN",
        show_default=False,
        help="The member's API token. Prefer EXCHANGE_TOKEN: other local users can read"
        " command-line arguments.",
    ),
]
"""The member's API token as a `SecretStr`; ``--token`` or ``EXCHANGE_TOKEN``."""

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
"""``--json``: machine-readable output, exactly one JSON object on stdout."""

KeystoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--keystore",
        envvar="EXCHANGE_KEYSTORE",
        metavar="DIR",
        show_default=False,
        help="Directory of your private keys (default ~/.config/trend-exchange/keys)."
        " The passphrase comes from EXCHANGE_PASSPHRASE, or you are asked for it.",
    ),
]
"""The member's key directory; ``--keystore`` or ``EXCHANGE_KEYSTORE``."""

FeedOpt = Annotated[
    str,
    typer.Option("--feed", metavar="ALIAS", show_default=False, help="The feed's alias (or id)."),
]
"""The feed a command acts on (required)."""

OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", show_default=False, help="Where to write."),
]
"""Where a command writes its document."""

PolicyFileArg = Annotated[
    Path, typer.Argument(metavar="FILE", show_default=False, help="A policy file (JSON).")
]
"""A policy file on disk."""
