"""Row 13: a Spot node was evicted (preempted) while synchronous serving ran on Spot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.checks import _cost, _workloads
from bot.checks import _evidence as evi
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, duration, names
from bot.model.verdicts import StepResult

Obj = dict[str, Any]

# Azure Scheduled Events "Preempt" only ever reaches Spot VMs; AKS's node problem detector
# reports it as PreemptScheduled, termination handlers and Karpenter use the others.
SPOT_REASONS = (
    "PreemptScheduled",
    "SpotEviction",
    "SpotInterrupted",
    "SpotInterruption",
    "Preempted",
)
NODE_LOSS_REASONS = ("NodeNotReady", "RemovingNode", "DeletingNode", "NodeShutdown")
POD_LOSS_REASONS = ("TaintManagerEviction", "NodeNotReady", "Evicted", "Killing")
SPOT_CAPACITY_LABEL = "karpenter.sh/capacity-type"
_AKS_NODE = re.compile(r"^aks-([a-z][a-z0-9]{0,11})-\d+-vmss[0-9a-z]+$")
_ASSIGNED = re.compile(r"Successfully assigned (\S+)/(\S+) to (\S+)")

EVICTION_INPUTS = {
    "events": "kubernetes.list",
    "nodes": "kubernetes.list",
    "pods": "kubernetes.list",
    "nodeclaims": "kubernetes.list",
    "agent_pools": "azure.agent_pools",
}
OPTIONAL = ("pods", "nodeclaims", "agent_pools")


@dataclass(frozen=True)
class Loss:
    node: str
    when: datetime
    what: str  # "PreemptScheduled: <message>"
    pod: str | None = None  # "ns/name" when a pod was evicted from the node


@dataclass(frozen=True)
class Fleet:
    """What is known about which nodes are Spot, including nodes that are already gone."""

    nodes: dict[str, Obj]
    pools: list[Obj] | None
    spot_claims: set[str]

    def spot(self, node: str) -> bool | None:
        if node in self.nodes:
            return kube.is_spot(self.nodes[node])
        match = _AKS_NODE.match(node)
        pool = next(
            (p for p in self.pools or [] if match and p.get("name") == match.group(1)), None
        )
        if pool is not None:
            return arm.pool_is_spot(pool)
        return None if self.pools is None or match is None else False


def _fleet(ev: evi.Evidence) -> Fleet:
    claims = evi.data(ev, "nodeclaims") or []
    return Fleet(
        nodes=kube.by_name(ev["nodes"].data),
        pools=arm.agent_pools(evi.data(ev, "agent_pools")) if ev["agent_pools"].available else None,
        spot_claims={
            kube.name(c) for c in claims if kube.labels(c).get(SPOT_CAPACITY_LABEL) == "spot"
        },
    )


def _spot_words(message: str) -> bool:
    low = message.lower()
    return "preempt" in low or ("spot" in low and ("evict" in low or "interrupt" in low))


def node_losses(ev: evi.Evidence, fleet: Fleet, ctx: CheckContext) -> tuple[list[Loss], list[str]]:
    """Spot nodes and NodeClaims preempted or lost within the lookback; plus what is unknown."""
    losses, unknown = [], []
    window = ctx.now - ctx.thresholds.lookback
    for e in kube.recent_events(ev["events"].data, ctx.now, window):
        name, what = str(kube.involved(e).get("name")), _node_signal(e, fleet)
        if what is None:
            continue
        if what.startswith("?"):
            unknown.append(f"{name}: {what[1:]} and gone, but whether it was Spot is unknown")
        else:
            losses.append(Loss(name, kube.event_time(e) or ctx.now, what))
    return losses + _preempt_conditions(fleet, window), unknown


def _node_signal(event: Obj, fleet: Fleet) -> str | None:
    """How this event shows a Spot loss ("?reason" = a lost node not known to be Spot)."""
    obj, reason, msg = kube.involved(event), str(event.get("reason")), kube.event_message(event)
    name, kind = str(obj.get("name")), obj.get("kind")
    spot_signal = reason in SPOT_REASONS or _spot_words(msg)
    if kind == "NodeClaim" and (
        spot_signal or (name in fleet.spot_claims and "nterrupt" in reason)
    ):
        return f"NodeClaim {reason}: {clip(msg, 120)}"
    if kind != "Node":
        return None
    if spot_signal:
        return f"{reason}: {clip(msg, 120)}"
    if reason in NODE_LOSS_REASONS and _gone(name, fleet):
        spot = fleet.spot(name)
        return f"{reason}: {clip(msg, 120)}" if spot else (f"?{reason}" if spot is None else None)
    return None


def _gone(name: str, fleet: Fleet) -> bool:
    node = fleet.nodes.get(name)
    return node is None or not kube.is_ready(node)


def _preempt_conditions(fleet: Fleet, window: datetime) -> list[Loss]:
    out = []
    for node in fleet.nodes.values():
        cond = kube.condition(node, "VMEventScheduled") or {}
        when = kube.parse_time(cond.get("lastTransitionTime"))
        text = f"{cond.get('reason', '')} {cond.get('message', '')}"
        if cond.get("status") == "True" and when and when >= window and _spot_words(text):
            out.append(Loss(kube.name(node), when, f"VMEventScheduled: {clip(text.strip(), 120)}"))
    return out


def pod_losses(ev: evi.Evidence, fleet: Fleet, lost: set[str], ctx: CheckContext) -> list[Loss]:
    """Pods evicted from a Spot node within the lookback (node from the event or placement)."""
    events, placements = ev["events"].data, _placements(ev)
    out = []
    window = ctx.now - ctx.thresholds.lookback
    for e in kube.recent_events(events, ctx.now, window, reasons=POD_LOSS_REASONS):
        obj, when = kube.involved(e), kube.event_time(e) or ctx.now
        key = (str(obj.get("namespace") or kube.namespace(e)), str(obj.get("name")))
        node = (e.get("source") or {}).get("host") or _placed(placements.get(key, []), when)
        if obj.get("kind") != "Pod" or not node or not fleet.spot(node):
            continue
        if e.get("reason") != "Killing" or node in lost:  # a plain rollout is not an eviction
            what = f"{e.get('reason')}: {clip(kube.event_message(e), 100)}"
            out.append(Loss(node, when, what, "/".join(key)))
    return out


def _placements(ev: evi.Evidence) -> dict[tuple[str, str], list[tuple[datetime, str]]]:
    """Where each pod name was bound and since when: Scheduled events, then live pods. A
    StatefulSet reuses the name, so the placement must precede the eviction it explains."""
    out: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for e in ev["events"].data:
        match = _ASSIGNED.search(kube.event_message(e)) if e.get("reason") == "Scheduled" else None
        when = kube.event_time(e)
        if match and when:
            out.setdefault((match.group(1), match.group(2)), []).append((when, match.group(3)))
    for pod in evi.data(ev, "pods") or []:
        created = kube.created(pod)
        if kube.node_name(pod) and created:
            key = (kube.namespace(pod), kube.name(pod))
            out.setdefault(key, []).append((created, str(kube.node_name(pod))))
    return out


def _placed(placements: list[tuple[datetime, str]], when: datetime) -> str | None:
    before = [p for p in placements if p[0] <= when]
    return max(before)[1] if before else None


def _losses(ev: evi.Evidence, ctx: CheckContext) -> tuple[list[Loss], list[Loss], list[str]]:
    fleet = _fleet(ev)
    nodes, unknown = node_losses(ev, fleet, ctx)
    pods = pod_losses(ev, fleet, {n.node for n in nodes}, ctx)
    return nodes, pods, unknown


@check("spot.evicted", inputs=EVICTION_INPUTS, optional=OPTIONAL)
def spot_evicted(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A Spot node (or NodeClaim) was preempted, or pods were evicted from one, in the lookback."""
    nodes, pods, unknown = _losses(ev, ctx)
    hard = [p for p in pods if not p.what.startswith("Killing")]
    if not nodes and not hard:
        lookback = duration(ctx.thresholds.lookback)
        spot = [n for n in ev["nodes"].data if kube.is_spot(n)]
        line = (
            f"no Spot preemption or eviction in the last {lookback} "
            f"({len(spot)} Spot node(s) now: {names([kube.name(n) for n in spot]) or 'none'})"
        )
        return StepResult.inconclusive(*unknown, line) if unknown else StepResult.ruled_out(line)
    lines = [f"{n.node} (Spot): {n.what} ({duration(ctx.now - n.when)} ago)" for n in _first(nodes)]
    lines += [
        f"{p.pod} evicted from Spot node {p.node}: {p.what} ({duration(ctx.now - p.when)} ago)"
        for p in _first(pods)
    ]
    lost = [n.node for n in _first(nodes)] or [p.node for p in pods]
    return StepResult.confirmed(
        *lines[:6],
        evicted_node=lost[0],
        evicted_nodes=lost,
        evicted_pods=sorted({p.pod for p in pods if p.pod}),
    )


def _first(losses: list[Loss]) -> list[Loss]:
    """One line per node (or pod): the earliest signal, which is closest to the eviction."""
    seen: dict[str, Loss] = {}
    for loss in sorted(losses, key=lambda x: x.when):
        seen.setdefault(loss.pod or loss.node, loss)
    return list(seen.values())


@check(
    "spot.sync_serving",
    inputs={**EVICTION_INPUTS, "services": "kubernetes.list"},
    optional=("nodeclaims", "agent_pools", "services"),
)
def sync_serving(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """Synchronous inference (KAITO workspace pod, GPU pod behind a Service) runs on or was
    evicted from Spot: KAITO pods tolerate the Spot taint, so node labels decide."""
    fleet, services = _fleet(ev), evi.data(ev, "services")
    serving, unknown = _serving(ev["pods"].data, services, ctx)
    on_spot = [p for p in serving if kube.node_name(p) and fleet.spot(str(kube.node_name(p)))]
    _, lost_pods, _ = _losses(ev, ctx)
    prefixes = {f"{kube.namespace(p)}/{kube.owner_name(p) or kube.name(p)}" for p in serving}
    evicted = [x for x in lost_pods if x.pod and _belongs(x.pod, prefixes)]
    batch = sorted({x.pod for x in lost_pods if x.pod and x not in evicted})
    lines = [f"{kube.ref(p)} ({_kind(p)}) serves on Spot node {kube.node_name(p)}" for p in on_spot]
    lines += [f"{x.pod} (serving) was evicted from Spot node {x.node}" for x in _first(evicted)]
    if lines:
        return StepResult.confirmed(
            *lines,
            spot_serving=sorted({kube.ref(p) for p in on_spot} | {x.pod or "" for x in evicted}),
        )
    where = [
        f"{kube.ref(p)} on {kube.node_name(p)} (on-demand)"
        for p in serving[:3]
        if kube.node_name(p)
    ]
    out = [f"serving pods run on on-demand nodes: {', '.join(where) or 'no serving pod found'}"]
    out += (
        [f"evicted from Spot but not serving: {names(batch, 4)} (batch/async work is Spot's use)"]
        if batch
        else []
    )
    return StepResult.inconclusive(*unknown, *out) if unknown else StepResult.ruled_out(*out)


def _serving(
    pods: list[Obj], services: list[Obj] | None, ctx: CheckContext
) -> tuple[list[Obj], list[str]]:
    """KAITO workspace pods, and GPU pods (not Jobs) that a Service routes requests to."""
    out, unknown = [], []
    for pod in pods:
        # Pending replicas count too: an evicted serving pod may be waiting for a node.
        if kube.phase(pod) in _cost.TERMINAL or not _workloads.is_serving(pod):
            continue
        if not ctx.scope.admits(kube.namespace(pod), kube.workspace_of(pod)):
            continue
        if kube.workspace_of(pod) or (services is not None and _behind_service(pod, services)):
            out.append(pod)
        elif services is None:
            unknown.append(
                f"{kube.ref(pod)}: GPU pod; Services not read, so serving or async is unknown"
            )
    return out, unknown


def _behind_service(pod: Obj, services: list[Obj]) -> bool:
    labels = kube.labels(pod)
    for svc in services:
        selector = (svc.get("spec") or {}).get("selector") or {}
        if (
            kube.namespace(svc) == kube.namespace(pod)
            and selector
            and all(labels.get(k) == v for k, v in selector.items())
        ):
            return True
    return False


def _belongs(pod_ref: str, prefixes: set[str]) -> bool:
    """The evicted pod was a replica of a serving workload (same pod name or owner prefix)."""
    return any(pod_ref == p or pod_ref.startswith(p + "-") for p in prefixes)


def _kind(pod: Obj) -> str:
    ws = kube.workspace_of(pod)
    return f"KAITO workspace {ws}" if ws else _workloads.workload_of(pod)
