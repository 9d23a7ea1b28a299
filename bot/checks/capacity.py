"""Row 1 (quota) and the shared provisioning-stall symptom of rows 1 and 2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import _stall
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.evidence import Answer
from bot.model.text import duration
from bot.model.verdicts import StepResult

STALL_INPUTS = {
    "workspaces": "kubernetes.list",
    "nodeclaims": "kubernetes.list",
    "pods": "kubernetes.list",
    "events": "kubernetes.list",
    "nodes": "kubernetes.list",
}


def _data(ev: Mapping[str, Answer], name: str) -> Any:
    answer = ev.get(name)
    return answer.data if answer is not None and answer.available else None


def stalls_from(ev: Mapping[str, Answer], ctx: CheckContext) -> list[_stall.Stall]:
    return _stall.all_stalls(
        workspaces=_data(ev, "workspaces"),
        nodeclaims=_data(ev, "nodeclaims"),
        pods=_data(ev, "pods"),
        events=_data(ev, "events"),
        nodes=_data(ev, "nodes"),
        pools=arm.agent_pools(_data(ev, "agent_pools")),
        ctx=ctx,
    )


def unread(ev: Mapping[str, Answer], names: tuple[str, ...]) -> list[str]:
    """'<source> unavailable: <why>' for each named input that could not be read."""
    return [
        f"{ev[n].source} unavailable: {ev[n].unavailable}"
        for n in names
        if n in ev and not ev[n].available
    ]


def undecided_pods(ev: Mapping[str, Answer], ctx: CheckContext) -> list[str]:
    """Pending GPU pods that may wait for a node, when the events that would say so are unread.

    A pod is a stall only if a FailedScheduling/NotTriggerScaleUp event says it wants a GPU
    node: with the event list unknown, such a pod is neither a stall nor proof of none.
    """
    pods = _data(ev, "pods")
    if pods is None or _data(ev, "events") is not None:
        return []
    waiting = _stall.waiting_gpu_pods(pods, ctx)
    if not waiting:
        return []
    lines = [
        f"pod {kube.ref(pod)} Pending for {duration(ctx.now - since)} requesting a GPU: "
        "whether it waits for a GPU node is unknown"
        for pod, since in waiting[:3]
    ]
    return lines + (unread(ev, ("events",)) or ["events not read"])


@check(
    "capacity.provisioning_stalled",
    inputs={**STALL_INPUTS, "agent_pools": "azure.agent_pools"},
    optional=("workspaces", "nodeclaims", "pods", "events", "nodes", "agent_pools"),
)
def provisioning_stalled(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A workspace, NodeClaim or GPU pod has waited for a GPU node past the stuck threshold."""
    stalls = stalls_from(ev, ctx)
    if stalls:
        lines = [s.line(ctx.now) for s in stalls[:5]]
        return StepResult.confirmed(
            *lines,
            stalled=[s.what for s in stalls],
            skus=sorted({s.sku for s in stalls if s.sku}),
        )
    unknown = unread(ev, ("workspaces", "nodeclaims", "pods")) + undecided_pods(ev, ctx)
    if unknown:
        return StepResult.inconclusive("no stall seen in what was read", *unknown)
    threshold = f"{ctx.thresholds.stuck_minutes:g} min"
    return StepResult.ruled_out(
        f"every workspace is ResourceReady or younger than {threshold}; no NodeClaim or GPU pod "
        f"has waited {threshold} for a node"
    )


class QuotaParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    headroom_nodes: int = Field(1, ge=0, description="nodes of headroom to ask for beyond the next")


def _demand(ev: Mapping[str, Answer], ctx: CheckContext) -> list[tuple[str, bool, str]]:
    """(sku, spot, why) the cluster needs a node of: stalled demand, else GPU pools in use."""
    stalls = stalls_from(ev, ctx)
    wanted = [(s.sku, s.spot, s.what) for s in stalls if s.sku]
    if wanted or stalls:
        return [(sku, spot, why) for sku, spot, why in wanted if sku]
    out = []
    for pool in arm.agent_pools(_data(ev, "agent_pools")):
        props = arm.pool_props(pool)
        if props.get("enableAutoScaling") and str(props.get("vmSize", "")).lower().startswith(
            "standard_n"
        ):
            out.append(
                (str(props["vmSize"]), arm.pool_is_spot(pool), f"agent pool {pool.get('name')}")
            )
    for ws in _data(ev, "workspaces") or []:
        sku = (ws.get("resource") or {}).get("instanceType")
        if sku:
            out.append(
                (
                    str(sku),
                    False,
                    f"workspace {ws['metadata'].get('namespace')}/{ws['metadata'].get('name')}",
                )
            )
    return out


@check(
    "quota.family_headroom",
    inputs={
        "usages": "azure.usages",
        "skus": "azure.skus",
        **STALL_INPUTS,
        "agent_pools": "azure.agent_pools",
    },
    optional=("skus", "workspaces", "nodeclaims", "pods", "events", "nodes", "agent_pools"),
    params=QuotaParams,
)
def family_headroom(ev: Mapping[str, Answer], params: QuotaParams, ctx: CheckContext) -> StepResult:
    """The GPU family quota (or Spot's low-priority quota) has room for the next node."""
    usages = arm.usage_by_name(ev["usages"].data)
    demand = _demand(ev, ctx)
    if not demand:
        return StepResult.inconclusive(
            "no GPU SKU in demand could be identified (no instanceType or pool)"
        )
    short, ok, unknown = [], [], []
    facts: dict[str, Any] = {}
    seen: set[tuple[str, bool]] = set()
    for sku_name, spot, why in demand:
        if (sku_name.lower(), spot) in seen:
            continue
        seen.add((sku_name.lower(), spot))
        info = arm.sku_info(sku_name, _data(ev, "skus"))
        if info.family is None or info.vcpus is None:
            unknown.append(
                f"{sku_name} ({why}): family or vCPUs unknown (not in azure/skus nor the SKU table)"
            )
            continue
        family = "lowPriorityCores" if spot else info.family
        usage = usages.get(family.lower())
        if usage is None:
            unknown.append(f"{family}: no usage entry in azure/usages")
            continue
        limit, current = int(usage.get("limit", 0)), int(usage.get("currentValue", 0))
        label = (usage.get("name") or {}).get("value", family)
        base = f"{label}: limit {limit} vCPUs, {current} used; one {info.name} needs {info.vcpus}"
        if limit == 0 or current + info.vcpus > limit:
            reason = "quota is 0" if limit == 0 else "no room for the next node"
            new_limit = max(limit, current + info.vcpus * (1 + params.headroom_nodes))
            short.append(f"{base} ({reason}; {why})")
            facts.setdefault("family", label)
            facts.setdefault("sku", info.name)
            facts.setdefault("vcpus_per_node", info.vcpus)
            facts.setdefault("limit", limit)
            facts.setdefault("used", current)
            facts.setdefault("new_limit", new_limit)
            facts.setdefault("spot", spot)
        else:
            ok.append(f"{base}: room for {(limit - current) // info.vcpus} more")
    if short:
        return StepResult.confirmed(*short, *unknown, **facts)
    if unknown:
        return StepResult.inconclusive(*unknown, *ok)
    return StepResult.ruled_out(*ok)


@check(
    "quota.regional_cap",
    inputs={
        "usages": "azure.usages",
        "skus": "azure.skus",
        **STALL_INPUTS,
        "agent_pools": "azure.agent_pools",
    },
    optional=("skus", "workspaces", "nodeclaims", "pods", "events", "nodes", "agent_pools"),
    params=QuotaParams,
)
def regional_cap(ev: Mapping[str, Answer], params: QuotaParams, ctx: CheckContext) -> StepResult:
    """The subscription's Total Regional vCPUs leave room for the next GPU node."""
    usage = arm.usage_by_name(ev["usages"].data).get("cores")
    if usage is None:
        return StepResult.inconclusive("no 'cores' (Total Regional vCPUs) entry in azure/usages")
    demand = [d for d in _demand(ev, ctx) if not d[1]]
    vcpus = [arm.sku_info(sku, _data(ev, "skus")).vcpus for sku, _, _ in demand]
    needed = max((v for v in vcpus if v), default=None)
    if needed is None:
        return StepResult.inconclusive("no on-demand GPU SKU in demand with known vCPUs")
    limit, current = int(usage.get("limit", 0)), int(usage.get("currentValue", 0))
    line = f"Total Regional vCPUs: limit {limit}, {current} used; the next GPU node needs {needed}"
    if current + needed > limit:
        return StepResult.confirmed(
            line + " (regional cap reached)",
            regional_limit=limit,
            regional_used=current,
            regional_new_limit=current + needed * (1 + params.headroom_nodes),
        )
    return StepResult.ruled_out(line)
