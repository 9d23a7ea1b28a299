"""Durable diagnosis jobs: what a process accepted, so another can redo it if that one dies.

A job row holds what is needed to run the diagnosis again and where its messages are; never a
response_url, a token or a raw payload. Ownership is a lease: the owner renews `heartbeat_at`
while the job is queued or running, and a job whose heartbeat is older than the lease is an
orphan any replica may take. Every move is one `UPDATE ... WHERE owner = me AND status IN
(...)` (or, to take an orphan, `WHERE heartbeat_at < cutoff`), so the database picks exactly
one winner when replicas race.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, insert, select, update
from sqlalchemy.engine import Engine

from bot.store import tables
from bot.store.rows import aware as utc_aware
from bot.store.rows import now as utc_now

ACTIVE = ("queued", "running", "delivering")  # an orphan in any of these is resumed
FINISHED = ("done", "failed", "gave_up")
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class JobSpec:
    """What to redo: the trigger, the diagnosis and where it was asked for."""

    trigger: str  # slash | alert | webhook
    channel: str
    title: str
    total: int
    cluster: str | None = None
    runbook: str | None = None
    playbooks: list[str] | None = None
    namespace: str | None = None
    workspace: str | None = None
    thread_ts: str | None = None
    requester: str | None = None
    alert_fingerprint: str | None = None
    alert_name: str | None = None
    alert_status: str | None = None


@dataclass(frozen=True)
class Job:
    id: str
    spec: JobSpec
    status: str
    owner: str
    attempts: int
    heartbeat_at: datetime
    # where the messages go; an alert's triage moves to the alert's first thread
    channel: str
    thread_ts: str | None = None
    progress_ts: str | None = None
    reason: str | None = None
    replies_posted: int = 0  # detail replies of the summary at progress_ts in the thread


def _job(row: Any) -> Job:
    spec = JobSpec(
        trigger=row.trigger,
        channel=row.channel,
        title=row.title,
        total=row.total,
        cluster=row.cluster,
        runbook=row.runbook,
        playbooks=json.loads(row.playbooks) if row.playbooks else None,
        namespace=row.namespace,
        workspace=row.workspace,
        thread_ts=row.thread_ts,
        requester=row.requester,
        alert_fingerprint=row.alert_fingerprint,
        alert_name=row.alert_name,
        alert_status=row.alert_status,
    )
    return Job(
        id=row.id,
        spec=spec,
        status=row.status,
        owner=row.owner,
        attempts=row.attempts,
        heartbeat_at=utc_aware(row.heartbeat_at),
        progress_ts=row.progress_ts,
        reason=row.reason,
        replies_posted=row.replies_posted or 0,
        channel=row.channel,
        thread_ts=row.thread_ts,
    )


class JobBook:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, spec: JobSpec, *, owner: str) -> Job:
        now = utc_now()
        job_id = secrets.token_hex(8)
        values = {
            **asdict(spec),
            "playbooks": json.dumps(spec.playbooks) if spec.playbooks is not None else None,
        }
        with self.engine.begin() as conn:
            conn.execute(
                insert(tables.diagnosis_jobs).values(
                    id=job_id,
                    **values,
                    status="queued",
                    owner=owner,
                    heartbeat_at=now,
                    attempts=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        t = tables.diagnosis_jobs
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == job_id)).first()
        return None if row is None else _job(row)

    def _move(self, job_id: str, owner: str, allowed: tuple[str, ...], **values: Any) -> bool:
        t = tables.diagnosis_jobs
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(t)
                .where(and_(t.c.id == job_id, t.c.owner == owner, t.c.status.in_(allowed)))
                .values(updated_at=utc_now(), **values)
            )
        return moved.rowcount == 1

    def start(self, job_id: str, owner: str) -> bool:
        """The owner begins (or begins again) the diagnosis. False: no longer ours."""
        return self._move(job_id, owner, ACTIVE, status="running")

    def set_thread(self, job_id: str, owner: str, channel: str, thread_ts: str) -> bool:
        """An alert's thread is decided and its firing counted: a resume goes straight there."""
        return self._move(
            job_id, owner, ACTIVE, status="running", channel=channel, thread_ts=thread_ts
        )

    def posted(self, job_id: str, owner: str, channel: str, progress_ts: str) -> bool:
        """The progress message (later the summary) exists: a resume updates it instead of
        posting another. A different message than before has none of the replies yet."""
        t = tables.diagnosis_jobs
        same = and_(t.c.progress_ts == progress_ts, t.c.channel == channel)
        return self._move(
            job_id,
            owner,
            ACTIVE,
            channel=channel,
            progress_ts=progress_ts,
            replies_posted=case((same, t.c.replies_posted), else_=0),
        )

    def replied(self, job_id: str, owner: str, count: int) -> bool:
        """The first `count` detail replies of the summary are in the thread: a run resumed
        after this process dies posts only the ones after them."""
        return self._move(job_id, owner, ("delivering",), replies_posted=count)

    def begin_delivery(self, job_id: str, owner: str) -> bool:
        """The fence before the summary: only the current owner may post it. A process whose
        lease lapsed (and whose job another replica took) gets False and posts nothing."""
        return self._move(job_id, owner, ("running",), status="delivering")

    def finish(self, job_id: str, owner: str, status: str, reason: str | None = None) -> bool:
        assert status in FINISHED, status
        return self._move(job_id, owner, ACTIVE, status=status, reason=reason)

    def heartbeat(self, owner: str) -> int:
        """Renew every unfinished job this owner holds; returns how many."""
        t = tables.diagnosis_jobs
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(t)
                .where(and_(t.c.owner == owner, t.c.status.in_(ACTIVE)))
                .values(heartbeat_at=utc_now())
            )
        return int(renewed.rowcount)

    def orphans(self, lease: timedelta, *, limit: int = 50) -> list[Job]:
        """Unfinished jobs whose owner stopped renewing them for longer than `lease`."""
        t = tables.diagnosis_jobs
        cutoff = utc_now() - lease
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t)
                .where(and_(t.c.status.in_(ACTIVE), t.c.heartbeat_at < cutoff))
                .order_by(t.c.created_at)
                .limit(limit)
            ).all()
        return [_job(r) for r in rows]

    def claim(self, job_id: str, owner: str, lease: timedelta) -> Job | None:
        """Take an orphan: one statement that only one replica can win (the winner's fresh
        heartbeat makes the condition false for everyone after it). Counts an attempt."""
        t = tables.diagnosis_jobs
        now = utc_now()
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(t)
                .where(
                    and_(
                        t.c.id == job_id,
                        t.c.status.in_(ACTIVE),
                        t.c.heartbeat_at < now - lease,
                    )
                )
                .values(owner=owner, heartbeat_at=now, attempts=t.c.attempts + 1, updated_at=now)
            )
        return self.get(job_id) if taken.rowcount == 1 else None

    def release(self, job_id: str, owner: str) -> None:
        """Hand a claimed job back untouched (no worker was free): orphaned again at once,
        and the attempt it never made is not counted."""
        t = tables.diagnosis_jobs
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(and_(t.c.id == job_id, t.c.owner == owner, t.c.status.in_(ACTIVE)))
                .values(heartbeat_at=_LONG_AGO, attempts=t.c.attempts - 1, updated_at=utc_now())
            )

    def prune(self, cutoff: datetime) -> None:
        t = tables.diagnosis_jobs
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(and_(t.c.status.in_(FINISHED), t.c.updated_at < cutoff)))
