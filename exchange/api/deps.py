"""Dependencies shared by the routes: the hub, the caller, the API root.

Those that touch no database are coroutines: FastAPI runs a plain function
dependency in its thread pool, a hand-off that costs more than the check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, cast

from fastapi import Depends, Header, Path, Request

from exchange.api.limits import CallerLimits
from exchange.db.records import MemberRecord
from exchange.errors import ApiRootNotFound
from exchange.services.auth import authenticate
from exchange.services.hub import Hub

__all__ = ["ApiRootDep", "CurrentMember", "HubDep", "MemberOrAnonymous"]


async def _hub(request: Request) -> Hub:
    return cast(Hub, request.app.state.hub)


HubDep = Annotated[Hub, Depends(_hub)]
"""The process's `Hub`."""


@asynccontextmanager
async def _admitted(request: Request, key: str) -> AsyncIterator[None]:
    # The request counts against its caller's rate and requests in flight until it ends.
    limits = cast(CallerLimits, request.app.state.limits)
    if not limits.enabled:
        yield
        return
    limits.admit(key)
    try:
        yield
    finally:
        limits.release(key)


def _authenticated(
    hub: HubDep,
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> MemberRecord:
    member = authenticate(hub, authorization)
    request.state.member = member  # for the access log, should the request be refused later
    return member


async def _member(
    request: Request, member: Annotated[MemberRecord, Depends(_authenticated)]
) -> AsyncIterator[MemberRecord]:
    async with _admitted(request, member.id):
        yield member


CurrentMember = Annotated[MemberRecord, Depends(_member)]
"""The authenticated, active member making the request; else 401 (429 when it is over
its request rate or requests in flight, `CallerLimits`)."""


def _authenticated_or_anonymous(
    hub: HubDep,
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> MemberRecord | None:
    member = None if authorization is None else authenticate(hub, authorization)
    request.state.member = member
    return member


async def _member_or_anonymous(
    request: Request, member: Annotated[MemberRecord | None, Depends(_authenticated_or_anonymous)]
) -> AsyncIterator[MemberRecord | None]:
    # Anonymous callers are told apart by address (not port: a new connection is no
    # new caller).
    address = request.client.host if request.client else ""
    key = member.id if member is not None else f"anonymous {address}"
    async with _admitted(request, key):
        yield member


MemberOrAnonymous = Annotated[MemberRecord | None, Depends(_member_or_anonymous)]
"""The authenticated member, or None when the request carries no credentials at all
(anonymous reading of public feeds); bad credentials are still a 401."""


async def _api_root(hub: HubDep, api_root: Annotated[str, Path(description="The API root")]) -> str:
    if api_root != hub.settings.api_root:
        raise ApiRootNotFound()
    return api_root


ApiRootDep = Annotated[str, Depends(_api_root)]
"""The API root named in the path, which must be the hub's; else 404."""
