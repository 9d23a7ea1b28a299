"""The guard every fix passes through, from Slack or the terminal alike.

offer (a button) -> plan from live state (shown, nothing changed) -> confirm by someone allowed
for the fix's risk -> [high risk: approve by a second person] -> claim (single-use token,
compare-and-set on the request, per-target cooldown) -> apply -> audit -> verify -> undo.

Every refusal is audited with its reason and writes nothing. The guard never talks to Slack
or a terminal: it returns `Outcome`s that the callers render.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import metrics
from bot.engine.tokens import TokenSigner
from bot.model.context import Scope
from bot.model.fixes import FIXES
from bot.model.fixpolicy import (
    Actor,
    FixPolicy,
    MemberLookup,
    approval_refusal,
    no_groups,
    refusal,
)
from bot.model.plans import FixConflict, FixError, FixFailed, FixPlan, FixRefused
from bot.model.verdicts import Verdict
from bot.sources.actuators import ACTUATORS, Actuator, load_all
from bot.sources.actuators.context import FixContext
from bot.store.db import Store
from bot.store.ledger import FixRequest, Token

log = logging.getLogger("gpubot.fixes")
ContextFactory = Callable[[str], FixContext]


@dataclass(frozen=True)
class Outcome:
    """What happened, for the caller to show. `status` is one of the audit actions."""

    status: str  # planned | refused | requested | approved | rejected | cancelled | applied |
    #              failed | conflict | verified | still_failing | pending | inconclusive | ...
    message: str
    request: FixRequest | None = None
    plan: FixPlan | None = None
    # Signed button values: confirm / cancel / approve / reject / undo
    buttons: dict[str, str] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()  # verification: the evidence lines that decided it

    @property
    def ok(self) -> bool:
        return self.status not in ("refused", "failed", "conflict")


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
        self.actuators = actuators if actuators is not None else (ACTUATORS or load_all())

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
        payload = {
            "cluster": cluster,
            "fix": fix,
            "params": params,
            "playbook": playbook,
            "scope": scope,
        }
        ttl = timedelta(hours=self.policy.offer_hours)
        return self.signer.sign(self.ledger.new_token("offer", ttl, payload=payload))

    def plan_offer(
        self,
        value: object,
        actor: Actor,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> Outcome:
        token = self._token(value, "offer", actor, channel)
        if isinstance(token, Outcome):
            return token
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
        )

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
        spec = FIXES.get(fix)
        where = {"fix": fix, "cluster": cluster, "channel": channel}
        if spec is None or fix not in self.actuators:
            return self._refuse(actor, f"unknown fix {fix!r}", **where)
        try:
            ctx = self.contexts(cluster)
            actuator = self.actuators[fix]
            if undo_of is not None:
                before = FixPlan.model_validate(undo_of.plan)
                plan = actuator.undo(ctx, before).model_copy(update={"undoes": undo_of.id})
            else:
                plan = actuator.plan(ctx, spec.params.model_validate(params))
        except FixError as exc:
            return self._refuse(actor, f"cannot plan {fix}: {exc}", **where)
        except Exception as exc:  # a validation error in params, a context that cannot open
            reason = f"cannot plan {fix}: {type(exc).__name__}: {_first_line(exc)}"
            return self._refuse(actor, reason, **where)
        if plan.noop:
            return self._refuse(
                actor,
                f"nothing to change: {plan.target} already has the planned values",
                target=plan.target,
                **where,
            )
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
        self._audit("planned", actor, request_id, plan, channel)
        ttl = timedelta(minutes=self.policy.confirm_minutes)
        confirm = self.signer.sign(self.ledger.new_token("confirm", ttl, request_id=request_id))
        cancel = self.signer.sign(self.ledger.new_token("cancel", ttl, request_id=request_id))
        notes = "" if ctx.writable else f" It cannot be applied here: {ctx.read_only_reason}."
        return Outcome(
            "planned",
            f"Plan for {spec.title.lower()} on {plan.target}.{notes}",
            request=self.ledger.request(request_id),
            plan=plan,
            buttons={"confirm": confirm, "cancel": cancel} if ctx.writable else {},
        )

    # ---- confirm, approve, reject, cancel ------------------------------------------------

    def confirm(self, value: object, actor: Actor) -> Outcome:
        token = self._token(value, "confirm", actor)
        if isinstance(token, Outcome):
            return token
        request = self.ledger.request(str(token.request_id))
        if request is None or request.status != "planned":
            return self._refuse(
                actor, "this plan is no longer waiting for confirmation", request=request
            )
        plan = FixPlan.model_validate(request.plan)
        why = refusal(self.policy, actor, request.risk, self.members)
        if why:  # the token stays usable by someone who may
            return self._refuse(actor, why, request=request, plan=plan)
        if not self.ledger.spend(token.token, actor.id):
            return self._refuse(actor, "this confirmation was already used", request=request)
        self.ledger.spend_all(request.id, actor.id, ("cancel",))
        spec = FIXES[request.fix]
        if spec.requires_approval:
            if not self.ledger.transition(
                request.id, "planned", "awaiting_approval", requester=actor.id
            ):
                return self._refuse(actor, "this plan was already confirmed", request=request)
            self._audit("requested", actor, request.id, plan, request.channel)
            ttl = timedelta(minutes=self.policy.approval_minutes)
            buttons = {
                name: self.signer.sign(self.ledger.new_token(name, ttl, request_id=request.id))
                for name in ("approve", "reject")
            }
            return Outcome(
                "requested",
                f"{actor.mention} asks to apply {spec.title.lower()} on {plan.target}: "
                "high risk, a second person must approve.",
                request=self.ledger.request(request.id),
                plan=plan,
                buttons=buttons,
            )
        if not self.ledger.transition(request.id, "planned", "applying", requester=actor.id):
            return self._refuse(actor, "this plan was already confirmed", request=request)
        return self._apply(self.ledger.request(request.id) or request, plan, actor)

    def approve(self, value: object, actor: Actor) -> Outcome:
        token = self._token(value, "approve", actor)
        if isinstance(token, Outcome):
            return token
        request = self.ledger.request(str(token.request_id))
        if request is None or request.status != "awaiting_approval":
            return self._refuse(
                actor, "this request is no longer awaiting approval", request=request
            )
        plan = FixPlan.model_validate(request.plan)
        why = approval_refusal(self.policy, actor, str(request.requester), self.members)
        if why:
            return self._refuse(actor, why, request=request, plan=plan)
        if not self.ledger.spend(token.token, actor.id):
            return self._refuse(actor, "this approval was already used", request=request)
        self.ledger.spend_all(request.id, actor.id, ("reject",))
        if not self.ledger.transition(
            request.id, "awaiting_approval", "applying", approver=actor.id
        ):
            return self._refuse(actor, "this request was already decided", request=request)
        self._audit("approved", actor, request.id, plan, request.channel)
        return self._apply(self.ledger.request(request.id) or request, plan, actor)

    def reject(self, value: object, actor: Actor) -> Outcome:
        return self._close(value, actor, "reject", "awaiting_approval", "rejected")

    def cancel(self, value: object, actor: Actor) -> Outcome:
        return self._close(value, actor, "cancel", "planned", "cancelled")

    def _close(self, value: object, actor: Actor, purpose: str, expected: str, new: str) -> Outcome:
        token = self._token(value, purpose, actor)
        if isinstance(token, Outcome):
            return token
        request = self.ledger.request(str(token.request_id))
        if request is None:
            return self._refuse(actor, "unknown request")
        # Rejecting needs the same standing as approving; cancelling a plan nobody confirmed
        # changes nothing, so anyone who sees it may.
        if purpose == "reject" and actor.id != request.requester:  # withdrawing is fine
            why = approval_refusal(self.policy, actor, "", self.members)
            if why:
                return self._refuse(actor, why, request=request)
        if not self.ledger.spend(token.token, actor.id) or not self.ledger.transition(
            request.id, expected, new
        ):
            return self._refuse(
                actor, f"this request is no longer {expected.replace('_', ' ')}", request=request
            )
        self.ledger.spend_all(request.id, actor.id, ("confirm", "approve", "reject", "cancel"))
        plan = FixPlan.model_validate(request.plan) if request.plan else None
        self._audit(new, actor, request.id, plan, request.channel)
        return Outcome(
            new,
            f"{actor.mention} {new} the request.",
            request=self.ledger.request(request.id),
            plan=plan,
        )

    # ---- apply ---------------------------------------------------------------------------

    def _apply(self, request: FixRequest, plan: FixPlan, actor: Actor) -> Outcome:
        """Runs once per request: the caller won the transition to `applying`."""
        ctx = self.contexts(request.cluster)
        if not ctx.writable:
            return self._end(request, plan, actor, "refused", str(ctx.read_only_reason))
        cooldown = timedelta(minutes=self.policy.cooldown_minutes)
        # An undo restores what gpubot itself just changed: the cooldown must not block it.
        if (
            cooldown
            and not request.undo_of
            and not self.store.claim(f"cooldown:{plan.target_key}", request.id, ttl=cooldown)
        ):
            holder = self.store.claim_owner(f"cooldown:{plan.target_key}")
            return self._end(
                request,
                plan,
                actor,
                "refused",
                f"{plan.target} was changed by gpubot recently (request {holder}); "
                f"cooldown {self.policy.cooldown_minutes:g} min",
            )
        if request.undo_of and not self.ledger.transition(request.undo_of, "applied", "undoing"):
            return self._end(
                request,
                plan,
                actor,
                "refused",
                "the original fix is not applied any more (already undone?)",
            )
        self._audit("applying", actor, request.id, plan, request.channel)
        try:
            result = self.actuators[request.fix].apply(ctx, plan)
        except FixConflict as exc:
            self._restore_original(request)
            return self._end(request, plan, actor, "conflict", str(exc))
        except (FixFailed, FixRefused) as exc:
            self._restore_original(request)
            return self._end(request, plan, actor, "failed", str(exc))
        except Exception as exc:  # an actuator bug must still end in an audited failure
            log.exception("fix %s apply raised", request.fix)
            self._restore_original(request)
            return self._end(
                request, plan, actor, "failed", f"{type(exc).__name__}: {_first_line(exc)}"
            )
        self.ledger.transition(
            request.id, "applying", "applied", result=result.model_dump(mode="json")
        )
        if request.undo_of:
            self.ledger.transition(request.undo_of, "undoing", "undone")
        self._audit(
            "applied",
            actor,
            request.id,
            plan,
            request.channel,
            detail={"plan": plan.model_dump(mode="json"), "result": result.model_dump(mode="json")},
        )
        metrics.FIX_ATTEMPTS.labels(request.fix, "applied").inc()
        buttons = {}
        if plan.reversible and not request.undo_of:
            ttl = timedelta(hours=self.policy.undo_hours)
            buttons["undo"] = self.signer.sign(
                self.ledger.new_token("undo", ttl, request_id=request.id)
            )
        approved = f", approved by {_mention(request.approver)}" if request.approver else ""
        verb = "Undone" if request.undo_of else "Applied"
        return Outcome(
            "applied",
            f"{verb} by {_mention(request.requester)}{approved}: {result.summary}",
            request=self.ledger.request(request.id),
            plan=plan,
            buttons=buttons,
        )

    def _restore_original(self, request: FixRequest) -> None:
        """Nothing was written: free the target's cooldown and the original's undo."""
        plan = FixPlan.model_validate(request.plan)
        self.store.release(f"cooldown:{plan.target_key}", request.id)
        if request.undo_of:
            self.ledger.transition(request.undo_of, "undoing", "applied")

    def _end(
        self, request: FixRequest, plan: FixPlan, actor: Actor, status: str, reason: str
    ) -> Outcome:
        self.ledger.transition(
            request.id,
            "applying",
            "failed" if status != "refused" else "refused",
            result={"error": reason},
        )
        self._audit(status, actor, request.id, plan, request.channel, reason=reason)
        metrics.FIX_ATTEMPTS.labels(request.fix, status).inc()
        return Outcome(status, reason, request=self.ledger.request(request.id), plan=plan)

    # ---- undo ----------------------------------------------------------------------------

    def plan_undo(
        self,
        value: object,
        actor: Actor,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> Outcome:
        token = self._token(value, "undo", actor, channel)
        if isinstance(token, Outcome):
            return token
        original = self.ledger.request(str(token.request_id))
        if original is None or original.status != "applied" or not original.plan:
            return self._refuse(actor, "there is no applied fix to undo here", request=original)
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

    # ---- verify --------------------------------------------------------------------------

    def verify(
        self,
        request_id: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Outcome:
        """Re-run the offering playbook's confirm steps until the symptom is gone or the
        window ends: `verified`, `still_failing`, `pending` (the change takes effect outside
        the bot), `inconclusive` (the evidence could not be read) or `unverified`."""
        request = self.ledger.request(request_id)
        if request is None or request.status not in ("applied", "undone"):
            return Outcome("unverified", "nothing applied to verify", request=request)
        plan = FixPlan.model_validate(request.plan)
        if self.diagnoser is None or not request.playbook:
            return self._verified(
                request, plan, "unverified", "No playbook to re-check: verify by hand.", ()
            )
        window = self.policy.verify
        deadline = clock() + window.delay_seconds + window.window_seconds
        sleep(window.delay_seconds)
        while True:
            finding = self._recheck(request)
            evidence = tuple(line for step in finding.steps for line in step.lines)
            if finding.verdict == Verdict.RULED_OUT:
                return self._verified(
                    request, plan, "verified", f"Symptom gone: {finding.summary}", evidence
                )
            if clock() + window.every_seconds > deadline:
                break
            sleep(window.every_seconds)
        if finding.verdict == Verdict.INCONCLUSIVE:
            return self._verified(
                request, plan, "inconclusive", f"Could not verify: {finding.summary}", evidence
            )
        if plan.effect == "eventual":
            return self._verified(
                request,
                plan,
                "pending",
                f"Pending: the change takes effect outside gpubot and the symptom is still "
                f"there after {window.window_seconds / 60:g} min: {finding.summary}",
                evidence,
            )
        return self._verified(
            request, plan, "still_failing", f"Still failing: {finding.summary}", evidence
        )

    def _recheck(self, request: FixRequest) -> Any:
        source = self.diagnoser.sources(request.cluster)
        if hasattr(source, "forget"):
            source.forget()  # the lists read before the fix must not answer after it
        ns, _, ws = (request.scope or "").partition("/")
        diagnosis = self.diagnoser.run(
            request.cluster,
            playbooks=[str(request.playbook)],
            scope=Scope(ns or None, ws or None) if ns else None,
        )
        return diagnosis.findings[0]

    def _verified(
        self,
        request: FixRequest,
        plan: FixPlan,
        status: str,
        message: str,
        evidence: tuple[str, ...],
    ) -> Outcome:
        self.ledger.annotate(request.id, verification=status)
        self.ledger.audit(
            status,
            "gpubot",
            request_id=request.id,
            fix=request.fix,
            cluster=request.cluster,
            target=plan.target,
            reason=message,
            channel=request.channel,
            detail={"evidence": list(evidence[:20])},
        )
        metrics.FIX_ATTEMPTS.labels(request.fix, status).inc()
        return Outcome(
            status, message, request=self.ledger.request(request.id), plan=plan, evidence=evidence
        )

    # ---- restart safety ------------------------------------------------------------------

    def recover(self) -> list[FixRequest]:
        """After a restart: a request left `applying` may or may not have reached the API.

        It is never re-applied; it is marked `interrupted` and audited so a person checks.
        """
        out = []
        for request in self.ledger.requests(status="applying"):
            if self.ledger.transition(request.id, "applying", "interrupted"):
                self.ledger.audit(
                    "interrupted",
                    "gpubot",
                    request_id=request.id,
                    fix=request.fix,
                    cluster=request.cluster,
                    channel=request.channel,
                    target=(request.plan or {}).get("target"),
                    reason="the bot stopped while applying: check the target before retrying",
                )
                out.append(request)
        return out

    # ---- helpers -------------------------------------------------------------------------

    def _token(
        self, value: object, purpose: str, actor: Actor, channel: str | None = None
    ) -> Token | Outcome:
        """The ledger token behind a button value, or the refusal Outcome (audited)."""
        raw = self.signer.open(value)
        if raw is None:
            return self._refuse(
                actor,
                "this button is not one gpubot issued (forged or altered value)",
                channel=channel,
            )
        token = self.ledger.token(raw)
        if token is None or token.purpose != purpose:
            return self._refuse(actor, "this button does not match a pending fix", channel=channel)
        request = self.ledger.request(token.request_id) if token.request_id else None
        if token.used_at is not None:
            return self._refuse(
                actor,
                f"this button was already used by {_mention(token.used_by)}",
                request=request,
                channel=channel,
            )
        if token.expired(datetime.now(UTC)):
            return self._refuse(
                actor,
                "this button has expired: run the diagnosis again for a fresh plan",
                request=request,
                channel=channel,
            )
        return token

    def _refuse(
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
        plan = plan or (FixPlan.model_validate(request.plan) if request and request.plan else None)
        self.ledger.audit(
            "refused",
            actor.id,
            request_id=request.id if request else None,
            fix=fix or (request.fix if request else None),
            cluster=cluster or (request.cluster if request else None),
            target=target or (plan.target if plan else None),
            reason=reason,
            channel=channel or (request.channel if request else None),
        )
        metrics.FIX_ATTEMPTS.labels(fix or (request.fix if request else "unknown"), "refused").inc()
        return Outcome("refused", reason, request=request, plan=plan)

    def _audit(
        self,
        action: str,
        actor: Actor,
        request_id: str,
        plan: FixPlan,
        channel: str | None,
        *,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.ledger.audit(
            action,
            actor.id,
            request_id=request_id,
            fix=plan.fix,
            cluster=plan.cluster,
            target=plan.target,
            reason=reason,
            channel=channel,
            detail=detail
            if detail is not None
            else ({"plan": plan.model_dump(mode="json")} if action == "planned" else None),
        )


def _mention(user: str | None) -> str:
    if not user:
        return "someone"
    return user if user.startswith("local:") else f"<@{user}>"


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:300]
