"""The Merkle logs (``/exchange/v1/logs/``) and the log key's well-known URL."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from exchange.api.audit import log_access
from exchange.api.body import read_body
from exchange.api.deps import CurrentMember, HubDep
from exchange.api.openapi import AUTHENTICATED, errors, json_body
from exchange.api.responses import JsonResponse
from exchange.db.logs import LogEntry, LogName
from exchange.errors import InvalidDocument
from exchange.services import logs

router = APIRouter(default_response_class=JsonResponse, tags=["logs"])

LogRef = Annotated[LogName, Path(description="Which log: access or directory")]
Count = Annotated[int, Query(ge=0, le=2**53 - 1)]
Micros = Annotated[int | None, Query(ge=0, le=2**53 - 1, description="µs since the epoch")]


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@router.get(
    "/.well-known/trend-exchange/log-key",
    summary="The hub's log key (public half)",
    responses=errors(400),
)
def log_key(hub: HubDep) -> JsonResponse:
    """The Ed25519 and ML-DSA-44 public keys that sign the logs' checkpoints, their
    fingerprint, and each log's origin and signed-note verifier keys. No credentials:
    auditors and members compare the fingerprint out of band."""
    return JsonResponse(logs.log_key_document(hub))


@router.get(
    "/exchange/v1/logs/{log}/checkpoint",
    response_class=PlainTextResponse,
    summary="A log's newest signed checkpoint (C2SP signed note)",
    responses=errors(*AUTHENTICATED, 404, media_type="application/json"),
)
async def checkpoint(
    member: CurrentMember,
    hub: HubDep,
    log: LogRef,
    request: Request,
    size: Annotated[int | None, Query(ge=0, le=2**53 - 1)] = None,
) -> PlainTextResponse:
    """The newest checkpoint of the log, or the one of ``size`` (every one is kept)."""
    found = await run_in_threadpool(logs.latest_checkpoint, hub, log, size)
    detail = {"log": log.value, "size": found.size}
    await run_in_threadpool(log_access, hub, request, member, detail=detail)
    return PlainTextResponse(found.note, media_type="text/plain; charset=utf-8")


@router.get(
    "/exchange/v1/logs/{log}/proofs/inclusion",
    summary="An inclusion proof",
    responses=errors(*AUTHENTICATED),
)
async def inclusion_proof(
    member: CurrentMember, hub: HubDep, log: LogRef, index: Count, size: Count, request: Request
) -> JsonResponse:
    """The RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
    hashes = await run_in_threadpool(logs.inclusion, hub, log, index, size)
    detail = {"log": log.value, "index": index, "size": size}
    await run_in_threadpool(log_access, hub, request, member, detail=detail)
    return JsonResponse({"log": log.value, "index": index, "size": size, "hashes": _b64(hashes)})


@router.get(
    "/exchange/v1/logs/{log}/proofs/consistency",
    summary="A consistency proof",
    responses=errors(*AUTHENTICATED),
)
async def consistency_proof(
    member: CurrentMember, hub: HubDep, log: LogRef, old: Count, new: Count, request: Request
) -> JsonResponse:
    """The RFC 9162 consistency proof from the tree of ``old`` entries to that of ``new``."""
    hashes = await run_in_threadpool(logs.consistency, hub, log, old, new)
    detail = {"log": log.value, "old": old, "new": new}
    await run_in_threadpool(log_access, hub, request, member, detail=detail)
    return JsonResponse({"log": log.value, "old": old, "new": new, "hashes": _b64(hashes)})


class LeafQuery(BaseModel):
    """Which leaves to prove, in the tree of which size."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=1, le=2**53 - 1)
    leaf_hashes: list[str] = Field(min_length=1, max_length=1000)


@router.post(
    "/exchange/v1/logs/{log}/proofs/leaves",
    summary="Where leaves are, with their inclusion proofs (a batch)",
    responses=errors(*AUTHENTICATED, 413, 422),
    openapi_extra=json_body("Which leaves, in which tree.", LeafQuery.model_json_schema()),
)
async def leaf_proofs(
    member: CurrentMember, hub: HubDep, log: LogRef, request: Request
) -> JsonResponse:
    """For each leaf hash (base64 of SHA-256(0x00 ‖ leaf)), its index in the tree of
    ``size`` entries and its inclusion proof, or ``index: null`` if the tree does not
    hold it. Clients use it to check every key bundle and policy they rely on."""
    body = await read_body(request, hub.settings.max_content_length)
    try:
        query = LeafQuery.model_validate_json(body)
        hashes = [base64.b64decode(h, validate=True) for h in query.leaf_hashes]
    except (ValidationError, ValueError) as exc:
        raise InvalidDocument("leaf query", "it must be {size, leaf_hashes: [base64]}") from exc
    if any(len(h) != 32 for h in hashes):
        raise InvalidDocument("leaf query", "every leaf hash is 32 bytes")
    answers = await run_in_threadpool(logs.inclusion_by_hash, hub, log, hashes, query.size)
    detail = {"log": log.value, "size": query.size, "leaves": len(hashes)}
    await run_in_threadpool(log_access, hub, request, member, detail=detail)
    proofs = [
        {
            "leaf_hash": base64.b64encode(h).decode(),
            "index": index,
            "hashes": _b64(proof),
        }
        for h, index, proof in answers
    ]
    return JsonResponse({"log": log.value, "size": query.size, "proofs": proofs})


def _entry(entry: LogEntry) -> dict[str, Any]:
    return {"index": entry.index, "event": orjson.loads(entry.data)}


@router.get(
    "/exchange/v1/logs/{log}/entries", summary="A log's entries", responses=errors(*AUTHENTICATED)
)
async def log_entries(
    member: CurrentMember,
    hub: HubDep,
    log: LogRef,
    request: Request,
    start: Count = 0,
    end: Annotated[int | None, Query(ge=0, le=2**53 - 1)] = None,
    member_id: Annotated[str | None, Query(alias="member", max_length=64)] = None,
    feed: Annotated[str | None, Query(max_length=36)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    since: Micros = None,
    until: Micros = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> JsonResponse:
    """Entries in index order, as canonical JSON events. The directory log is every
    member's to replicate; of the access log, auditors read every entry and other
    members the entries about the feeds they own."""
    query = logs.EntryFilter(start, end, member_id, feed, action, since, until, limit)
    found, size = await run_in_threadpool(logs.entries, hub, member, log, query)
    detail = {"log": log.value, "start": start, "returned": len(found)}
    await run_in_threadpool(log_access, hub, request, member, feed=feed, detail=detail)
    # ``size``: the log's size as read; entries at or past it are left for a later call.
    body = {"log": log.value, "size": size, "entries": [_entry(e) for e in found]}
    return JsonResponse(body)
