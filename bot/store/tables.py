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
    # the diagnosis job that last counted a firing (migration 0004): a resumed job must not
    # count its firing twice
    Column("last_job", String(32), nullable=True),
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
    # rejected | interrupted | undoing | undone ; compare-and-set transitions only
    Column("status", String(24), nullable=False),
    Column("requester", String(64), nullable=True),
    Column("approver", String(64), nullable=True),
    Column("channel", String(64), nullable=True),
    Column("thread_ts", String(64), nullable=True),
    Column("result", Text, nullable=True),  # JSON ApplyResult or the failure line
    Column("verification", String(24), nullable=True),  # verified | still_failing | pending | ...
    Column("undo_of", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

fix_tokens = Table(
    "fix_tokens",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("purpose", String(16), nullable=False),  # offer|confirm|cancel|approve|reject|undo
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

# ---- durable diagnosis jobs (migration 0004) ----------------------------------------------------

diagnosis_jobs = Table(
    "diagnosis_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("trigger", String(16), nullable=False),  # slash | alert | webhook
    Column("cluster", String(255), nullable=True),
    Column("runbook", String(64), nullable=True),
    Column("playbooks", Text, nullable=True),  # JSON list: an alert route's playbooks
    Column("namespace", String(255), nullable=True),
    Column("workspace", String(255), nullable=True),
    Column("channel", String(64), nullable=False),
    Column("thread_ts", String(64), nullable=True),
    Column("progress_ts", String(64), nullable=True),  # the progress message, once posted
    # detail replies of the summary at progress_ts already in the thread (migration 0005)
    Column("replies_posted", Integer, nullable=False, server_default="0"),
    Column("title", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("requester", String(64), nullable=True),  # the Slack user id of a /gpu request
    Column("alert_fingerprint", String(255), nullable=True),
    Column("alert_name", String(255), nullable=True),
    Column("alert_status", String(16), nullable=True),
    # queued | running | delivering | done | failed | gave_up ; compare-and-set transitions
    Column("status", String(16), nullable=False),
    Column("owner", String(255), nullable=False),  # the process that runs it (bot.slack.jobs)
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),  # runs started, resumes included
    Column("reason", Text, nullable=True),  # why it failed or was given up
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

Index("ix_diagnosis_jobs_status_heartbeat", diagnosis_jobs.c.status, diagnosis_jobs.c.heartbeat_at)
Index("ix_fix_requests_status", fix_requests.c.status)
Index("ix_fix_audit_at", fix_audit.c.at)
Index("ix_fix_tokens_request_id", fix_tokens.c.request_id)  # migration 0003
Index("ix_fix_audit_request_id", fix_audit.c.request_id)
