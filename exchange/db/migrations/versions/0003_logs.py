"""The Merkle logs (access and directory): heads, leaves, perfect-subtree nodes,
checkpoints; and the unused ``feed.policy_ref`` column goes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_LOGS = ("access", "directory")


def upgrade() -> None:
    head = op.create_table(
        "log_head",
        sa.Column("log", sa.String(16), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(head, [{"log": log, "size": 0} for log in _LOGS])
    op.create_table(
        "log_leaf",
        sa.Column("log", sa.String(16), primary_key=True),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=True),
        sa.Column("feed_id", sa.String(36), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_log_leaf_feed", "log_leaf", ["log", "feed_id", "idx"])
    op.create_index("ix_log_leaf_member", "log_leaf", ["log", "member_id", "idx"])
    op.create_index("ix_log_leaf_time", "log_leaf", ["log", "time"])
    op.create_index("ix_log_leaf_hash", "log_leaf", ["log", "hash"])
    op.create_table(
        "log_node",
        sa.Column("log", sa.String(16), primary_key=True),
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "log_checkpoint",
        sa.Column("log", sa.String(16), primary_key=True),
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("policy_ref")


def downgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("policy_ref", sa.String(200), nullable=True))
    op.drop_table("log_checkpoint")
    op.drop_table("log_node")
    op.drop_index("ix_log_leaf_hash", "log_leaf")
    op.drop_index("ix_log_leaf_time", "log_leaf")
    op.drop_index("ix_log_leaf_member", "log_leaf")
    op.drop_index("ix_log_leaf_feed", "log_leaf")
    op.drop_table("log_leaf")
    op.drop_table("log_head")
