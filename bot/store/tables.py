"""Table definitions (SQLAlchemy Core). Changes here need an Alembic migration."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

dedupe = Table(
    "dedupe",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

claims = Table(
    "claims",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)

alert_threads = Table(
    "alert_threads",
    metadata,
    Column("fingerprint", String(255), primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("thread_ts", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("firings", Integer, nullable=False, default=1),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

acknowledgements = Table(
    "acknowledgements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster", String(255), nullable=False),
    Column("playbook", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # ack | snooze
    Column("user_id", String(64), nullable=False),
    Column("until", DateTime(timezone=True), nullable=True),
    Column("note", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# ---- guarded fixes (migration 0002) ------------------------------------------------------------

fix_requests = Table(
    "fix_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("fix", String(64), nullable=False),
    Column("cluster", String(255), nullable=False),
    Column("playbook", String(255), nullable=True),
    Column("scope", String(255), nullable=True),  # "namespace/workspace" the diagnosis ran on
    Column("risk", String(16), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("plan", Text, nullable=True),  # JSON FixPlan
    # planned | awaiting_approval | applying | applied | failed | refused | cancelled |
    # rejected | interrupted | undone ; compare-and-set transitions only
    Column("status", String(24), nullable=False),
    Column("requester", String(64), nullable=True),
    Column("approver", String(64), nullable=True),
    Column("channel", String(64), nullable=True),
    Column("thread_ts", String(64), nullable=True),
    Column("result", Text, nullable=True),  # JSON ApplyResult or the failure line
    Column("verification", String(24), nullable=True),  # gone | still_failing | pending | ...
    Column("undo_of", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

fix_tokens = Table(
    "fix_tokens",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("purpose", String(16), nullable=False),  # offer | confirm | approve | undo
    Column("request_id", String(32), nullable=True),
    Column("payload", Text, nullable=True),  # JSON: an offer's fix, params, cluster, playbook
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("used_by", String(64), nullable=True),
)

fix_audit = Table(
    "fix_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("request_id", String(32), nullable=True),
    Column("fix", String(64), nullable=True),
    Column("cluster", String(255), nullable=True),
    Column("target", Text, nullable=True),
    Column("actor", String(64), nullable=False),
    # planned | refused | requested | approved | rejected | cancelled | applying | applied |
    # failed | conflict | verified | still_failing | pending | undone | interrupted
    Column("action", String(24), nullable=False),
    Column("reason", Text, nullable=True),
    Column("channel", String(64), nullable=True),
    Column("detail", Text, nullable=True),  # JSON: the plan, the result
)

Index("ix_fix_requests_status", fix_requests.c.status)
Index("ix_fix_audit_at", fix_audit.c.at)
