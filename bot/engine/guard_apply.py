"""Applying a confirmed (and, for high risk, approved) plan: once, audited, target by target.

The caller has already won the request's move to `applying` (a compare-and-set in the store),
so each request reaches here at most once. What remains is the target: two requests for the
same object (two people each opened the plan, two replicas) must not both write. The target's
claim in the store is held while applying and, after a write, for the cooldown.

While the actuator runs, a heartbeat (bot.engine.lease) renews the request's lease and the
target's hold every `fixes.apply_heartbeat_seconds`. A request left `applying` with a lease
older than `fixes.apply_lease_seconds` belongs to a dead process: `recover` (run by every
`gpubot serve` at start-up and then on each sweep) marks it interrupted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.engine.guard_records import SYSTEM, Records, count, stored_plan
from bot.engine.lease import Heartbeat
from bot.engine.outcome import Outcome, first_line, mention
from bot.engine.tokens import TokenSigner
from bot.model.fixpolicy import Actor, FixPolicy
from bot.model.plans import FixConflict, FixError, FixPlan
from bot.sources.actuators import Actuator
from bot.sources.actuators.context import FixContext
from bot.store.db import Store
from bot.store.ledger import FixRequest

log = logging.getLogger("gpubot.fixes")


def target_key(plan: FixPlan) -> str:
    return f"fix-target:{plan.target_key}"


class Applier:
    def __init__(
        self,
        *,
        store: Store,
        policy: FixPolicy,
        contexts: Callable[[str], FixContext],
        actuators: dict[str, Actuator],
        signer: TokenSigner,
        records: Records,
    ) -> None:
        self.store, self.ledger, self.policy = store, store.ledger, policy
        self.contexts = contexts
        self.actuators, self.signer, self.records = actuators, signer, records

    def context(self, request: FixRequest, plan: FixPlan, actor: Actor) -> FixContext | Outcome:
        """The cluster's fix context, or the audited refusal when nothing can be written: asked
        before a button is spent, so a refusal leaves the request as it was."""
        try:
            ctx = self.contexts(request.cluster)
        except Exception as exc:
            reason = f"cannot reach {request.cluster}: {first_line(exc)}"
            return self.records.refuse(actor, reason, request=request, plan=plan)
        if not ctx.writable:
            return self.records.refuse(actor, str(ctx.read_only_reason), request=request, plan=plan)
        return ctx

    def apply(self, request: FixRequest, plan: FixPlan, actor: Actor, ctx: FixContext) -> Outcome:
        """Runs once per request: the caller won the transition to `applying`."""
        if not ctx.writable:
            return self._end(request, plan, actor, "refused", str(ctx.read_only_reason))
        busy = self._hold_target(request, plan)
        if busy:
            return self._end(request, plan, actor, "refused", busy)
        # An undo moves its original from applied to undoing first: of two undos of one fix,
        # one proceeds.
        if request.undo_of and not self.ledger.transition(request.undo_of, "applied", "undoing"):
            self._free(request, plan)
            reason = "the original fix is not applied any more (already undone?)"
            return self._end(request, plan, actor, "refused", reason)
        self.records.audit("applying", actor.id, request, plan)
        try:
            with self._heartbeat(request, plan):
                result = self.actuators[request.fix].apply(ctx, plan)
        except FixConflict as exc:
            self._free(request, plan)
            return self._end(request, plan, actor, "conflict", str(exc))
        except FixError as exc:
            self._free(request, plan)
            return self._end(request, plan, actor, "failed", str(exc))
        except Exception as exc:  # an actuator bug still ends in an audited failure
            log.error("fix %s apply raised %s", request.fix, type(exc).__name__)
            self._free(request, plan)
            return self._end(request, plan, actor, "failed", first_line(exc))
        return self._applied(request, plan, actor, result.model_dump(mode="json"), result.summary)

    def recover(self, *, older_than: timedelta | None = None) -> list[FixRequest]:
        """A request left `applying` by a dead process may or may not have reached the API.

        It is never re-applied: it is marked `interrupted` and audited so a person checks the
        target. Only requests whose lease (renewed by the heartbeat) is older than
        `older_than` (default: the policy's lease) are touched, so a replica never takes over
        an apply another replica is still running, however long it takes. The target's hold
        is left to lapse with the lease."""
        out = []
        stale = datetime.now(UTC) - (self.policy.apply_lease if older_than is None else older_than)
        for request in self.ledger.requests(status="applying", updated_before=stale):
            if not self.ledger.transition(request.id, "applying", "interrupted"):
                continue
            if request.undo_of:  # the undo may be re-planned: it reads the target afresh
                self.ledger.transition(request.undo_of, "undoing", "applied")
            reason = "the bot stopped while applying: check the target before retrying"
            self.records.audit("interrupted", SYSTEM, request, stored_plan(request), reason=reason)
            out.append(request)
        return out

    def _applied(
        self, request: FixRequest, plan: FixPlan, actor: Actor, result: dict, summary: str
    ) -> Outcome:
        # `interrupted` too: a restarted replica may have given this request up while the
        # write was in flight; it did land, and the record says so.
        self.ledger.transition(request.id, ("applying", "interrupted"), "applied", result=result)
        if request.undo_of:
            self.ledger.transition(request.undo_of, "undoing", "undone")
        cooldown = timedelta(minutes=self.policy.cooldown_minutes)
        if cooldown:
            self.store.renew(target_key(plan), request.id, ttl=cooldown)
        else:
            self.store.release(target_key(plan), request.id)
        self.records.audit(
            "applied",
            actor.id,
            request,
            plan,
            detail={"plan": plan.model_dump(mode="json"), "result": result},
        )
        count(request.fix, "applied")
        buttons = {}
        if plan.reversible and not request.undo_of:
            ttl = timedelta(hours=self.policy.undo_hours)
            buttons["undo"] = self.signer.sign(
                self.ledger.new_token("undo", ttl, request_id=request.id)
            )
        done = self.ledger.request(request.id) or request
        approved = f", approved by {mention(done.approver)}" if done.approver else ""
        verb = "Undone" if request.undo_of else "Applied"
        return Outcome(
            "applied",
            f"{verb} by {mention(done.requester)}{approved}: {summary}",
            request=done,
            plan=plan,
            buttons=buttons,
        )

    def _heartbeat(self, request: FixRequest, plan: FixPlan) -> Heartbeat:
        lease = self.policy.apply_lease

        def beat() -> bool:
            if not self.ledger.renew_lease(request.id):
                return False
            self.store.renew(target_key(plan), request.id, ttl=lease)
            return True

        return Heartbeat(beat, every_seconds=self.policy.apply_heartbeat_seconds, name=request.id)

    def _hold_target(self, request: FixRequest, plan: FixPlan) -> str | None:
        """Claim the target for this request, for one lease that the heartbeat renews; the
        reason it is busy otherwise."""
        key = target_key(plan)
        # An undo restores what gpubot itself just changed: it may take the hold its original
        # keeps for the cooldown, but not one another request holds.
        if self.store.claim(
            key, request.id, ttl=self.policy.apply_lease, take_from=request.undo_of
        ):
            return None
        holder = self.store.claim_owner(key)
        return (
            f"{plan.target} is being changed or was changed by gpubot recently (request "
            f"{holder}); cooldown {self.policy.cooldown_minutes:g} min"
        )

    def _free(self, request: FixRequest, plan: FixPlan) -> None:
        """Nothing was written: free the target, and an undo's original is applied again."""
        self.store.release(target_key(plan), request.id)
        if request.undo_of:
            self.ledger.transition(request.undo_of, "undoing", "applied")

    def _end(
        self, request: FixRequest, plan: FixPlan, actor: Actor, status: str, reason: str
    ) -> Outcome:
        final = "refused" if status == "refused" else "failed"
        self.ledger.transition(
            request.id, "applying", final, result={"error": reason, "outcome": status}
        )
        self.records.audit(status, actor.id, request, plan, reason=reason)
        count(request.fix, status)
        return Outcome(status, reason, request=self.ledger.request(request.id), plan=plan)
