"""How a served hub sets up its process: startup objects frozen out of the collector's
sight, the request thread pool sized, the validation pool started."""

from __future__ import annotations

import gc
from pathlib import Path

import anyio.to_thread
from fastapi.testclient import TestClient

from exchange.app import create_app
from exchange.services.hub import Hub
from exchange.settings import HubSettings


def _settings(home: Path, **changes: object) -> HubSettings:
    """Settings of a migrated hub home, as `exchange serve` leaves it before serving."""
    settings = HubSettings(home=home, checkpoint_interval=0, purge_interval=0, **changes)  # type: ignore[arg-type]
    Hub.open(settings).close()
    return settings


def test_a_served_hub_freezes_what_startup_made(tmp_path: Path) -> None:
    gc.unfreeze()
    try:
        with TestClient(create_app(_settings(tmp_path, validation_processes=1))):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_served_hub_runs_requests_on_its_configured_threads(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, threads=3, validation_processes=1))

    @app.get("/limiter")
    async def limiter() -> int:
        return int(anyio.to_thread.current_default_thread_limiter().total_tokens)

    try:
        with TestClient(app) as client:
            assert client.get("/limiter").json() == 3
    finally:
        gc.unfreeze()


def test_a_served_hub_starts_its_validation_pool(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, validation_processes=2))
    try:
        with TestClient(app):
            assert app.state.hub.validator._pool is not None
        assert app.state.hub.validator._pool is None  # stopped with the hub
    finally:
        gc.unfreeze()
