"""Quota headroom for a GPU SKU in demand, shared by row 1 and the morning readiness.

Row 1 (quota.family_headroom / quota.regional_cap) asks it of the SKUs a stall waits for, the
readiness rung (readiness.quota_headroom / readiness.regional_headroom) of the GPU pools and
workspaces in use. Both resolve a SKU to the quota its nodes draw on here and judge the room
with bot.model.quota, so they can never disagree on the arithmetic; each words its own lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.checks import azure as arm
from bot.model.quota import REGIONAL, QuotaUsage, quota_name
from bot.model.verdicts import StepResult


@dataclass(frozen=True)
class Need:
    """A GPU SKU in demand with known family and vCPUs, and the quota its nodes draw on."""

    quota: str  # as Azure spells it: the VM family, or lowPriorityCores for Spot
    sku: arm.SkuInfo
    vcpus: int
    who: str  # what needs it: a pool, a workspace, a stalled NodeClaim


def resolve(sku: str, *, spot: bool, who: str, skus: Any) -> Need | str:
    """The SKU's quota and vCPUs (azure/skus first, the SKU table after), else why unknown."""
    info = arm.sku_info(sku, skus)
    if info.family is None or info.vcpus is None:
        return f"{sku} ({who}): family or vCPUs unknown (not in azure/skus nor the SKU table)"
    return Need(quota_name(info.family, spot=spot), info, info.vcpus, who)


def by_quota(
    demand: list[tuple[str, bool, str]], skus: Any
) -> tuple[dict[str, list[tuple[Need, list[str]]]], list[str]]:
    """Each quota (lower-cased) with the SKUs drawing on it, first seen first, each with all
    that needs it; plus why each (sku, spot, who) that could not be resolved is unknown."""
    quotas: dict[str, dict[str, tuple[Need, list[str]]]] = {}
    unknown = []
    for sku, spot, who in demand:
        need = resolve(sku, spot=spot, who=who, skus=skus)
        if isinstance(need, str):
            unknown.append(need)
            continue
        per_sku = quotas.setdefault(need.quota.lower(), {})
        per_sku.setdefault(need.sku.name.lower(), (need, []))[1].append(who)
    return {k: list(v.values()) for k, v in quotas.items()}, unknown


@dataclass(frozen=True)
class Room:
    """A quota judged for one more node of a SKU that draws on it."""

    usage: QuotaUsage
    need: Need

    @property
    def fits(self) -> bool:
        return self.usage.fits(self.need.vcpus)

    def new_limit(self, nodes: int) -> int:
        """The limit a request should ask for to leave room for `nodes` more such nodes."""
        return self.usage.limit_for(self.need.vcpus, nodes)


def usage_of(by_name: dict[str, Any], quota: str) -> QuotaUsage | str:
    """The quota's usage (from `arm.usage_by_name`), else why it cannot be judged."""
    entry = by_name.get(quota.lower())
    if entry is None:
        return f"{quota}: no usage entry in azure/usages"
    return QuotaUsage.from_arm(entry, quota)


def judge(sku: str, *, spot: bool, who: str, skus: Any, by_name: dict[str, Any]) -> Room | str:
    """One SKU's next node against the quota it draws on, else why it cannot be judged."""
    need = resolve(sku, spot=spot, who=who, skus=skus)
    if isinstance(need, str):
        return need
    usage = usage_of(by_name, need.quota)
    return usage if isinstance(usage, str) else Room(usage, need)


def regional(by_name: dict[str, Any]) -> QuotaUsage | StepResult:
    """Total Regional vCPUs, or the inconclusive verdict when azure/usages lacks them."""
    entry = by_name.get(REGIONAL)
    if entry is None:
        return StepResult.inconclusive("no 'cores' (Total Regional vCPUs) entry in azure/usages")
    return QuotaUsage.from_arm(entry, REGIONAL)


def regional_request(usage: QuotaUsage, vcpus: int, nodes: int) -> dict[str, int]:
    """The facts a Total Regional vCPUs request is built from: room for `nodes` nodes."""
    return {
        "regional_limit": usage.limit,
        "regional_used": usage.used,
        "regional_new_limit": usage.limit_for(vcpus, nodes),
    }
