"""The fix audit trail: who did what to which fix request, written once and never changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bot.store import rows, tables


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


class AuditTrail:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
                    at=rows.now(),
                    request_id=request_id,
                    fix=fix,
                    cluster=cluster,
                    target=target,
                    actor=actor[:64],
                    action=action,
                    reason=reason,
                    channel=channel,
                    detail=rows.to_json(detail),
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
            found = conn.execute(query).all()
        return [
            AuditRecord(
                id=r.id,
                at=rows.aware(r.at) or rows.now(),
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
            for r in reversed(found)
        ]
