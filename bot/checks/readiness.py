"""Morning readiness: the seed's verify ladder plus quota, pre-warm and idle spend.

A readiness playbook's step is *confirmed* when its rung FAILS, *ruled out* when it passes,
inconclusive when what would decide it could not be read. Each rung gates the next in the
seed's ladder (GPU advertised -> driver loaded -> workspace ready -> endpoint answering).

The rungs live one concern a module: readiness_gpu (1, 2), readiness_serving (3, 4),
readiness_prewarm (6); this one holds the two that read the Azure account: quota headroom
for the next node (5) and yesterday's idle GPU node-hours (7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from bot.checks import _evidence as evi
from bot.checks import _quota
from bot.checks import _readiness as rd
from bot.checks import azure as arm
from bot.checks.registry import CheckFn, check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import format_money, hourly_price
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


# ---- 5. quota headroom ----------------------------------------------------------------------


class HeadroomParams(rd.RungParams):
    request_nodes: int = Field(
        2, ge=1, description="nodes of room a quota request asks for above usage"
    )


def gpu_demand(pools_body: Any, workspaces: list[Obj] | None) -> list[tuple[str, bool, str]]:
    """(sku, spot, who) for GPU SKUs in use: GPU pools that have or may get nodes, workspaces."""
    out = []
    for pool in rd.gpu_pools(pools_body):
        props = arm.pool_props(pool)
        if props.get("enableAutoScaling") or int(props.get("count") or 0) > 0:
            out.append((str(props["vmSize"]), arm.pool_is_spot(pool), f"pool {pool.get('name')}"))
    for ws in workspaces or []:
        sku = (ws.get("resource") or {}).get("instanceType")
        if sku:
            out.append((str(sku), False, f"workspace {kube.ref(ws)}"))
    return out


def _headroom(
    room: _quota.Room, who: list[str], skus: list[_quota.Need], request_nodes: int
) -> tuple[bool, str, Obj]:
    """(room for one more node of every SKU, evidence line, facts row) for one quota family,
    judged by its largest SKU (`room.need`, needed by `who`)."""
    usage, need = room.usage, room.need
    row = {
        "family": usage.name,
        "limit": usage.limit,
        "used": usage.used,
        "sku": need.sku.name,
        "vcpus": need.vcpus,
        "headroom_nodes": usage.nodes_that_fit(need.vcpus),
        "new_limit": room.new_limit(request_nodes),
    }
    head = f"{usage.name}: {usage.used}/{usage.limit} vCPUs used"
    if not room.fits:
        why = "quota is 0" if usage.limit == 0 else f"{max(usage.free, 0)} vCPUs free"
        line = (
            f"{head}; no room for one more {need.sku.name} "
            f"(needs {need.vcpus}, {why}; {', '.join(who)})"
        )
        return False, line, row
    rooms = [
        f"{usage.nodes_that_fit(n.vcpus)} more {n.sku.name} ({n.vcpus} vCPUs each)" for n in skus
    ]
    return True, f"{head}; room for " + ", ".join(rooms), row


def _demand_or_result(
    ev: evi.Evidence,
) -> tuple[list[tuple[str, bool, str]], list[str], StepResult | None]:
    """What is in use, which of its sources could not be read, and the verdict when that
    cannot be known or nothing is in use.

    A GPU pool or workspace that could not be listed may use a family with no room, so a
    pass needs both lists: with one unreadable, a step can confirm but never rule out.
    """
    demand = gpu_demand(evi.data(ev, "agent_pools"), evi.data(ev, "workspaces"))
    unread = evi.gaps(ev, "agent_pools", "workspaces")
    if not demand and unread:
        return (
            demand,
            unread,
            StepResult.inconclusive("cannot tell which GPU families are in use", *unread),
        )
    if not demand:
        return (
            demand,
            unread,
            StepResult.ruled_out(
                "no GPU agent pool or workspace in use: no GPU family needs headroom",
                families=[],
                short=[],
            ),
        )
    return demand, unread, None


def _quota_check(name: str) -> Callable[[CheckFn], CheckFn]:
    return check(
        name,
        inputs={
            "usages": "azure.usages",
            "skus": "azure.skus",
            "agent_pools": "azure.agent_pools",
            "workspaces": "kubernetes.list",
        },
        optional=("skus", "agent_pools", "workspaces"),
        params=HeadroomParams,
    )


@_quota_check("readiness.quota_headroom")
def quota_headroom(ev: evi.Evidence, params: HeadroomParams, ctx: CheckContext) -> StepResult:
    """Every GPU family in use has quota for one more node of its largest SKU in use."""
    demand, unread, early = _demand_or_result(ev)
    if early is not None:
        return early
    families, unknown = _quota.by_quota(demand, evi.data(ev, "skus"))
    usages = arm.usage_by_name(ev["usages"].data)
    short, ok, rows = [], [], []
    for _, entries in sorted(families.items()):
        usage = _quota.usage_of(usages, entries[0][0].quota)
        if isinstance(usage, str):
            unknown.append(usage)
            continue
        largest, who = max(entries, key=lambda e: e[0].vcpus)
        room = _quota.Room(usage, largest)
        passes, line, row = _headroom(room, who, [n for n, _ in entries], params.request_nodes)
        rows.append(row)
        (ok if passes else short).append((line, row))
    facts = {"families": rows, "short": [r for _, r in short], **(short[0][1] if short else {})}
    unknown += [f"{u} (GPU families it uses are not checked)" for u in unread]
    if short:
        return StepResult.confirmed(*[x for x, _ in short], *unknown, *[x for x, _ in ok], **facts)
    if unknown:
        return StepResult.inconclusive(*unknown, *[x for x, _ in ok], **facts)
    return StepResult.ruled_out(*[x for x, _ in ok], **facts)


@_quota_check("readiness.regional_headroom")
def regional_headroom(ev: evi.Evidence, params: HeadroomParams, ctx: CheckContext) -> StepResult:
    """Total Regional vCPUs leave room for one more on-demand node of the largest GPU SKU in use."""
    demand, unread, early = _demand_or_result(ev)
    if early is not None:
        return early
    usage = _quota.regional(arm.usage_by_name(ev["usages"].data))
    if isinstance(usage, StepResult):
        return usage
    sizes = [(arm.sku_info(s, evi.data(ev, "skus")), who) for s, spot, who in demand if not spot]
    unknown = [f"{i.name} ({who}): vCPUs unknown" for i, who in sizes if not i.vcpus]
    unknown += [f"{u} (GPU SKUs it uses are not checked)" for u in unread]
    sizes = [(i, who) for i, who in sizes if i.vcpus]
    if not sizes:  # Spot nodes draw on lowPriorityCores only
        if unknown:
            return StepResult.inconclusive(
                "cannot tell the largest on-demand GPU SKU in use", *unknown
            )
        return StepResult.ruled_out(
            "no on-demand GPU SKU in use: Total Regional vCPUs do not gate it"
        )
    info, who = max(sizes, key=lambda x: x[0].vcpus or 0)
    vcpus = int(info.vcpus or 0)
    line = f"Total Regional vCPUs: {usage.used}/{usage.limit} used; one more {info.name} ({who})"
    line += f" needs {vcpus}"
    if not usage.fits(vcpus):
        return StepResult.confirmed(
            line + " (no room)",
            *unknown,
            **_quota.regional_request(usage, vcpus, params.request_nodes),
        )
    if unknown:
        return StepResult.inconclusive(line, *unknown)
    return StepResult.ruled_out(line)


# ---- 7. idle GPU node-hours -----------------------------------------------------------------


class IdleParams(rd.RungParams):
    max_idle_hours: float = Field(
        2, ge=0, description="idle GPU hours per node per day that still pass"
    )


def _idle_by_node(rows: list[Obj]) -> dict[str, tuple[str, float]]:
    """Computer -> (instance type, idle hours summed over the rows)."""
    out: dict[str, tuple[str, float]] = {}
    for row in rows:
        node = str(row.get("Computer") or "")
        if not node:
            continue
        sku, hours = out.get(node, ("", 0.0))
        out[node] = (
            sku or str(row.get("InstanceType") or ""),
            hours + float(row.get("IdleHours") or 0),
        )
    return out


@dataclass(frozen=True)
class _Idle:
    """One GPU node's idle hours, priced, with its pool's floor."""

    node: str
    sku: str
    hours: float
    cost: float | None
    pool: str | None
    line: str
    offer: Obj | None


def _idle_node(node: str, sku: str, hours: float, ev: evi.Evidence, ctx: CheckContext) -> _Idle:
    nodes = evi.data(ev, "nodes")
    live = kube.by_name(nodes or []).get(node)
    sku = sku or (kube.instance_type(live) if live else "") or ""
    price = hourly_price(sku, ctx.thresholds.currency)
    cost = hours * price if price is not None else None
    pool = rd.pool_of_node(node, nodes)
    pools = {
        str(p.get("name")): arm.pool_props(p) for p in arm.agent_pools(evi.data(ev, "agent_pools"))
    }
    floor, offer = rd.pool_floor(pool, pools)
    money = format_money(cost, ctx.thresholds.currency) if cost is not None else "(price unknown)"
    line = f"{node} ({sku or 'SKU unknown'}): {hours:g} idle h {money}{floor}"
    return _Idle(node, sku, hours, cost, pool, line, offer)


@check(
    "readiness.idle_gpu_hours",
    inputs={
        "node_hours": "loganalytics.query",
        "agent_pools": "azure.agent_pools",
        "nodes": "kubernetes.list",
    },
    optional=("agent_pools", "nodes"),
    params=IdleParams,
)
def idle_gpu_hours(ev: evi.Evidence, params: IdleParams, ctx: CheckContext) -> StepResult:
    """No GPU node sat idle more than max_idle_hours in the last day (with indicative cost)."""
    rows = sorted(_idle_by_node(ev["node_hours"].data).items(), key=lambda x: -x[1][1])
    idle = [_idle_node(node, sku, hours, ev, ctx) for node, (sku, hours) in rows if hours > 0]
    over = [i for i in idle if i.hours > params.max_idle_hours]
    total_h, total_cost = sum(i.hours for i in idle), sum(i.cost or 0 for i in idle)
    money = f" {format_money(total_cost, ctx.thresholds.currency)}" if total_cost else ""
    head = f"{total_h:g} idle GPU node-hours in the last 24 h{money}"
    facts = {
        "idle_hours": total_h,
        "idle_cost": total_cost,
        "idle_cost_text": money.strip(),
        "currency": ctx.thresholds.currency,
        "idle_nodes": [
            {"node": i.node, "sku": i.sku, "hours": i.hours, "cost": i.cost, "pool": i.pool}
            for i in idle
        ],
        # One offer per pool whose minimum keeps an idle node (a min-0 pool's idle node is pinned).
        "min_count_pools": list({i.offer["pool"]: i.offer for i in over if i.offer}.values()),
    }
    lines = [i.line for i in over] + [i.line for i in idle if i not in over]
    if over:
        return StepResult.confirmed(head, *lines, **facts)
    return StepResult.ruled_out(
        f"{head}; no node idle over {params.max_idle_hours:g} h", *lines, **facts
    )
