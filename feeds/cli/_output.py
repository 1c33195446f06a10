"""Where ``feeds`` commands write: results on stdout, diagnostics on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "emit_json", "fail", "stderr", "stdout"]

EXIT_FAILURE = 1
"""The command was well-formed but failed (the hub was unreachable or refused us)."""
EXIT_USAGE = 2
"""The command cannot run as configured (a setting is missing or malformed)."""

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``error: <message>`` on stderr (markup escaped) and exit with ``code``."""
    stderr.print(f"error: {escape(message)}")
    raise typer.Exit(code)


def emit_json(payload: dict[str, Any]) -> None:
    """Write ``payload`` as exactly one line of JSON on stdout."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
