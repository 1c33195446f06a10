"""The member client's settings, read from ``EXCHANGE_*`` environment variables.

Build them with :func:`get_settings` (cached) and pass them on; nothing reads
the environment at import time. Secrets are `SecretStr`, so they never show up
in a ``repr``, a log line or a traceback.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from feeds.errors import SettingsError

__all__ = ["ClientSettings", "get_settings", "load_settings"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ClientSettings(BaseSettings):
    """Everything a member's ``feeds`` process needs to know, with documented defaults."""

    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore", frozen=True)

    hub: str | None = Field(
        default=None,
        description="Base URL of the hub, such as https://hub.example.org (TAXII discovery "
        "is at <hub>/taxii2/). Plain http is accepted only for loopback addresses.",
    )
    token: SecretStr | None = Field(default=None, description="The member's API token.")
    keystore: Path = Field(
        default=Path("~/.config/trend-exchange/keys"),
        description="Directory holding the member's private keys (mode 0700).",
    )
    passphrase: SecretStr | None = Field(
        default=None, description="Passphrase protecting the private keys in ``keystore``."
    )

    @field_validator("hub")
    @classmethod
    def _check_hub(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must not carry credentials, a query or a fragment")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError("must use https:// (plain http would expose the token on the wire)")
        return parts.geturl().rstrip("/")

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("keystore")
    @classmethod
    def _expand_keystore(cls, value: Path) -> Path:
        return value.expanduser()

    def require_hub(self) -> str:
        """Return the hub's base URL (no trailing slash).

        Raises `SettingsError` if no hub URL is configured.
        """
        if self.hub is None:
            raise SettingsError("hub", "no hub URL is set", "set EXCHANGE_HUB or pass --hub")
        return self.hub

    def require_token(self) -> SecretStr:
        """Return the member's API token.

        Raises `SettingsError` if no token is configured.
        """
        if self.token is None:
            raise SettingsError(
                "token",
                "no API token is set",
                "set EXCHANGE_TOKEN to the token the operator issued",
            )
        return self.token


def _build(**overrides: object) -> ClientSettings:
    try:
        return ClientSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        # Report the first problem by field name only: pydantic's full text echoes the
        # input, which may be a secret.
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        raise SettingsError(
            name, first["msg"], f"check EXCHANGE_{name.upper()} or the matching option"
        ) from exc


@lru_cache(maxsize=1)
def get_settings() -> ClientSettings:
    """Return the process's settings, read once from the environment.

    Raises `SettingsError` for a malformed ``EXCHANGE_*`` value.
    """
    return _build()


def load_settings(
    *, hub: str | None = None, token: SecretStr | None = None, keystore: Path | None = None
) -> ClientSettings:
    """Return the settings with ``hub``, ``token`` and ``keystore`` (say, from the command
    line) taking precedence over the environment; `get_settings` when none is given.

    Raises `SettingsError` for a malformed value.
    """
    given = (("hub", hub), ("token", token), ("keystore", keystore))
    overrides = {k: v for k, v in given if v is not None}
    return _build(**overrides) if overrides else get_settings()
