"""Request ids, and the access log as the routes see it.

`RequestIds` gives every request an id (``X-Request-Id`` on the response,
and in each access-log event). `ACTIONS` names the action of each audited
route (its endpoint's name); `log_access` records an allowed read before its
response is built, and `log_refusal` records any refused request to an
audited route, with the caller (if it authenticated), the feed its path names
and the reason it was refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.db.records import MemberRecord
from exchange.db.session import read_transaction
from exchange.services.access_log import Access, record
from exchange.services.hub import Hub

__all__ = ["ACTIONS", "RequestIds", "log_access", "log_refusal", "request_id"]

ACTIONS: dict[str, str] = {
    "get_collections": "collections.list",
    "get_collection_resource": "collection.read",
    "get_manifest": "manifest.read",
    "get_objects": "objects.read",
    "post_objects": "objects.add",
    "get_object": "object.read",
    "delete_object_resource": "object.delete",
    "get_object_versions": "versions.read",
    "get_status_resource": "status.read",
    "get_key_bundles": "keys.read",
    "post_key_bundle": "keys.register",
    "get_policy": "policy.read",
    "get_policy_versions": "policy.versions",
    "get_policy_version": "policy.read",
    "post_policy": "policy.publish",
    "checkpoint": "log.checkpoint",
    "inclusion_proof": "log.proof",
    "consistency_proof": "log.proof",
    "leaf_proofs": "log.proof",
    "log_entries": "log.entries",
}
"""The action of each audited route, by endpoint name. Routes not here touch no feed,
object, policy, key or log (discovery, whoami, the public log key)."""


class RequestIds:
    """ASGI middleware: a fresh id per request, in ``request.state`` and ``X-Request-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the request and its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        await self.app(scope, receive, tagged)


def request_id(request: Request) -> str:
    """The request's id (one is made if no middleware gave it one)."""
    rid = getattr(request.state, "request_id", None)
    if not isinstance(rid, str):
        rid = uuid.uuid4().hex
        request.state.request_id = rid
    return rid


def _action(request: Request) -> str | None:
    route = request.scope.get("route")
    name = getattr(route, "name", None)
    return ACTIONS.get(name) if isinstance(name, str) else None


def access(
    request: Request,
    member: MemberRecord | None,
    *,
    feed: str | None = None,
    objects: Sequence[tuple[str, str]] = (),
    detail: Mapping[str, Any] | None = None,
) -> Access:
    """The allowed access ``request`` makes (its action from `ACTIONS`)."""
    action = _action(request)
    assert action is not None, f"{request.url.path} is not an audited route"
    return Access(request_id(request), action, member, feed, objects=objects, detail=detail)


def log_access(
    hub: Hub,
    request: Request,
    member: MemberRecord | None,
    *,
    feed: str | None = None,
    objects: Sequence[tuple[str, str]] = (),
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record an allowed read in the access log (committed before this returns). Without
    ``feed``, the feed the path names is looked up."""
    if feed is None:
        feed, _ = _feed_of(hub, request)
    record(hub, access(request, member, feed=feed, objects=objects, detail=detail))


def _feed_of(hub: Hub, request: Request) -> tuple[str | None, dict[str, Any] | None]:
    params = request.path_params
    ref = params.get("collection_id") or params.get("feed")
    if not isinstance(ref, str):
        return None, None
    with read_transaction(hub.engine) as conn:
        found = hub.feeds.find(conn, ref)
    if found is None:
        return None, {"feed_ref": ref[:100]}
    return found.id, None


def log_refusal(request: Request, status: int, reason: str) -> None:
    """Record a refused request to an audited route (no-op for other routes)."""
    action = _action(request)
    hub = getattr(request.app.state, "hub", None)
    if action is None or not isinstance(hub, Hub):
        return
    member = getattr(request.state, "member", None)
    feed, detail = _feed_of(hub, request)
    record(
        hub,
        Access(
            request_id(request),
            action,
            member if isinstance(member, MemberRecord) else None,
            feed,
            decision="deny",
            reason=f"{status}: {reason}",
            detail=detail,
        ),
    )
