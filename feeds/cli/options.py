"""Option aliases shared by every ``feeds`` command, declared once.

Each alias is an ``Annotated`` type: a command declares ``hub: HubUrlOpt = None``
and gets the same flag, environment variable and help text as every other.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import SecretStr

__all__ = ["HubUrlOpt", "JsonOpt", "TokenOpt"]

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
