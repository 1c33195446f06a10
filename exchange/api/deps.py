"""Dependencies shared by the routes: the hub, the caller, the API root.

Those that touch no database are coroutines: FastAPI runs a plain function
dependency in its thread pool, a hand-off that costs more than the check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, cast

from fastapi import Depends, Header, Path, Request
from starlette.concurrency import run_in_threadpool

from exchange.api.limits import CallerLimits
from exchange.db.records import MemberRecord
from exchange.errors import ApiRootNotFound, AuthenticationFailed
from exchange.services.auth import authenticate
from exchange.services.hub import Hub

__all__ = ["ApiRootDep", "CurrentMember", "HubDep", "MemberOrAnonymous"]


async def _hub(request: Request) -> Hub:
    return cast(Hub, request.app.state.hub)


HubDep = Annotated[Hub, Depends(_hub)]
"""The process's `Hub`."""


def _limits(request: Request) -> CallerLimits:
    return cast(CallerLimits, request.app.state.limits)


def _by_address(request: Request) -> str:
    # Callers without valid credentials are told apart by address (not port: a new
    # connection is no new caller).
    return f"address {request.client.host if request.client else ''}"


@asynccontextmanager
async def _admitted(request: Request, key: str) -> AsyncIterator[None]:
    # The request counts against its caller's rate and requests in flight until it ends.
    limits = _limits(request)
    if not limits.enabled:
        yield
        return
    limits.admit(key)
    try:
        yield
    finally:
        limits.release(key)


async def _authenticate(request: Request, hub: Hub, authorization: str | None) -> MemberRecord:
    try:
        member = await run_in_threadpool(authenticate, hub, authorization)
    except AuthenticationFailed:
        # Failed attempts count against their address's rate: past it, guessing tokens
        # (or flooding the access log with refusals) gets a cheap 429 instead.
        _limits(request).charge(_by_address(request))
        raise
    request.state.member = member  # for the access log, should the request be refused later
    return member


_Authorization = Annotated[str | None, Header(include_in_schema=False)]


async def _member(
    hub: HubDep, request: Request, authorization: _Authorization = None
) -> AsyncIterator[MemberRecord]:
    member = await _authenticate(request, hub, authorization)
    async with _admitted(request, member.id):
        yield member


CurrentMember = Annotated[MemberRecord, Depends(_member)]
"""The authenticated, active member making the request; else 401 (429 when it is over
its request rate or requests in flight, `CallerLimits`, or its address over its rate of
failed attempts)."""


async def _member_or_anonymous(
    hub: HubDep, request: Request, authorization: _Authorization = None
) -> AsyncIterator[MemberRecord | None]:
    if authorization is None:
        request.state.member = None
        async with _admitted(request, _by_address(request)):
            yield None
        return
    member = await _authenticate(request, hub, authorization)
    async with _admitted(request, member.id):
        yield member


MemberOrAnonymous = Annotated[MemberRecord | None, Depends(_member_or_anonymous)]
"""The authenticated member, or None when the request carries no credentials at all
(anonymous reading of public feeds, limited by address); bad credentials are still a 401."""


async def _api_root(hub: HubDep, api_root: Annotated[str, Path(description="The API root")]) -> str:
    if api_root != hub.settings.api_root:
        raise ApiRootNotFound()
    return api_root


ApiRootDep = Annotated[str, Depends(_api_root)]
"""The API root named in the path, which must be the hub's; else 404."""
