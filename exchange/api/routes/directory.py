"""The key directory and the caller's identity (``/exchange/v1/``)."""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from exchange.api.audit import log_access, request_id
from exchange.api.body import read_body
from exchange.api.deps import CurrentMember, HubDep
from exchange.api.openapi import AUTHENTICATED, errors, json_body
from exchange.api.responses import JsonResponse
from exchange.db.logs import LogName
from exchange.errors import PermissionDenied
from exchange.protocol.envelope import EXTENSION_DEFINITION
from exchange.services.directory import key_bundles, register_key_bundle
from exchange.services.logs import issue_checkpoints

router = APIRouter(default_response_class=JsonResponse, tags=["key directory"])

MemberRef = Annotated[str, Path(description="A member id (identity--<uuid4>)")]


@router.get(
    "/exchange/v1/whoami", summary="The authenticated member", responses=errors(*AUTHENTICATED)
)
def whoami(member: CurrentMember) -> JsonResponse:
    """Return the caller's member id, name and kind."""
    return JsonResponse({"id": member.id, "name": member.name, "kind": member.kind.value})


@router.get(
    "/exchange/v1/extension-definitions",
    summary="The STIX extension-definitions the hub uses",
    responses=errors(*AUTHENTICATED),
)
def extension_definitions(member: CurrentMember) -> JsonResponse:
    """The extension-definition of the ``sealed-report`` type, so STIX tools recognise it."""
    return JsonResponse({"extension_definitions": [EXTENSION_DEFINITION]})


@router.get(
    "/exchange/v1/members/{member_id}/keys",
    summary="A member's key bundles",
    responses=errors(*AUTHENTICATED, 404),
)
def get_key_bundles(
    member: CurrentMember, hub: HubDep, member_id: MemberRef, request: Request
) -> JsonResponse:
    """Every key bundle the member ever registered, oldest first; the last is in force.

    Clients verify each bundle's self-signatures and each rotation's endorsement
    themselves; the hub is not trusted to have done so.
    """
    bundles: list[Any] = [orjson.loads(b.document) for b in key_bundles(hub, member_id)]
    log_access(hub, request, member, detail={"member": member_id, "bundles": len(bundles)})
    return JsonResponse({"member": member_id, "bundles": bundles})


@router.post(
    "/exchange/v1/members/{member_id}/keys",
    status_code=201,
    summary="Register a key bundle",
    responses=errors(*AUTHENTICATED, 403, 409, 413, 422),
    openapi_extra=json_body(
        "A self-signed key bundle: {bundle, signatures[, endorsements]}.", {"type": "object"}
    ),
)
async def post_key_bundle(
    member: CurrentMember, hub: HubDep, member_id: MemberRef, request: Request
) -> JsonResponse:
    """Register the caller's next self-signed key bundle (a first one, or a rotation)."""
    if member_id != member.id:
        raise PermissionDenied("register keys for another member")
    body = await read_body(request, hub.settings.max_content_length)
    stored = await run_in_threadpool(
        register_key_bundle, hub, member, body, request_id=request_id(request)
    )
    # Checkpoint the directory now: whoever encrypts to this bundle checks it is logged.
    await run_in_threadpool(issue_checkpoints, hub, logs=(LogName.DIRECTORY,))
    return JsonResponse(
        {"member": stored.owner, "sequence": stored.number, "digest": stored.digest},
        status_code=201,
    )
