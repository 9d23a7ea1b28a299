"""Planning a fix: read the target's current state through its actuator, hold the plan as a
request awaiting confirmation, and issue its Confirm and Cancel buttons. Nothing is written to
the cluster here; a plan from a snapshot is shown without buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.engine.guard_records import Records
from bot.engine.outcome import Outcome, first_line
from bot.engine.tokens import TokenSigner
from bot.model.fixes import FIXES
from bot.model.fixpolicy import Actor, FixPolicy
from bot.model.plans import FixError, FixPlan
from bot.sources.actuators import Actuator
from bot.sources.actuators.context import FixContext
from bot.store.ledger import FixLedger, FixRequest, Token


def action(title: str) -> str:
    """A fix title ("Request a GPU family quota increase") inside a sentence."""
    return title[:1].lower() + title[1:]


class Planner:
    def __init__(
        self,
        *,
        ledger: FixLedger,
        policy: FixPolicy,
        contexts: Callable[[str], FixContext],
        actuators: dict[str, Actuator],
        signer: TokenSigner,
        records: Records,
    ) -> None:
        self.ledger, self.policy, self.contexts = ledger, policy, contexts
        self.actuators, self.signer, self.records = actuators, signer, records

    def offer(
        self,
        *,
        cluster: str,
        fix: str,
        params: dict[str, Any],
        playbook: str | None,
        scope: str | None,
    ) -> str:
        payload = {
            "cluster": cluster,
            "fix": fix,
            "params": params,
            "playbook": playbook,
            "scope": scope,
        }
        ttl = timedelta(hours=self.policy.offer_hours)
        return self.signer.sign(self.ledger.new_token("offer", ttl, payload=payload))

    def from_offer(
        self, token: Token, actor: Actor, *, channel: str | None, thread_ts: str | None
    ) -> Outcome:
        """The plan an offer button opens (the offer stays usable: a plan changes nothing)."""
        p = token.payload or {}
        return self.plan(
            cluster=str(p.get("cluster")),
            fix=str(p.get("fix")),
            params=dict(p.get("params") or {}),
            actor=actor,
            playbook=p.get("playbook"),
            scope=p.get("scope"),
            channel=channel,
            thread_ts=thread_ts,
            undo_of=None,
        )

    def undo(
        self, token: Token, actor: Actor, *, channel: str | None, thread_ts: str | None
    ) -> Outcome:
        """A plan, confirmed like any other, restoring an applied fix's recorded before-state."""
        original = self.ledger.request(str(token.request_id))
        if original is None or original.status != "applied" or not original.plan:
            reason = "there is no applied fix to undo here"
            return self.records.refuse(actor, reason, request=original, channel=channel)
        if original.plan.get("restore") is None:
            return self.records.refuse(actor, f"{original.fix} cannot be undone", request=original)
        return self.plan(
            cluster=original.cluster,
            fix=original.fix,
            params=original.params,
            actor=actor,
            playbook=original.playbook,
            scope=original.scope,
            channel=channel or original.channel,
            thread_ts=thread_ts or original.thread_ts,
            undo_of=original,
        )

    def plan(
        self,
        *,
        cluster: str,
        fix: str,
        params: dict[str, Any],
        actor: Actor,
        playbook: str | None,
        scope: str | None,
        channel: str | None,
        thread_ts: str | None,
        undo_of: FixRequest | None,
    ) -> Outcome:
        spec = FIXES.get(fix)
        where = {"fix": fix, "cluster": cluster, "channel": channel}
        if spec is None or fix not in self.actuators:
            return self.records.refuse(actor, f"unknown fix {fix[:64]!r}", **where)
        try:
            ctx = self.contexts(cluster)
            actuator = self.actuators[fix]
            if undo_of is not None:
                before = FixPlan.model_validate(undo_of.plan)
                plan = actuator.undo(ctx, before).model_copy(update={"undoes": undo_of.id})
            else:
                plan = actuator.plan(ctx, spec.params.model_validate(params))
        except FixError as exc:
            return self.records.refuse(actor, f"cannot plan {fix}: {exc}", **where)
        except Exception as exc:  # a validation error in params, a context that cannot open
            return self.records.refuse(actor, f"cannot plan {fix}: {first_line(exc)}", **where)
        if plan.noop:
            reason = f"nothing to change: {plan.target} already has the planned values"
            return self.records.refuse(actor, reason, target=plan.target, **where)
        request_id = self.ledger.new_request(
            fix=fix,
            cluster=cluster,
            playbook=playbook,
            scope=scope,
            risk=spec.risk,
            params=plan.params,
            plan=plan.model_dump(mode="json"),
            status="planned",
            requester=None,
            channel=channel,
            thread_ts=thread_ts,
            undo_of=undo_of.id if undo_of else None,
        )
        request = self.ledger.request(request_id)
        assert request is not None
        self.records.audit(
            "planned", actor.id, request, plan, detail={"plan": plan.model_dump(mode="json")}
        )
        ttl = timedelta(minutes=self.policy.confirm_minutes)
        buttons = {
            name: self.signer.sign(self.ledger.new_token(name, ttl, request_id=request_id))
            for name in ("confirm", "cancel")
        }
        notes = "" if ctx.writable else f" It cannot be applied here: {ctx.read_only_reason}."
        what = f"undo {undo_of.id} ({action(spec.title)})" if undo_of else action(spec.title)
        return Outcome(
            "planned",
            f"Plan to {what}: {plan.target}.{notes}",
            request=request,
            plan=plan,
            buttons=buttons if ctx.writable else {},
        )
