"""GPU memory rows: OOM at load (5), OOM under load (6), KV-bound throughput (11) and
co-tenant OOMs under time-slicing (12).

This module holds the OOM symptoms of rows 5 and 6; their causes and the other rows live one
concern a module: memory_fit (5: the preset does not fit the instance type), memory_kv (6 and
11: the KV cache), memory_sharing (12: co-tenants on a time-sliced GPU). How an OOM is read,
and why missing evidence never rules one out, is in _oom.
"""

from __future__ import annotations

from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _oom as oom
from bot.checks import _vllm as vllm
from bot.checks.registry import check
from bot.model.context import CheckContext
from bot.model.text import clip, names, plural
from bot.model.verdicts import StepResult

LIST = "kubernetes.list"


def _supporting(pic: oom.OomPicture, ev: evi.Evidence) -> list[str]:
    """Log Analytics counts for the pods whose logs showed the OOM."""
    la = oom.la_oom_rows(evi.data(ev, "errors"))
    return [
        f"Log Analytics: {la[p][0]}× CUDA OOM from {p} in the last hour"
        for p in sorted({h.pod for h in pic.hits})
        if p in la
    ]


def _hit_lines(hits: list[vllm.OomHit], ctx: CheckContext) -> list[str]:
    """The latest OOM of each pod (up to 3), noting when earlier instances died the same way."""
    by_pod: dict[str, list[vllm.OomHit]] = {}
    for hit in hits:
        by_pod.setdefault(hit.ref, []).append(hit)
    lines = []
    for mine in list(by_pod.values())[:3]:
        latest = max(mine, key=lambda h: h.when or ctx.now - 100 * ctx.thresholds.lookback)
        again = (
            "; the instance before died the same way" if len({h.previous for h in mine}) > 1 else ""
        )
        lines.append(latest.line(ctx.now) + again)
    return lines


def _symptom_gaps(ev: evi.Evidence, pic: oom.OomPicture, ran: list[str]) -> list[str]:
    """Sources whose absence leaves an OOM possible that nothing read shows."""
    gaps = []
    if (gap := evi.gap(ev, "logs")) and ran:
        gaps.append(f"{gap} ({names(ran)} ran)")
    if gap := evi.gap(ev, "errors"):
        # Its rows are the only trace of an OOM in a replaced pod or a rotated log.
        gaps.append(f"{gap}: OOMs of replaced pods or rotated logs not checked")
    if not pic.hits and (gap := evi.gap(ev, "workspaces")):
        gaps.append(f"{gap}: KAITO's ContainerOOMKilled not checked")
    return gaps


def _oom_symptom(ev: evi.Evidence, ctx: CheckContext, phase: str) -> StepResult:
    pic = oom.oom_picture(ev, ctx)  # without logs: the OOM kills, Log Analytics rows, KAITO's word
    other = "serving" if phase == "load" else "load"
    window = f"{ctx.thresholds.lookback_minutes:g} min"
    mine = pic.of(phase)
    if mine:
        return StepResult.confirmed(
            *_hit_lines(mine, ctx),
            *_supporting(pic, ev),
            oom_pods=sorted({h.ref for h in mine}),
            oom_message=clip(mine[0].oom.message, 200),
        )
    ran = oom.pods_that_ran(ev, ctx)
    gaps = _symptom_gaps(ev, pic, ran)
    if pic.unplaced or pic.missing or gaps:
        return StepResult.inconclusive(
            *pic.unplaced[:3],
            *list(pic.missing.values())[:3],
            *[h.line(ctx.now) for h in pic.of(other)[:1]],
            *gaps,
        )
    if not ev["logs"].available or (not pic.instances and not ran):
        # With no GPU/KAITO pod ever started there is no log to read and nothing to OOM.
        return StepResult.ruled_out(
            f"no GPU or KAITO pod has started a container (none ran in the last {window}): "
            "nothing to OOM"
        )
    old = [f"not counted (before the last {window}): {h.line(ctx.now)}" for h in pic.old[:1]]
    if pic.of(other):
        when = "while serving (under load)" if other == "serving" else "at load"
        return StepResult.ruled_out(f"CUDA OOM only {when}: {pic.of(other)[0].line(ctx.now)}", *old)
    logs = plural(pic.instances, "container log")
    return StepResult.ruled_out(
        f"no CUDA OOM in {logs} of GPU/KAITO pods (current and previous instances) in the last "
        f"{window}",
        *old,
    )


OOM_INPUTS = {
    "logs": "kubernetes.pod_logs",
    "pods": LIST,
    "workspaces": LIST,
    "errors": "loganalytics.query",
}


@check("memory.oom_at_load", inputs=OOM_INPUTS, optional=("logs", "workspaces", "errors"))
def oom_at_load(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU pod hit CUDA OOM before its server was ready (loading weights), within the lookback."""
    return _oom_symptom(ev, ctx, "load")


@check("memory.oom_under_load", inputs=OOM_INPUTS, optional=("logs", "workspaces", "errors"))
def oom_under_load(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU pod hit CUDA OOM after its server was ready (while serving), within the lookback."""
    return _oom_symptom(ev, ctx, "serving")
