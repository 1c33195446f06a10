"""The hub's settings, read from ``EXCHANGE_*`` environment variables.

Build them with :func:`get_settings` (cached) and pass them on; nothing reads
the environment at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["HubSettings", "get_settings"]


class HubSettings(BaseSettings):
    """Everything an ``exchange`` process needs to know, with documented defaults."""

    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore", frozen=True)

    home: Path = Field(default=Path(".exchange"), description="Data directory (SQLite lives here).")
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<home>/exchange.db. "
        "postgresql+psycopg://… runs the hub on PostgreSQL.",
    )
    title: str = "Trend Exchange"
    description: str = "Aggregated cybercrime-trend reports over TAXII 2.1."
    contact: str | None = None
    api_root: str = Field(default="trends", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    max_content_length: int = Field(default=10 * 1024 * 1024, gt=0)
    max_objects_per_envelope: int = Field(default=10_000, gt=0)
    max_page_size: int = Field(default=1_000, gt=0)
    max_query_length: int = Field(default=8_192, gt=0)
    max_recipients_per_envelope: int = Field(
        default=1_000,
        gt=0,
        le=10_000,  # the most a hub-env/1 envelope may name
        description="Recipients one sealed report may be wrapped for.",
    )
    max_concurrent_requests: int = Field(
        default=16,
        ge=0,
        description="Requests one member (or anonymous address) may have in flight per process"
        " (0: no limit).",
    )
    rate_limit: float = Field(
        default=100.0,
        ge=0,
        description="Requests per second one member (or anonymous address) may sustain per"
        " process (0: no limit).",
    )
    rate_burst: int = Field(
        default=200,
        gt=0,
        description="Requests one member (or anonymous address) may make at once before the"
        " rate applies.",
    )
    db_pool_size: int = Field(default=8, gt=0)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Least severe level the hub's log shows (stderr)."
    )
    threads: int = Field(
        default=8,
        gt=0,
        description="Threads per process running requests' database and validation work.",
    )
    validation_processes: int = Field(
        default=0,
        ge=0,
        description="Processes validating large envelopes (0: one per CPU; 1: in the request's"
        " own thread).",
    )
    purge_interval: float = Field(
        default=3600.0, ge=0, description="Seconds between retention purges (0: never)."
    )
    log_origin: str = Field(
        default="trend-exchange",
        pattern=r"^[\x21-\x7e]{1,200}$",
        description="Prefix of the logs' checkpoint origins (<prefix>/access, <prefix>/directory).",
    )
    checkpoint_interval: float = Field(
        default=1.0, ge=0, description="Seconds between checkpoints of grown logs (0: never)."
    )

    def sqlalchemy_url(self) -> str:
        """Return the database URL, defaulting to SQLite inside ``home``."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.home / 'exchange.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """True when the hub runs on its embedded SQLite database."""
        return self.sqlalchemy_url().startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> HubSettings:
    """Return the process's settings, read once from the environment."""
    return HubSettings()
