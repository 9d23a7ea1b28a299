"""Row 9: an idle GPU node never scales down (a pod pins it, scale-down is disabled, or its
pool sits at its minimum), and what the idle hours cost so far. Row 10 is in cost_coldstart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.checks import _cost
from bot.checks import _evidence as evi
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import format_money, hourly_price
from bot.model.text import duration, names
from bot.model.verdicts import StepResult

Obj = dict[str, Any]

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


def _idle(ev: evi.Evidence, ctx: CheckContext) -> Idle:
    missing = None if ev["managed_cluster"].available else evi.why_unread(ev, "managed_cluster")
    profile = _cost.profile_from(evi.data(ev, "managed_cluster"), missing)
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
    return node.idle(ctx.now) >= unneeded and _cost.node_age(node.node, ctx.now) >= after_add


def _idle_line(node: _cost.IdleNode, ctx: CheckContext) -> str:
    why = "since it was created" if node.since_why == "created" else f"since {node.since_why}"
    return (
        f"{node.name} ({kube.instance_type(node.node)}, pool {kube.pool_name(node.node)}): "
        f"no pod requests a GPU, idle {duration(node.idle(ctx.now))} {why}"
    )


def _idle_to_judge(ev: evi.Evidence, ctx: CheckContext, *, cause: bool = True) -> Idle | StepResult:
    """The idle GPU nodes, or the verdict every row-9 step shares when there is none to examine
    (for a cause step, none overdue nor idle with the timer unknown)."""
    idle = _idle(ev, ctx)
    if idle.overdue or (cause and idle.candidates):
        return idle
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
def idle_gpu_node(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node runs no GPU pod for longer than the autoscaler's scale-down-unneeded-time."""
    idle = _idle_to_judge(ev, ctx, cause=False)
    if isinstance(idle, StepResult):
        return idle
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
def pinning_pods(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A pod on the idle GPU node that the cluster autoscaler will not evict."""
    idle = _idle_to_judge(ev, ctx)
    if isinstance(idle, StepResult):
        return idle
    pdbs = evi.data(ev, "pdbs")
    pins, unknown, harmless, system = [], [], [], False
    returning: set[tuple[str, str]] = set()
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
                if kube.owner_kind(pod) == "DaemonSet" or _cost.MIRROR in kube.annotations(pod):
                    returning.add((kube.namespace(pod), kube.name(pod)))
            else:
                harmless.append(f"{kube.ref(pod)} ({kube.owner_kind(pod) or 'bare pod'})")
    lines = [f"{p['namespace']}/{p['pod']} pins {p['node']}: {p['why']}" for p in pins]
    if pins:
        return StepResult.confirmed(
            *lines,
            *unknown,
            pinning=pins,
            # What evict-pinning-pod can free the node of: a DaemonSet or static (mirror) pod
            # comes straight back on the same node, so evicting it is never offered.
            evictable=[p for p in pins if (p["namespace"], p["pod"]) not in returning],
            system_pod_pins=system,
            pinning_pod=f"{pins[0]['namespace']}/{pins[0]['pod']}",
        )
    seen = f"pods on the idle node(s) the autoscaler may evict: {names(harmless, 5) or 'none'}"
    if unknown:
        return StepResult.inconclusive(*unknown, seen)
    return StepResult.ruled_out(seen + " (DaemonSet pods never block scale-down)")


@check("cost.scale_down_disabled", inputs=IDLE_INPUTS, optional=("managed_cluster",))
def scale_down_disabled(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """The idle GPU node carries cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"."""
    idle = _idle_to_judge(ev, ctx)
    if isinstance(idle, StepResult):
        return idle
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
def pool_at_minimum(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """The idle node's agent pool is at its autoscaler minimum (or not autoscaled at all)."""
    idle = _idle_to_judge(ev, ctx)
    if isinstance(idle, StepResult):
        return idle
    pools = arm.agent_pools(ev["agent_pools"].data)
    floor, above, unknown, floor_pools = [], [], [], {}
    for node in idle.candidates:
        pool = _cost.pool_of(node.node, pools)
        if _cost.is_kaito_node(node.node):
            above.append(f"{node.name}: KAITO-provisioned, released when its workspace goes")
        elif pool is None:
            unknown.append(f"{node.name}: pool {kube.pool_name(node.node)} not in agent pools")
        elif _at_floor(pool):
            floor.append(f"{node.name}: {_pool_line(pool)}")
            floor_pools[str(pool.get("name"))] = pool
        else:
            above.append(f"{node.name}: {_pool_line(pool)}")
    if floor:
        offers = [o for p in floor_pools.values() if (o := _floor_offer(p))]
        return StepResult.confirmed(
            *floor, *unknown, floor_pools=sorted(floor_pools), floor_offers=offers
        )
    if unknown:
        return StepResult.inconclusive(*unknown, *above)
    return StepResult.ruled_out(*above)


def _at_floor(pool: Obj) -> bool:
    props = arm.pool_props(pool)
    if not props.get("enableAutoScaling"):
        return True  # a manual pool never shrinks by itself
    return int(props.get("minCount") or 0) >= int(props.get("count") or 0)


def _floor_offer(pool: Obj) -> Obj | None:
    """pool-min-count's params to take the floor to 0, as its actuator accepts them: a hand-
    scaled pool gets the autoscaler with today's size as its ceiling (the actuator turns it on
    only with a max_count); a System pool keeps its node (AKS runs system pods there)."""
    props = arm.pool_props(pool)
    if str(props.get("mode", "")).lower() == "system":
        return None
    if not props.get("enableAutoScaling"):
        count = int(props.get("count") or 0)
        return {"pool": pool.get("name"), "max_count": count} if count >= 1 else None
    if int(props.get("minCount") or 0) == 0:
        return None  # already 0: nothing to change
    return {"pool": pool.get("name"), "max_count": None}


def _pool_line(pool: Obj) -> str:
    props = arm.pool_props(pool)
    count = props.get("count")
    if not props.get("enableAutoScaling"):
        return f"pool {pool.get('name')} has autoscaling off: fixed at {count} node(s)"
    low, high = props.get("minCount"), props.get("maxCount")
    verdict = "at its minimum, the floor holds the node" if _at_floor(pool) else "could shrink"
    return f"pool {pool.get('name')} count {count}, minCount {low}, maxCount {high}: {verdict}"


@check("cost.idle_cost", inputs=IDLE_INPUTS, optional=("managed_cluster",))
def idle_cost(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """Idle GPU node-hours so far at the seed's indicative price for the instance type."""
    idle = _idle_to_judge(ev, ctx)
    if isinstance(idle, StepResult):
        return idle
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
