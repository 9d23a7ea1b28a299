"""The fixes a playbook may offer: id, title, risk and typed parameters.

Applying them belongs to `bot.fixes`; the offer and its parameters are part of a finding,
so their shape lives here and playbooks are validated against it at load.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class _FixParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutoscalerScaleDownParams(_FixParams):
    scale_down_unneeded_time: str = "5m"
    scale_down_delay_after_add: str = "5m"
    skip_nodes_with_system_pods: bool = False


class PrewarmScheduleParams(_FixParams):
    namespace: str
    workload: str = Field(description="kind/name, e.g. statefulset/workspace-llama or workspace/x")
    schedule: str = "45 7 * * 1-5"
    time_zone: str = "UTC"
    replicas: int = 1
    # The CronJob's Job runs kubectl in the cluster; pin a version (or a digest, in the
    # configuration) so a pre-warm never changes behaviour with an upstream tag.
    image: str = "registry.k8s.io/kubectl:v1.31.3"


class PrewarmNowParams(_FixParams):
    namespace: str
    workload: str
    replicas: int = 1


class PoolMinCountParams(_FixParams):
    pool: str
    min_count: int
    max_count: int | None = None


class RequestQuotaParams(_FixParams):
    family: str
    location: str | None = None
    new_limit: int


class RestartDevicePluginParams(_FixParams):
    namespace: str
    pod: str
    node: str


class CapMaxModelLenParams(_FixParams):
    namespace: str
    configmap: str
    workspace: str | None = None
    current: int | None = None
    new_max_model_len: int


class EvictPinningPodParams(_FixParams):
    namespace: str
    pod: str
    node: str


@dataclass(frozen=True)
class FixSpec:
    id: str
    title: str
    risk: str  # low | medium | high
    reversible: bool
    params: type[_FixParams]

    @property
    def requires_approval(self) -> bool:
        return self.risk == "high"


FIXES: dict[str, FixSpec] = {
    spec.id: spec
    for spec in [
        FixSpec(
            "autoscaler-scale-down",
            "Raise autoscaler scale-down aggressiveness",
            "medium",
            True,
            AutoscalerScaleDownParams,
        ),
        FixSpec(
            "prewarm-schedule",
            "Schedule a pre-warm before business hours",
            "low",
            True,
            PrewarmScheduleParams,
        ),
        FixSpec(
            "prewarm-now", "Pre-warm now (scale the workload up)", "low", True, PrewarmNowParams
        ),
        FixSpec(
            "pool-min-count",
            "Change the GPU pool's autoscaler minimum",
            "high",
            True,
            PoolMinCountParams,
        ),
        FixSpec(
            "request-quota", "Request a GPU family quota increase", "low", False, RequestQuotaParams
        ),
        FixSpec(
            "restart-device-plugin",
            "Restart the device plugin on the node",
            "medium",
            False,
            RestartDevicePluginParams,
        ),
        FixSpec(
            "cap-max-model-len",
            "Lower --max-model-len in the inference config",
            "high",
            True,
            CapMaxModelLenParams,
        ),
        FixSpec(
            "evict-pinning-pod",
            "Evict the pod pinning the idle GPU node",
            "medium",
            False,
            EvictPinningPodParams,
        ),
    ]
}
