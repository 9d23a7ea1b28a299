"""Row 7's capacity cause: every GPU the stuck pod could use is already reserved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _pending as pending
from bot.checks import _sched_events as scheduler
from bot.checks import _scheduling as sch
from bot.checks import azure as arm
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


def _pool_state(pool_name: str | None, w: pending.World) -> tuple[str, Obj | None]:
    """`pool gpua100 at its maximum 2/2 nodes` and, when at max, the fix's parameters."""
    pool = next((p for p in w.pools if p.get("name") == pool_name), None)
    if pool is None:
        return "", None
    props = arm.pool_props(pool)
    count, top = props.get("count"), props.get("maxCount")
    if not props.get("enableAutoScaling") or top is None:
        return f"pool {pool_name}: {count} nodes, autoscaling off", None
    if count is not None and int(count) >= int(top):
        fix = {
            "pool": pool_name,
            "min_count": int(props.get("minCount") or 0),
            "max_count": int(top) + 1,
        }
        return f"pool {pool_name} at its maximum {count}/{top} nodes", fix
    return f"pool {pool_name} has room ({count}/{top} nodes): the autoscaler should add one", None


@dataclass(frozen=True)
class Capacity:
    parts: list[str]  # per fitting node: `node: nvidia.com/gpu 0 free of 1 allocatable`
    short: bool  # no fitting node has the GPUs free
    offered: bool  # some fitting node advertises every requested resource (so scaling helps)
    pools: set[str]
    waiting: bool = False  # no GPU node it fits exists yet: it waits for one to be provisioned


def _capacity(pod: Obj, w: pending.World, used: Mapping[str, Mapping[str, int]]) -> Capacity | None:
    """GPU room for the pod on the nodes it fits; None when taints/selector block it first."""
    need, fitting = kube.gpu_request(pod), [t for t in w.targets if sch.fits(pod, t)]
    if w.targets and not fitting:
        return None
    nodes, pools = [t for t in fitting if t.node], {t.pool for t in fitting if t.pool}
    if not nodes:
        where = f" (pool {', '.join(sorted(pools))} has none)" if pools else ""
        return Capacity([f"no GPU node it fits exists yet{where}"], False, False, pools, True)
    parts, room, offered = [], False, False
    for t in nodes:
        free = {r: t.gpus.get(r, 0) - used.get(t.node or "", {}).get(r, 0) for r in need}
        room |= all(free[r] >= n for r, n in need.items())
        offered |= all(t.gpus.get(r, 0) >= n for r, n in need.items())
        parts += [f"{t.node}: {r} {free[r]} free of {t.gpus.get(r, 0)} allocatable" for r in need]
    return Capacity(parts, not room, offered, pools)


def _reported_short(pod: Obj, w: pending.World, ctx: CheckContext) -> bool:
    """The scheduler's last word on the pod names one of its GPU resources as insufficient."""
    last = scheduler.last_failure(w.events, pod, ctx)
    return last is not None and any(r in kube.gpu_request(pod) for r in last[1].insufficient)


def _not_capacity(pod: Obj, cap: Capacity | None, reported: bool) -> str | None:
    """Why capacity is not what holds this pod, or None if it is."""
    if cap is None:
        return "no GPU node it tolerates and selects, so capacity is not what blocks it"
    if cap.waiting and not reported:
        return (
            f"{cap.parts[0]}: it waits for a node to be provisioned, not for a GPU to free up "
            "(see quota-exhausted, sku-unavailable, cold-start)"
        )
    if not cap.short and not cap.waiting:
        return f"a GPU node it fits has room ({'; '.join(cap.parts[:3])})"
    return None


@pending.check("scheduling.insufficient_gpu")
def insufficient_gpu(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """Every GPU the stuck pod could use is already reserved (requests vs allocatable)."""
    w = pending.world(ev, ctx)
    gpu_stuck = w.stuck_requesting_gpu
    if not gpu_stuck:
        return (
            pending.none_stuck(ctx)
            if not w.stuck
            else StepResult.ruled_out("no stuck pod requests a GPU")
        )
    if not w.targets and not w.pools_known:
        return pending.no_targets(ev, w, "GPU capacity")
    used, hits, ok, facts = sch.gpu_in_use(w.pods), [], [], {"full_pools": []}
    for pod, since in gpu_stuck:
        cap = _capacity(pod, w, used)
        why_not = _not_capacity(pod, cap, _reported_short(pod, w, ctx))
        if why_not is not None or cap is None:
            ok.append(f"{kube.ref(pod)}: {why_not}")
            continue
        states = [_pool_state(p, w) for p in sorted(cap.pools)]
        if cap.offered:  # adding a node only helps if nodes advertise what the pod asks for
            facts["full_pools"] += [f for _, f in states if f and f not in facts["full_pools"]]
        detail = "; ".join(cap.parts[:3] + [s for s, _ in states if s])
        need = sch.gpus_text(kube.gpu_request(pod))
        hits.append(
            f"{pending.line(pod, since, ctx)} needs {need}; {detail}; {pending.said(w, pod, ctx)}"
        )
        facts.setdefault("pod", kube.ref(pod))
        facts.setdefault(
            "why",
            "every GPU it could use is already reserved"
            if cap.offered
            else f"no node it fits offers {', '.join(kube.gpu_request(pod))}",
        )
    if hits:
        return StepResult.confirmed(*hits[:5], **facts)
    return StepResult.ruled_out(*ok[:5])
