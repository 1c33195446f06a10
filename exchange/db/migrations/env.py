"""Alembic environment: migrations run on a connection handed over by ``migrate``."""

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

from exchange.db import models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:  # the plain `alembic` command line, from [tool.alembic] in pyproject.toml
    from exchange.settings import get_settings

    engine = create_engine(get_settings().sqlalchemy_url())
    with engine.begin() as conn:
        _run(conn)
