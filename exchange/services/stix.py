"""STIX 2.1 validation of objects posted to a feed.

Each object must be a JSON object with a well-formed ``type`` and an ``id`` of
that type; ``spec_version`` must be ``2.1`` (it may be absent only on cyber
observables, STIX 2.1 §6.1); ``created``/``modified`` must be STIX timestamps
with ``modified`` not before ``created``; and the ``stix2`` library's
type-specific rules must pass. Objects of types that ``stix2`` does not know
(custom objects, or new types defined by an ``extension-definition``) get the
common-property checks. Every property a type does not define (all but ``id``
on custom objects) must follow the STIX 2.1 §3.1 property-name rules.

Validation is CPU-bound Python (the ``stix2`` library; an indicator's pattern
alone is ~250 µs), so threads cannot share it: `Validator` sends the objects
of a large envelope to a pool of processes in chunks, one per process, and
gives the same results in the same order as validating them in place.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import time
from collections.abc import Collection, Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from typing import Any

import orjson
import stix2
from stix2 import registry

from exchange.db.records import NewObject
from exchange.protocol.errors import MalformedPayload
from exchange.protocol.ids import StixId, is_stix_id
from exchange.protocol.timestamps import version_key

__all__ = ["InvalidObject", "Validator", "object_id", "validate_object"]

_TYPE = re.compile(r"[a-z0-9][a-z0-9-]{1,248}[a-z0-9]\Z")
_PROPERTY = re.compile(r"[a-z0-9_]{3,250}\Z")
_MAX_REASON = 300
_SCO_TYPES = frozenset(registry.STIX2_OBJ_MAPS["2.1"]["observables"])
_KNOWN_CLASSES = {
    **registry.STIX2_OBJ_MAPS["2.1"]["objects"],
    **registry.STIX2_OBJ_MAPS["2.1"]["observables"],
}
_KNOWN_TYPES = frozenset(_KNOWN_CLASSES)
_COMMON_PROPERTIES = frozenset({"id"})  # the one predefined property shorter than 3 characters


class InvalidObject(Exception):
    """Raised for an object that is not valid STIX 2.1; ``reason`` is safe to show its sender."""

    def __init__(self, stix_id: str, version: str | None, reason: str) -> None:
        super().__init__(reason)
        self.stix_id = stix_id
        self.version = version
        self.reason = reason[:_MAX_REASON]


def _timestamp(raw: dict[str, Any], name: str, stix_id: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidObject(stix_id, None, f"'{name}' must be a STIX timestamp string")
    try:
        return version_key(value, field=name)
    except MalformedPayload as exc:
        raise InvalidObject(stix_id, None, f"'{name}' {exc.reason}") from exc


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _same_kinds(sent: Any, parsed: Any) -> bool:
    """Return True if ``sent`` has the JSON kinds of ``parsed`` (its stix2 round trip)."""
    if isinstance(sent, dict):
        return isinstance(parsed, dict) and all(
            _same_kinds(value, parsed[name]) for name, value in sent.items() if name in parsed
        )
    if isinstance(sent, list):
        return (
            isinstance(parsed, list)
            and len(sent) == len(parsed)
            and all(_same_kinds(a, b) for a, b in zip(sent, parsed, strict=True))
        )
    return _kind(sent) == _kind(parsed)


def validate_object(raw: Any, *, stix_id: str) -> NewObject:
    """Return ``raw`` as a `NewObject` ready to store.

    ``stix_id`` is the object's ``id``, already checked by the caller to be a
    well-formed identifier. Raises `InvalidObject` if ``raw`` is not valid STIX 2.1.
    """
    obj_type = raw.get("type")
    if not isinstance(obj_type, str) or _TYPE.match(obj_type) is None:
        raise InvalidObject(stix_id, None, "'type' must be 3-250 characters of a-z, 0-9 and '-'")
    if stix_id.rsplit("--", 1)[0] != obj_type:
        raise InvalidObject(stix_id, None, f"'id' must start with its type, '{obj_type}--'")
    if obj_type == "bundle":
        raise InvalidObject(stix_id, None, "a bundle is not a STIX object: post its objects")
    spec_version = raw.get("spec_version")
    if spec_version is None and obj_type not in _SCO_TYPES:
        raise InvalidObject(stix_id, None, "'spec_version' is required and must be '2.1'")
    if spec_version is not None and spec_version != "2.1":
        raise InvalidObject(stix_id, None, "'spec_version' must be '2.1'")

    created_key = _timestamp(raw, "created", stix_id)
    modified_key = _timestamp(raw, "modified", stix_id)
    version: str | None = raw.get("modified") or raw.get("created")
    key = modified_key or created_key
    if created_key and modified_key and modified_key < created_key:
        raise InvalidObject(stix_id, version, "'modified' must not be earlier than 'created'")

    defined: Collection[str] = _COMMON_PROPERTIES
    if obj_type in _KNOWN_TYPES:
        try:
            parsed = orjson.loads(stix2.parse(raw, allow_custom=True, version="2.1").serialize())
        except Exception as exc:  # stix2 raises many types; every one means "invalid"
            raise InvalidObject(stix_id, version, str(exc) or type(exc).__name__) from exc
        # stix2 coerces ("50" -> 50, "x" -> ["x"], 42 -> "42") where STIX 2.1 does not;
        # we store what was sent, so what was sent must already have the right types.
        for name, value in raw.items():
            if name in parsed and not _same_kinds(value, parsed[name]):
                raise InvalidObject(stix_id, version, f"{name[:60]!r} has the wrong JSON type")
        defined = _KNOWN_CLASSES[obj_type]._properties
    # stix2 lets custom properties on its own types through with upper case or
    # fewer than 3 characters; STIX 2.1 §3.1/§11.1 forbids both.
    for name in raw:
        if name not in defined and _PROPERTY.match(name) is None:
            raise InvalidObject(
                stix_id, version, f"property name {name[:60]!r} is not 3-250 of [a-z0-9_]"
            )

    return NewObject(
        stix_id=StixId(stix_id),
        type=obj_type,
        spec_version="2.1",
        version=version,
        version_key=key,
        body=orjson.dumps(raw).decode(),
    )


def object_id(raw: Any) -> str | None:
    """Return the object's ``id`` if it is a JSON object with a well-formed STIX id, else None."""
    if not isinstance(raw, dict):
        return None
    value = raw.get("id")
    return value if isinstance(value, str) and is_stix_id(value) else None


_PARALLEL_FROM = 64
"""Envelopes with fewer objects are validated in place: shipping them costs more."""

_Failure = tuple[str, str | None, str]  # an InvalidObject's (stix_id, version, reason)


def _exit_with(parent: int) -> None:
    """In a pool process: exit once the hub process that started it is gone (a hub
    killed outright cannot stop its pool, and an idle pool process never learns of it)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _validate_chunk(chunk: list[dict[str, Any]]) -> list[NewObject | _Failure]:
    """Validate objects (in a pool process); failures come back as plain tuples."""
    results: list[NewObject | _Failure] = []
    for raw in chunk:
        try:
            results.append(validate_object(raw, stix_id=raw["id"]))
        except InvalidObject as exc:
            results.append((exc.stix_id, exc.version, exc.reason))
    return results


class Validator:
    """Validates the objects of an envelope, in a pool of processes when it is large.

    ``processes`` is the pool's size (0: one per CPU; 1: always in place). The
    pool starts on first use or `start` (spawned, not forked: the hub's threads
    and database connections stay behind, so a script that runs a hub must
    guard its ``__main__``, as ``exchange serve``, uvicorn and pytest do) and
    is shut down by `close`. If it breaks, or is being shut down, the objects
    are validated in place and a new pool is made next time.
    """

    def __init__(self, processes: int = 0) -> None:
        self.processes = processes or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def validate(self, objects: Sequence[dict[str, Any]]) -> list[NewObject | InvalidObject]:
        """Return, for each object (its ``id`` already checked), a `NewObject` or the
        `InvalidObject` that `validate_object` raises for it."""
        if self.processes < 2 or len(objects) < _PARALLEL_FROM:
            return [self._in_place(raw) for raw in objects]
        size = -(-len(objects) // self.processes)
        chunks = [list(objects[i : i + size]) for i in range(0, len(objects), size)]
        try:
            done = list(self._executor().map(_validate_chunk, chunks))
        except BrokenExecutor:
            self.close()
            return [self._in_place(raw) for raw in objects]
        except RuntimeError:  # another request's `close` shut this pool down meanwhile
            return [self._in_place(raw) for raw in objects]
        return [
            InvalidObject(*result) if isinstance(result, tuple) else result
            for results in done
            for result in results
        ]

    @staticmethod
    def _in_place(raw: dict[str, Any]) -> NewObject | InvalidObject:
        try:
            return validate_object(raw, stix_id=raw["id"])
        except InvalidObject as exc:
            return exc

    def start(self) -> None:
        """Start the pool's processes now (in the background), not on the first large
        envelope, which would otherwise wait the second they take to start."""
        if self.processes >= 2:
            for _ in range(self.processes):
                self._executor().submit(_validate_chunk, [])

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exit_with,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def close(self) -> None:
        """Stop the pool's processes (a later `validate` starts a new pool)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
