"""Reading GPU sharing: device-plugin time-slicing configs, GFD node labels, MIG layouts.

Row 12 (time-sliced co-tenants OOM each other). Shapes: ConfigMaps as the API returns them
(the plugin config is YAML inside a data value, see the GPU Operator's time-slicing example),
nodes with the labels gpu-feature-discovery writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from bot.model import kube
from bot.model.domain import gpu_sku

Obj = dict[str, Any]


@dataclass(frozen=True)
class Slicing:
    configmap: str  # ns/name
    key: str
    resource: str
    replicas: int

    def line(self, used: set[str]) -> str:
        ref = (
            " (the ClusterPolicy's devicePlugin.config)"
            if self.configmap.split("/")[-1] in used
            else ""
        )
        what = f"{self.resource} time-sliced × {self.replicas}"
        return f"ConfigMap {self.configmap} key {self.key}: {what}{ref}"


def replicas_of(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1


def slicing_configs(configmaps: list[Obj]) -> list[Slicing]:
    """Device-plugin configs (any key of any ConfigMap) that time-slice a GPU resource > 1×."""
    out = []
    for cm in configmaps:
        for key, text in (cm.get("data") or {}).items():
            if "timeSlicing" not in str(text):  # cheap filter before parsing YAML
                continue
            try:
                body = yaml.safe_load(str(text))
            except yaml.YAMLError:
                continue
            sharing = (body.get("sharing") or {}) if isinstance(body, dict) else {}
            for res in (sharing.get("timeSlicing") or {}).get("resources") or []:
                if replicas_of(res.get("replicas")) > 1:
                    out.append(
                        Slicing(
                            kube.ref(cm), key, str(res.get("name")), replicas_of(res["replicas"])
                        )
                    )
    return out


def policy_configs(policies: list[Obj] | None) -> set[str]:
    """Names of ConfigMaps a GPU Operator ClusterPolicy points its device plugin at."""
    out = set()
    for policy in policies or []:
        name = (((policy.get("spec") or {}).get("devicePlugin") or {}).get("config") or {}).get(
            "name"
        )
        if name:
            out.add(str(name))
    return out


@dataclass(frozen=True)
class NodeShare:
    node: str
    signs: tuple[str, ...]  # GFD labels that say the GPU is time-sliced
    isolated: tuple[str, ...]  # labels/resources that say it is MIG-partitioned or not shared
    over: str | None  # "advertises 4 nvidia.com/gpu on a 1-GPU ..." when not explained by MIG
    mig_capable: bool | None


def node_sharing(node: Obj) -> NodeShare:
    lab = kube.labels(node)
    signs, isolated = [], []
    if lab.get("nvidia.com/gpu.sharing-strategy") == "time-slicing":
        signs.append("nvidia.com/gpu.sharing-strategy=time-slicing")
    if replicas_of(lab.get("nvidia.com/gpu.replicas")) > 1:
        signs.append(f"nvidia.com/gpu.replicas={lab['nvidia.com/gpu.replicas']}")
    if lab.get("nvidia.com/gpu.product", "").endswith("-SHARED"):
        signs.append(f"nvidia.com/gpu.product={lab['nvidia.com/gpu.product']}")
    mig = lab.get("nvidia.com/mig.config", "all-disabled")
    single = lab.get("nvidia.com/mig.strategy") == "single"
    # GFD labels mig.strategy even with MIG off; MIG is on when a layout is applied.
    mig_on = mig not in ("", "all-disabled") or "-MIG-" in lab.get("nvidia.com/gpu.product", "")
    mig_on = mig_on or any(k.startswith(kube.MIG_PREFIX) for k in kube.gpu_resources(node))
    if mig_on:
        isolated.append(f"MIG {'single strategy ' if single else ''}{mig}")
    if lab.get("nvidia.com/gpu.sharing-strategy") == "none":
        isolated.append("nvidia.com/gpu.sharing-strategy=none")
    sku = gpu_sku(kube.instance_type(node))
    advertised = kube.gpu_resources(node).get(kube.GPU_RESOURCE, 0)
    # MIG's single strategy also advertises several nvidia.com/gpu per card, each isolated.
    over = None
    if sku and advertised > sku.gpus and not (single and mig_on):
        over = f"{kube.name(node)} advertises {advertised} nvidia.com/gpu on a {sku.gpus}-GPU "
        over += sku.name
    return NodeShare(
        kube.name(node), tuple(signs), tuple(isolated), over, sku.mig_capable if sku else None
    )
