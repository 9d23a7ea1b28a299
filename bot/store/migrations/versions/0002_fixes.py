"""guarded fixes: requests, single-use tokens, audit

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "fix_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("fix", sa.String(64), nullable=False),
        sa.Column("cluster", sa.String(255), nullable=False),
        sa.Column("playbook", sa.String(255), nullable=True),
        sa.Column("scope", sa.String(255), nullable=True),
        sa.Column("risk", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("plan", sa.Text, nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("requester", sa.String(64), nullable=True),
        sa.Column("approver", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("thread_ts", sa.String(64), nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("verification", sa.String(24), nullable=True),
        sa.Column("undo_of", sa.String(32), nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    op.create_index("ix_fix_requests_status", "fix_requests", ["status"])
    op.create_table(
        "fix_tokens",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=False),
        sa.Column("used_at", ts, nullable=True),
        sa.Column("used_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "fix_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", ts, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("fix", sa.String(64), nullable=True),
        sa.Column("cluster", sa.String(255), nullable=True),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_fix_audit_at", "fix_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_fix_audit_at", "fix_audit")
    op.drop_table("fix_audit")
    op.drop_table("fix_tokens")
    op.drop_index("ix_fix_requests_status", "fix_requests")
    op.drop_table("fix_requests")
