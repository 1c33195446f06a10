"""The hub's ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from exchange.api.errors import install_error_handlers
from exchange.api.limits import QueryLengthLimit
from exchange.api.routes import collections, discovery, manifest, objects, status
from exchange.services.hub import Hub
from exchange.settings import HubSettings, get_settings

__all__ = ["create_app", "create_app_from_env"]


def create_app(settings: HubSettings, *, hub: Hub | None = None) -> FastAPI:
    """Build the hub for ``settings``; ``hub`` may be given (tests), else it opens at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = hub or Hub.open(settings, migrate_first=False)
        app.state.hub = opened
        try:
            yield
        finally:
            if hub is None:
                opened.close()

    app = FastAPI(
        title=settings.title,
        description="TAXII 2.1 server of the Trend Exchange hub.",
        version="0.1.0",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    if hub is not None:
        app.state.hub = hub
    install_error_handlers(app)
    app.add_middleware(QueryLengthLimit, limit=settings.max_query_length)
    for module in (discovery, status, collections, manifest, objects):
        app.include_router(module.router)
    return app


def create_app_from_env() -> FastAPI:
    """Build the hub from ``EXCHANGE_*`` environment variables (the uvicorn factory)."""
    return create_app(get_settings())
