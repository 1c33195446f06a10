"""The access log: one leaf for every request that touches feeds, objects, policies,
keys or the logs, allowed or denied.

A leaf is the canonical JSON (RFC 8785) of an event::

    {"v": 1, "time": "2026-11-29T08:00:00.000000Z", "request_id": "…",
     "action": "objects.read", "member": "identity--…" | null,
     "member_kind": "industry" | null, "feed": "<feed id>" | null,
     "decision": "allow" | "deny", "reason": "…" | null,
     "objects": [["indicator--…", "<version>"], …] | {"count": n, "sha256": "…"},
     "detail": {…} | null}

A page of more than `LISTED` objects is logged by count and the SHA-256 of the
canonical list of its (id, version) pairs, so an auditor who is shown the page
can check it. A write's leaf is appended in the write's own transaction
(`append`), so both commit or neither; a read's leaf is committed (`record`)
before its response is sent; a refusal's leaf is committed before the error
is. Events never hold object content, tokens or keys.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import Connection

from exchange.db.logs import LogName, NewLeaf
from exchange.db.records import MemberRecord
from exchange.protocol.timestamps import format_timestamp, micros_now
from exchange.services.hub import Hub
from policies.canonical import canonical_bytes

__all__ = ["LISTED", "Access", "append", "canonical_pairs", "event", "new_request_id", "record"]

LISTED = 100
"""Pages of up to this many objects list them; larger ones are logged by count and digest."""


@dataclass(frozen=True, slots=True)
class Access:
    """What one request did, or was refused."""

    request_id: str
    action: str
    member: MemberRecord | None
    feed: str | None = None
    decision: Literal["allow", "deny"] = "allow"
    reason: str | None = None
    objects: Sequence[tuple[str, str]] = ()
    detail: Mapping[str, Any] | None = None


def new_request_id() -> str:
    """An id for a request made in-process (the operator's CLI, tests), not over HTTP."""
    return f"local-{uuid.uuid4().hex}"


def canonical_pairs(listed: list[list[str]]) -> bytes:
    """The RFC 8785 form of a list of lists of strings.

    For arrays of strings RFC 8785 is exactly what orjson writes (the same
    escapes, UTF-8, no whitespace; a test holds them equal), at a fraction of
    the cost: a page of 1,000 objects is digested for every read.
    """
    return orjson.dumps(listed)


def _objects(pairs: Sequence[tuple[str, str]]) -> list[list[str]] | dict[str, Any]:
    listed = [[stix_id, version] for stix_id, version in pairs]
    if len(listed) <= LISTED:
        return listed
    digest = hashlib.sha256(canonical_pairs(listed)).hexdigest()
    return {"count": len(listed), "sha256": digest}


def event(access: Access, now: int) -> dict[str, Any]:
    """The event ``access`` is logged as, at ``now`` (µs since the epoch)."""
    member = access.member
    return {
        "v": 1,
        "time": format_timestamp(now),
        "request_id": access.request_id,
        "action": access.action,
        "member": None if member is None else member.id,
        "member_kind": None if member is None else member.kind.value,
        "feed": access.feed,
        "decision": access.decision,
        "reason": access.reason,
        "objects": _objects(access.objects),
        "detail": None if access.detail is None else dict(access.detail),
    }


def _leaf(access: Access, when: int) -> NewLeaf:
    return NewLeaf(
        time=when,
        action=access.action,
        member_id=None if access.member is None else access.member.id,
        feed_id=access.feed,
        data=canonical_bytes(event(access, when)),
    )


def append(hub: Hub, conn: Connection, access: Access, *, now: int | None = None) -> int:
    """Append ``access`` to the access log in ``conn``'s write transaction; return its index."""
    return hub.logs.append(
        conn, LogName.ACCESS, [_leaf(access, micros_now() if now is None else now)]
    )


def record(hub: Hub, access: Access) -> int:
    """Append ``access`` on its own, committed on return; return its index.

    Concurrent records share a commit (`GroupCommit`); each leaf's time is
    taken as it joins the queue, so one process's leaves are in time order.
    """
    return hub.access_commits.append(
        hub.engine, hub.logs, LogName.ACCESS, lambda: _leaf(access, micros_now())
    )
