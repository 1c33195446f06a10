"""Members, tokens, feeds, grants, objects, status resources and the hub secret.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "token",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("member_id", sa.String(64), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_token_member_id", "token", ["member_id"])
    op.create_table(
        "feed",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("alias", sa.String(100), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.String(64), sa.ForeignKey("member.id"), nullable=True),
        sa.Column("policy_ref", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_added", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "feed_grant",
        sa.Column("member_id", sa.String(64), sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("feed_id", sa.String(36), sa.ForeignKey("feed.id"), primary_key=True),
        sa.Column("can_read", sa.Boolean(), nullable=False),
        sa.Column("can_write", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "stix_object",
        sa.Column("seq", _BigId, primary_key=True, autoincrement=True),
        sa.Column("feed_id", sa.String(36), sa.ForeignKey("feed.id"), nullable=False),
        sa.Column("stix_id", sa.String(300), nullable=False),
        sa.Column("type", sa.String(250), nullable=False),
        sa.Column("spec_version", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("version_key", sa.String(40), nullable=False),
        sa.Column("date_added", sa.BigInteger(), nullable=False),
        sa.Column("is_first", sa.Boolean(), nullable=False),
        sa.Column("is_last", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.UniqueConstraint("feed_id", "date_added", name="uq_object_feed_added"),
        sa.UniqueConstraint("feed_id", "stix_id", "version_key", name="uq_object_feed_id_version"),
    )
    op.create_index(
        "ix_object_feed_last_added", "stix_object", ["feed_id", "is_last", "date_added"]
    )
    op.create_index("ix_object_feed_type_added", "stix_object", ["feed_id", "type", "date_added"])
    op.create_table(
        "status",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("feed_id", sa.String(36), sa.ForeignKey("feed.id"), nullable=False),
        sa.Column("member_id", sa.String(64), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("request_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Text(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("pendings", sa.Text(), nullable=False),
    )
    op.create_index("ix_status_feed_id", "status", ["feed_id"])
    secret_table = op.create_table(
        "hub_secret",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
    )
    op.bulk_insert(secret_table, [{"name": "cursor-mac", "value": secrets.token_bytes(32)}])


def downgrade() -> None:
    for table in ("hub_secret", "status", "stix_object", "feed_grant", "feed", "token", "member"):
        op.drop_table(table)
