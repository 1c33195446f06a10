"""Feeds' sharing policies (``/exchange/v1/feeds/{feed}/policy``)."""

from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from exchange.api.audit import log_access, request_id
from exchange.api.body import read_body
from exchange.api.deps import CurrentMember, HubDep
from exchange.api.openapi import AUTHENTICATED, errors, json_body
from exchange.api.responses import JsonResponse
from exchange.db.logs import LogName
from exchange.services.logs import issue_checkpoints
from exchange.services.policy import policy_version, policy_versions, publish_policy

router = APIRouter(default_response_class=JsonResponse, tags=["sharing policies"])

FeedRef = Annotated[str, Path(description="A feed (collection) id or alias")]
_POLICY = "/exchange/v1/feeds/{feed}/policy"


@router.get(
    _POLICY, summary="The feed's newest policy version", responses=errors(*AUTHENTICATED, 404)
)
def get_policy(member: CurrentMember, hub: HubDep, feed: FeedRef, request: Request) -> JsonResponse:
    """The newest signed policy version, exactly as its owner signed it."""
    stored = policy_version(hub, member, feed, None, now=datetime.now(UTC))
    log_access(hub, request, member, feed=stored.owner, detail={"version": stored.number})
    return JsonResponse(orjson.loads(stored.document))


@router.get(
    _POLICY + "/versions",
    summary="Every version of the feed's policy",
    responses=errors(*AUTHENTICATED, 404),
)
def get_policy_versions(
    member: CurrentMember, hub: HubDep, feed: FeedRef, request: Request
) -> JsonResponse:
    """Version numbers and digests, oldest first."""
    found = policy_versions(hub, member, feed, now=datetime.now(UTC))
    log_access(hub, request, member, detail={"versions": len(found)})
    return JsonResponse({"versions": [{"version": v.number, "digest": v.digest} for v in found]})


@router.get(
    _POLICY + "/versions/{version}",
    summary="One version of the feed's policy",
    responses=errors(*AUTHENTICATED, 404),
)
def get_policy_version(
    member: CurrentMember,
    hub: HubDep,
    feed: FeedRef,
    version: Annotated[int, Path(ge=1, le=2**53 - 1)],
    request: Request,
) -> JsonResponse:
    """One signed policy version."""
    stored = policy_version(hub, member, feed, version, now=datetime.now(UTC))
    log_access(hub, request, member, feed=stored.owner, detail={"version": stored.number})
    return JsonResponse(orjson.loads(stored.document))


@router.post(
    _POLICY,
    status_code=201,
    summary="Publish the next policy version",
    responses=errors(*AUTHENTICATED, 403, 404, 409, 413, 422),
    openapi_extra=json_body("An owner-signed policy: {policy, signatures}.", {"type": "object"}),
)
async def post_policy(
    member: CurrentMember, hub: HubDep, feed: FeedRef, request: Request
) -> JsonResponse:
    """Publish the next version of a feed's policy; only the feed's owner may."""
    body = await read_body(request, hub.settings.max_content_length)
    signed = await run_in_threadpool(
        publish_policy,
        hub,
        member,
        feed,
        body,
        now=datetime.now(UTC),
        request_id=request_id(request),
    )
    # Checkpoint the directory now: whoever relies on this version checks it is logged.
    await run_in_threadpool(issue_checkpoints, hub, logs=(LogName.DIRECTORY,))
    return JsonResponse(
        {"feed": signed.policy.feed, "version": signed.policy.version, "digest": signed.digest},
        status_code=201,
    )
