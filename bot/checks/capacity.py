"""Row 1 (quota) and the shared provisioning-stall symptom of rows 1 and 2."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import _evidence as evi
from bot.checks import _quota, _stall
from bot.checks import azure as arm
from bot.checks._stall import STALL_INPUTS, stalls_from
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import duration
from bot.model.verdicts import StepResult


def undecided_pods(ev: evi.Evidence, ctx: CheckContext) -> list[str]:
    """Pending GPU pods that may wait for a node, when the events that would say so are unread.

    A pod is a stall only if a FailedScheduling/NotTriggerScaleUp event says it wants a GPU
    node: with the event list unknown, such a pod is neither a stall nor proof of none.
    """
    pods = evi.data(ev, "pods")
    if pods is None or evi.data(ev, "events") is not None:
        return []
    waiting = _stall.waiting_gpu_pods(pods, ctx)
    if not waiting:
        return []
    lines = [
        f"pod {kube.ref(pod)} Pending for {duration(ctx.now - since)} requesting a GPU: "
        "whether it waits for a GPU node is unknown"
        for pod, since in waiting[:3]
    ]
    return lines + (evi.gaps(ev, "events") or ["events not read"])


@check(
    "capacity.provisioning_stalled",
    inputs={**STALL_INPUTS, "agent_pools": "azure.agent_pools"},
    optional=("workspaces", "nodeclaims", "pods", "events", "nodes", "agent_pools"),
)
def provisioning_stalled(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A workspace, NodeClaim or GPU pod has waited for a GPU node past the stuck threshold."""
    stalls = stalls_from(ev, ctx)
    if stalls:
        lines = [s.line(ctx.now) for s in stalls[:5]]
        return StepResult.confirmed(
            *lines,
            stalled=[s.what for s in stalls],
            skus=sorted({s.sku for s in stalls if s.sku}),
        )
    unknown = evi.gaps(ev, "workspaces", "nodeclaims", "pods") + undecided_pods(ev, ctx)
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


def _demand(ev: evi.Evidence, ctx: CheckContext) -> list[tuple[str, bool, str]]:
    """(sku, spot, why) the cluster needs a node of: stalled demand, else GPU pools in use."""
    stalls = stalls_from(ev, ctx)
    wanted = [(s.sku, s.spot, s.what) for s in stalls if s.sku]
    if wanted or stalls:
        return [(sku, spot, why) for sku, spot, why in wanted if sku]
    out = []
    for pool in arm.agent_pools(evi.data(ev, "agent_pools")):
        props = arm.pool_props(pool)
        if props.get("enableAutoScaling") and str(props.get("vmSize", "")).lower().startswith(
            "standard_n"
        ):
            out.append(
                (str(props["vmSize"]), arm.pool_is_spot(pool), f"agent pool {pool.get('name')}")
            )
    for ws in evi.data(ev, "workspaces") or []:
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


QUOTA_INPUTS = {
    "usages": "azure.usages",
    "skus": "azure.skus",
    **STALL_INPUTS,
    "agent_pools": "azure.agent_pools",
}
QUOTA_OPTIONAL = ("skus", "workspaces", "nodeclaims", "pods", "events", "nodes", "agent_pools")


def _family_line(room: _quota.Room) -> str:
    usage, need = room.usage, room.need
    base = f"{usage.name}: limit {usage.limit} vCPUs, {usage.used} used; "
    base += f"one {need.sku.name} needs {need.vcpus}"
    if room.fits:
        return f"{base}: room for {usage.nodes_that_fit(need.vcpus)} more"
    reason = "quota is 0" if usage.limit == 0 else "no room for the next node"
    return f"{base} ({reason}; {need.who})"


@check("quota.family_headroom", inputs=QUOTA_INPUTS, optional=QUOTA_OPTIONAL, params=QuotaParams)
def family_headroom(ev: evi.Evidence, params: QuotaParams, ctx: CheckContext) -> StepResult:
    """The GPU family quota (or Spot's low-priority quota) has room for the next node."""
    usages = arm.usage_by_name(ev["usages"].data)
    demand = _demand(ev, ctx)
    if not demand:
        return StepResult.inconclusive(
            "no GPU SKU in demand could be identified (no instanceType or pool)"
        )
    skus, short, ok, unknown = evi.data(ev, "skus"), [], [], []
    facts: dict[str, Any] = {}
    seen: set[tuple[str, bool]] = set()
    for sku_name, spot, why in demand:
        if (sku_name.lower(), spot) in seen:
            continue
        seen.add((sku_name.lower(), spot))
        room = _quota.judge(sku_name, spot=spot, who=why, skus=skus, by_name=usages)
        if isinstance(room, str):
            unknown.append(room)
        elif room.fits:
            ok.append(_family_line(room))
        else:
            short.append(_family_line(room))
            facts = facts or {
                "family": room.usage.name,
                "sku": room.need.sku.name,
                "vcpus_per_node": room.need.vcpus,
                "limit": room.usage.limit,
                "used": room.usage.used,
                "new_limit": room.new_limit(1 + params.headroom_nodes),
                "spot": spot,
            }
    if short:
        return StepResult.confirmed(*short, *unknown, **facts)
    if unknown:
        return StepResult.inconclusive(*unknown, *ok)
    return StepResult.ruled_out(*ok)


@check("quota.regional_cap", inputs=QUOTA_INPUTS, optional=QUOTA_OPTIONAL, params=QuotaParams)
def regional_cap(ev: evi.Evidence, params: QuotaParams, ctx: CheckContext) -> StepResult:
    """The subscription's Total Regional vCPUs leave room for the next GPU node."""
    usage = _quota.regional(arm.usage_by_name(ev["usages"].data))
    if isinstance(usage, StepResult):
        return usage
    demand = [d for d in _demand(ev, ctx) if not d[1]]
    vcpus = [arm.sku_info(sku, evi.data(ev, "skus")).vcpus for sku, _, _ in demand]
    needed = max((v for v in vcpus if v), default=None)
    if needed is None:
        return StepResult.inconclusive("no on-demand GPU SKU in demand with known vCPUs")
    line = (
        f"Total Regional vCPUs: limit {usage.limit}, {usage.used} used; "
        f"the next GPU node needs {needed}"
    )
    if not usage.fits(needed):
        return StepResult.confirmed(
            line + " (regional cap reached)",
            **_quota.regional_request(usage, needed, 1 + params.headroom_nodes),
        )
    return StepResult.ruled_out(line)
