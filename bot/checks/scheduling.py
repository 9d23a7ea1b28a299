"""Row 7 (pod Pending on a GPU), MIG resource mismatch and NoExecute evictions.

The seed's scheduling quick reference: each `kubectl describe pod` signal maps to one cause.
The checks read the pod spec against the GPU nodes (or, with none, the GPU agent pools'
labels and taints from ARM), and quote the scheduler's own message when it was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.checks import _scheduling as sch
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.evidence import Answer
from bot.model.text import duration, names, plural
from bot.model.verdicts import StepResult

Obj = dict[str, Any]
Ev = Mapping[str, Answer]
INPUTS = {
    "pods": "kubernetes.list",
    "nodes": "kubernetes.list",
    "events": "kubernetes.list",
    "agent_pools": "azure.agent_pools",
}
OPTIONAL = ("events", "agent_pools")
MIG_LABELS = ("nvidia.com/mig.strategy", "nvidia.com/mig.config", "nvidia.com/mig.config.state")


@dataclass(frozen=True)
class World:
    """What every scheduling check reads, once: pods, nodes, GPU targets, events, stuck pods."""

    pods: list[Obj]
    nodes: list[Obj]
    pools: list[Obj]
    targets: list[sch.Target]
    events: list[Obj] | None
    stuck: list[tuple[Obj, datetime]]
    pools_known: bool  # ARM agent pools were read (so "no GPU pool" is a fact, not a gap)


def world(ev: Ev, ctx: CheckContext) -> World:
    pods, nodes = ev["pods"].data or [], ev["nodes"].data or []
    pools = arm.agent_pools(sch.data(ev, "agent_pools"))
    targets = sch.gpu_targets(nodes, pools)
    stuck = sch.stuck_gpu_pods(pods, targets, nodes, ctx)
    known = sch.data(ev, "agent_pools") is not None
    return World(pods, nodes, pools, targets, sch.data(ev, "events"), stuck, known)


def _pending(pod: Obj, since: datetime, ctx: CheckContext) -> str:
    return f"{kube.ref(pod)} Pending {duration(ctx.now - since)}"


def _said(w: World, pod: Obj, ctx: CheckContext) -> str:
    """The scheduler's last word on this pod, quoted, or why there is none."""
    if w.events is None:
        return "events not readable"
    last = sch.last_failure(w.events, pod, ctx)
    if last is None:
        return f"no FailedScheduling event in the last {duration(ctx.thresholds.lookback)}"
    return "scheduler: " + sch.event_quote(last[0], ctx)


def _no_targets(ev: Ev, w: World, what: str) -> StepResult:
    """No GPU node and no GPU pool: nothing to compare with, unless ARM says there is none."""
    if w.pools_known:
        return StepResult.ruled_out(
            f"no GPU node and no GPU agent pool exist, so {what} cannot be what blocks the pod"
        )
    return StepResult.inconclusive(
        f"no GPU node, and the agent pools are unreadable, to compare {what} with",
        *sch.unavailable(ev, "agent_pools"),
    )


def _none_stuck(ctx: CheckContext) -> StepResult:
    return StepResult.ruled_out(
        f"no GPU pod has been Pending unscheduled for {duration(ctx.thresholds.stuck)} or more"
    )


# ---- symptoms ----------------------------------------------------------------------------


def _why_gpu(pod: Obj, w: World) -> str:
    if kube.requests_gpu(pod):
        return "requests " + sch.gpus_text(kube.gpu_request(pod))
    if kube.workspace_of(pod):
        return "KAITO workspace pod"
    return ", ".join(sch.gpu_intent(pod, w.targets, w.nodes)) or "vLLM workload"


@check("scheduling.gpu_pod_pending", inputs=INPUTS, optional=OPTIONAL)
def gpu_pod_pending(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU pod has been Pending, unscheduled, past the stuck threshold."""
    w = world(ev, ctx)
    if w.stuck:
        lines = [
            f"{_pending(p, s, ctx)} ({_why_gpu(p, w)}); {_said(w, p, ctx)}" for p, s in w.stuck
        ]
        return StepResult.confirmed(*lines[:5], pending=[kube.ref(p) for p, _ in w.stuck])
    other = []
    for pod in w.pods:
        if kube.phase(pod) != "Pending" or kube.node_name(pod):
            continue
        if not ctx.scope.admits(kube.namespace(pod), kube.workspace_of(pod)):
            continue
        age = duration(ctx.now - (kube.created(pod) or ctx.now))
        why = (
            "younger than the threshold"
            if sch.wants_gpu(pod, w.targets, w.nodes)
            else "wants no GPU"
        )
        other.append(f"{kube.ref(pod)} Pending {age} ({why})")
    return StepResult.ruled_out(
        f"no GPU pod has been Pending unscheduled for {duration(ctx.thresholds.stuck)} or more",
        *other[:4],
    )


def _off_gpu(w: World, ctx: CheckContext) -> list[Obj]:
    return [
        p
        for p in w.pods
        if kube.node_name(p)
        and kube.phase(p) not in sch.DONE_PHASES
        and sch.is_vllm(p)
        and not kube.requests_gpu(p)
        and ctx.scope.admits(kube.namespace(p), kube.workspace_of(p))
    ]


def _placement(pod: Obj, w: World) -> str:
    node = kube.node_name(pod)
    gpu_node = any(t.node == node for t in w.targets)
    state = kube.waiting_reason(pod) or kube.phase(pod)
    image = next((str(c.get("image")) for c in kube.containers(pod)), "?")
    kind = "a GPU node" if gpu_node else "not a GPU node"
    return (
        f"{kube.ref(pod)} ({image}) runs on {node} ({kind})"
        f" with no nvidia.com/gpu request; {state}, {plural(kube.restart_count(pod), 'restart')}"
    )


@check("scheduling.gpu_workload_without_gpu", inputs=INPUTS, optional=OPTIONAL)
def gpu_workload_without_gpu(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """A model server (KAITO/vLLM pod) is scheduled without asking for a GPU."""
    w = world(ev, ctx)
    off = _off_gpu(w, ctx)
    if off:
        return StepResult.confirmed(
            *[_placement(p, w) for p in off[:5]], no_gpu_pods=[kube.ref(p) for p in off]
        )
    checked = [p for p in w.pods if kube.node_name(p) and sch.is_vllm(p)]
    return StepResult.ruled_out(
        f"every scheduled KAITO/vLLM pod requests a GPU ({len(checked)} checked)"
    )


@check(
    "scheduling.taint_evictions",
    inputs={"events": "kubernetes.list", "pods": "kubernetes.list"},
    optional=("pods",),
)
def taint_evictions(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """Pods were evicted by the taint manager (a NoExecute taint) within the lookback."""
    evictions = sch.taint_evictions(ev["events"].data or [], sch.data(ev, "pods") or [], ctx)
    if evictions:
        lines = [
            f"{e.ref} evicted by the taint manager {duration(ctx.now - e.when)} ago ({e.how})"
            for e in evictions
        ]
        return StepResult.confirmed(*lines[:5], evicted=[e.ref for e in evictions])
    lookback = duration(ctx.thresholds.lookback)
    look_alikes = sch.kubelet_evictions(ev["events"].data or [], sch.data(ev, "pods") or [], ctx)
    return StepResult.ruled_out(
        f"no TaintManagerEviction event nor DeletionByTaintManager pod in the last {lookback}",
        *look_alikes[:3],
        *sch.unavailable(ev, "pods"),
    )


# ---- causes of a Pending GPU pod ---------------------------------------------------------


def _taint_blocks(pod: Obj, w: World) -> list[tuple[sch.Target, list[Obj]]] | None:
    """(target, untolerated taints) for the targets the pod selects; None if one is tolerated."""
    chosen = [t for t in w.targets if not sch.selector_misses(pod, t.labels)] or w.targets
    blocked = [(t, sch.blocking_taints(pod, t.taints)) for t in chosen]
    return blocked if blocked and all(b for _, b in blocked) else None


@check("scheduling.missing_toleration", inputs=INPUTS, optional=OPTIONAL)
def missing_toleration(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """A stuck GPU pod tolerates none of the taints on the GPU nodes it could use."""
    w = world(ev, ctx)
    if not w.stuck:
        return _none_stuck(ctx)
    if not w.targets:
        return _no_targets(ev, w, "tolerations")
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
            f"{_pending(pod, since, ctx)}: does not tolerate {where} (its tolerations: "
            f"{sch.tolerations_text(pod)}); {_said(w, pod, ctx)}"
        )
        facts.setdefault("pod", kube.ref(pod))
        facts.setdefault("taint", sch.taint_str(blocked[0][1][0]))
    if hits:
        return StepResult.confirmed(*hits[:5], **facts)
    return StepResult.ruled_out(*ok[:5])


def _selector_detail(pod: Obj, w: World) -> str:
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


@check("scheduling.selector_mismatch", inputs=INPUTS, optional=OPTIONAL)
def selector_mismatch(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """A stuck GPU pod's nodeSelector / node affinity matches no GPU node (or GPU pool)."""
    w = world(ev, ctx)
    if not w.stuck:
        return _none_stuck(ctx)
    if not w.targets:
        return _no_targets(ev, w, "the selector")
    hits, ok, facts = [], [], {}
    for pod, since in w.stuck:
        if any(not sch.selector_misses(pod, t.labels) for t in w.targets):
            ok.append(
                f"{kube.ref(pod)}: selector {sch.selector_text(pod)} matches a GPU node or pool"
            )
            continue
        detail = _selector_detail(pod, w)
        hits.append(
            f"{_pending(pod, since, ctx)}: selector {sch.selector_text(pod)} matches no GPU node "
            f"({detail}); {_said(w, pod, ctx)}"
        )
        facts.setdefault("pod", kube.ref(pod))
        facts.setdefault("selector", sch.selector_text(pod))
        facts.setdefault("detail", detail)
    if hits:
        return StepResult.confirmed(*hits[:5], **facts)
    return StepResult.ruled_out(*ok[:5])


def _pool_state(pool_name: str | None, w: World) -> tuple[str, Obj | None]:
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


def _capacity(pod: Obj, w: World, used: Mapping[str, Mapping[str, int]]) -> Capacity | None:
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


def _reported_short(pod: Obj, w: World, ctx: CheckContext) -> bool:
    """The scheduler's last word on the pod names one of its GPU resources as insufficient."""
    last = sch.last_failure(w.events, pod, ctx)
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


@check("scheduling.insufficient_gpu", inputs=INPUTS, optional=OPTIONAL)
def insufficient_gpu(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """Every GPU the stuck pod could use is already reserved (requests vs allocatable)."""
    w = world(ev, ctx)
    gpu_stuck = [(p, s) for p, s in w.stuck if kube.requests_gpu(p)]
    if not gpu_stuck:
        return (
            _none_stuck(ctx) if not w.stuck else StepResult.ruled_out("no stuck pod requests a GPU")
        )
    if not w.targets and not w.pools_known:
        return _no_targets(ev, w, "GPU capacity")
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
        hits.append(f"{_pending(pod, since, ctx)} needs {need}; {detail}; {_said(w, pod, ctx)}")
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


@check("scheduling.no_gpu_request", inputs=INPUTS, optional=OPTIONAL)
def no_gpu_request(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """A KAITO/vLLM pod has no nvidia.com/gpu limit, so nothing places it on (or gives it) a GPU."""
    w = world(ev, ctx)
    off = _off_gpu(w, ctx)
    if not off:
        return StepResult.ruled_out("every scheduled KAITO/vLLM pod has a nvidia.com/gpu limit")
    lines = []
    for pod in off[:5]:
        intent = sch.gpu_intent(pod, w.targets, w.nodes) or (
            ["is a KAITO workspace pod"] if kube.workspace_of(pod) else []
        )
        node = kube.node_name(pod)
        where = (
            "a GPU node, but holds no GPU"
            if any(t.node == node for t in w.targets)
            else "a node with no GPU"
        )
        said = f"it {', '.join(intent)} but" if intent else "it"
        lines.append(
            f"{kube.ref(pod)}: {said} has no limits.nvidia.com/gpu, so it landed on {node} "
            f"({where}): no GPU is visible to it (nvidia-smi missing)"
        )
    return StepResult.confirmed(*lines, pod=kube.ref(off[0]), node=kube.node_name(off[0]))


# ---- NoExecute evictions -----------------------------------------------------------------


def _noexecute(w: World) -> list[tuple[str, Obj]]:
    """(node, taint) for every NoExecute taint a pool or person put on a node (not node health)."""
    return [
        (kube.name(n), t)
        for n in w.nodes
        for t in kube.taints(n)
        if t.get("effect") == "NoExecute" and not sch.is_lifecycle(t)
    ]


def _template(e: sch.Eviction, pods: list[Obj]) -> Obj | None:
    """The evicted pod, or the one its controller made to replace it (same tolerations)."""
    same = [p for p in pods if kube.namespace(p) == e.namespace and kube.name(p) == e.name]
    if same:
        return same[0]
    stem = e.name.rsplit("-", 1)[0]
    return next(
        (
            p
            for p in pods
            if kube.namespace(p) == e.namespace
            and kube.owner_name(p)
            and kube.name(p).rsplit("-", 1)[0] == stem
        ),
        None,
    )


def _added(taint: Obj) -> datetime | None:
    return kube.parse_time(taint.get("timeAdded"))


def _explain(
    e: sch.Eviction, taints: list[tuple[str, Obj]], w: World, ctx: CheckContext
) -> tuple[str, dict[str, Any]] | None:
    """The NoExecute taint that evicted this pod: on its node, untolerated, there in time."""
    tpl = _template(e, w.pods)
    for node, taint in taints:
        added = _added(taint)
        if (e.node and e.node != node) or (tpl is not None and kube.tolerates(tpl, taint)):
            continue
        if added is not None and added > e.when + timedelta(minutes=1):
            continue  # put there after this eviction: not its cause
        since = f" (added {duration(ctx.now - added)} ago)" if added else ""
        why = (
            f"which it does not tolerate (its tolerations: {sch.tolerations_text(tpl)})"
            if tpl
            else "put there before the eviction"
        )
        where = f"{node} carries {sch.taint_str(taint)}{since}{_pool_taint(node, taint, w)}"
        line = f"{e.ref}: {where}, {why}"
        pool = next((kube.pool_name(n) for n in w.nodes if kube.name(n) == node), None)
        return line, {"taint": sch.taint_str(taint), "node": node, "pool": pool or "?"}
    return None


@check("scheduling.noexecute_taint", inputs=INPUTS, optional=OPTIONAL)
def noexecute_taint(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """A node carries a NoExecute taint that the evicted pods do not tolerate."""
    w = world(ev, ctx)
    taints = _noexecute(w)
    if w.events is None:
        return StepResult.inconclusive(*sch.unavailable(ev, "events"))
    evictions = sch.taint_evictions(w.events, w.pods, ctx)
    now_there = "; ".join(f"{sch.taint_str(t)} on {n}" for n, t in taints) or "none"
    if not evictions:
        return StepResult.ruled_out(
            f"no taint-manager eviction to explain (NoExecute taints now: {now_there})"
        )
    hits, facts = [], {}
    for e in evictions:
        found = _explain(e, taints, w, ctx)
        if found is not None:
            hits.append(found[0])
            for key, value in found[1].items():
                facts.setdefault(key, value)
    if hits:
        return StepResult.confirmed(*hits[:5], evicted=[e.ref for e in evictions], **facts)
    return StepResult.ruled_out(
        f"no pool or user NoExecute taint explains the evictions of "
        f"{names([e.ref for e in evictions])} (NoExecute taints now: {now_there}); "
        "node.kubernetes.io/* evictions are node health: see driver-conflict, spot-eviction"
    )


def _pool_taint(node: str, taint: Obj, w: World) -> str:
    pool = next((kube.pool_name(n) for n in w.nodes if kube.name(n) == node), None)
    for p in w.pools:
        if p.get("name") == pool and sch.taint_str(taint) in {
            sch.taint_str(sch.parse_pool_taint(x))
            for x in arm.pool_props(p).get("nodeTaints") or []
        }:
            return f", set on agent pool {pool} (nodeTaints)"
    return ""


# ---- MIG resource mismatch ---------------------------------------------------------------


@check("scheduling.gpu_resource_unschedulable", inputs=INPUTS, optional=("agent_pools",))
def gpu_resource_unschedulable(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """A stuck pod's FailedScheduling says its GPU resource is insufficient."""
    w = world(ev, ctx)
    hits, other = [], []
    for pod, since in w.stuck:
        need = kube.gpu_request(pod)
        last = sch.last_failure(w.events, pod, ctx) if need else None
        short = [r for r in (last[1].insufficient if last else []) if r in need]
        if short and last:
            hits.append(
                f"{_pending(pod, since, ctx)} requesting {sch.gpus_text(need)}; scheduler: "
                + sch.event_quote(last[0], ctx)
            )
        elif need:
            other.append(f"{kube.ref(pod)}: the scheduler does not report its GPU resource short")
    if hits:
        return StepResult.confirmed(*hits[:5])
    if not other:
        return _none_stuck(ctx)
    return StepResult.ruled_out(*other[:5])


def _advertised(t: sch.Target, w: World) -> str:
    node = next((n for n in w.nodes if kube.name(n) == t.node), {})
    labels = [f"{k}={v}" for k, v in kube.labels(node).items() if k in MIG_LABELS]
    pool = next((p for p in w.pools if p.get("name") == t.pool), None)
    profile = arm.pool_props(pool).get("gpuInstanceProfile") if pool else None
    if profile:
        labels.append(f"agent pool {t.pool} gpuInstanceProfile {profile}")
    return sch.gpus_text({k: v for k, v in t.gpus.items() if v > 0}) + (
        f" ({', '.join(labels)})" if labels else ""
    )


@check("scheduling.mig_resource_mismatch", inputs=INPUTS, optional=OPTIONAL)
def mig_resource_mismatch(ev: Ev, params: Any, ctx: CheckContext) -> StepResult:
    """The stuck pod asks for whole GPUs where only MIG slices are advertised, or the reverse."""
    w = world(ev, ctx)
    gpu_stuck = [(p, s) for p, s in w.stuck if kube.requests_gpu(p)]
    if not gpu_stuck:
        return _none_stuck(ctx)
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
