"""After a fix: re-run the offering playbook's confirm steps until the symptom is gone or the
verification window ends.

Verdicts: `verified` (the symptom is ruled out), `still_failing`, `pending` (the change takes
effect outside the bot, e.g. a quota approval or the autoscaler's next scan, and the window
ended first), `inconclusive` (the evidence could not be read) or `unverified` (no playbook to
re-run). The clock and the sleep are injectable so tests can advance the cluster in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from bot.engine.guard_records import SYSTEM, Records, count, stored_plan
from bot.engine.outcome import Outcome, first_line
from bot.model.context import Scope
from bot.model.fixpolicy import VerifyWindow
from bot.model.plans import FixPlan
from bot.model.verdicts import Finding, Verdict
from bot.store.ledger import FixLedger, FixRequest

log = logging.getLogger("gpubot.fixes")


class Verifier:
    def __init__(self, ledger: FixLedger, records: Records, diagnoser: Any, window: VerifyWindow):
        self.ledger, self.records = ledger, records
        self.diagnoser, self.window = diagnoser, window

    def verify(
        self,
        request_id: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Outcome:
        request = self.ledger.request(request_id)
        plan = stored_plan(request)
        if request is None or plan is None or request.status != "applied":
            return Outcome("unverified", "nothing applied to verify", request=request)
        if request.undo_of:  # the symptom the fix cleared may well come back: that is the point
            return Outcome(
                "unverified",
                "an undo restores the before-state: nothing to verify",
                request=request,
                plan=plan,
            )
        if self.diagnoser is None or not request.playbook:
            return self._record(
                request, plan, "unverified", "No playbook to re-check: verify by hand.", ()
            )
        window = self.window
        deadline = clock() + window.delay_seconds + window.window_seconds
        sleep(window.delay_seconds)
        while True:
            finding, problem = self._recheck(request)
            state = symptom_state(finding)
            if state == GONE:
                assert finding is not None
                return self._record(request, plan, "verified", _gone(finding), _evidence(finding))
            if clock() + window.every_seconds > deadline:
                break
            sleep(window.every_seconds)
        return self._conclude(request, plan, finding, state, problem)

    def _conclude(
        self,
        request: FixRequest,
        plan: FixPlan,
        finding: Finding | None,
        state: str,
        problem: str | None,
    ) -> Outcome:
        """The window ended with the symptom still there (or unknown): say which and why."""
        evidence, waited = _evidence(finding), _minutes(self.window.window_seconds)
        if finding is None or state == UNKNOWN:
            why = problem or (finding.summary if finding else "no finding")
            why = why.removeprefix("Inconclusive: ")  # "Could not verify" already says so
            return self._record(request, plan, "inconclusive", f"Could not verify: {why}", evidence)
        if state == CAUSE_GONE:
            message = (
                f"Pending: the cause is gone ({finding.summary}) but the symptom is still seen "
                f"after {waited}; it clears when the cluster catches up"
            )
            return self._record(request, plan, "pending", message, evidence)
        if plan.effect == "eventual":
            message = (
                "Pending: the change takes effect outside gpubot and the symptom is still there "
                f"after {waited}: {finding.summary}"
            )
            return self._record(request, plan, "pending", message, evidence)
        return self._record(
            request, plan, "still_failing", f"Still failing: {finding.summary}", evidence
        )

    def _recheck(self, request: FixRequest) -> tuple[Finding | None, str | None]:
        """The playbook's finding now, read fresh; or why there is none."""
        try:
            source = self.diagnoser.sources(request.cluster)
            if hasattr(source, "forget"):
                source.forget()  # the lists read before the fix must not answer after it
            ns, _, ws = (request.scope or "").partition("/")
            diagnosis = self.diagnoser.run(
                request.cluster,
                playbooks=[str(request.playbook)],
                scope=Scope(ns or None, ws or None),
            )
        except Exception as exc:  # a re-check that cannot run is inconclusive, not a crash
            log.warning("verify %s: re-check failed: %s", request.id, type(exc).__name__)
            return None, f"the re-check could not run ({first_line(exc)})"
        found = [f for f in diagnosis.findings if f.playbook == request.playbook]
        return (found[0], None) if found else (None, f"playbook {request.playbook} did not run")

    def _record(
        self,
        request: FixRequest,
        plan: FixPlan,
        status: str,
        message: str,
        evidence: tuple[str, ...],
    ) -> Outcome:
        self.ledger.annotate(request.id, verification=status)
        self.records.audit(
            status, SYSTEM, request, plan, reason=message, detail={"evidence": list(evidence[:20])}
        )
        count(request.fix, status)
        return Outcome(
            status, message, request=self.ledger.request(request.id), plan=plan, evidence=evidence
        )


GONE, CAUSE_GONE, PRESENT, UNKNOWN = "gone", "cause_gone", "present", "unknown"


def symptom_state(finding: Finding | None) -> str:
    """Whether the symptom itself is gone. A finding is ruled out as soon as its cause is
    disproved, but an idle node drained at the autoscaler's next scan, or a workspace that
    provisions once quota is granted, is still there until then: only the symptom steps
    ruling out say the fix worked."""
    if finding is None or finding.verdict == Verdict.INCONCLUSIVE:
        return UNKNOWN
    symptoms = [s for s in finding.steps if s.role == "symptom"]
    if all(s.verdict == Verdict.RULED_OUT for s in symptoms):
        return GONE if symptoms or finding.verdict == Verdict.RULED_OUT else PRESENT
    return CAUSE_GONE if finding.verdict == Verdict.RULED_OUT else PRESENT


def _gone(finding: Finding) -> str:
    lines = [s.lines[0] for s in finding.steps if s.role == "symptom" and s.lines]
    return "Symptom gone: " + ("; ".join(lines) or finding.summary)


def _evidence(finding: Finding | None) -> tuple[str, ...]:
    return () if finding is None else tuple(line for step in finding.steps for line in step.lines)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
