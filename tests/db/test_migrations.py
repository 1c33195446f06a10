"""Alembic migrations against the SQLModel models, on SQLite and on PostgreSQL.

A fresh database migrated to head must have exactly the schema the models
declare (Alembic's own autogenerate comparison finds nothing to do),
migrating again must change nothing, and several processes migrating one
fresh database at once must all succeed and leave one schema behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, inspect, text
from sqlmodel import SQLModel

import exchange.db.models  # registers the tables on SQLModel.metadata
import exchange.db.session
from exchange.db.session import make_engine, migrate
from exchange.settings import HubSettings

MIGRATIONS = Path(exchange.db.session.__file__).parent / "migrations"
MODEL_TABLES = {"member", "token", "feed", "feed_grant", "stix_object", "status", "hub_secret"}


def head_revision() -> str:
    """The newest migration's revision id."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _differences(engine: Engine, metadata: MetaData = SQLModel.metadata) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "compare_server_default": True},
        )
        return list(compare_metadata(context, metadata))


def _state(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        secrets = conn.execute(text("SELECT name, value FROM hub_secret ORDER BY name")).all()
    return [tuple(r) for r in versions], [tuple(r) for r in secrets]


@pytest.fixture
def fresh(backend: str, make_settings: Callable[..., HubSettings]) -> HubSettings:
    """Settings naming a fresh, empty database of ``backend``."""
    return make_settings(backend)


def test_models_cover_exactly_the_hub_tables() -> None:
    assert set(SQLModel.metadata.tables) >= MODEL_TABLES


def test_migrated_schema_is_the_models_schema(fresh: HubSettings) -> None:
    engine = make_engine(fresh)
    try:
        assert set(inspect(engine).get_table_names()) == set()
        migrate(engine)
        tables = set(inspect(engine).get_table_names())
        assert tables == {*SQLModel.metadata.tables, "alembic_version"}
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_the_comparison_sees_a_drifted_model(fresh: HubSettings) -> None:
    """Control: the check is not vacuous; a model with an extra column is reported."""
    drifted = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["member"].append_column(Column("extra", Integer, nullable=True))
    engine = make_engine(fresh)
    try:
        migrate(engine)
        differences = _differences(engine, drifted)
    finally:
        engine.dispose()
    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "member", "extra")]


def test_migrate_is_idempotent(fresh: HubSettings) -> None:
    engine = make_engine(fresh)
    try:
        migrate(engine)
        first = _state(engine)
        assert first[0] == [(head_revision(),)]
        assert [name for name, _ in first[1]] == ["cursor-mac"]
        assert len(first[1][0][1]) == 32
        migrate(engine)
        migrate(engine)
        assert _state(engine) == first  # same version, same secret: nothing re-ran
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_concurrent_migrations_of_one_fresh_database_all_succeed(fresh: HubSettings) -> None:
    """Processes starting together (one engine each, as separate processes would) all migrate."""
    workers = 4
    engines = [make_engine(fresh, pooled=False) for _ in range(workers)]
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            barrier.wait(timeout=30)
            migrate(engine)
        except BaseException as exc:  # reported below, with the thread's exception
            errors.append(exc)

    # Daemon threads with one shared deadline: a deadlocked migration fails the test
    # instead of hanging the run (its connection dies when its database is dropped).
    threads = [threading.Thread(target=run, args=(e,), daemon=True) for e in engines]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not [t for t in threads if t.is_alive()], "a migration hung"
        assert errors == []
        versions, secrets = _state(engines[0])
        assert versions == [(head_revision(),)]
        assert [name for name, _ in secrets] == ["cursor-mac"]
        assert _differences(engines[0]) == []
    finally:
        for engine in engines:
            engine.dispose()
