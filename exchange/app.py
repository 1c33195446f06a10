"""The hub's ASGI application."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from exchange.api.audit import RequestIds
from exchange.api.errors import install_error_handlers
from exchange.api.limits import CallerLimits, QueryLengthLimit
from exchange.api.openapi import with_security, without_validation_422
from exchange.api.routes import (
    collections,
    directory,
    discovery,
    logs,
    manifest,
    objects,
    policy,
    status,
)
from exchange.services.directory_log import backfill
from exchange.services.hub import Hub
from exchange.services.logs import issue_checkpoints
from exchange.services.retention import purge_expired
from exchange.settings import HubSettings, get_settings

__all__ = ["create_app", "create_app_from_env"]

log = logging.getLogger("exchange.app")


async def _purge_forever(hub: Hub, interval: float) -> None:
    """Purge objects past retention every ``interval`` seconds, for the app's lifetime."""
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(purge_expired, hub, now=datetime.now(UTC))
        except Exception:  # a failed purge must not stop the next one
            log.exception("retention purge failed")


async def _checkpoint_forever(hub: Hub, interval: float) -> None:
    """Sign a checkpoint of each grown log every ``interval`` seconds (the first at once)."""
    while True:
        try:
            await run_in_threadpool(issue_checkpoints, hub)
        except Exception:  # a failed checkpoint must not stop the next one
            log.exception("checkpoint failed")
        await asyncio.sleep(interval)


class _HubApp(FastAPI):
    """The hub's app: its OpenAPI document declares the hub's errors, not FastAPI's."""

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document (built once), without FastAPI's ``422`` validation errors
        and with the authentication each route takes."""
        return with_security(without_validation_422(super().openapi()), self.routes)


def create_app(settings: HubSettings, *, hub: Hub | None = None) -> FastAPI:
    """Build the hub for ``settings``; ``hub`` may be given (tests), else it opens at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run in worker threads that contend for the GIL: a few more than the
        # cores keep the database busy without a convoy of runnable threads.
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        opened = hub or Hub.open(settings, migrate_first=False)
        app.state.hub = opened
        opened.log_key()  # refuse to start with an unusable key, not on first use
        if hub is None:
            opened.validator.start()
        await run_in_threadpool(backfill, opened)
        tasks = []
        if settings.purge_interval > 0:
            tasks.append(asyncio.create_task(_purge_forever(opened, settings.purge_interval)))
        if settings.checkpoint_interval > 0:
            interval = settings.checkpoint_interval
            tasks.append(asyncio.create_task(_checkpoint_forever(opened, interval)))
        if hub is None:
            # The process is ours: move what startup made (tens of thousands of module
            # objects) out of the collector's sight, or every full collection walks them
            # all, a pause of ~70 ms every few hundred requests.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            if hub is None:
                opened.close()

    app = _HubApp(
        title=settings.title,
        description="TAXII 2.1 server of the Trend Exchange hub.",
        version="0.1.0",
        lifespan=lifespan,
        redirect_slashes=False,
        generate_unique_id_function=lambda route: route.name,  # operationId: the handler's name
    )
    if hub is not None:
        app.state.hub = hub
    app.state.limits = CallerLimits(
        rate=settings.rate_limit,
        burst=settings.rate_burst,
        concurrent=settings.max_concurrent_requests,
    )
    install_error_handlers(app)
    app.add_middleware(QueryLengthLimit, limit=settings.max_query_length)
    app.add_middleware(RequestIds)
    for module in (discovery, status, collections, manifest, objects, directory, policy, logs):
        app.include_router(module.router)
    return app


def _configure_logging(level: str) -> None:
    """Show the hub's own log records at ``level`` and above on stderr (once per process)."""
    logger = logging.getLogger("exchange")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def create_app_from_env() -> FastAPI:
    """Build the hub from ``EXCHANGE_*`` environment variables (the uvicorn factory)."""
    settings = get_settings()
    _configure_logging(settings.log_level)
    return create_app(settings)
