"""Fixtures for the member client: a clean environment, and a real hub to talk to."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from feeds.settings import get_settings
from tests.feeds.live_hub import LiveHub, new_home, start_live_hub


@pytest.fixture(autouse=True)
def clean_client_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No EXCHANGE_* variable of the developer's shell reaches the client under test."""
    for name in list(os.environ):
        if name.startswith("EXCHANGE_") and name != "EXCHANGE_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """One running hub per test module, stopped at its end."""
    home = new_home(tmp_path_factory.mktemp("feeds-hub"))
    try:
        yield start_live_hub(home)
    finally:
        home.stop_all()
