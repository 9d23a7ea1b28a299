"""durable diagnosis jobs, and the job that last counted an alert thread's firing

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "diagnosis_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("cluster", sa.String(255), nullable=True),
        sa.Column("runbook", sa.String(64), nullable=True),
        sa.Column("playbooks", sa.Text, nullable=True),
        sa.Column("namespace", sa.String(255), nullable=True),
        sa.Column("workspace", sa.String(255), nullable=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(64), nullable=True),
        sa.Column("progress_ts", sa.String(64), nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("requester", sa.String(64), nullable=True),
        sa.Column("alert_fingerprint", sa.String(255), nullable=True),
        sa.Column("alert_name", sa.String(255), nullable=True),
        sa.Column("alert_status", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("heartbeat_at", ts, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    # The sweep asks "which unfinished jobs have a stale heartbeat" every few seconds.
    op.create_index(
        "ix_diagnosis_jobs_status_heartbeat", "diagnosis_jobs", ["status", "heartbeat_at"]
    )
    with op.batch_alter_table("alert_threads") as batch:
        batch.add_column(sa.Column("last_job", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_threads") as batch:
        batch.drop_column("last_job")
    op.drop_index("ix_diagnosis_jobs_status_heartbeat", "diagnosis_jobs")
    op.drop_table("diagnosis_jobs")
