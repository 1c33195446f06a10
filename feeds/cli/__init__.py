"""The ``feeds`` command line: one Typer app per command group, built in ``feeds.cli.main``."""
