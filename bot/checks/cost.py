"""Row 9 (an idle GPU node never scales down) and row 10 (cold start after scale-to-zero)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.checks import _cost
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import format_money, hourly_price
from bot.model.evidence import Answer
from bot.model.text import duration, names
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


def _data(ev: Mapping[str, Answer], name: str) -> Any:
    answer = ev.get(name)
    return answer.data if answer is not None and answer.available else None


def _why(ev: Mapping[str, Answer], name: str) -> str:
    return f"{ev[name].source} unavailable: {ev[name].unavailable}"


# ---- row 9: idle GPU nodes ------------------------------------------------------------------

IDLE_INPUTS = {
    "nodes": "kubernetes.list",
    "gpu_pods": "kubernetes.pods_on_gpu_nodes",
    "managed_cluster": "azure.managed_cluster",
}


@dataclass(frozen=True)
class Idle:
    overdue: list[_cost.IdleNode]  # idle past scale-down-unneeded-time: should be gone
    waiting: list[_cost.IdleNode]  # idle, but the autoscaler's timers have not run out
    busy: list[str]  # GPU nodes running a GPU pod, as evidence lines
    profile: _cost.Profile

    @property
    def candidates(self) -> list[_cost.IdleNode]:
        """Nodes the cause steps examine: overdue ones; every idle one when the timer is
        unknown, so what pins them is still reported (the symptom stays inconclusive)."""
        return self.waiting if self.profile.missing else self.overdue


def _idle(ev: Mapping[str, Answer], ctx: CheckContext) -> Idle:
    missing = None if ev["managed_cluster"].available else _why(ev, "managed_cluster")
    profile = _cost.profile_from(_data(ev, "managed_cluster"), missing)
    pods = list(ev["gpu_pods"].data)
    idle = _cost.idle_gpu_nodes(ev["nodes"].data, pods)
    idle_names = {n.name for n in idle}
    busy = []
    for node in kube.gpu_nodes(ev["nodes"].data):
        gpu = [p for p in _cost.live_pods_on(kube.name(node), pods) if kube.requests_gpu(p)]
        if kube.name(node) not in idle_names and gpu:
            wants = ", ".join(f"{k}: {v}" for k, v in kube.gpu_request(gpu[0]).items())
            busy.append(f"{kube.name(node)} is busy: {kube.ref(gpu[0])} runs there ({wants})")
    if profile.unneeded is None:
        return Idle([], idle, busy, profile)
    overdue = [n for n in idle if _overdue(n, profile, ctx)]
    return Idle(overdue, [n for n in idle if n not in overdue], busy, profile)


def _overdue(node: _cost.IdleNode, profile: _cost.Profile, ctx: CheckContext) -> bool:
    # Scale-down also waits scale-down-delay-after-add after the node's own scale-up.
    unneeded = profile.unneeded or timedelta(0)
    after_add = profile.delay_after_add or unneeded
    return node.idle(ctx.now) >= unneeded and _age(node.node, ctx) >= after_add


def _age(node: Obj, ctx: CheckContext) -> timedelta:
    return ctx.now - (kube.created(node) or ctx.now)


def _idle_line(node: _cost.IdleNode, ctx: CheckContext) -> str:
    why = "since it was created" if node.since_why == "created" else f"since {node.since_why}"
    return (
        f"{node.name} ({kube.instance_type(node.node)}, pool {kube.pool_name(node.node)}): "
        f"no pod requests a GPU, idle {duration(node.idle(ctx.now))} {why}"
    )


def _nothing_idle(idle: Idle, ctx: CheckContext, *, cause: bool = True) -> StepResult | None:
    """The shared verdict when there is no idle node to examine (None = there is)."""
    if idle.overdue or (cause and idle.candidates):
        return None
    if idle.waiting and idle.profile.missing:
        return StepResult.inconclusive(
            *(_idle_line(n, ctx) for n in idle.waiting[:3]),
            f"scale-down-unneeded-time unknown: {idle.profile.missing}",
        )
    if idle.waiting:
        return StepResult.ruled_out(
            *(
                f"{_idle_line(n, ctx)}; under scale-down-unneeded-time "
                f"{idle.profile.unneeded_text} (or scale-down-delay-after-add): "
                "the autoscaler has not had time yet"
                for n in idle.waiting[:3]
            )
        )
    return StepResult.ruled_out(*(idle.busy[:3] or ["no GPU node in the cluster"]))


@check("cost.idle_gpu_node", inputs=IDLE_INPUTS, optional=("managed_cluster",))
def idle_gpu_node(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node runs no GPU pod for longer than the autoscaler's scale-down-unneeded-time."""
    idle = _idle(ev, ctx)
    verdict = _nothing_idle(idle, ctx, cause=False)
    if verdict is not None:
        return verdict
    first = idle.overdue[0]
    return StepResult.confirmed(
        *(
            f"{_idle_line(n, ctx)} (scale-down-unneeded-time {idle.profile.unneeded_text})"
            for n in idle.overdue[:5]
        ),
        idle_node=first.name,
        idle_for=duration(first.idle(ctx.now)),
        idle_nodes=[n.name for n in idle.overdue],
        unneeded_time=idle.profile.unneeded_text,
    )


@check(
    "cost.pinning_pods",
    inputs={**IDLE_INPUTS, "pdbs": "kubernetes.list"},
    optional=("managed_cluster", "pdbs"),
)
def pinning_pods(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A pod on the idle GPU node that the cluster autoscaler will not evict."""
    idle = _idle(ev, ctx)
    verdict = _nothing_idle(idle, ctx)
    if verdict is not None:
        return verdict
    pdbs = _data(ev, "pdbs")
    pins, unknown, harmless, system = [], [], [], False
    for node in idle.candidates:
        for pod in node.pods:
            found = _cost.pin_reasons(pod, idle.profile, pdbs)
            unknown += found.unknown
            system = system or found.system_pod
            if found.reasons:
                pins.append(
                    {
                        "namespace": kube.namespace(pod),
                        "pod": kube.name(pod),
                        "node": node.name,
                        "why": "; ".join(found.reasons),
                    }
                )
            else:
                harmless.append(f"{kube.ref(pod)} ({kube.owner_kind(pod) or 'bare pod'})")
    lines = [f"{p['namespace']}/{p['pod']} pins {p['node']}: {p['why']}" for p in pins]
    if pins:
        return StepResult.confirmed(
            *lines,
            *unknown,
            pinning=pins,
            system_pod_pins=system,
            pinning_pod=f"{pins[0]['namespace']}/{pins[0]['pod']}",
        )
    seen = f"pods on the idle node(s) the autoscaler may evict: {names(harmless, 5) or 'none'}"
    if unknown:
        return StepResult.inconclusive(*unknown, seen)
    return StepResult.ruled_out(seen + " (DaemonSet pods never block scale-down)")


@check("cost.scale_down_disabled", inputs=IDLE_INPUTS, optional=("managed_cluster",))
def scale_down_disabled(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """The idle GPU node carries cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"."""
    idle = _idle(ev, ctx)
    verdict = _nothing_idle(idle, ctx)
    if verdict is not None:
        return verdict
    marked = [
        n.name
        for n in idle.candidates
        if kube.annotations(n.node).get(_cost.SCALE_DOWN_DISABLED, "").lower() == "true"
    ]
    if marked:
        return StepResult.confirmed(
            *(f'{n}: annotated {_cost.SCALE_DOWN_DISABLED}: "true"' for n in marked),
            disabled_nodes=marked,
        )
    return StepResult.ruled_out(
        f"{names([n.name for n in idle.candidates])}: no {_cost.SCALE_DOWN_DISABLED} annotation"
    )


@check(
    "cost.pool_at_minimum",
    inputs={**IDLE_INPUTS, "agent_pools": "azure.agent_pools"},
    optional=("managed_cluster",),
)
def pool_at_minimum(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """The idle node's agent pool is at its autoscaler minimum (or not autoscaled at all)."""
    idle = _idle(ev, ctx)
    verdict = _nothing_idle(idle, ctx)
    if verdict is not None:
        return verdict
    pools = arm.agent_pools(ev["agent_pools"].data)
    floor, above, unknown, floor_pools = [], [], [], set()
    for node in idle.candidates:
        pool = _cost.pool_of(node.node, pools)
        if _cost.is_kaito_node(node.node):
            above.append(f"{node.name}: KAITO-provisioned, released when its workspace goes")
        elif pool is None:
            unknown.append(f"{node.name}: pool {kube.pool_name(node.node)} not in agent pools")
        elif _at_floor(pool):
            floor.append(f"{node.name}: {_pool_line(pool)}")
            floor_pools.add(str(pool.get("name")))
        else:
            above.append(f"{node.name}: {_pool_line(pool)}")
    if floor:
        return StepResult.confirmed(*floor, *unknown, floor_pools=sorted(floor_pools))
    if unknown:
        return StepResult.inconclusive(*unknown, *above)
    return StepResult.ruled_out(*above)


def _at_floor(pool: Obj) -> bool:
    props = arm.pool_props(pool)
    if not props.get("enableAutoScaling"):
        return True  # a manual pool never shrinks by itself
    return int(props.get("minCount") or 0) >= int(props.get("count") or 0)


def _pool_line(pool: Obj) -> str:
    props = arm.pool_props(pool)
    count = props.get("count")
    if not props.get("enableAutoScaling"):
        return f"pool {pool.get('name')} has autoscaling off: fixed at {count} node(s)"
    low, high = props.get("minCount"), props.get("maxCount")
    verdict = "at its minimum, the floor holds the node" if _at_floor(pool) else "could shrink"
    return f"pool {pool.get('name')} count {count}, minCount {low}, maxCount {high}: {verdict}"


@check("cost.idle_cost", inputs=IDLE_INPUTS, optional=("managed_cluster",))
def idle_cost(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """Idle GPU node-hours so far at the seed's indicative price for the instance type."""
    idle = _idle(ev, ctx)
    verdict = _nothing_idle(idle, ctx)
    if verdict is not None:
        return verdict
    currency, total, lines, unknown = ctx.thresholds.currency, 0.0, [], []
    for node in idle.candidates:
        sku = kube.instance_type(node.node)
        price = hourly_price(sku, currency)
        hours = node.idle(ctx.now).total_seconds() / 3600
        if price is None:
            unknown.append(f"{node.name}: no indicative {currency} price for {sku}")
            continue
        total += hours * price
        lines.append(
            f"{node.name}: idle {duration(node.idle(ctx.now))} "
            f"{format_money(hours * price, currency)} so far "
            f"({sku} at ~{price:g} {currency}/h)"
        )
    if not lines:
        return StepResult.inconclusive(*unknown)
    return StepResult.confirmed(*lines, *unknown, idle_cost=format_money(total, currency))


# ---- row 10: cold start after scale-to-zero -------------------------------------------------

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


def serving_nodes(ev: Mapping[str, Answer], ctx: CheckContext) -> list[Serving]:
    """GPU nodes serving an in-scope inference pod, with what their pool's floor is."""
    pools = arm.agent_pools(_data(ev, "agent_pools")) if ev["agent_pools"].available else None
    out = []
    for node in kube.gpu_nodes(ev["nodes"].data):
        pods = [
            p
            for p in _cost.live_pods_on(kube.name(node), ev["pods"].data)
            if _cost.is_serving(p) and _in_scope(p, ctx)
        ]
        if pods:
            out.append(Serving(node, pods, kube.pool_name(node), *_floor(node, pools, ev)))
    return out


def _in_scope(pod: Obj, ctx: CheckContext) -> bool:
    return ctx.scope.admits(kube.namespace(pod), kube.workspace_of(pod))


def _floor(node: Obj, pools: list[Obj] | None, ev: Mapping[str, Answer]) -> tuple[str, bool | None]:
    if _cost.is_kaito_node(node):
        return "provisioned on demand by KAITO (no standing node)", True
    if pools is None:
        return _why(ev, "agent_pools"), None
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
def cold_gpu_node(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node no older than the cold-node threshold serves inference in a min-0 pool."""
    serving, limit = serving_nodes(ev, ctx), duration(ctx.thresholds.cold_node)
    young = [s for s in serving if _cold(s, ctx)]
    cold = [s for s in young if s.min_zero]
    if not cold:
        # An old node is not cold whatever its pool: quote the floor only where it decides.
        lines = [
            f"{kube.name(s.node)}: {duration(_age(s.node, ctx))} old"
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
            f"{kube.name(s.node)}: created {duration(_age(s.node, ctx))} ago "
            f"({s.floor}): the pool scaled from zero"
        )
        lines += [line for p in s.pods if (line := _ready_line(p, s.node))]
    lines += _scale_up_events(ev, ctx)
    first = cold[0]
    return StepResult.confirmed(
        *lines,
        cold_node=kube.name(first.node),
        cold_age=duration(_age(first.node, ctx)),
        cold_pools=sorted({s.pool for s in cold if s.pool and not _cost.is_kaito_node(s.node)}),
    )


def _scale_up_events(ev: Mapping[str, Answer], ctx: CheckContext) -> list[str]:
    events = _data(ev, "events") or []
    window = ctx.now - ctx.thresholds.lookback
    return [
        f"{kube.involved(e).get('name')}: {kube.event_message(e)} "
        f"({duration(ctx.now - (kube.event_time(e) or ctx.now))} ago)"
        for e in kube.recent_events(events, ctx.now, window, reasons=("TriggeredScaleUp",))
    ][:2]


@check(
    "cost.no_prewarm",
    inputs={**COLD_INPUTS, "cronjobs": "kubernetes.list"},
    optional=("agent_pools",),
)
def no_prewarm(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
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
    missing, warmed = [], []
    targets = {
        (kube.namespace(p), _cost.workload_of(p), kube.workspace_of(p) or "")
        for s in cold
        for p in s.pods
    }
    for ns, workload, ws in sorted(targets):
        found = _cost.prewarms_for(ns, workload, [ws], cronjobs)
        active = [cj for cj in found if not (cj.get("spec") or {}).get("suspend")]
        warmed += [_prewarm_line(cj, workload) for cj in found]
        if not active:
            missing.append({"namespace": ns, "workload": workload})
    if not missing:
        return StepResult.ruled_out(*warmed)
    lines = [
        f"no CronJob scales {m['workload']} in {m['namespace']} up "
        f"({len(cronjobs)} CronJob(s) read)"
        for m in missing
    ]
    lines += [f"{kube.name(s.node)}: {s.floor}: nothing keeps a warm node" for s in cold[:2]]
    return StepResult.confirmed(
        *lines, *warmed, unwarmed=missing, prewarm_time_zone=_time_zone(cronjobs)
    )


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
def first_token_latency(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
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
