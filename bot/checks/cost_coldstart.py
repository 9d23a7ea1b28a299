"""Row 10: the first request after idle is slow because the pool scaled to zero and nothing
pre-warms a node before traffic."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bot.checks import _cost, _workloads
from bot.checks import _evidence as evi
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import duration, names
from bot.model.verdicts import StepResult

Obj = dict[str, Any]

COLD_INPUTS = {
    "nodes": "kubernetes.list",
    "pods": "kubernetes.list",
    "agent_pools": "azure.agent_pools",
}


@dataclass(frozen=True)
class Serving:
    node: Obj
    pods: list[Obj]
    pool: str | None
    floor: str  # "min 0 (autoscaled 1/4)", "KAITO on-demand", "min 1", "unknown: ..."
    min_zero: bool | None  # None = the pool could not be read


def serving_nodes(ev: evi.Evidence, ctx: CheckContext) -> list[Serving]:
    """GPU nodes serving an in-scope inference pod, with what their pool's floor is."""
    pools = arm.agent_pools(evi.data(ev, "agent_pools")) if ev["agent_pools"].available else None
    out = []
    for node in kube.gpu_nodes(ev["nodes"].data):
        pods = [
            p
            for p in _cost.live_pods_on(kube.name(node), ev["pods"].data)
            if _workloads.is_serving(p) and _in_scope(p, ctx)
        ]
        if pods:
            out.append(Serving(node, pods, kube.pool_name(node), *_floor(node, pools, ev)))
    return out


def _in_scope(pod: Obj, ctx: CheckContext) -> bool:
    return ctx.scope.admits(kube.namespace(pod), kube.workspace_of(pod))


def _floor(node: Obj, pools: list[Obj] | None, ev: evi.Evidence) -> tuple[str, bool | None]:
    if _cost.is_kaito_node(node):
        return "provisioned on demand by KAITO (no standing node)", True
    if pools is None:
        return evi.why_unread(ev, "agent_pools"), None
    pool = _cost.pool_of(node, pools)
    if pool is None:
        return f"pool {kube.pool_name(node)} not in azure/agent-pools", None
    props = arm.pool_props(pool)
    if not props.get("enableAutoScaling"):
        return f"pool {pool.get('name')} not autoscaled (fixed {props.get('count')})", False
    low = int(props.get("minCount") or 0)
    return (
        f"pool {pool.get('name')} autoscaler minCount {low} "
        f"(now {props.get('count')}/{props.get('maxCount')})"
    ), low == 0


def _cold(s: Serving, ctx: CheckContext) -> bool:
    created = kube.created(s.node)
    return created is not None and ctx.now - created <= ctx.thresholds.cold_node


def _ready_line(pod: Obj, node: Obj) -> str | None:
    cond, created = kube.condition(pod, "Ready"), kube.created(node)
    ready = kube.parse_time((cond or {}).get("lastTransitionTime"))
    if (cond or {}).get("status") != "True" or ready is None or created is None or ready < created:
        return None
    return f"{kube.ref(pod)} became Ready {duration(ready - created)} after the node was created"


@check(
    "cost.cold_gpu_node",
    inputs={**COLD_INPUTS, "events": "kubernetes.list"},
    optional=("agent_pools", "events"),
)
def cold_gpu_node(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node no older than the cold-node threshold serves inference in a min-0 pool."""
    serving, limit = serving_nodes(ev, ctx), duration(ctx.thresholds.cold_node)
    young = [s for s in serving if _cold(s, ctx)]
    cold = [s for s in young if s.min_zero]
    if not cold:
        # An old node is not cold whatever its pool: quote the floor only where it decides.
        lines = [
            f"{kube.name(s.node)}: {duration(_cost.node_age(s.node, ctx.now))} old"
            + (f" ({s.floor})" if s in young or s.min_zero is not None else "")
            for s in serving[:3]
        ]
        if any(s.min_zero is None for s in young):
            return StepResult.inconclusive(*lines)
        return StepResult.ruled_out(
            *lines or ["no GPU node serves an inference pod"],
            f"no serving GPU node is both younger than {limit} and in a pool whose minimum is 0",
        )
    lines = []
    for s in cold:
        lines.append(
            f"{kube.name(s.node)}: created {duration(_cost.node_age(s.node, ctx.now))} ago "
            f"({s.floor}): the pool scaled from zero"
        )
        lines += [line for p in s.pods if (line := _ready_line(p, s.node))]
    lines += _scale_up_events(ev, ctx)
    first = cold[0]
    return StepResult.confirmed(
        *lines,
        cold_node=kube.name(first.node),
        cold_age=duration(_cost.node_age(first.node, ctx.now)),
        cold_pools=sorted({s.pool for s in cold if s.pool and not _cost.is_kaito_node(s.node)}),
    )


def _scale_up_events(ev: evi.Evidence, ctx: CheckContext) -> list[str]:
    events = evi.data(ev, "events") or []
    window = ctx.now - ctx.thresholds.lookback
    return [
        f"{kube.involved(e).get('name')}: {kube.event_message(e)} "
        f"({duration(ctx.now - (kube.event_time(e) or ctx.now))} ago)"
        for e in kube.recent_events(events, ctx.now, window, reasons=("TriggeredScaleUp",))
    ][:2]


@check(
    "cost.no_prewarm",
    inputs={
        **COLD_INPUTS,
        "cronjobs": "kubernetes.list",
        "workspaces": "kubernetes.list",
        "statefulsets": "kubernetes.list",
        "deployments": "kubernetes.list",
    },
    optional=("agent_pools", "workspaces", "statefulsets", "deployments"),
)
def no_prewarm(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """No CronJob scales the served workload up before traffic, and the pool minimum is 0."""
    everything = serving_nodes(ev, ctx)
    serving = [s for s in everything if s.min_zero]
    cold = [s for s in serving if _cold(s, ctx)] or serving
    if not cold:
        unknown = [f"{kube.name(s.node)}: {s.floor}" for s in everything if s.min_zero is None]
        if unknown:
            return StepResult.inconclusive(*unknown)
        return StepResult.ruled_out("no inference workload runs in a pool whose minimum is 0")
    cronjobs = list(ev["cronjobs"].data)
    missing, warmed, targets = [], [], []
    for t in _targets(cold, ev):
        names = [t.workspace or "", (t.target or "").partition("/")[2]]
        found = _workloads.prewarms_for(t.namespace, t.workload, names, cronjobs)
        active = [cj for cj in found if not (cj.get("spec") or {}).get("suspend")]
        warmed += [_prewarm_line(cj, t.workload) for cj in found]
        if not active:
            missing.append({"namespace": t.namespace, "workload": t.workload})
            targets.append(t)
    if not missing:
        return StepResult.ruled_out(*warmed)
    lines = [
        f"no CronJob scales {m['workload']} in {m['namespace']} up "
        f"({len(cronjobs)} CronJob(s) read)"
        for m in missing
    ]
    lines += [f"{kube.name(s.node)}: {s.floor}: nothing keeps a warm node" for s in cold[:2]]
    lines += [t.line for t in targets if t.line]
    return StepResult.confirmed(
        *lines,
        *warmed,
        unwarmed=missing,
        # Only what the pre-warm fixes can scale is offered; the rest is explained (t.line).
        prewarm_targets=_unique([t.offer() for t in targets if t.target]),
        bare_workspaces=[
            {"namespace": t.namespace, "workspace": t.workspace, "workload": t.workload}
            for t in targets
            if t.workspace and not t.target
        ],
        prewarm_time_zone=_time_zone(cronjobs),
    )


def _targets(cold: list[Serving], ev: evi.Evidence) -> list[_workloads.PrewarmTarget]:
    """Each workload served on a cold node, with what a pre-warm of it would scale."""
    workspaces = evi.data(ev, "workspaces")
    controllers = _controllers(ev)
    seen: dict[tuple[str, str], _workloads.PrewarmTarget] = {}
    for pod in (p for s in cold for p in s.pods):
        ns, workload, ws = kube.namespace(pod), _workloads.workload_of(pod), kube.workspace_of(pod)
        if (ns, workload) in seen:
            continue
        owner_set = kube.inferenceset_of(pod)  # newer KAITO labels the pods too
        if ws and workspaces is not None:
            owner_set = _workloads.inferenceset_of_workspace(ns, ws, workspaces) or owner_set
        seen[(ns, workload)] = _workloads.prewarm_target(
            ns,
            workload,
            workspace=ws,
            inferenceset=owner_set,
            workspaces_read=workspaces is not None,
            controller=controllers.get((ns, workload)),
        )
    return [seen[k] for k in sorted(seen)]


def _controllers(ev: evi.Evidence) -> dict[tuple[str, str], str]:
    """(namespace, kind/name) -> "Kind name" of the controller owning a StatefulSet or
    Deployment (where they were read): the pre-warms refuse to scale those."""
    out = {}
    for plural, kind in (("statefulsets", "statefulset"), ("deployments", "deployment")):
        for obj in evi.data(ev, plural) or []:
            owner = kube.owner_kind(obj)
            if owner is not None:
                key = (kube.namespace(obj), f"{kind}/{kube.name(obj)}")
                out[key] = f"{owner} {kube.owner_name(obj)}"
    return out


def _unique(items: list[Obj]) -> list[Obj]:
    return [dict(t) for t in dict.fromkeys(tuple(sorted(i.items())) for i in items)]


def _prewarm_line(cj: Obj, workload: str) -> str:
    spec = cj.get("spec") or {}
    zone = spec.get("timeZone") or "the controller's zone (no timeZone)"
    state = " but is suspended" if spec.get("suspend") else ""
    return f"CronJob {kube.ref(cj)} scales {workload} on '{spec.get('schedule')}' ({zone}){state}"


def _time_zone(cronjobs: list[Obj]) -> str:
    """The cluster's CronJob convention: the most used timeZone, else UTC."""
    zones = Counter(str(z) for cj in cronjobs if (z := (cj.get("spec") or {}).get("timeZone")))
    return zones.most_common(1)[0][0] if zones else "UTC"


@check(
    "cost.first_token_latency",
    inputs={**COLD_INPUTS, "metrics": "kubernetes.pod_metrics"},
    optional=("agent_pools",),
)
def first_token_latency(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """vLLM's time-to-first-token histogram on the pods of young GPU nodes (context)."""
    pods = {
        kube.ref(p) for s in serving_nodes(ev, ctx) if _cold(s, ctx) and s.min_zero for p in s.pods
    }
    lines, slow = [], False
    for entry in ev["metrics"].data:
        ref = f"{entry.get('namespace')}/{entry.get('pod')}"
        if ref in pods and entry.get("samples"):
            line, over = _ttft(ref, entry["samples"])
            lines += [line] if line else []
            slow = slow or over
    if not pods:
        return StepResult.ruled_out("no inference pod runs on a freshly scaled-up GPU node")
    if not lines:
        return StepResult.inconclusive(
            f"no time_to_first_token histogram from {names(sorted(pods))}"
        )
    return StepResult.confirmed(*lines) if slow else StepResult.ruled_out(*lines)


def _ttft(ref: str, samples: list[Obj]) -> tuple[str | None, bool]:
    name = "vllm:time_to_first_token_seconds"
    buckets = sorted(
        (float(s["labels"]["le"]), s["value"])
        for s in samples
        if s.get("name") == name + "_bucket" and "le" in (s.get("labels") or {})
    )
    count = sum(s["value"] for s in samples if s.get("name") == name + "_count")
    total = sum(s["value"] for s in samples if s.get("name") == name + "_sum")
    finite = [(le, n) for le, n in buckets if le != float("inf")]
    if not count or not finite:
        return None, False
    top, under = finite[-1]
    over = int(count - under)
    return (
        f"{ref}: {int(count)} requests, mean time to first token {total / count:.2f} s, "
        f"{over} slower than {top:g} s"
    ), over > 0
