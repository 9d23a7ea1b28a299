"""fix lookups: a request's tokens and audit rows by request id

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Confirm/approve/undo look up and retire a request's tokens; `gpubot audit --request`
    # reads its trail. Both tables only grow, so these must not become table scans.
    op.create_index("ix_fix_tokens_request_id", "fix_tokens", ["request_id"])
    op.create_index("ix_fix_audit_request_id", "fix_audit", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_fix_audit_request_id", "fix_audit")
    op.drop_index("ix_fix_tokens_request_id", "fix_tokens")
