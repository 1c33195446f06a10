"""The one way ``feeds`` builds a Typer app or command group."""

from __future__ import annotations

import typer

__all__ = ["typer_factory"]


def typer_factory(help_text: str) -> typer.Typer:
    """Return a Typer app (or command group) with the house settings.

    Locals are never shown in tracebacks: they would include tokens and passphrases.
    """
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        add_completion=False,
    )
