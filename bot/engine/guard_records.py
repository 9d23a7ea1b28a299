"""The guard's bookkeeping: audit rows, audited refusals and the button-value check.

Every refusal goes through `refuse`, so none can skip its audit row or its metric, and none
writes anything but that row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import metrics
from bot.engine.outcome import Outcome, mention
from bot.engine.tokens import TokenSigner
from bot.model.fixes import FIXES
from bot.model.fixpolicy import Actor
from bot.model.plans import FixPlan
from bot.store.ledger import FixLedger, FixRequest, Token

SYSTEM = "gpubot"  # the actor of what the bot does on its own (verify, recover)


# What a request must be for a button of each purpose to exist.
_WAITING = {
    "confirm": "a plan waiting for confirmation",
    "cancel": "a plan waiting for confirmation",
    "approve": "awaiting approval",
    "reject": "awaiting approval",
    "undo": "an applied fix that can be undone",
}


def count(fix: str | None, outcome: str) -> None:
    # Only catalogue ids become label values: a typed or forged fix name must not grow the
    # metric's cardinality.
    metrics.FIX_ATTEMPTS.labels(fix if fix in FIXES else "unknown", outcome).inc()


def stored_plan(request: FixRequest | None) -> FixPlan | None:
    return FixPlan.model_validate(request.plan) if request and request.plan else None


class Records:
    def __init__(self, ledger: FixLedger, signer: TokenSigner) -> None:
        self.ledger, self.signer = ledger, signer

    def audit(
        self,
        action: str,
        actor: str,
        request: FixRequest,
        plan: FixPlan | None,
        *,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.ledger.audit(
            action,
            actor,
            request_id=request.id,
            fix=request.fix,
            cluster=request.cluster,
            target=plan.target if plan else None,
            reason=reason,
            channel=request.channel,
            detail=detail,
        )

    def refuse(
        self,
        actor: Actor,
        reason: str,
        *,
        request: FixRequest | None = None,
        plan: FixPlan | None = None,
        fix: str | None = None,
        cluster: str | None = None,
        target: str | None = None,
        channel: str | None = None,
    ) -> Outcome:
        """Audit a refusal with its reason and return it; nothing else is written."""
        plan = plan or stored_plan(request)
        fix = fix or (request.fix if request else None)
        self.ledger.audit(
            "refused",
            actor.id,
            request_id=request.id if request else None,
            fix=fix,
            cluster=cluster or (request.cluster if request else None),
            target=target or (plan.target if plan else None),
            reason=reason,
            channel=channel or (request.channel if request else None),
        )
        count(fix, "refused")
        return Outcome("refused", reason, request=request, plan=plan)

    def token(
        self, value: object, purpose: str, actor: Actor, channel: str | None = None
    ) -> Token | Outcome:
        """The ledger token behind a button value, or the audited refusal.

        Spending it is the caller's job, once every other check passed: a refusal (someone
        not allowed clicked) leaves the button usable for someone who is."""
        raw = self.signer.open(value)
        if raw is None:
            return self.refuse(
                actor,
                "this button is not one gpubot issued (forged or altered value)",
                channel=channel,
            )
        token = self.ledger.token(raw)
        if token is None or token.purpose != purpose:
            return self.refuse(actor, "this button does not match a pending fix", channel=channel)
        request = self.ledger.request(token.request_id) if token.request_id else None
        if token.used_at is not None:
            return self.refuse(
                actor,
                f"this button was already used by {mention(token.used_by)}",
                request=request,
                channel=channel,
            )
        if token.expired(datetime.now(UTC)):
            return self.refuse(
                actor,
                "this button has expired: run the diagnosis again for a fresh plan",
                request=request,
                channel=channel,
            )
        return token

    def pressed(
        self, value: object, purpose: str, actor: Actor, expected: str | None, stale: str
    ) -> tuple[Token, FixRequest] | Outcome:
        """The live button behind `value` and its request, in status `expected` (None: any);
        else the audited refusal, `stale` when the request is gone or has moved on. The shared
        opening of Confirm, Approve, Reject and Cancel."""
        token = self.token(value, purpose, actor)
        if isinstance(token, Outcome):
            return token
        request = self.ledger.request(str(token.request_id))
        if request is None or (expected is not None and request.status != expected):
            return self.refuse(actor, stale, request=request)
        return token, request

    def stored_value(self, request_id: str, purpose: str, actor: Actor) -> str | Outcome:
        """The signed value of a request's own `purpose` button, for callers that name the
        request instead of clicking (the terminal): same expiry, same single use."""
        request = self.ledger.request(request_id)
        token = self.ledger.latest_token(request_id, purpose) if request else None
        if request is None:
            return self.refuse(actor, f"no fix request {request_id[:40]!r}")
        if token is None:
            return self.refuse(
                actor, f"request {request.id} is not {_WAITING[purpose]}", request=request
            )
        return self.signer.sign(token.token)
