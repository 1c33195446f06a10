"""Adding objects to a feed (TAXII 2.1 §5.5).

The body is parsed once; each object is validated as STIX 2.1; the valid ones
are stored and the status resource written in one transaction, so an
acknowledged status always describes what is stored. Invalid objects are
listed as failures with a reason and never stored, and so are objects the
feed may not hold (`exchange.services.sealed`: a sealed report that fails the
hub's checks, or plain STIX in a feed that is not TLP:CLEAR). Re-posting an identical
(id, version) is a success; a different object under a stored (id, version) is
a failure.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from exchange.db.objects import AddOutcome
from exchange.db.records import MemberRecord, NewObject
from exchange.db.session import write_transaction
from exchange.db.statuses import StatusDetail, StatusRecord
from exchange.errors import MalformedBody, UnprocessableContent
from exchange.protocol.ids import StatusId
from exchange.protocol.timestamps import format_timestamp, micros_to_datetime
from exchange.services.access import Action, authorize
from exchange.services.access_log import Access, append, new_request_id
from exchange.services.hub import Hub
from exchange.services.sealed import check_object
from exchange.services.stix import InvalidObject, object_id
from exchange.services.trust import policy_in_force

__all__ = ["add_objects", "parse_envelope"]


def parse_envelope(body: bytes, *, max_objects: int) -> list[dict[str, Any]]:
    """Return the objects of a TAXII envelope.

    Raises `MalformedBody` if ``body`` is not JSON, and `UnprocessableContent`
    if it is not an envelope with 1 to ``max_objects`` objects, each a JSON
    object with a well-formed STIX ``id``.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"The body is not valid JSON ({exc.msg}).") from exc
    if isinstance(document, dict) and document.get("type") == "bundle":
        raise UnprocessableContent(
            'The body is a STIX bundle; send a TAXII envelope instead: {"objects": [...]}.'
        )
    if not isinstance(document, dict) or "objects" not in document:
        raise UnprocessableContent('The body must be a TAXII envelope: {"objects": [...]}.')
    objects = document["objects"]
    if not isinstance(objects, list) or not objects:
        raise UnprocessableContent("The envelope's 'objects' must be a non-empty list.")
    if len(objects) > max_objects:
        raise UnprocessableContent(
            f"The envelope holds {len(objects)} objects; this server takes at most"
            f" {max_objects} per request."
        )
    for index, raw in enumerate(objects):
        if object_id(raw) is None:
            raise UnprocessableContent(
                f"objects[{index}] is not a STIX object with a valid 'id' (<type>--<uuid>)."
            )
    return objects


def _fallback_version(raw: dict[str, Any], request_timestamp: str) -> str:
    value = raw.get("modified") or raw.get("created")
    return value if isinstance(value, str) else request_timestamp


def add_objects(
    hub: Hub,
    member: MemberRecord,
    collection: str,
    body: bytes,
    *,
    now: int,
    request_id: str | None = None,
) -> StatusRecord:
    """Validate and store the envelope ``body`` in a feed; return its status resource.

    Raises `MalformedBody` or `UnprocessableContent` (nothing stored) if the body
    is not an acceptable envelope, and `CollectionNotFound` or `PermissionDenied`
    if ``member`` may not write to ``collection``.
    """
    objects = parse_envelope(body, max_objects=hub.settings.max_objects_per_envelope)
    request_timestamp = format_timestamp(now)
    valid: list[tuple[int, NewObject]] = []
    failures: dict[int, StatusDetail] = {}
    checked = hub.validator.validate(objects)
    for index, (raw, outcome) in enumerate(zip(objects, checked, strict=True)):
        if isinstance(outcome, InvalidObject):
            version = _fallback_version(raw, request_timestamp)
            failures[index] = StatusDetail(raw["id"], version, outcome.reason)
        else:
            valid.append((index, outcome))

    successes: dict[int, StatusDetail] = {}
    status_id = StatusId(str(uuid.uuid4()))
    with write_transaction(hub.engine) as conn:
        access = authorize(hub, conn, member, collection, Action.WRITE, now=micros_to_datetime(now))
        in_force = policy_in_force(hub, conn, access.feed)

        def admit(position: int) -> str | None:
            index = valid[position][0]
            return check_object(hub, conn, member, access.feed, in_force, objects[index])

        results = hub.objects.add(conn, access.feed.id, [obj for _, obj in valid], now, admit)
        for (index, obj), result in zip(valid, results, strict=True):
            if result.outcome is AddOutcome.REFUSED:
                version = _fallback_version(objects[index], request_timestamp)
                failures[index] = StatusDetail(obj.stix_id, version, result.reason)
            elif result.outcome is AddOutcome.CONFLICT:
                failures[index] = StatusDetail(
                    obj.stix_id,
                    result.version,
                    "A different object with this id and version is already in the collection.",
                )
            elif result.outcome is AddOutcome.DUPLICATE:
                successes[index] = StatusDetail(obj.stix_id, result.version, "Already stored.")
            else:
                successes[index] = StatusDetail(obj.stix_id, result.version)
        record = StatusRecord(
            id=status_id,
            feed_id=access.feed.id,
            member_id=member.id,
            request_timestamp=now,
            successes=tuple(successes[i] for i in sorted(successes)),
            failures=tuple(failures[i] for i in sorted(failures)),
        )
        hub.statuses.add(conn, record)
        stored = [(d.id, d.version) for d in record.successes]
        entry = Access(
            request_id or new_request_id(),
            "objects.add",
            member,
            access.feed.id,
            objects=stored,
            detail={"status": status_id, "failures": len(record.failures)},
        )
        append(hub, conn, entry, now=now)
    return record
