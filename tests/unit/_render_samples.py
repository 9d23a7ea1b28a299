"""Diagnoses for renderer tests: one from the engine on a real scenario, and synthetic ones
big enough to hit every Slack limit."""

from __future__ import annotations

from pathlib import Path

from bot.engine.loader import load_catalog
from bot.engine.runner import diagnose
from bot.model.verdicts import Diagnosis, Finding, FixOffer, StepOutcome, Verdict
from bot.sources.snapshot import SnapshotSource

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
# Q for "questionable": inconclusive (a bare `I` reads like 1).
C, Q, R = Verdict.CONFIRMED, Verdict.INCONCLUSIVE, Verdict.RULED_OUT


def engine_diagnosis(scenario: str = "quota-exhausted/confirmed") -> Diagnosis:
    catalog = load_catalog()
    playbooks = catalog.select(catalog.runbook("triage").playbooks)
    return diagnose(playbooks, SnapshotSource(SCENARIOS / scenario))


def evidence_line(f: int, s: int, k: int, width: int = 320) -> str:
    """A real-looking, long evidence line with characters mrkdwn must escape."""
    head = (
        f"aks-gpua100-{f:02d}{s}-vmss00000{k % 10}: pod default/workspace-llama-{f}-{k} "
        f"Warning FailedScheduling x{k + 3} in the last 60 min: 0/{k + 4} nodes are available: "
        f"1 Insufficient nvidia.com/gpu, {k} node(s) had untolerated taint "
        "{sku=gpu: NoSchedule} & <none> > preemption: 0/3 nodes are available"
    )
    filler = f" [line {f}.{s}.{k}]"
    return (head + filler * ((width - len(head)) // len(filler) + 1))[:width]


def fix(n: int, risk: str = "low") -> FixOffer:
    return FixOffer(
        id="request-quota" if n % 2 == 0 else "pool-min-count",
        title=f"Request a GPU family quota increase for pool gpu{n} (standardNCADSA100v4Family)",
        risk=risk,
        requires_approval=risk == "high",
        reversible=n % 2 == 1,
        params={"family": "standardNCADSA100v4Family", "location": "eastus2", "new_limit": 48 + n},
    )


def finding(
    i: int,
    verdict: Verdict,
    *,
    steps: int = 4,
    lines: int = 10,
    fixes: int = 0,
    title: str | None = None,
    width: int = 320,
) -> Finding:
    outcomes = tuple(
        StepOutcome(
            step=f"step-{s}",
            role="symptom" if s == 0 else "cause",
            verdict=verdict if s < 2 else R,
            lines=tuple(evidence_line(i, s, k, width) for k in range(lines)),
            sources=("kubernetes/events", "kubernetes/pods", f"azure/usages-{i}"),
        )
        for s in range(steps)
    )
    summary = {
        C: f"Row {i}: 3 pods Pending for 14 min on nodes <aks-gpua100-{i}> & friends",
        Q: f"Inconclusive: loganalytics/gpu-error-patterns unavailable: 403 for row {i}",
        R: f"Ruled out: every GPU node advertises nvidia.com/gpu (row {i})",
    }[verdict]
    return Finding(
        playbook=f"synthetic-row-{i:02d}",
        row=i,
        title=title or f"Synthetic symptom row {i}",
        verdict=verdict,
        summary=summary,
        diagnosis=(
            "GPU capacity is gated by a per-region quota that defaults to 0.\n"
            "Request the increase with headroom for the next node.\n\n"
            "- check the workspace conditions again\n- raise Total Regional vCPUs too\n"
        )
        if verdict == C
        else "",
        owner="Cloud platform / FinOps",
        explanation="https://learn.microsoft.com/azure/quotas/per-vm-quota-requests",
        steps=outcomes,
        fixes=tuple(fix(n, "high" if n == 1 else "low") for n in range(fixes)),
    )


def big_diagnosis(count: int = 30, lines: int = 40) -> Diagnosis:
    """`count` findings with `lines` long evidence lines per step, pre-sorted like the engine."""
    verdicts = [C] * (count // 3) + [Q] * (count // 3) + [R] * (count - 2 * (count // 3))
    findings = [
        finding(
            i,
            v,
            lines=lines,
            fixes=(30 if i == 0 else 2) if v == C else 0,
            # Titles Slack mrkdwn would alter: they must still appear verbatim.
            title="GPU & driver <mismatch> *critical*" if i == 1 else None,
        )
        for i, v in enumerate(verdicts)
    ]
    return Diagnosis(
        cluster="aks-inference",
        location="eastus2",
        source="snapshot",
        generated_at="2026-11-27T07:40:00Z",
        runbook="triage",
        findings=tuple(findings),
        errors=tuple(f"loganalytics/gpu-error-patterns unavailable: 403 ({n})" for n in range(3)),
    )


def small_diagnosis(*findings: Finding, errors: tuple[str, ...] = ()) -> Diagnosis:
    return Diagnosis(
        cluster="aks-inference",
        location="eastus2",
        source="snapshot",
        generated_at="2026-11-27T07:40:00Z",
        runbook="triage",
        findings=findings,
        errors=errors,
    )
