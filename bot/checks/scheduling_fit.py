"""Row 7's causes a pod spec shows: a stuck GPU pod tolerates none of the GPU nodes' taints, or
its nodeSelector / node affinity matches no GPU node (or GPU pool).
"""

from __future__ import annotations

from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _pending as pending
from bot.checks import _scheduling as sch
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


def _taint_blocks(pod: Obj, w: pending.World) -> list[tuple[sch.Target, list[Obj]]] | None:
    """(target, untolerated taints) for the targets the pod selects; None if one is tolerated."""
    chosen = [t for t in w.targets if not sch.selector_misses(pod, t.labels)] or w.targets
    blocked = [(t, sch.blocking_taints(pod, t.taints)) for t in chosen]
    return blocked if blocked and all(b for _, b in blocked) else None


@pending.check("scheduling.missing_toleration")
def missing_toleration(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A stuck GPU pod tolerates none of the taints on the GPU nodes it could use."""
    w = pending.stuck_and_targets(ev, ctx, "tolerations")
    if isinstance(w, StepResult):
        return w
    hits, ok, facts = [], [], {}
    for pod, since in w.stuck:
        blocked = _taint_blocks(pod, w)
        if blocked is None:
            ok.append(f"{kube.ref(pod)} tolerates the taints of a GPU node it selects")
            continue
        where = "; ".join(
            f"{', '.join(sch.taint_str(x) for x in b)} on {t.name}" for t, b in blocked[:3]
        )
        hits.append(
            f"{pending.line(pod, since, ctx)}: does not tolerate {where} (its tolerations: "
            f"{sch.tolerations_text(pod)}); {pending.said(w, pod, ctx)}"
        )
        facts.setdefault("pod", kube.ref(pod))
        facts.setdefault("taint", sch.taint_str(blocked[0][1][0]))
    if hits:
        return StepResult.confirmed(*hits[:5], **facts)
    return StepResult.ruled_out(*ok[:5])


def _selector_detail(pod: Obj, w: pending.World) -> str:
    """Name what no GPU node carries: the key, or the value the GPU nodes have instead."""
    out = []
    for key, want in ((pod.get("spec") or {}).get("nodeSelector") or {}).items():
        have = sorted({t.labels[key] for t in w.targets if key in t.labels})
        if want in have:
            continue
        out.append(
            f"{key}={want}: GPU nodes carry {', '.join(f'{key}={h}' for h in have)}"
            if have
            else f"{key}={want}: no GPU node carries the key {key}"
        )
    if not out and w.targets:
        out = sch.selector_misses(pod, w.targets[0].labels)
    return "; ".join(out)


@pending.check("scheduling.selector_mismatch")
def selector_mismatch(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A stuck GPU pod's nodeSelector / node affinity matches no GPU node (or GPU pool)."""
    w = pending.stuck_and_targets(ev, ctx, "the selector")
    if isinstance(w, StepResult):
        return w
    hits, ok, facts = [], [], {}
    for pod, since in w.stuck:
        if any(not sch.selector_misses(pod, t.labels) for t in w.targets):
            ok.append(
                f"{kube.ref(pod)}: selector {sch.selector_text(pod)} matches a GPU node or pool"
            )
            continue
        detail = _selector_detail(pod, w)
        hits.append(
            f"{pending.line(pod, since, ctx)}: selector {sch.selector_text(pod)} matches no "
            f"GPU node ({detail}); {pending.said(w, pod, ctx)}"
        )
        facts.setdefault("pod", kube.ref(pod))
        facts.setdefault("selector", sch.selector_text(pod))
        facts.setdefault("detail", detail)
    if hits:
        return StepResult.confirmed(*hits[:5], **facts)
    return StepResult.ruled_out(*ok[:5])
