"""initial: dedupe, claims, alert threads, acknowledgements

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "dedupe",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_table(
        "claims",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=True),
    )
    op.create_table(
        "alert_threads",
        sa.Column("fingerprint", sa.String(255), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("firings", sa.Integer, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cluster", sa.String(255), nullable=False),
        sa.Column("playbook", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("until", ts, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_index("ix_ack_cluster_playbook", "acknowledgements", ["cluster", "playbook"])


def downgrade() -> None:
    op.drop_index("ix_ack_cluster_playbook", "acknowledgements")
    for table in ("acknowledgements", "alert_threads", "claims", "dedupe"):
        op.drop_table(table)
