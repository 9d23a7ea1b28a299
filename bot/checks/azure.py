"""Readers for ARM bodies: SKU list, usages, agent pools, the autoscaler profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.model.domain import AUTOSCALER_DEFAULTS, gpu_sku

Body = dict[str, Any]


@dataclass(frozen=True)
class SkuInfo:
    name: str
    family: str | None
    vcpus: int | None
    locations: tuple[str, ...]
    zones: tuple[str, ...]
    restrictions: tuple[Body, ...]
    from_arm: bool


def _capability(sku: Body, name: str) -> str | None:
    for cap in sku.get("capabilities") or []:
        if str(cap.get("name", "")).lower() == name.lower():
            return str(cap.get("value"))
    return None


def vm_skus(body: Body | None) -> dict[str, Body]:
    """virtualMachines entries of a Resource Skus - List body, keyed by lower-cased name."""
    out: dict[str, Body] = {}
    for sku in (body or {}).get("value") or []:
        if str(sku.get("resourceType", "")).lower() == "virtualmachines":
            out[str(sku.get("name", "")).lower()] = sku
    return out


def sku_info(name: str, skus_body: Body | None) -> SkuInfo:
    """ARM's SKU entry first; the seed's table fills in when ARM is unknown."""
    arm = vm_skus(skus_body).get(name.lower()) if skus_body is not None else None
    table = gpu_sku(name)
    if arm is not None:
        vcpus = _capability(arm, "vCPUs")
        info = arm.get("locationInfo") or []
        return SkuInfo(
            name=str(arm.get("name", name)),
            family=arm.get("family") or (table.family if table else None),
            vcpus=int(vcpus) if vcpus and vcpus.isdigit() else (table.vcpus if table else None),
            locations=tuple(str(x) for x in arm.get("locations") or []),
            zones=tuple(str(z) for li in info for z in (li.get("zones") or [])),
            restrictions=tuple(arm.get("restrictions") or []),
            from_arm=True,
        )
    return SkuInfo(
        name=name,
        family=table.family if table else None,
        vcpus=table.vcpus if table else None,
        locations=(),
        zones=(),
        restrictions=(),
        from_arm=False,
    )


def usage_by_name(body: Body | None) -> dict[str, Body]:
    """Usage - List entries keyed by lower-cased `name.value` (ARM mixes the capitals)."""
    out: dict[str, Body] = {}
    for usage in (body or {}).get("value") or []:
        key = str((usage.get("name") or {}).get("value", "")).lower()
        if key:
            out[key] = usage
    return out


def agent_pools(body: Body | None) -> list[Body]:
    return list((body or {}).get("value") or [])


def pool_props(pool: Body) -> Body:
    return pool.get("properties") or {}


def pool_is_spot(pool: Body) -> bool:
    return str(pool_props(pool).get("scaleSetPriority", "")).lower() == "spot"


def autoscaler_profile(managed_cluster: Body | None) -> Body:
    return ((managed_cluster or {}).get("properties") or {}).get("autoScalerProfile") or {}


def profile_value(managed_cluster: Body | None, key: str) -> tuple[str, bool]:
    """(value, explicitly set). Unset keys take AKS's documented default."""
    profile = autoscaler_profile(managed_cluster)
    if key in profile and profile[key] not in (None, ""):
        return str(profile[key]).lower(), True
    return AUTOSCALER_DEFAULTS.get(key, ""), False
