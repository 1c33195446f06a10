"""Domain records the stores speak in: frozen, typed, free of SQL."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from exchange.protocol.ids import CollectionId, MemberId, StixId

__all__ = [
    "FeedAccess",
    "FeedRecord",
    "MemberKind",
    "MemberRecord",
    "NewObject",
    "ObjectQuery",
    "StoredRow",
    "VersionFilter",
]


class MemberKind(StrEnum):
    """What kind of organisation a member is."""

    AUTHORITY = "authority"
    INDUSTRY = "industry"
    RESEARCH = "research"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A member as stored."""

    id: MemberId
    name: str
    kind: MemberKind
    disabled: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """A feed (TAXII collection) as stored."""

    id: CollectionId
    alias: str
    title: str
    description: str | None
    owner_id: MemberId | None
    created_at: int
    public: bool = False


@dataclass(frozen=True, slots=True)
class FeedAccess:
    """A feed together with what one member may do in it."""

    feed: FeedRecord
    can_read: bool
    can_write: bool
    retention_days: int | None = None
    """How long the policy in force keeps objects; older ones are never served."""


@dataclass(frozen=True, slots=True)
class NewObject:
    """A validated STIX object ready to store.

    ``version_key`` is None for an object with neither ``modified`` nor
    ``created``: the store then gives it its first ``date_added`` as version.
    """

    stix_id: StixId
    type: str
    spec_version: str
    version: str | None
    version_key: str | None
    body: str


@dataclass(frozen=True, slots=True)
class VersionFilter:
    """``match[version]`` (TAXII 2.1 §3.4.1): ``all``, or any of first/last/exact keys."""

    all: bool = False
    first: bool = False
    last: bool = False
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ObjectQuery:
    """The filters of an objects, manifest, object or versions request."""

    versions: VersionFilter = VersionFilter(last=True)
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    spec_versions: tuple[str, ...] = ()
    added_after: int | None = None
    stix_id: StixId | None = None


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One stored version as a page needs it; ``body`` only when asked for."""

    stix_id: StixId
    version: str
    date_added: int
    body: str | None
