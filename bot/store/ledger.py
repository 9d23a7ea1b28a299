"""The fix ledger: pending requests, single-use tokens and the audit trail.

Every "at most once" here is decided by the database in one statement — a token is spent by
`UPDATE ... WHERE used_at IS NULL AND expires_at > now`, a request moves on by
`UPDATE ... WHERE status = <expected>` — so double clicks, Slack redeliveries and several
replicas sharing PostgreSQL get exactly one winner.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Engine

from bot.store import tables


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


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


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    request_id: str | None
    fix: str | None
    cluster: str | None
    target: str | None
    actor: str
    action: str
    reason: str | None
    channel: str | None
    detail: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "request_id": self.request_id,
            "fix": self.fix,
            "cluster": self.cluster,
            "target": self.target,
            "actor": self.actor,
            "action": self.action,
            "reason": self.reason,
            "channel": self.channel,
            "detail": self.detail,
        }


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
        created_at=_aware(row.created_at) or _now(),
        updated_at=_aware(row.updated_at) or _now(),
    )


def _token(row: Any) -> Token:
    return Token(
        token=row.token,
        purpose=row.purpose,
        request_id=row.request_id,
        payload=json.loads(row.payload) if row.payload else None,
        expires_at=_aware(row.expires_at) or _now(),
        used_at=_aware(row.used_at),
        used_by=row.used_by,
    )


class FixLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- requests ------------------------------------------------------------------------

    def new_request(self, **values: Any) -> str:
        request_id = secrets.token_hex(8)
        now = _now()
        values = dict(values)
        for key in ("params", "plan", "result"):
            if key in values:
                values[key] = _json(values[key])
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
                values[key] = _json(values[key])
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(t)
                .where(and_(t.c.id == request_id, t.c.status.in_(allowed)))
                .values(status=new, updated_at=_now(), **values)
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
                .values(updated_at=_now())
            )
        return renewed.rowcount == 1

    def annotate(self, request_id: str, **values: Any) -> None:
        """Set fields that carry no state machine (verification, thread) unconditionally."""
        t = tables.fix_requests
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == request_id).values(updated_at=_now(), **values))

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
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                insert(tables.fix_tokens).values(
                    token=token,
                    purpose=purpose,
                    request_id=request_id,
                    payload=_json(payload),
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
        now = _now()
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
                .values(used_at=_now(), used_by=actor[:64])
            )

    # ---- audit ---------------------------------------------------------------------------

    def audit(
        self,
        action: str,
        actor: str,
        *,
        request_id: str | None = None,
        fix: str | None = None,
        cluster: str | None = None,
        target: str | None = None,
        reason: str | None = None,
        channel: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(tables.fix_audit).values(
                    at=_now(),
                    request_id=request_id,
                    fix=fix,
                    cluster=cluster,
                    target=target,
                    actor=actor[:64],
                    action=action,
                    reason=reason,
                    channel=channel,
                    detail=_json(detail),
                )
            )

    def audit_trail(
        self,
        *,
        request_id: str | None = None,
        cluster: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditRecord]:
        t = tables.fix_audit
        query = select(t).order_by(t.c.id.desc()).limit(limit)  # the newest `limit`, oldest first
        if request_id:
            query = query.where(t.c.request_id == request_id)
        if cluster:
            query = query.where(t.c.cluster == cluster)
        if action:
            query = query.where(t.c.action == action)
        if since:
            query = query.where(t.c.at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditRecord(
                id=r.id,
                at=_aware(r.at) or _now(),
                request_id=r.request_id,
                fix=r.fix,
                cluster=r.cluster,
                target=r.target,
                actor=r.actor,
                action=r.action,
                reason=r.reason,
                channel=r.channel,
                detail=json.loads(r.detail) if r.detail else None,
            )
            for r in reversed(rows)
        ]
