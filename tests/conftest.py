"""Shared fixtures: hub settings on SQLite (always) and PostgreSQL (when configured).

``EXCHANGE_TEST_DATABASE_URL`` names a PostgreSQL server database we may use
to create and drop our own databases; every run makes fresh ones and drops
them at the end, trusting nothing an earlier run left.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from exchange.services.hub import Hub
from exchange.settings import HubSettings

PG_URL = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
needs_postgres = pytest.mark.skipif(PG_URL is None, reason="EXCHANGE_TEST_DATABASE_URL not set")

if os.environ.get("CI") and PG_URL is None:  # CI must exercise PostgreSQL
    raise RuntimeError("CI runs must set EXCHANGE_TEST_DATABASE_URL")


def _admin_engine() -> Engine:
    assert PG_URL is not None
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases, all dropped after the run."""
    created: list[str] = []

    def make() -> str:
        name = f"exchange_test_{uuid.uuid4().hex[:12]}"
        engine = _admin_engine()
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        created.append(name)
        assert PG_URL is not None
        url = make_url(PG_URL).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    yield make
    if created:
        engine = _admin_engine()
        with engine.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=[pytest.mark.postgres, needs_postgres]),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test: every storage test runs on each."""
    return str(request.param)


@pytest.fixture
def make_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., HubSettings]:
    """Build hub settings on a fresh database of the requested backend."""

    def make(backend: str = "sqlite", **overrides: object) -> HubSettings:
        home = tmp_path / f"home-{uuid.uuid4().hex[:6]}"
        values: dict[str, object] = {"home": home}
        if backend == "postgresql":
            factory = request.getfixturevalue("postgres_databases")
            values["database_url"] = factory()
        values.update(overrides)
        return HubSettings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def hub(backend: str, make_settings: Callable[..., HubSettings]) -> Iterator[Hub]:
    """A migrated hub on a fresh database of each backend."""
    opened = Hub.open(make_settings(backend))
    yield opened
    opened.close()


@pytest.fixture
def sqlite_hub(make_settings: Callable[..., HubSettings]) -> Iterator[Hub]:
    """A migrated hub on a fresh SQLite database (for tests that are not about storage)."""
    opened = Hub.open(make_settings("sqlite"))
    yield opened
    opened.close()
