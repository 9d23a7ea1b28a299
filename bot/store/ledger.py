"""The fix ledger: pending requests, single-use tokens and (from `fix_audit.py`) the audit trail.

Every "at most once" here is decided by the database in one statement — a token is spent by
`UPDATE ... WHERE used_at IS NULL AND expires_at > now`, a request moves on by
`UPDATE ... WHERE status = <expected>` — so double clicks, Slack redeliveries and several
replicas sharing PostgreSQL get exactly one winner.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select, update

from bot.store import rows, tables
from bot.store.fix_audit import AuditTrail


@dataclass(frozen=True)
class FixRequest:
    id: str
    fix: str
    cluster: str
    playbook: str | None
    scope: str | None
    risk: str
    params: dict[str, Any]
    plan: dict[str, Any] | None
    status: str
    requester: str | None
    approver: str | None
    channel: str | None
    thread_ts: str | None
    result: dict[str, Any] | None
    verification: str | None
    undo_of: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Token:
    token: str
    purpose: str
    request_id: str | None
    payload: dict[str, Any] | None
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


def _request(row: Any) -> FixRequest:
    return FixRequest(
        id=row.id,
        fix=row.fix,
        cluster=row.cluster,
        playbook=row.playbook,
        scope=row.scope,
        risk=row.risk,
        params=json.loads(row.params),
        plan=json.loads(row.plan) if row.plan else None,
        status=row.status,
        requester=row.requester,
        approver=row.approver,
        channel=row.channel,
        thread_ts=row.thread_ts,
        result=json.loads(row.result) if row.result else None,
        verification=row.verification,
        undo_of=row.undo_of,
        created_at=rows.aware(row.created_at) or rows.now(),
        updated_at=rows.aware(row.updated_at) or rows.now(),
    )


def _token(row: Any) -> Token:
    return Token(
        token=row.token,
        purpose=row.purpose,
        request_id=row.request_id,
        payload=json.loads(row.payload) if row.payload else None,
        expires_at=rows.aware(row.expires_at) or rows.now(),
        used_at=rows.aware(row.used_at),
        used_by=row.used_by,
    )


class FixLedger(AuditTrail):
    """Fix requests and single-use tokens; the audit trail (`fix_audit.py`) comes with it so
    callers hold one object over one engine."""

    # ---- requests ------------------------------------------------------------------------

    def new_request(self, **values: Any) -> str:
        request_id = secrets.token_hex(8)
        now = rows.now()
        values = dict(values)
        for key in ("params", "plan", "result"):
            if key in values:
                values[key] = rows.to_json(values[key])
        with self.engine.begin() as conn:
            conn.execute(
                insert(tables.fix_requests).values(
                    id=request_id, created_at=now, updated_at=now, **values
                )
            )
        return request_id

    def request(self, request_id: str) -> FixRequest | None:
        t = tables.fix_requests
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == request_id[:32])).first()
        return None if row is None else _request(row)

    def requests(
        self, *, status: str | None = None, updated_before: datetime | None = None
    ) -> list[FixRequest]:
        t = tables.fix_requests
        query = select(t).order_by(t.c.created_at)
        if status is not None:
            query = query.where(t.c.status == status)
        if updated_before is not None:
            query = query.where(t.c.updated_at < updated_before)
        with self.engine.connect() as conn:
            return [_request(r) for r in conn.execute(query).all()]

    def transition(
        self, request_id: str, expected: str | tuple[str, ...], new: str, **values: Any
    ) -> bool:
        """Move a request from `expected` to `new`; False when another caller moved it first."""
        t = tables.fix_requests
        allowed = (expected,) if isinstance(expected, str) else expected
        for key in ("plan", "result"):
            if key in values:
                values[key] = rows.to_json(values[key])
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(t)
                .where(and_(t.c.id == request_id, t.c.status.in_(allowed)))
                .values(status=new, updated_at=rows.now(), **values)
            )
        return moved.rowcount == 1

    def renew_lease(self, request_id: str, status: str = "applying") -> bool:
        """An apply's heartbeat: `updated_at` is its lease. False when the request is no longer
        in `status` (a sweep gave it up), so a dead lease is never revived."""
        t = tables.fix_requests
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(t)
                .where(and_(t.c.id == request_id, t.c.status == status))
                .values(updated_at=rows.now())
            )
        return renewed.rowcount == 1

    def annotate(self, request_id: str, **values: Any) -> None:
        """Set fields that carry no state machine (verification, thread) unconditionally."""
        t = tables.fix_requests
        with self.engine.begin() as conn:
            conn.execute(
                update(t).where(t.c.id == request_id).values(updated_at=rows.now(), **values)
            )

    # ---- tokens --------------------------------------------------------------------------

    def new_token(
        self,
        purpose: str,
        ttl: timedelta,
        *,
        request_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> str:
        token = secrets.token_urlsafe(24)  # 192 random bits: unguessable, never derived
        now = rows.now()
        with self.engine.begin() as conn:
            conn.execute(
                insert(tables.fix_tokens).values(
                    token=token,
                    purpose=purpose,
                    request_id=request_id,
                    payload=rows.to_json(payload),
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    def token(self, token: str) -> Token | None:
        t = tables.fix_tokens
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.token == token[:64])).first()
        return None if row is None else _token(row)

    def latest_token(self, request_id: str, purpose: str) -> Token | None:
        """The newest `purpose` token of a request (spent or not): the terminal's way to press
        the same button Slack shows, with the same expiry and single use."""
        t = tables.fix_tokens
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t)
                .where(and_(t.c.request_id == request_id[:32], t.c.purpose == purpose))
                .order_by(t.c.created_at.desc())
                .limit(1)
            ).first()
        return None if row is None else _token(row)

    def spend(self, token: str, actor: str) -> bool:
        """Use a single-use token: True for exactly one caller, and only before it expires."""
        t = tables.fix_tokens
        now = rows.now()
        with self.engine.begin() as conn:
            spent = conn.execute(
                update(t)
                .where(and_(t.c.token == token[:64], t.c.used_at.is_(None), t.c.expires_at > now))
                .values(used_at=now, used_by=actor[:64])
            )
        return spent.rowcount == 1

    def spend_all(self, request_id: str, actor: str, purposes: tuple[str, ...]) -> None:
        """Retire a request's other buttons (Approve and Reject share a fate)."""
        t = tables.fix_tokens
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(
                    and_(
                        t.c.request_id == request_id,
                        t.c.purpose.in_(purposes),
                        t.c.used_at.is_(None),
                    )
                )
                .values(used_at=rows.now(), used_by=actor[:64])
            )
