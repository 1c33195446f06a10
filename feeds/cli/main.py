"""``feeds``: the member's command line.

Commands are thin: they parse options, call one library function and render
the result. Results go to stdout (``--json``: exactly one JSON object); errors
go to stderr with a non-zero exit code (2: a setting is missing or malformed,
3: something failed verification, 1: anything else, such as a hub that could
not be reached or refused the request).
"""

from __future__ import annotations

import typer

from feeds.cli import collections
from feeds.cli._factory import typer_factory
from feeds.cli.demo import demo
from feeds.cli.grant import grant
from feeds.cli.keys import create_keys_app
from feeds.cli.policy import create_policy_app
from feeds.cli.publish import publish
from feeds.cli.pull import open_file, pull
from feeds.cli.trends import create_trends_app

__all__ = ["app", "create_app", "main", "typer_factory"]


def _root() -> None:
    """Group callback; it exists so that `feeds` stays a group of commands."""


def create_app() -> typer.Typer:
    """Build the ``feeds`` command line with every command group registered."""
    app = typer_factory(
        "Work with a Trend Exchange hub as a member. Set EXCHANGE_HUB to the hub's base URL"
        " and EXCHANGE_TOKEN to your API token."
    )
    # An explicit callback keeps `feeds` a group even while it has a single command.
    app.callback()(_root)
    app.command("collections")(collections.collections)
    app.add_typer(create_keys_app(), name="keys")
    app.add_typer(create_policy_app(), name="policy")
    app.command("publish")(publish)
    app.command("pull")(pull)
    app.command("open")(open_file)
    app.command("grant")(grant)
    app.add_typer(create_trends_app(), name="trends")
    app.command("demo")(demo)
    return app


app = create_app()


def main() -> None:
    """Entry point of the ``feeds`` console script."""
    app()
