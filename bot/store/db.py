"""Store operations. Every exactly-once promise rests on a primary-key insert that only one
replica can win; nothing here reads-then-writes without the database deciding."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, delete, insert, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.store import tables
from bot.store.jobs import JobBook
from bot.store.ledger import FixLedger
from bot.store.rows import aware as utc_aware
from bot.store.rows import now as utc_now

MIGRATION_LOCK = 727_001  # PostgreSQL advisory lock id: one replica migrates at a time


def default_url() -> str:
    env = os.environ.get("GPUBOT_DATABASE_URL")
    if env:
        return env
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "gpubot"
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state / 'gpubot.db'}"


@dataclass(frozen=True)
class Ack:
    cluster: str
    playbook: str
    kind: str
    user_id: str
    until: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class AlertThread:
    fingerprint: str
    channel: str
    thread_ts: str
    status: str
    firings: int


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ledger = FixLedger(engine)  # fix requests, single-use tokens, audit
        self.jobs = JobBook(engine)  # diagnoses accepted, so a restart can redo them

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True) -> Store:
        url = url or default_url()
        kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        store = cls(create_engine(url, **kwargs))
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(resources.files("bot.store") / "migrations"))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    # ---- dedupe and claims ---------------------------------------------------------------

    def first_time(self, key: str) -> bool:
        """True exactly once per key across every replica sharing the database."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(tables.dedupe).values(key=key[:255], created_at=utc_now()))
            return True
        except IntegrityError:
            return False

    def claim(
        self,
        key: str,
        owner: str,
        *,
        ttl: timedelta | None = None,
        take_from: str | None = None,
    ) -> bool:
        """Take `key` for `owner`; an expired claim, or one `take_from` holds, may be taken
        over. Only one caller wins."""
        now = utc_now()
        expires = now + ttl if ttl else None
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(tables.claims).values(
                        key=key[:255], owner=owner, created_at=now, expires_at=expires
                    )
                )
            return True
        except IntegrityError:
            pass
        c = tables.claims.c
        expired = and_(c.expires_at.is_not(None), c.expires_at < now)
        takeable = or_(expired, c.owner == take_from) if take_from else expired
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(tables.claims)
                .where(and_(c.key == key[:255], takeable))
                .values(owner=owner, created_at=now, expires_at=expires)
            )
            return taken.rowcount == 1

    def renew(self, key: str, owner: str, *, ttl: timedelta) -> bool:
        """Set the expiry of a claim `owner` holds to now + `ttl` (False: not theirs)."""
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(tables.claims)
                .where(and_(tables.claims.c.key == key[:255], tables.claims.c.owner == owner))
                .values(expires_at=utc_now() + ttl)
            )
        return renewed.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        """Give up `key` if `owner` still holds it (the claimed work did not happen)."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(tables.claims).where(
                    and_(tables.claims.c.key == key[:255], tables.claims.c.owner == owner)
                )
            )

    def claim_owner(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tables.claims.c.owner).where(tables.claims.c.key == key[:255])
            ).first()
        return None if row is None else str(row[0])

    # ---- alert threads -------------------------------------------------------------------

    def alert_thread(self, fingerprint: str) -> AlertThread | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tables.alert_threads).where(
                    tables.alert_threads.c.fingerprint == fingerprint
                )
            ).first()
        if row is None:
            return None
        return AlertThread(row.fingerprint, row.channel, row.thread_ts, row.status, row.firings)

    def open_alert_thread(
        self, fingerprint: str, channel: str, thread_ts: str, *, job: str | None = None
    ) -> bool:
        """Record the thread of an alert's first firing; False if another replica already did.
        `job`: the diagnosis job that counts this firing (see touch_alert_thread)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(tables.alert_threads).values(
                        fingerprint=fingerprint,
                        channel=channel,
                        thread_ts=thread_ts,
                        status="firing",
                        firings=1,
                        updated_at=utc_now(),
                        last_job=job,
                    )
                )
            return True
        except IntegrityError:
            return False

    def touch_alert_thread(self, fingerprint: str, status: str, *, job: str | None = None) -> bool:
        """Count a firing (or note a resolve). With `job`, once per job: a job resumed after a
        restart that already counted its firing counts nothing (False)."""
        t = tables.alert_threads
        match = t.c.fingerprint == fingerprint
        if job is not None:
            match = and_(match, or_(t.c.last_job.is_(None), t.c.last_job != job))
        with self.engine.begin() as conn:
            touched = conn.execute(
                update(t)
                .where(match)
                .values(
                    status=status,
                    firings=t.c.firings + (1 if status == "firing" else 0),
                    updated_at=utc_now(),
                    **({"last_job": job} if job is not None else {}),
                )
            )
        return touched.rowcount == 1

    # ---- acknowledgements and snoozes ----------------------------------------------------

    def acknowledge(
        self, *, cluster: str, playbook: str, kind: str, user_id: str, until: datetime | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(tables.acknowledgements).values(
                    cluster=cluster,
                    playbook=playbook,
                    kind=kind,
                    user_id=user_id,
                    until=until,
                    created_at=utc_now(),
                )
            )

    def active_acks(self, cluster: str, now: datetime | None = None) -> dict[str, Ack]:
        """Latest ack or unexpired snooze per playbook of one cluster."""
        now = now or utc_now()
        t = tables.acknowledgements
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t)
                .where(and_(t.c.cluster == cluster, or_(t.c.until.is_(None), t.c.until > now)))
                .order_by(t.c.created_at)
            ).all()
        out: dict[str, Ack] = {}
        for r in rows:
            out[r.playbook] = Ack(
                r.cluster,
                r.playbook,
                r.kind,
                r.user_id,
                utc_aware(r.until),
                utc_aware(r.created_at),
            )
        return out

    def prune(self, older_than: timedelta) -> None:
        """Forget dedupe keys and finished diagnosis jobs older than `older_than`."""
        cutoff = utc_now() - older_than
        with self.engine.begin() as conn:
            conn.execute(delete(tables.dedupe).where(tables.dedupe.c.created_at < cutoff))
        self.jobs.prune(cutoff)
