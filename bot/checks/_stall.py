"""Shared reading of "something wants a GPU node and is not getting one" (rows 1 and 2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import azure as arm
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, duration

Obj = dict[str, Any]
# The inputs a stall is read from (each optional: what is unread only leaves stalls unseen).
STALL_INPUTS = {
    "workspaces": "kubernetes.list",
    "nodeclaims": "kubernetes.list",
    "pods": "kubernetes.list",
    "events": "kubernetes.list",
    "nodes": "kubernetes.list",
}
QUOTA_WORDS = ("quota", "lowprioritycores", "family cores", "total regional cores")
AVAILABILITY_WORDS = (
    "skunotavailable",
    "not available",
    "unavailable during launch",
    "zonalallocationfailed",
    "allocationfailed",
    "overconstrainedallocationrequest",
    "availability",
)


@dataclass(frozen=True)
class Stall:
    what: str  # "workspace default/ws", "nodeclaim ws3f..", "pod ns/name"
    sku: str | None
    since: datetime
    message: str
    spot: bool = False

    def line(self, now: datetime) -> str:
        msg = f": {clip(self.message)}" if self.message else ""
        sku = f" ({self.sku})" if self.sku else ""
        return f"{self.what}{sku} stuck for {duration(now - self.since)}{msg}"


def _nodeclaim_sku(claim: Obj) -> str | None:
    for req in (claim.get("spec") or {}).get("requirements") or []:
        if req.get("key") in kube.INSTANCE_TYPE_LABELS and req.get("values"):
            return str(req["values"][0])
    return None


def workspace_stalls(workspaces: list[Obj], ctx: CheckContext) -> list[Stall]:
    out = []
    for ws in workspaces:
        if not ctx.scope.admits(kube.namespace(ws), kube.name(ws)):
            continue
        cond = kube.condition(ws, "ResourceReady")
        if cond is not None and cond.get("status") == "True":
            continue
        since = kube.parse_time((cond or {}).get("lastTransitionTime")) or kube.created(ws)
        if since is None or ctx.now - since < ctx.thresholds.stuck:
            continue
        message = " ".join(
            str(c.get("message") or c.get("reason") or "")
            for c in (ws.get("status") or {}).get("conditions") or []
            if c.get("type") in ("ResourceReady", "NodeClaimReady") and c.get("status") != "True"
        )
        sku = (ws.get("resource") or {}).get("instanceType")
        out.append(
            Stall(
                f"workspace {kube.ref(ws)} ResourceReady={(cond or {}).get('status', 'absent')}",
                sku,
                since,
                message,
            )
        )
    return out


def nodeclaim_stalls(claims: list[Obj], ctx: CheckContext) -> list[Stall]:
    out = []
    for claim in claims:
        lab = kube.labels(claim)
        ws, ns = lab.get("kaito.sh/workspace"), lab.get("kaito.sh/workspacenamespace")
        if ws and not ctx.scope.admits(ns, ws):
            continue
        launched = kube.condition(claim, "Launched")
        if launched is not None and launched.get("status") == "True":
            continue
        since = kube.created(claim)
        if since is None or ctx.now - since < ctx.thresholds.stuck:
            continue
        status = launched.get("status") if launched else "absent"
        message = str((launched or {}).get("message") or (launched or {}).get("reason") or "")
        owner = f" for workspace {ns}/{ws}" if ws else ""
        out.append(
            Stall(
                f"NodeClaim {kube.name(claim)}{owner} Launched={status}",
                _nodeclaim_sku(claim),
                since,
                message,
            )
        )
    return out


def _pod_sku(pod: Obj, nodes: list[Obj], pools: list[Obj]) -> tuple[str | None, bool]:
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    for key in kube.INSTANCE_TYPE_LABELS:
        if key in selector:
            return selector[key], False
    for pool in pools:
        labels = (pool.get("properties") or {}).get("nodeLabels") or {}
        pool_name = pool.get("name")
        if selector and (
            all(labels.get(k) == v for k, v in selector.items())
            or any(selector.get(k) == pool_name for k in kube.POOL_LABELS)
        ):
            props = pool.get("properties") or {}
            return props.get("vmSize"), str(props.get("scaleSetPriority", "")).lower() == "spot"
    for node in nodes:
        node_labels = kube.labels(node)
        if (
            selector
            and kube.is_gpu_node(node)
            and all(node_labels.get(k) == v for k, v in selector.items())
        ):
            return kube.instance_type(node), kube.is_spot(node)
    return None, False


def waiting_gpu_pods(pods: list[Obj], ctx: CheckContext) -> list[tuple[Obj, datetime]]:
    """(pod, created) for unscheduled GPU pods in scope Pending past the stuck threshold.

    Whether one waits for a GPU node (rather than, say, a taint) only its events tell.
    """
    out = []
    for pod in pods:
        if kube.phase(pod) != "Pending" or not kube.requests_gpu(pod) or kube.node_name(pod):
            continue
        if not ctx.scope.admits(kube.namespace(pod), kube.workspace_of(pod)):
            continue
        since = kube.created(pod)
        if since is not None and ctx.now - since >= ctx.thresholds.stuck:
            out.append((pod, since))
    return out


def pending_gpu_stalls(
    pods: list[Obj], events: list[Obj], nodes: list[Obj], pools: list[Obj], ctx: CheckContext
) -> list[Stall]:
    """GPU pods Pending past the threshold whose scheduling failed for want of a GPU node."""
    window = ctx.now - ctx.thresholds.lookback
    out = []
    for pod, since in waiting_gpu_pods(pods, ctx):
        messages = [
            kube.event_message(e)
            for e in kube.recent_events(
                events, ctx.now, window, reasons=("FailedScheduling", "NotTriggerScaleUp")
            )
            if kube.involved(e).get("name") == kube.name(pod)
            and kube.involved(e).get("namespace", kube.namespace(pod)) == kube.namespace(pod)
        ]
        wants_node = [
            m
            for m in messages
            if "insufficient nvidia.com/" in m.lower() or "scale-up" in m.lower()
        ]
        if not wants_node:
            continue
        sku, spot = _pod_sku(pod, nodes, pools)
        out.append(Stall(f"pod {kube.ref(pod)} Pending", sku, since, wants_node[-1], spot))
    return out


def all_stalls(
    *,
    workspaces: list[Obj] | None,
    nodeclaims: list[Obj] | None,
    pods: list[Obj] | None,
    events: list[Obj] | None,
    nodes: list[Obj] | None,
    pools: list[Obj] | None,
    ctx: CheckContext,
) -> list[Stall]:
    stalls: list[Stall] = []
    if workspaces is not None:
        stalls += workspace_stalls(workspaces, ctx)
    if nodeclaims is not None:
        stalls += nodeclaim_stalls(nodeclaims, ctx)
    if pods is not None:
        stalls += pending_gpu_stalls(pods, events or [], nodes or [], pools or [], ctx)
    return stalls


def stalls_from(ev: evi.Evidence, ctx: CheckContext) -> list[Stall]:
    """Every stall in the STALL_INPUTS (and `agent_pools`) that could be read."""
    return all_stalls(
        workspaces=evi.data(ev, "workspaces"),
        nodeclaims=evi.data(ev, "nodeclaims"),
        pods=evi.data(ev, "pods"),
        events=evi.data(ev, "events"),
        nodes=evi.data(ev, "nodes"),
        pools=arm.agent_pools(evi.data(ev, "agent_pools")),
        ctx=ctx,
    )


def mentions(stalls: list[Stall], words: tuple[str, ...]) -> list[Stall]:
    return [s for s in stalls if any(w in s.message.lower() for w in words)]
