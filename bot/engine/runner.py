"""Run a runbook's playbooks over one source and combine steps into findings.

Verdicts follow DESIGN.md: a finding is ruled out if its symptom is ruled out or its cause
disproved, confirmed if the symptom and a cause are confirmed, inconclusive otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC
from typing import Any

from bot import logctx
from bot.engine import templates
from bot.engine.evidence import EvidenceCache
from bot.engine.loader import Playbook, Step
from bot.model import redact
from bot.model.context import CheckContext, Scope
from bot.model.domain import OWNERS
from bot.model.evidence import Answer
from bot.model.fixes import FIXES
from bot.model.thresholds import Thresholds
from bot.model.verdicts import Diagnosis, Finding, FixOffer, StepOutcome, StepResult, Verdict
from bot.sources.base import Source

C, R, INC = Verdict.CONFIRMED, Verdict.RULED_OUT, Verdict.INCONCLUSIVE
MAX_QUESTIONS_IN_FLIGHT = 64  # a triage asks ~25; the cap only guards a runaway runbook
# Checks are pure Python: however many diagnoses run, more than two at once only queue for the
# interpreter lock, and every runnable thread delays the Slack listener's 3-second ack (five
# triages x 8 playbook threads made the ack p99 ~0.7 s). Evidence is awaited outside the slot.
CHECKING = threading.BoundedSemaphore(2)


def any_of(verdicts: Iterable[Verdict]) -> Verdict | None:
    """Several steps of one role: one confirmed is enough; all must rule out to rule out."""
    seen = list(verdicts)
    if not seen:
        return None
    if C in seen:
        return C
    return R if all(v == R for v in seen) else INC


def combine(symptom: Verdict | None, cause: Verdict | None) -> Verdict:
    if symptom == R or cause == R:
        return R
    if symptom == C and cause in (C, None):
        return C
    return INC


def run_step(
    step: Step, cache: EvidenceCache, playbook: Playbook, ctx: CheckContext
) -> StepOutcome:
    answers: dict[str, Answer] = {}
    for input_name, evidence_name in step.wiring.items():
        answers[input_name] = cache.get(playbook.questions[evidence_name])
    sources = tuple(dict.fromkeys(a.source for a in answers.values()))
    missing = [
        a for name, a in answers.items() if not a.available and name not in step.check.optional
    ]
    if missing:
        result = StepResult.inconclusive(
            *(f"{a.source} unavailable: {a.unavailable}" for a in missing)
        )
    else:
        try:
            with CHECKING:
                result = step.check.fn(answers, step.params, ctx)
        except Exception as exc:  # one failing check never stops the others
            result = StepResult.inconclusive(
                f"check {step.check.name} failed: {type(exc).__name__}: {exc}"
            )
    return StepOutcome(  # quoted text may carry a workload's token: masked before any use
        step=step.spec.id,
        role=step.spec.role,
        verdict=result.verdict,
        lines=redact.redact_value(result.lines),
        sources=sources,
        facts=redact.redact_value(dict(result.facts)),
    )


def _default_summary(verdict: Verdict, outcomes: list[StepOutcome]) -> str:
    def first_line(pred: Callable[[StepOutcome], bool]) -> str | None:
        for o in outcomes:
            if pred(o) and o.lines:
                return o.lines[0]
        return None

    if verdict == R:
        line = first_line(lambda o: o.role == "symptom" and o.verdict == R) or first_line(
            lambda o: o.role == "cause" and o.verdict == R
        )
        return f"Ruled out: {line}" if line else "Ruled out."
    line = first_line(lambda o: o.verdict == INC) or first_line(lambda o: o.role == "symptom")
    return f"Inconclusive: {line}" if line else "Inconclusive: not enough evidence."


def _offers(
    playbook: Playbook, verdict: Verdict, outcomes: dict[str, StepOutcome], context: dict[str, Any]
) -> list[FixOffer]:
    if verdict != C:
        return []
    offers: list[FixOffer] = []
    for offer in playbook.spec.fixes:
        if offer.when and not all(outcomes[s].verdict == C for s in offer.when if s in outcomes):
            continue
        fix = FIXES[offer.fix]
        items = templates.evaluate(offer.for_each, context) if offer.for_each else [None]
        for item in items or []:
            params = templates.render_param(dict(offer.params), {**context, "item": item})
            validated = fix.params.model_validate(params).model_dump()
            offers.append(
                FixOffer(
                    id=fix.id,
                    title=fix.title,
                    risk=fix.risk,
                    requires_approval=fix.requires_approval,
                    reversible=fix.reversible,
                    params=validated,
                )
            )
    return offers


def run_playbook(playbook: Playbook, cache: EvidenceCache, ctx: CheckContext) -> Finding:
    outcomes = [run_step(step, cache, playbook, ctx) for step in playbook.steps]
    by_id = {o.step: o for o in outcomes}
    symptom = any_of(o.verdict for o in outcomes if o.role == "symptom")
    cause = any_of(o.verdict for o in outcomes if o.role == "cause")
    verdict = combine(symptom, cause)
    facts: dict[str, Any] = {}
    for o in outcomes:
        facts.update(o.facts)
    context = {
        "facts": facts,
        "steps": {
            o.step: {"verdict": str(o.verdict), "lines": list(o.lines), "facts": o.facts}
            for o in outcomes
        },
        "cluster": ctx.cluster,
        "thresholds": ctx.thresholds.model_dump(),
        "scope": str(ctx.scope),
    }
    spec = playbook.spec
    summary, diagnosis, fixes = _default_summary(verdict, outcomes), "", []
    try:
        if verdict == C:
            summary = templates.render(spec.summary, context)
            diagnosis = templates.render(spec.diagnosis, context)
        fixes = _offers(playbook, verdict, by_id, context)
    except Exception as exc:  # a template/fact mismatch is a playbook bug: say so, keep the verdict
        diagnosis = f"(playbook {spec.id} could not render: {type(exc).__name__}: {exc})"
    summary, diagnosis = redact.redact(summary), redact.redact(diagnosis)
    _, team = OWNERS[spec.owner]
    return Finding(
        playbook=spec.id,
        row=spec.row,
        title=spec.title,
        verdict=verdict,
        summary=summary,
        diagnosis=diagnosis,
        owner=team,
        explanation=spec.explanation,
        steps=tuple(outcomes),
        fixes=tuple(fixes),
        facts=facts,
    )


def diagnose(
    playbooks: list[Playbook],
    source: Source,
    *,
    runbook: str = "triage",
    thresholds: Thresholds | None = None,
    scope: Scope | None = None,
    on_finding: Callable[[Finding], None] | None = None,
    cache: EvidenceCache | None = None,
    workers: int = 8,
) -> Diagnosis:
    """`workers` run playbooks (checks are CPU-bound: more threads only contend for the GIL);
    questions are all asked at once, whatever `workers` is."""
    now = source.now()
    ctx = CheckContext(
        now=now,
        thresholds=thresholds or Thresholds(),
        scope=scope or Scope(),
        cluster=source.cluster.as_dict(),
    )
    cache = cache or EvidenceCache(source)
    findings: list[Finding] = []
    # Ask every distinct question up front, all at once: a run then takes about as long as its
    # slowest call, and the playbooks below find every answer already in the cache. A thread
    # per question (they wait on I/O); each source bounds its own requests in flight, so a
    # fan-out question (logs of every pod) starts the moment the lists it needs arrive instead
    # of queueing behind other questions for a worker.
    questions = list(dict.fromkeys(q for p in playbooks for q in p.questions.values()))
    askers = max(1, min(len(questions), MAX_QUESTIONS_IN_FLIGHT))
    # logctx.submit: the request id follows every fetch into the pools' threads.
    with ThreadPoolExecutor(max_workers=askers, thread_name_prefix="evidence") as fetch:
        for question in questions:
            logctx.submit(fetch, cache.get, question)
        fetch.shutdown(wait=False)
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="playbook") as pool:
            futures = [logctx.submit(pool, run_playbook, p, cache, ctx) for p in playbooks]
            for future in as_completed(futures):
                finding = future.result()
                findings.append(finding)
                if on_finding:
                    on_finding(finding)
    findings.sort(key=Finding.sort_key)
    errors = tuple(
        sorted(
            {
                line
                for f in findings
                for o in f.steps
                if o.verdict == INC
                for line in o.lines
                if " unavailable: " in line
            }
        )
    )
    return Diagnosis(
        cluster=source.cluster.name,
        location=source.cluster.location,
        source=source.kind,
        generated_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        runbook=runbook,
        findings=tuple(findings),
        errors=errors,
    )
