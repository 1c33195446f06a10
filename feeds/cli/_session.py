"""What the key and policy commands share: settings, the passphrase, the hub, errors.

`reported` turns the :mod:`feeds.errors` tree into a message on stderr and an
exit code: 2 for a missing or malformed setting, 3 when something fails
verification, 1 for anything else. The passphrase comes from
``EXCHANGE_PASSPHRASE`` or a hidden prompt on a terminal, never an option.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from pydantic import SecretStr

from feeds.cli._output import EXIT_FAILURE, EXIT_USAGE, fail
from feeds.crypto.keystore import Keystore
from feeds.errors import FeedsError, SettingsError, TrustError
from feeds.exchange_api import ExchangeApi
from feeds.settings import ClientSettings, load_settings

__all__ = ["EXIT_UNTRUSTED", "Session", "reported"]

EXIT_UNTRUSTED = 3
"""Something the hub served, or a policy file, failed verification."""


@contextmanager
def reported() -> Iterator[None]:
    """Turn a `FeedsError` raised inside into ``error: …`` on stderr and an exit code."""
    try:
        yield
    except SettingsError as exc:
        fail(exc.message, EXIT_USAGE)
    except TrustError as exc:
        fail(f"verification failed, {exc.message}", EXIT_UNTRUSTED)
    except FeedsError as exc:
        fail(exc.message, EXIT_FAILURE)


def _interactive() -> bool:
    """True when a person can answer a prompt (stdin is a terminal)."""
    return sys.stdin.isatty()


class Session:
    """One command's settings, keystore and (on demand) hub connection."""

    def __init__(
        self,
        *,
        hub: str | None = None,
        token: SecretStr | None = None,
        keystore: Path | None = None,
    ) -> None:
        self.settings: ClientSettings = load_settings(hub=hub, token=token, keystore=keystore)
        self.keystore = Keystore(self.settings.keystore)

    def passphrase(self, *, confirm: bool = False) -> str:
        """Return the keystore passphrase: ``EXCHANGE_PASSPHRASE``, or asked for (twice
        with ``confirm``) on a terminal.

        Raises `SettingsError` when it is not set and nobody can be asked.
        """
        if self.settings.passphrase is not None:
            return self.settings.passphrase.get_secret_value()
        if not _interactive():
            raise SettingsError(
                "passphrase",
                "no passphrase is set and there is no terminal to ask for one",
                "set EXCHANGE_PASSPHRASE",
            )
        answer: str = typer.prompt(
            "Keystore passphrase", hide_input=True, confirmation_prompt=confirm, err=True
        )
        return answer

    def require_hub(self) -> None:
        """Raise `SettingsError` now if the hub URL or the token is missing."""
        self.settings.require_hub()
        self.settings.require_token()

    def hub(self) -> ExchangeApi:
        """Return a session with the hub (close it, or use it in a ``with``).

        Raises `SettingsError` if the hub URL or the token is missing.
        """
        return ExchangeApi.from_settings(self.settings)
