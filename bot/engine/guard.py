"""The guard every fix passes through, from Slack or the terminal alike.

offer (a button) -> plan from live state (shown, nothing changed) -> confirm by someone allowed
for the fix's risk -> [high risk: approve by a second person] -> claim (single-use token,
compare-and-set on the request, the target's hold and cooldown) -> apply -> audit -> verify
-> undo.

Every refusal is audited with its reason and writes nothing else. Every check that can refuse
runs before the token is spent, so a refused click leaves the button to someone who may. The
guard never talks to Slack or a terminal: it returns `Outcome`s that the callers render. The
terminal names requests by id (`*_request`): those press the request's own stored button, so
expiry and single use are the same as in Slack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.engine.guard_apply import Applier
from bot.engine.guard_plan import Planner, action
from bot.engine.guard_records import Records, stored_plan
from bot.engine.outcome import Outcome
from bot.engine.tokens import TokenSigner
from bot.engine.verify import Verifier
from bot.model.fixes import FIXES
from bot.model.fixpolicy import Actor, FixPolicy, MemberLookup, approval_refusal, no_groups, refusal
from bot.model.plans import FixPlan
from bot.sources.actuators import Actuator, load_all
from bot.sources.actuators.context import FixContext
from bot.store.db import Store
from bot.store.ledger import FixRequest, Token

__all__ = ["ContextFactory", "FixGuard", "Outcome"]

ContextFactory = Callable[[str], FixContext]


class FixGuard:
    def __init__(
        self,
        *,
        store: Store,
        policy: FixPolicy,
        contexts: ContextFactory,
        signer: TokenSigner,
        members: MemberLookup = no_groups,
        diagnoser: Any = None,
        actuators: dict[str, Actuator] | None = None,
    ) -> None:
        self.store, self.ledger, self.policy = store, store.ledger, policy
        self.contexts, self.signer, self.members = contexts, signer, members
        self.diagnoser = diagnoser
        self.actuators = actuators if actuators is not None else load_all()
        self.records = Records(self.ledger, signer)
        self.applier = Applier(
            store=store,
            policy=policy,
            contexts=contexts,
            actuators=self.actuators,
            signer=signer,
            records=self.records,
        )
        self.planner = Planner(
            ledger=self.ledger,
            policy=policy,
            contexts=contexts,
            actuators=self.actuators,
            signer=signer,
            records=self.records,
        )
        self.verifier = Verifier(self.ledger, self.records, diagnoser, policy.verify)

    # ---- offers and plans ----------------------------------------------------------------

    def offer(
        self,
        *,
        cluster: str,
        fix: str,
        params: dict[str, Any],
        playbook: str | None = None,
        scope: str | None = None,
    ) -> str:
        """A fix button's value: opens a plan until it expires (reusable, changes nothing)."""
        return self.planner.offer(
            cluster=cluster, fix=fix, params=params, playbook=playbook, scope=scope
        )

    def plan_offer(
        self,
        value: object,
        actor: Actor,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> Outcome:
        token = self.records.token(value, "offer", actor, channel)
        if isinstance(token, Outcome):
            return token
        return self.planner.from_offer(token, actor, channel=channel, thread_ts=thread_ts)

    def plan(
        self,
        *,
        cluster: str,
        fix: str,
        params: dict[str, Any],
        actor: Actor,
        playbook: str | None = None,
        scope: str | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
        undo_of: FixRequest | None = None,
    ) -> Outcome:
        """Compute the plan from current state and hold it as a request awaiting confirmation."""
        return self.planner.plan(
            cluster=cluster,
            fix=fix,
            params=params,
            actor=actor,
            playbook=playbook,
            scope=scope,
            channel=channel,
            thread_ts=thread_ts,
            undo_of=undo_of,
        )

    # ---- confirm, approve, reject, cancel ------------------------------------------------

    def confirm(self, value: object, actor: Actor) -> Outcome:
        stale = "this plan is no longer waiting for confirmation"
        pressed = self.records.pressed(value, "confirm", actor, "planned", stale)
        if isinstance(pressed, Outcome):
            return pressed
        token, request = pressed
        plan = FixPlan.model_validate(request.plan)
        ctx = self.applier.context(request, plan, actor)
        if isinstance(ctx, Outcome):
            return ctx
        why = refusal(self.policy, actor, request.risk, self.members)
        if why:
            return self.records.refuse(actor, why, request=request, plan=plan)
        if not self._spend(token, actor, request.id, ("cancel",)):
            return self.records.refuse(actor, "this confirmation was already used", request=request)
        spec = FIXES[request.fix]
        if not spec.requires_approval:
            if not self.ledger.transition(request.id, "planned", "applying", requester=actor.id):
                return self.records.refuse(
                    actor, "this plan was already confirmed", request=request
                )
            return self.applier.apply(self._reread(request), plan, actor, ctx)
        if not self.ledger.transition(
            request.id, "planned", "awaiting_approval", requester=actor.id
        ):
            return self.records.refuse(actor, "this plan was already confirmed", request=request)
        self.records.audit("requested", actor.id, request, plan)
        ttl = timedelta(minutes=self.policy.approval_minutes)
        buttons = {
            name: self.signer.sign(self.ledger.new_token(name, ttl, request_id=request.id))
            for name in ("approve", "reject")
        }
        return Outcome(
            "requested",
            f"{actor.mention} asks to {action(spec.title)}: {plan.target}. High risk: a second "
            f"person must approve (request {request.id}).",
            request=self._reread(request),
            plan=plan,
            buttons=buttons,
        )

    def approve(self, value: object, actor: Actor) -> Outcome:
        stale = "this request is no longer awaiting approval"
        pressed = self.records.pressed(value, "approve", actor, "awaiting_approval", stale)
        if isinstance(pressed, Outcome):
            return pressed
        token, request = pressed
        plan = FixPlan.model_validate(request.plan)
        why = approval_refusal(self.policy, actor, str(request.requester), self.members)
        if why:
            return self.records.refuse(actor, why, request=request, plan=plan)
        ctx = self.applier.context(request, plan, actor)
        if isinstance(ctx, Outcome):
            return ctx
        if not self._spend(token, actor, request.id, ("reject",)):
            return self.records.refuse(actor, "this approval was already used", request=request)
        if not self.ledger.transition(
            request.id, "awaiting_approval", "applying", approver=actor.id
        ):
            return self.records.refuse(actor, "this request was already decided", request=request)
        self.records.audit("approved", actor.id, request, plan)
        return self.applier.apply(self._reread(request), plan, actor, ctx)

    def reject(self, value: object, actor: Actor) -> Outcome:
        return self._close(value, actor, "reject", "awaiting_approval", "rejected")

    def cancel(self, value: object, actor: Actor) -> Outcome:
        return self._close(value, actor, "cancel", "planned", "cancelled")

    def _close(self, value: object, actor: Actor, purpose: str, expected: str, new: str) -> Outcome:
        # No status yet: it is checked below, after who may close the request.
        pressed = self.records.pressed(value, purpose, actor, None, "unknown request")
        if isinstance(pressed, Outcome):
            return pressed
        _, request = pressed
        # Rejecting needs an approver's standing (the requester may withdraw); cancelling an
        # unconfirmed plan needs the standing to have confirmed it.
        if purpose == "reject" and actor.id != request.requester:
            why = approval_refusal(self.policy, actor, str(request.requester), self.members)
        else:
            why = refusal(self.policy, actor, request.risk, self.members)
        if why:
            return self.records.refuse(actor, why, request=request)
        waiting = expected.replace("_", " ")
        if request.status != expected or not self.ledger.transition(request.id, expected, new):
            return self.records.refuse(
                actor, f"this request is no longer {waiting}", request=request
            )
        self.ledger.spend_all(request.id, actor.id, ("confirm", "approve", "reject", "cancel"))
        plan = stored_plan(request)
        self.records.audit(new, actor.id, request, plan)
        return Outcome(
            new, f"{actor.mention} {new} the request.", request=self._reread(request), plan=plan
        )

    # ---- undo ----------------------------------------------------------------------------

    def plan_undo(
        self,
        value: object,
        actor: Actor,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> Outcome:
        """A plan (to confirm like any other) restoring an applied fix's before-state."""
        token = self.records.token(value, "undo", actor, channel)
        if isinstance(token, Outcome):
            return token
        return self.planner.undo(token, actor, channel=channel, thread_ts=thread_ts)

    # ---- the terminal: the same buttons, named by request id -----------------------------

    def confirm_request(self, request_id: str, actor: Actor) -> Outcome:
        return self._press(request_id, "confirm", actor, self.confirm)

    def approve_request(self, request_id: str, actor: Actor) -> Outcome:
        return self._press(request_id, "approve", actor, self.approve)

    def reject_request(self, request_id: str, actor: Actor) -> Outcome:
        return self._press(request_id, "reject", actor, self.reject)

    def cancel_request(self, request_id: str, actor: Actor) -> Outcome:
        return self._press(request_id, "cancel", actor, self.cancel)

    def undo_request(self, request_id: str, actor: Actor) -> Outcome:
        return self._press(request_id, "undo", actor, self.plan_undo)

    def _press(
        self, request_id: str, purpose: str, actor: Actor, press: Callable[[object, Actor], Outcome]
    ) -> Outcome:
        value = self.records.stored_value(request_id, purpose, actor)
        return value if isinstance(value, Outcome) else press(value, actor)

    # ---- verify and restart safety -------------------------------------------------------

    def verify(
        self,
        request_id: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Outcome:
        """Re-run the offering playbook's confirm steps (bot.engine.verify)."""
        return self.verifier.verify(request_id, sleep=sleep, clock=clock)

    def recover(self, *, older_than: timedelta | None = None) -> list[FixRequest]:
        """Requests a dead process left `applying` (lease older than `older_than`, default the
        policy's) become `interrupted`, never re-applied (guard_apply.Applier.recover)."""
        return self.applier.recover(older_than=older_than)

    # ---- helpers -------------------------------------------------------------------------

    def _spend(
        self, token: Token, actor: Actor, request_id: str, siblings: tuple[str, ...]
    ) -> bool:
        """Use the button (one caller wins) and retire the buttons that share its fate."""
        if not self.ledger.spend(token.token, actor.id):
            return False
        self.ledger.spend_all(request_id, actor.id, siblings)
        return True

    def _reread(self, request: FixRequest) -> FixRequest:
        return self.ledger.request(request.id) or request
