"""SQLAlchemy Core handles on the SQLModel tables, for the stores' queries."""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from exchange.db import models  # noqa: F401  (registers the tables)

__all__ = [
    "feed",
    "grant",
    "hub_secret",
    "key_bundle",
    "log_checkpoint",
    "log_head",
    "log_leaf",
    "log_node",
    "member",
    "policy_version",
    "status",
    "stix_object",
    "token",
]

_tables = SQLModel.metadata.tables
member: Table = _tables["member"]
token: Table = _tables["token"]
feed: Table = _tables["feed"]
grant: Table = _tables["feed_grant"]
stix_object: Table = _tables["stix_object"]
status: Table = _tables["status"]
hub_secret: Table = _tables["hub_secret"]
key_bundle: Table = _tables["key_bundle"]
policy_version: Table = _tables["policy_version"]
log_head: Table = _tables["log_head"]
log_leaf: Table = _tables["log_leaf"]
log_node: Table = _tables["log_node"]
log_checkpoint: Table = _tables["log_checkpoint"]
