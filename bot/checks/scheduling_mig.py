"""MIG resource mismatch: the pod asks for whole GPUs where only MIG slices are advertised,
or the reverse.
"""

from __future__ import annotations

from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _pending as pending
from bot.checks import _sched_events as scheduler
from bot.checks import _scheduling as sch
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.verdicts import StepResult

Obj = dict[str, Any]
MIG_LABELS = ("nvidia.com/mig.strategy", "nvidia.com/mig.config", "nvidia.com/mig.config.state")


@check("scheduling.gpu_resource_unschedulable", inputs=pending.INPUTS, optional=("agent_pools",))
def gpu_resource_unschedulable(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A stuck pod's FailedScheduling says its GPU resource is insufficient."""
    w = pending.world(ev, ctx)
    hits, other = [], []
    for pod, since in w.stuck:
        need = kube.gpu_request(pod)
        last = scheduler.last_failure(w.events, pod, ctx) if need else None
        short = [r for r in (last[1].insufficient if last else []) if r in need]
        if short and last:
            hits.append(
                f"{pending.line(pod, since, ctx)} requesting {sch.gpus_text(need)}; scheduler: "
                + scheduler.event_quote(last[0], ctx)
            )
        elif need:
            other.append(f"{kube.ref(pod)}: the scheduler does not report its GPU resource short")
    if hits:
        return StepResult.confirmed(*hits[:5])
    if not other:
        return pending.none_stuck(ctx)
    return StepResult.ruled_out(*other[:5])


def _advertised(t: sch.Target, w: pending.World) -> str:
    node = next((n for n in w.nodes if kube.name(n) == t.node), {})
    labels = [f"{k}={v}" for k, v in kube.labels(node).items() if k in MIG_LABELS]
    pool = next((p for p in w.pools if p.get("name") == t.pool), None)
    profile = arm.pool_props(pool).get("gpuInstanceProfile") if pool else None
    if profile:
        labels.append(f"agent pool {t.pool} gpuInstanceProfile {profile}")
    return sch.gpus_text({k: v for k, v in t.gpus.items() if v > 0}) + (
        f" ({', '.join(labels)})" if labels else ""
    )


@pending.check("scheduling.mig_resource_mismatch")
def mig_resource_mismatch(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """The stuck pod asks for whole GPUs where only MIG slices are advertised, or the reverse."""
    w = pending.world(ev, ctx)
    gpu_stuck = w.stuck_requesting_gpu
    if not gpu_stuck:
        return pending.none_stuck(ctx)
    hits, ok, unknown, facts = [], [], [], {}
    for pod, _ in gpu_stuck:
        nodes = [t for t in w.targets if t.node and sch.fits(pod, t)] or [
            t for t in w.targets if t.node
        ]
        if not nodes:
            unknown.append(f"{kube.ref(pod)}: no GPU node to read the advertised resources from")
            continue
        offered = {r for t in nodes for r, v in t.gpus.items() if v > 0}
        for res, n in kube.gpu_request(pod).items():
            where = "; ".join(f"{t.node} advertises {_advertised(t, w)}" for t in nodes[:2])
            if res in offered or not offered:
                ok.append(f"{kube.ref(pod)} requests {res}: {n}; {where}")
                continue
            hits.append(f"{kube.ref(pod)} requests {res}: {n}, but {where}: no node offers {res}")
            facts.setdefault("pod", kube.ref(pod))
            facts.setdefault("requested", res)
            facts.setdefault("offered", sorted(offered))
    if hits:
        return StepResult.confirmed(*hits[:5], **facts)
    return StepResult.inconclusive(*unknown, *ok[:3]) if unknown else StepResult.ruled_out(*ok[:5])
