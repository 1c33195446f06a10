"""The hub's tables. SQLModel ``table=True`` classes only.

Times are integer microseconds since the Unix epoch. ``StixObject.body`` holds
each object as the JSON it was received in (re-encoded compactly), so serving
a page never re-parses it.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

__all__ = [
    "Feed",
    "Grant",
    "HubSecret",
    "KeyBundleRecord",
    "LogCheckpoint",
    "LogHead",
    "LogLeaf",
    "LogNode",
    "Member",
    "PolicyVersion",
    "StatusRecord",
    "StixObject",
    "Token",
]

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class Member(SQLModel, table=True):
    """An organisation admitted to the hub. ``id`` is also its STIX identity id."""

    __tablename__ = "member"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=16)
    disabled: bool = Field(default=False)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class Token(SQLModel, table=True):
    """An API token, stored only as the SHA-256 of its random value."""

    __tablename__ = "token"

    hash: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=64)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Feed(SQLModel, table=True):
    """A feed: one TAXII collection, with its owner and (later) its signed policy."""

    __tablename__ = "feed"

    id: str = Field(primary_key=True, max_length=36)
    alias: str = Field(unique=True, max_length=100)
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    owner_id: str | None = Field(default=None, foreign_key="member.id", max_length=64)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The operator's consent to anonymous reading; needs a public TLP:CLEAR policy too.
    public: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # The largest date_added ever given out in this feed; the row is locked to add.
    last_added: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class Grant(SQLModel, table=True):
    """A member's read and write rights on a feed."""

    __tablename__ = "feed_grant"

    member_id: str = Field(foreign_key="member.id", primary_key=True, max_length=64)
    feed_id: str = Field(foreign_key="feed.id", primary_key=True, max_length=36)
    can_read: bool = Field(default=False)
    can_write: bool = Field(default=False)


class StixObject(SQLModel, table=True):
    """One version of one STIX object in one feed."""

    __tablename__ = "stix_object"
    __table_args__ = (
        UniqueConstraint("feed_id", "date_added", name="uq_object_feed_added"),
        UniqueConstraint("feed_id", "stix_id", "version_key", name="uq_object_feed_id_version"),
        Index("ix_object_feed_last_added", "feed_id", "is_last", "date_added"),
        Index("ix_object_feed_type_added", "feed_id", "type", "date_added"),
    )

    seq: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True))
    feed_id: str = Field(foreign_key="feed.id", max_length=36)
    stix_id: str = Field(max_length=300)
    type: str = Field(max_length=250)
    spec_version: str = Field(max_length=16)
    version: str = Field(max_length=64)
    version_key: str = Field(max_length=40)
    date_added: int = Field(sa_column=Column(BigInteger, nullable=False))
    is_first: bool
    is_last: bool
    body: str = Field(sa_column=Column(Text, nullable=False))


class StatusRecord(SQLModel, table=True):
    """A TAXII status resource; its details lists are stored as JSON text."""

    __tablename__ = "status"

    id: str = Field(primary_key=True, max_length=36)
    feed_id: str = Field(foreign_key="feed.id", index=True, max_length=36)
    member_id: str = Field(foreign_key="member.id", max_length=64)
    request_timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(max_length=16)
    total_count: int
    success_count: int
    failure_count: int
    pending_count: int
    successes: str = Field(sa_column=Column(Text, nullable=False))
    failures: str = Field(sa_column=Column(Text, nullable=False))
    pendings: str = Field(sa_column=Column(Text, nullable=False))


class HubSecret(SQLModel, table=True):
    """Named random secrets shared by every hub process (the cursor MAC key)."""

    __tablename__ = "hub_secret"

    name: str = Field(primary_key=True, max_length=64)
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class KeyBundleRecord(SQLModel, table=True):
    """One signed key bundle of a member, as received; never overwritten."""

    __tablename__ = "key_bundle"

    member_id: str = Field(foreign_key="member.id", primary_key=True, max_length=64)
    sequence: int = Field(primary_key=True)
    digest: str = Field(max_length=71)
    document: str = Field(sa_column=Column(Text, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class PolicyVersion(SQLModel, table=True):
    """One signed version of a feed's sharing policy, as received; never overwritten."""

    __tablename__ = "policy_version"

    feed_id: str = Field(foreign_key="feed.id", primary_key=True, max_length=36)
    version: int = Field(primary_key=True)
    digest: str = Field(max_length=71)
    document: str = Field(sa_column=Column(Text, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class LogHead(SQLModel, table=True):
    """The size of one Merkle log; its row is locked to append, so indices have no gap."""

    __tablename__ = "log_head"

    log: str = Field(primary_key=True, max_length=16)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))


class LogLeaf(SQLModel, table=True):
    """One leaf of a Merkle log: its canonical JSON event, its leaf hash, and the event's
    time, action, member and feed copied out for filtering."""

    __tablename__ = "log_leaf"
    __table_args__ = (
        Index("ix_log_leaf_feed", "log", "feed_id", "idx"),
        Index("ix_log_leaf_member", "log", "member_id", "idx"),
        Index("ix_log_leaf_time", "log", "time"),
        Index("ix_log_leaf_hash", "log", "hash"),
    )

    log: str = Field(primary_key=True, max_length=16)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    time: int = Field(sa_column=Column(BigInteger, nullable=False))
    action: str = Field(max_length=40)
    member_id: str | None = Field(default=None, max_length=64)
    feed_id: str | None = Field(default=None, max_length=36)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogNode(SQLModel, table=True):
    """The hash of one perfect subtree of a Merkle log, written once when it is complete:
    ``MTH(leaves[idx * 2**level : (idx + 1) * 2**level])``."""

    __tablename__ = "log_node"

    log: str = Field(primary_key=True, max_length=16)
    level: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogCheckpoint(SQLModel, table=True):
    """A signed checkpoint of a Merkle log (a C2SP signed note), kept forever."""

    __tablename__ = "log_checkpoint"

    log: str = Field(primary_key=True, max_length=16)
    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
