"""Row 2: is the GPU SKU in demand offered in the cluster's region and in the zones it is pinned to?

The SKU list (`az vm list-skus -l <region>`, ARM Resource Skus - List) decides. The NodeClaim or
autoscaler message only supports: KAITO v0.6 says "all requested instance types were unavailable
during launch" for quota errors too, and Karpenter truncates the Azure error (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _stall
from bot.checks import azure as arm
from bot.checks._stall import STALL_INPUTS, stalls_from
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import looks_like_gpu_sku
from bot.model.text import clip
from bot.model.verdicts import StepResult

Body = dict[str, Any]

# Azure error codes that name availability (capacity or restriction), unlike KAITO's generic
# "unavailable during launch", which v0.6 also prints for quota errors.
AVAILABILITY_CODES = (
    "skunotavailable",
    "zonalallocationfailed",
    "allocationfailed",
    "overconstrainedallocationrequest",
)


@dataclass(frozen=True)
class Demand:
    """A GPU SKU something needs a node of, and the agent pools that would supply it."""

    sku: str
    why: str
    pools: tuple[Body, ...] = ()


@dataclass(frozen=True)
class Judgement:
    blocked: bool
    line: str
    unknown: bool = False
    facts: dict[str, Any] = field(default_factory=dict)


def _pools_of(sku: str, pools: list[Body]) -> tuple[Body, ...]:
    return tuple(
        p for p in pools if str(arm.pool_props(p).get("vmSize", "")).lower() == sku.lower()
    )


def demand_from(ev: evi.Evidence, ctx: CheckContext) -> tuple[list[Demand], list[_stall.Stall]]:
    """Stalled demand first; with no stall, the GPU pools and workspaces the cluster runs."""
    stalls = stalls_from(ev, ctx)
    pools = arm.agent_pools(evi.data(ev, "agent_pools"))
    wanted = [(s.sku, s.what) for s in stalls if s.sku]
    if not stalls:
        wanted = [
            (str(arm.pool_props(p)["vmSize"]), f"agent pool {p.get('name')}")
            for p in pools
            if looks_like_gpu_sku(str(arm.pool_props(p).get("vmSize", "")))
        ]
        wanted += [
            (str(ws["resource"]["instanceType"]), f"workspace {kube.ref(ws)}")
            for ws in evi.data(ev, "workspaces") or []
            if (ws.get("resource") or {}).get("instanceType")
        ]
    seen: dict[str, Demand] = {}
    for sku, why in wanted:
        seen.setdefault(sku.lower(), Demand(sku, why, _pools_of(sku, pools)))
    return list(seen.values()), stalls


def _applies(restriction: Body, location: str | None) -> bool:
    """A restriction's `values`/`restrictionInfo.locations` name the location it covers."""
    if not location:
        return True  # the SKU list is already filtered to the cluster's location
    info = restriction.get("restrictionInfo") or {}
    places = [
        str(x).lower() for x in (restriction.get("values") or []) + (info.get("locations") or [])
    ]
    return not places or location.lower() in places


def _quote(restriction: Body) -> str:
    zones = (restriction.get("restrictionInfo") or {}).get("zones") or []
    where = f" on zone(s) {', '.join(map(str, zones))}" if zones else ""
    reason = restriction.get("reasonCode", "(no reasonCode)")
    return f"{restriction.get('type')} restriction {reason}{where}"


def _zones(entry: Body, location: str | None) -> set[str]:
    return {
        str(z)
        for info in entry.get("locationInfo") or []
        if not location or str(info.get("location", "")).lower() == location.lower()
        for z in info.get("zones") or []
    }


def judge_region(d: Demand, entry: Body | None, location: str | None) -> Judgement | None:
    """Blocked in the whole region: not listed, listed elsewhere only, or a Location restriction."""
    loc = location or "the cluster's region"
    facts = {"sku": d.sku, "location": loc, "kind": "region"}
    if entry is None:
        return Judgement(
            True,
            f"{d.sku} ({d.why}): not in azure/skus for {loc} "
            f"(az vm list-skus -l {loc} --size {d.sku} is empty)",
            facts={**facts, "reason": "not offered in the region"},
        )
    listed = [str(x) for x in entry.get("locations") or []]
    if location and listed and location.lower() not in [x.lower() for x in listed]:
        return Judgement(
            True,
            f"{d.sku} ({d.why}): listed only for {', '.join(listed)}, not {loc}",
            facts={**facts, "reason": "not offered in the region"},
        )
    for r in entry.get("restrictions") or []:
        if str(r.get("type", "")).lower() == "location" and _applies(r, location):
            return Judgement(
                True,
                f"{d.sku} ({d.why}): {_quote(r)} in {loc}",
                facts={**facts, "reason": _quote(r)},
            )
    return None


def _zone_restrictions(entry: Body, location: str | None) -> tuple[set[str], list[Body], list[str]]:
    """(zones offered, Zone restrictions for the location, zones offered and not restricted)."""
    offered = _zones(entry, location)
    restricted = [
        r
        for r in entry.get("restrictions") or []
        if str(r.get("type", "")).lower() == "zone" and _applies(r, location)
    ]
    blocked = {
        str(z) for r in restricted for z in (r.get("restrictionInfo") or {}).get("zones") or []
    }
    return offered, restricted, sorted(offered - blocked)


def judge_zones(d: Demand, entry: Body, location: str | None, pools_known: bool) -> Judgement:
    """Blocked in every zone a pool pins: not offered there, or a Zone restriction covers it."""
    offered, restricted, allowed = _zone_restrictions(entry, location)
    listed = ", ".join(sorted(offered)) or "none"
    base = f"{d.sku} ({d.why}): offered in {location or 'the region'} zones {listed}"
    notes = [_quote(r) for r in restricted]
    for pool in d.pools:
        pinned = [str(z) for z in arm.pool_props(pool).get("availabilityZones") or []]
        if pinned and [z for z in pinned if z in allowed]:
            notes.append(f"agent pool {pool.get('name')} pins zone(s) {', '.join(pinned)}: allowed")
        elif pinned:
            why = "; ".join(_quote(r) for r in restricted) or (
                f"zone(s) {', '.join(pinned)} not in locationInfo"
            )
            return Judgement(
                True,
                f"{base}; agent pool {pool.get('name')} pins zone(s) {', '.join(pinned)}: {why}",
                facts={
                    "sku": d.sku,
                    "location": location,
                    "kind": "zone",
                    "reason": why,
                    "pool": pool.get("name"),
                    "pinned_zones": pinned,
                    "allowed_zones": allowed,
                },
            )
    if restricted and not pools_known:
        return Judgement(
            False,
            f"{base}; {'; '.join(notes)}; zone pinning unknown (agent pools unread)",
            unknown=True,
        )
    tail = f"; {'; '.join(notes)}" if notes else " with no restriction"
    return Judgement(False, base + tail)


def _coded(message: str) -> bool:
    return any(c in message.lower().replace(" ", "") for c in AVAILABILITY_CODES)


def _said(
    ev: evi.Evidence, stalls: list[_stall.Stall], ctx: CheckContext
) -> list[tuple[str, str, bool]]:
    """(who, message, names an Azure availability code) from stalls and recent scale-up errors.

    The autoscaler reports a failed VMSS scale-up only as an event (on its status ConfigMap),
    never on the pod, so recent Warning events carrying an Azure code count too.
    """
    said = [
        (s.what, s.message, _coded(s.message))
        for s in _stall.mentions(stalls, _stall.AVAILABILITY_WORDS)
    ]
    window = ctx.now - ctx.thresholds.lookback
    for e in kube.recent_events(evi.data(ev, "events") or [], ctx.now, window):
        if e.get("type") == "Warning" and _coded(kube.event_message(e)):
            obj = kube.involved(e)
            who = f"event {e.get('reason')} on {obj.get('kind')} {obj.get('name')}"
            said.append((who, kube.event_message(e), True))
    return said


def _support(said: list[tuple[str, str, bool]]) -> list[str]:
    """What Kubernetes said, once per distinct message: support, never proof."""
    seen: dict[str, str] = {}
    for who, message, _ in said:
        seen.setdefault(clip(message), who)
    return [f"supports: {who}: {msg}" for msg, who in list(seen.items())[:2]]


@check(
    "sku.offered",
    inputs={"skus": "azure.skus", **STALL_INPUTS, "agent_pools": "azure.agent_pools"},
    optional=("workspaces", "nodeclaims", "pods", "events", "nodes", "agent_pools"),
)
def sku_offered(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """The GPU SKU in demand is offered in the cluster's region and in the zones its pool pins."""
    entries = arm.vm_skus(ev["skus"].data)
    if not entries:
        return StepResult.inconclusive(
            "azure/skus lists no virtualMachines SKU: cannot tell absent from unread"
        )
    wanted, stalls = demand_from(ev, ctx)
    if not wanted:
        return StepResult.inconclusive(
            "no GPU SKU in demand could be identified (no instanceType or pool)"
        )
    location = ctx.cluster.get("location")
    pools_known = ev.get("agent_pools") is not None and ev["agent_pools"].available
    verdicts = [
        judge_region(d, entries.get(d.sku.lower()), location)
        or judge_zones(d, entries.get(d.sku.lower()) or {}, location, pools_known)
        for d in wanted
    ]
    said = _said(ev, stalls, ctx)
    blocked = [v for v in verdicts if v.blocked]
    if blocked:
        return StepResult.confirmed(*(v.line for v in blocked), *_support(said), **blocked[0].facts)
    lines = [v.line for v in verdicts]
    contradicted = [(who, msg) for who, msg, coded in said if coded]
    if contradicted:
        # Azure said "not available" yet nothing is restricted: a capacity shortage (retry,
        # another zone) rather than a SKU the region does not stock. Do not rule out.
        who, msg = contradicted[0]
        return StepResult.inconclusive(*lines, f"yet {who} reports: {clip(msg)}")
    if any(v.unknown for v in verdicts):
        return StepResult.inconclusive(*lines)
    missing = evi.gaps(ev, *STALL_INPUTS, "agent_pools")
    if missing:
        # What stalls, the SKU it wants, its pool's zones and Azure's own error for a failed
        # scale-up (ZonalAllocationFailed...) may be in what could not be read.
        return StepResult.inconclusive(
            *lines,
            "not ruled out: the demand or Azure's error may be in what was not read",
            *missing,
        )
    return StepResult.ruled_out(*lines)
