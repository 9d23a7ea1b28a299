"""Guarded fixes in Slack: a fix button opens the plan in the thread; Confirm, Approve, Reject,
Cancel and Undo go through the guard (bot/engine/guard.py), which decides everything.

Each handler acks at once and works in a pool, so Slack never sees a slow listener. Whoever
clicks is checked by the guard on the server at click time; the dialogs are only UX. A refusal
(not allowed, other workspace, forged, expired, already used, own approval) goes to the clicker
alone as an ephemeral reply; what changed for everyone (applied, cancelled, failed) replaces the
clicked message so its buttons cannot be pressed again. After an apply, the verification runs in
its own pool: it waits minutes and must not hold up other people's clicks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import logctx
from bot.engine.guard import FixGuard, Outcome
from bot.model.plans import FixPlan
from bot.render import fixes as render
from bot.slack.clicks import Click, click_of
from bot.slack.pool import JobPool
from bot.slack.schedule import Every
from bot.store.ledger import FixRequest

log = logging.getLogger("gpubot.slack.fixes")
FIX_BUTTON = re.compile(r"^fix:.+")  # the diagnosis's buttons: fix:<id>:<n>
GUARD_STEP = re.compile(r"^guard:(confirm|cancel|approve|reject|undo)$")
BUSY = "Too many fix requests are being handled right now; nothing changed. Try again shortly."
CLOSED = ("cancelled", "rejected", "failed", "conflict")


class FixFlow:
    def __init__(
        self, *, guard: FixGuard, client: WebClient, workers: int = 4, queue: int = 32
    ) -> None:
        self.guard, self.client = guard, client
        self.clicks = JobPool(workers, queue)
        self.verifies = JobPool(workers, queue)
        self.sweeper: Every | None = None
        self.steps: dict[str, Callable[[Click], None]] = {
            "confirm": self._confirm,
            "approve": self._approve,
            "reject": lambda click: self._close(click, "reject"),
            "cancel": lambda click: self._close(click, "cancel"),
            "undo": self._undo,
        }

    def register(self, app: App) -> None:
        app.action(FIX_BUTTON)(self.on_fix_button)
        app.action(GUARD_STEP)(self.on_step)

    def shutdown(self) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
        self.clicks.shutdown(wait=True)
        self.verifies.shutdown(wait=True)

    # ---- listeners: ack, then hand over ----------------------------------------------------

    def on_fix_button(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        self._submit(self._open_plan, click_of(body, action, respond))

    def on_step(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        step = str(action.get("action_id", "")).partition(":")[2]
        self._submit(self.steps[step], click_of(body, action, respond))

    def _submit(self, work: Callable[[Click], None], click: Click) -> None:
        # One request id for the click's log lines, its worker and its verification.
        with logctx.request("fix"):
            log.info("fix click by %s in %s", click.actor.id, click.channel)
            if self.clicks.submit(self._guarded, work, click) is None:
                self._tell(click, BUSY)

    def _guarded(self, work: Callable[[Click], None], click: Click) -> None:
        try:
            work(click)
        except Exception as exc:  # say so to the clicker; the audit trail has what happened
            log.exception("fix click failed")
            self._tell(
                click,
                f"gpubot hit an error handling that click ({type(exc).__name__}); "
                "`gpubot audit` shows what happened.",
            )

    # ---- the steps ---------------------------------------------------------------------------

    def _open_plan(self, click: Click) -> None:
        outcome = self.guard.plan_offer(
            click.value, click.actor, channel=click.channel, thread_ts=click.thread_ts
        )
        self._post_plan(click, outcome)

    def _undo(self, click: Click) -> None:
        outcome = self.guard.plan_undo(
            click.value, click.actor, channel=click.channel, thread_ts=click.thread_ts
        )
        self._post_plan(click, outcome)

    def _post_plan(self, click: Click, outcome: Outcome) -> None:
        if outcome.status != "planned" or outcome.plan is None:
            self._refused(click, outcome)
            return
        message = render.plan_message(
            outcome.plan,
            approvers=self._approvers,
            buttons=outcome.buttons,
            blocked=None if outcome.buttons else outcome.message,
        )
        request = outcome.request
        self.client.chat_postMessage(
            channel=(request.channel if request else None) or click.channel,
            thread_ts=(request.thread_ts if request else None) or click.thread_ts,
            **message,
        )

    def _confirm(self, click: Click) -> None:
        outcome = self.guard.confirm(click.value, click.actor)
        if outcome.status == "requested" and outcome.plan and outcome.request:
            request = outcome.request
            line = render.awaiting_line(requester=request.requester, at=request.updated_at)
            self._replace(
                click, render.decided_plan(outcome.plan, approvers=self._approvers, line=line)
            )
            ask = render.approval_request(
                outcome.plan,
                requester=request.requester,
                approvers=self._approvers,
                buttons=outcome.buttons,
            )
            self._post(request, click, ask)
            return
        self._decided(click, outcome)

    def _approve(self, click: Click) -> None:
        self._decided(click, self.guard.approve(click.value, click.actor))

    def _close(self, click: Click, step: str) -> None:
        close = self.guard.reject if step == "reject" else self.guard.cancel
        self._decided(click, close(click.value, click.actor))

    def _decided(self, click: Click, outcome: Outcome) -> None:
        """Replace the clicked message with what happened; refusals go to the clicker only."""
        request, plan = outcome.request, outcome.plan
        if outcome.status == "applied" and request and plan:
            self._applied(click, outcome, request, plan)
            return
        if outcome.status == "refused" and not (request and request.status == "refused"):
            self._refused(click, outcome)  # nothing changed for anyone else
            return
        if plan is None:
            self._refused(click, outcome)
            return
        line = render.closed_line(
            outcome.status if outcome.status in CLOSED else "refused",
            actor=click.actor.id,
            at=request.updated_at if request else None,
            reason=outcome.message,
        )
        self._replace(click, render.decided_plan(plan, approvers=self._approvers, line=line))

    def _applied(self, click: Click, outcome: Outcome, request: FixRequest, plan: FixPlan) -> None:
        line = render.applied_line(
            plan,
            requester=request.requester,
            approver=request.approver,
            at=request.updated_at,
            summary=str((request.result or {}).get("summary") or ""),
        )
        message = render.decided_plan(
            plan, approvers=self._approvers, line=line, undo=outcome.buttons.get("undo")
        )
        self._replace(click, message)
        if request.undo_of:
            return  # an undo brings the symptom's cause back on purpose: nothing to re-check
        self._post(request, click, render.verifying_message(self.guard.policy.verify.delay_seconds))
        if self.verifies.submit(self._verify, request, click) is None:
            busy = render.verification_message(
                "unverified",
                "Not re-checked: too many verifications running. Run the diagnosis again.",
                (),
            )
            self._post(request, click, busy)

    def _verify(self, request: FixRequest, click: Click) -> None:
        try:
            outcome = self.guard.verify(request.id)
        except Exception as exc:
            log.exception("verification of %s failed", request.id)
            message = render.verification_message(
                "unverified", f"Could not re-check ({type(exc).__name__}): verify by hand.", ()
            )
        else:
            message = render.verification_message(outcome.status, outcome.message, outcome.evidence)
        self._post(request, click, message)

    # ---- replies ---------------------------------------------------------------------------

    @property
    def _approvers(self) -> list[str]:
        return list(self.guard.policy.approvers)

    def _post(self, request: FixRequest, click: Click, message: dict[str, Any]) -> None:
        self.client.chat_postMessage(
            channel=request.channel or click.channel,
            thread_ts=request.thread_ts or click.thread_ts,
            **message,
        )

    def _replace(self, click: Click, message: dict[str, Any]) -> None:
        """The clicked message, decided: its buttons go so nobody presses them again."""
        if click.message_ts:
            try:
                self.client.chat_update(channel=click.channel, ts=click.message_ts, **message)
                return
            except Exception as exc:  # e.g. message_not_found: the news must still be told
                log.warning("chat.update of the fix message failed: %s", type(exc).__name__)
        self.client.chat_postMessage(channel=click.channel, thread_ts=click.thread_ts, **message)

    def _refused(self, click: Click, outcome: Outcome) -> None:
        self._tell(click, outcome.message)

    def _tell(self, click: Click, reason: str) -> None:
        """Ephemeral, to the clicker only: through response_url, else chat.postEphemeral."""
        text = render.refusal_text(reason)
        try:
            click.respond(text=text, response_type="ephemeral", replace_original=False)
            return
        except Exception as exc:
            log.warning("respond() failed (%s); trying chat.postEphemeral", type(exc).__name__)
        try:
            self.client.chat_postEphemeral(channel=click.channel, user=click.actor.id, text=text)
        except Exception as exc:
            log.warning("could not tell %s why: %s", click.actor.id, type(exc).__name__)

    # ---- restart ---------------------------------------------------------------------------

    def start_sweep(self) -> Every:
        """Look for applies a dead process left behind every heartbeat interval, so one is
        flagged within about a lease of its last beat, even when no replica restarts after."""
        self.sweeper = Every(self.guard.policy.apply_heartbeat_seconds, self.recover, name="sweep")
        self.sweeper.start()
        return self.sweeper

    def recover(self) -> list[FixRequest]:
        """Requests a dead process left mid-apply (lease lapsed): marked interrupted (never
        re-applied), and said so in their thread so a person checks the target."""
        interrupted = self.guard.recover()
        for request in interrupted:
            target = str((request.plan or {}).get("target") or request.cluster)
            log.warning(
                "fix %s (%s) on %s was interrupted: the process applying it stopped",
                request.fix,
                request.id,
                target,
            )
            if not request.channel:
                continue
            message = render.interrupted_message(request.fix, target, request.id)
            try:
                self.client.chat_postMessage(
                    channel=request.channel, thread_ts=request.thread_ts, **message
                )
            except Exception as exc:
                log.warning(
                    "could not post the interruption of %s: %s", request.id, type(exc).__name__
                )
        return interrupted
