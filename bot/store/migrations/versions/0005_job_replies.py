"""diagnosis jobs: how many detail replies of the summary are already in the thread

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A job resumed after dying mid-thread skips the replies it had posted (bot/slack/jobs.py).
    with op.batch_alter_table("diagnosis_jobs") as batch:
        batch.add_column(
            sa.Column("replies_posted", sa.Integer, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("diagnosis_jobs") as batch:
        batch.drop_column("replies_posted")
