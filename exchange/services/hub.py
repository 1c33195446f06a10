"""The hub's dependencies in one place: settings, engine and stores."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from exchange.audit.signer import LogKey
from exchange.db.documents import DocumentStore, SqlDocumentStore
from exchange.db.feeds import FeedStore, SqlFeedStore
from exchange.db.logs import GroupCommit, SqlLogStore
from exchange.db.members import MemberStore, SqlMemberStore
from exchange.db.objects import ObjectStore, SqlObjectStore
from exchange.db.secrets import CURSOR_MAC, load_secret
from exchange.db.session import make_engine, migrate, read_transaction
from exchange.db.statuses import SqlStatusStore, StatusStore
from exchange.protocol.keys import SignedKeyBundle
from exchange.services.stix import Validator
from exchange.settings import HubSettings
from policies import SignedPolicy

__all__ = ["Hub"]


@dataclass(frozen=True, slots=True)
class Hub:
    """What every use-case needs; one per process."""

    settings: HubSettings
    engine: Engine
    members: MemberStore
    feeds: FeedStore
    objects: ObjectStore
    statuses: StatusStore
    key_bundles: DocumentStore
    policies: DocumentStore
    logs: SqlLogStore
    cursor_key: bytes
    verified_policies: dict[str, SignedPolicy] = field(default_factory=dict)
    """Signed policies already verified, keyed by their stored text (content-addressed)."""
    verified_chains: dict[tuple[str, ...], list[SignedKeyBundle]] = field(default_factory=dict)
    """Members' verified key-bundle chains, keyed by the digests of their stored bundles."""
    validator: Validator = field(default_factory=Validator)
    """Validates posted objects, large envelopes in a pool of processes."""
    access_commits: GroupCommit = field(default_factory=GroupCommit)
    """Batches the access-log leaves of concurrent reads into shared commits."""
    _log_key: list[LogKey] = field(default_factory=list)

    def log_key(self) -> LogKey:
        """The hub's log key, loaded from ``home`` on first use (created if there is none).

        Raises `LogKeyError` if the key file is unusable or others can read it.
        """
        if not self._log_key:
            self.settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._log_key.append(LogKey.load_or_create(self.settings.home)[0])
        return self._log_key[0]

    @classmethod
    def open(cls, settings: HubSettings, *, migrate_first: bool = True) -> Hub:
        """Connect to the database of ``settings``, migrating it forward first by default."""
        engine = make_engine(settings)
        if migrate_first:
            migrate(engine)
        with read_transaction(engine) as conn:
            cursor_key = load_secret(conn, CURSOR_MAC)
        return cls(
            settings=settings,
            engine=engine,
            members=SqlMemberStore(),
            feeds=SqlFeedStore(),
            objects=SqlObjectStore(),
            statuses=SqlStatusStore(),
            key_bundles=SqlDocumentStore.key_bundles(),
            policies=SqlDocumentStore.policies(),
            logs=SqlLogStore(),
            cursor_key=cursor_key,
            validator=Validator(settings.validation_processes),
        )

    def close(self) -> None:
        """Release the database connections and stop the validation processes."""
        self.validator.close()
        self.engine.dispose()
