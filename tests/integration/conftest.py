"""Fixtures that run real ``exchange`` processes on loopback ports.

Each test module gets, per storage backend, one fresh hub home (an
``EXCHANGE_HOME`` in a temporary directory and, on PostgreSQL, a fresh
database); the module's own fixtures admit members, create feeds and start
servers in it with the operator CLI. Every server is stopped when the module
is done.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS
from tests.integration.live import HubHome


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend, per module: a module's servers run once on each backend."""
    return str(request.param)


@pytest.fixture(scope="module")
def hub_home(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[HubHome]:
    """A fresh hub home on ``backend``; the servers it starts are stopped at teardown."""
    base = tmp_path_factory.mktemp(f"hub-{backend}")
    database_url = None
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_databases")()
    home = HubHome(backend=backend, home=base / "home", database_url=database_url)
    try:
        yield home
    finally:
        home.stop_all()
