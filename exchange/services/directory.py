"""The key directory: members' self-signed key bundles, kept forever.

A member uploads its own bundles only. The hub checks the bundle's form,
that it names the authenticated member, that its own keys sign it, and that
a rotation follows and is endorsed by the bundle in force; then it stores it
next to every earlier one. Nothing is overwritten.
"""

from __future__ import annotations

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from exchange.db.documents import StoredDocument
from exchange.db.records import MemberRecord
from exchange.db.session import read_transaction, write_transaction
from exchange.errors import Conflict, InvalidDocument, KeysNotFound
from exchange.protocol.directory import key_bundle_leaf
from exchange.protocol.errors import MalformedPayload
from exchange.protocol.keys import SignedKeyBundle, parse_key_bundle, verify_key_bundle
from exchange.protocol.timestamps import micros_now
from exchange.services.access_log import Access, append, new_request_id
from exchange.services.directory_log import append_statement
from exchange.services.hub import Hub
from policies import PolicyError

__all__ = ["current_bundle", "key_bundles", "register_key_bundle"]


def current_bundle(hub: Hub, conn: Connection, member_id: str) -> SignedKeyBundle | None:
    """Return the member's bundle in force (the newest), or None."""
    stored = hub.key_bundles.latest(conn, member_id)
    return None if stored is None else parse_key_bundle(stored.document)


def register_key_bundle(
    hub: Hub, member: MemberRecord, body: bytes, *, request_id: str | None = None
) -> StoredDocument:
    """Verify and store a key bundle uploaded by ``member``; return it as stored (and log
    the registration in the access log, in the same transaction).

    Raises `InvalidDocument` naming what failed (form, member, signature,
    endorsement, sequence), or `Conflict` if another bundle took the sequence first.
    """
    try:
        signed = parse_key_bundle(body)
    except MalformedPayload as exc:
        raise InvalidDocument(
            "key bundle", f"it {exc.reason}" if exc.field == "key bundle" else str(exc)
        ) from exc
    bundle = signed.keys
    if bundle.member != member.id:
        raise InvalidDocument("key bundle", "it names another member than the one uploading it")
    text = orjson.dumps(signed.model_dump(mode="json")).decode()
    try:
        with write_transaction(hub.engine) as conn:
            previous = current_bundle(hub, conn, member.id)
            try:
                verify_key_bundle(signed, previous)
            except MalformedPayload as exc:
                if exc.field != "sequence":  # a malformed rotation, not a stale or forked one
                    raise InvalidDocument("key bundle", str(exc)) from exc
                raise Conflict(f"The key bundle was refused: {exc.reason}.") from exc
            except PolicyError as exc:
                raise InvalidDocument("key bundle", exc.message) from exc
            record = StoredDocument(member.id, bundle.sequence, signed.digest, text, micros_now())
            hub.key_bundles.add(conn, record)
            detail = {"sequence": bundle.sequence, "digest": signed.digest}
            entry = Access(request_id or new_request_id(), "keys.register", member, detail=detail)
            append(hub, conn, entry)
            statement = key_bundle_leaf(member.id, bundle.sequence, signed.digest)
            append_statement(hub, conn, statement, "key-bundle", member_id=member.id)
    except IntegrityError as exc:
        raise Conflict("Another key bundle with this sequence was registered first.") from exc
    return record


def key_bundles(hub: Hub, member_ref: str) -> list[StoredDocument]:
    """Return every key bundle of a member (by id), oldest first.

    Raises `KeysNotFound` if the member does not exist or has no bundle (alike).
    """
    with read_transaction(hub.engine) as conn:
        found = hub.key_bundles.all(conn, member_ref)
    if not found:
        raise KeysNotFound(member_ref)
    return found
