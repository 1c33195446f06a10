"""The operator's use-cases: admitting members, issuing tokens, creating feeds, granting.

These act on the database directly; no hub process needs to run. Every change
is one transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from exchange.db.records import FeedRecord, MemberKind, MemberRecord
from exchange.db.session import read_transaction, write_transaction
from exchange.errors import CollectionNotFound, Conflict, MemberNotFound
from exchange.protocol.directory import member_admitted_leaf, member_disabled_leaf
from exchange.protocol.ids import CollectionId, MemberId
from exchange.protocol.timestamps import micros_now
from exchange.services.auth import hash_token, new_token
from exchange.services.directory_log import append_statement
from exchange.services.hub import Hub

__all__ = [
    "GrantRecord",
    "add_feed",
    "add_member",
    "disable_member",
    "grant",
    "issue_token",
    "list_feeds",
    "list_members",
    "revoke",
    "revoke_tokens",
    "set_public",
]

_ALIAS = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}\Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """A member's rights on a feed after a grant or revoke."""

    member: MemberRecord
    feed: FeedRecord
    can_read: bool
    can_write: bool


def _member(hub: Hub, conn: Connection, ref: str) -> MemberRecord:
    member = hub.members.find(conn, ref)
    if member is None:
        raise MemberNotFound(ref)
    return member


def _feed(hub: Hub, conn: Connection, ref: str) -> FeedRecord:
    feed = hub.feeds.find(conn, ref)
    if feed is None:
        raise CollectionNotFound()
    return feed


def add_member(hub: Hub, name: str, kind: MemberKind) -> tuple[MemberRecord, str]:
    """Admit a member; return it and its first API token (shown once).

    Raises `Conflict` if the name is empty, too long, looks like a member id or is taken.
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise Conflict("A member name must be 1 to 200 characters.")
    if name.startswith("identity--"):
        raise Conflict("A member name must not look like a member id.")
    now = micros_now()
    member = MemberRecord(MemberId(f"identity--{uuid.uuid4()}"), name, kind, False, now)
    token = new_token()
    try:
        with write_transaction(hub.engine) as conn:
            if hub.members.find(conn, name) is not None:
                raise Conflict(f"A member called {name!r} already exists.")
            hub.members.add(conn, member)
            hub.members.add_token(conn, member.id, hash_token(token), now)
            statement = member_admitted_leaf(member.id, member.name, member.kind.value)
            append_statement(hub, conn, statement, "member.admitted", member_id=member.id, now=now)
    except IntegrityError as exc:
        raise Conflict(f"A member called {name!r} already exists.") from exc
    return member, token


def list_members(hub: Hub) -> list[MemberRecord]:
    """Return every member, oldest first."""
    with read_transaction(hub.engine) as conn:
        return hub.members.list_all(conn)


def disable_member(hub: Hub, ref: str) -> MemberRecord:
    """Disable a member (by id or name): its tokens stop working at once, on every process.

    Raises `MemberNotFound` if there is no such member.
    """
    with write_transaction(hub.engine) as conn:
        member = _member(hub, conn, ref)
        if not member.disabled:
            statement = member_disabled_leaf(member.id)
            append_statement(hub, conn, statement, "member.disabled", member_id=member.id)
        hub.members.set_disabled(conn, member.id, True)
        return _member(hub, conn, member.id)


def issue_token(hub: Hub, ref: str) -> tuple[MemberRecord, str]:
    """Issue an additional API token for a member; return it (shown once).

    Raises `MemberNotFound` if there is no such member.
    """
    token = new_token()
    with write_transaction(hub.engine) as conn:
        member = _member(hub, conn, ref)
        hub.members.add_token(conn, member.id, hash_token(token), micros_now())
    return member, token


def revoke_tokens(hub: Hub, ref: str) -> tuple[MemberRecord, int]:
    """Revoke every active token of a member; return it and how many were revoked.

    Raises `MemberNotFound` if there is no such member.
    """
    with write_transaction(hub.engine) as conn:
        member = _member(hub, conn, ref)
        return member, hub.members.revoke_tokens(conn, member.id, micros_now())


def add_feed(
    hub: Hub,
    alias: str,
    title: str,
    description: str | None = None,
    owner: str | None = None,
) -> FeedRecord:
    """Create a feed (a TAXII collection with a fresh uuid4 id).

    The owner, if given, is granted read and write. Raises `Conflict` for a
    malformed or taken alias or an empty title, `MemberNotFound` for an unknown owner.
    """
    if _ALIAS.match(alias) is None or _UUID.match(alias) is not None:
        raise Conflict(
            "An alias is 1-100 characters of a-z, 0-9, '.', '_' and '-', starting with a"
            " letter or digit, and is not itself a uuid."
        )
    title = title.strip()
    if not title or len(title) > 200:
        raise Conflict("A feed title must be 1 to 200 characters.")
    try:
        with write_transaction(hub.engine) as conn:
            if hub.feeds.find(conn, alias) is not None:
                raise Conflict(f"A feed with alias {alias!r} already exists.")
            owner_id = None if owner is None else _member(hub, conn, owner).id
            feed = FeedRecord(
                CollectionId(str(uuid.uuid4())),
                alias,
                title,
                description,
                owner_id,
                micros_now(),
            )
            hub.feeds.add(conn, feed)
            if owner_id is not None:
                hub.feeds.set_grant(conn, owner_id, feed.id, True, True)
    except IntegrityError as exc:
        raise Conflict(f"A feed with alias {alias!r} already exists.") from exc
    return feed


def set_public(hub: Hub, feed_ref: str, public: bool) -> FeedRecord:
    """Record the operator's consent to anonymous reading of a feed (or withdraw it).

    Anonymous reading also needs the feed's owner to have signed a public
    TLP:CLEAR policy: neither side alone opens a feed. Raises `CollectionNotFound`.
    """
    with write_transaction(hub.engine) as conn:
        feed = _feed(hub, conn, feed_ref)
        hub.feeds.set_public(conn, feed.id, public)
        return _feed(hub, conn, feed.id)


def list_feeds(hub: Hub) -> list[tuple[FeedRecord, list[tuple[MemberId, bool, bool]]]]:
    """Return every feed with its grants, oldest first."""
    with read_transaction(hub.engine) as conn:
        return [(feed, hub.feeds.grants(conn, feed.id)) for feed in hub.feeds.list_all(conn)]


def grant(hub: Hub, member_ref: str, feed_ref: str, *, read: bool, write: bool) -> GrantRecord:
    """Set a member's rights on a feed to exactly ``read``/``write``.

    Raises `MemberNotFound`, `CollectionNotFound`, or `Conflict` if neither right is
    given or the member is an auditor.
    """
    if not (read or write):
        raise Conflict("Grant at least one of read and write (use revoke to remove access).")
    with write_transaction(hub.engine) as conn:
        member = _member(hub, conn, member_ref)
        if member.kind is MemberKind.AUDITOR:
            raise Conflict(
                f"{member.name} is an auditor: auditors read the access log, never a feed."
            )
        feed = _feed(hub, conn, feed_ref)
        hub.feeds.set_grant(conn, member.id, feed.id, read, write)
    return GrantRecord(member, feed, read, write)


def revoke(hub: Hub, member_ref: str, feed_ref: str) -> GrantRecord:
    """Remove a member's rights on a feed; it then sees the feed as absent.

    Raises `MemberNotFound`, `CollectionNotFound`, or `Conflict` if there was no grant.
    """
    with write_transaction(hub.engine) as conn:
        member = _member(hub, conn, member_ref)
        feed = _feed(hub, conn, feed_ref)
        if not hub.feeds.remove_grant(conn, member.id, feed.id):
            raise Conflict(f"{member.name} has no grant on {feed.alias}.")
    return GrantRecord(member, feed, False, False)
