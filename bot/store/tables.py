"""Table definitions (SQLAlchemy Core). Changes here need an Alembic migration."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

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
