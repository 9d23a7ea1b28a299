"""What an actuator reads and writes through: one cluster's state and, when live, its clients.

Reading goes through `KubeState` / `AzureState`, which have a live implementation (the official
clients) and a snapshot implementation (the snapshot directory), so `gpubot fix plan` and a
`--snapshot` bot can show a plan. Writing needs the live clients: a context built from a
snapshot has none, and `writable` says why not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.sources.base import ClusterInfo


class KubeState(Protocol):
    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object as the API serves it (None: it does not exist)."""
        ...

    def list(
        self, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]: ...


class AzureState(Protocol):
    def managed_cluster(self) -> tuple[dict[str, Any], str | None]:
        """The managed cluster body (ARM JSON, camelCase) and its ETag."""
        ...

    def agent_pool(self, name: str) -> tuple[dict[str, Any] | None, str | None]: ...

    def agent_pools(self) -> list[dict[str, Any]]:
        """Every agent pool (ARM JSON): which SKUs the autoscaler may add a node of."""
        ...

    def usage(self, family: str) -> dict[str, Any] | None:
        """The compute usage entry of a quota family in the cluster's region."""
        ...

    def vm_sku(self, name: str) -> dict[str, Any] | None:
        """The Resource Skus entry of a VM size in the cluster's region (None: unknown)."""
        ...


@dataclass
class FixContext:
    cluster: ClusterInfo
    kube_state: KubeState | None
    azure_state: AzureState | None
    now: datetime
    kube_api: Any | None = None  # kubernetes.client.ApiClient: writes
    azure: Any | None = None  # bot.sources.arm.AzureSource: writes via .client(which)
    read_only_reason: str | None = None  # "snapshot mode", "Kubernetes is not configured", ...

    @property
    def writable(self) -> bool:
        return self.read_only_reason is None


def live_fix_context(source: Any) -> FixContext:
    """From a `LiveSource` (bot.sources.live.open_live): its clients read and write."""
    from bot.sources.actuators.azure_state import LiveAzureState
    from bot.sources.actuators.kube_state import LiveKubeState

    kube_api = getattr(source.kube, "api", None)
    problems = [
        p
        for p, side in ((source.kube_problem, source.kube), (source.azure_problem, source.azure))
        if side is None
    ]
    return FixContext(
        cluster=source.cluster,
        kube_state=LiveKubeState(kube_api) if kube_api is not None else None,
        azure_state=LiveAzureState(source.azure) if source.azure is not None else None,
        now=source.now(),
        kube_api=kube_api,
        azure=source.azure,
        # A half-configured cluster can still apply the fixes of the side it reaches: the
        # actuator checks `kube_api` / `azure` itself and refuses with this reason otherwise.
        read_only_reason=None
        if kube_api is not None or source.azure is not None
        else "; ".join(problems),
    )


def snapshot_fix_context(source: Any) -> FixContext:
    """From a `SnapshotSource`: plans can be shown, nothing can be applied."""
    from bot.sources.actuators.azure_state import SnapshotAzureState
    from bot.sources.actuators.kube_state import SnapshotKubeState

    return FixContext(
        cluster=source.cluster,
        kube_state=SnapshotKubeState(source),
        azure_state=SnapshotAzureState(source),
        now=source.now(),
        read_only_reason="this bot answers from a snapshot: fixes show their plan but "
        "are never applied",
    )


def fix_context(source: Any) -> FixContext:
    """The fix context of whatever a diagnosis reads: live clients, or a snapshot (plan only)."""
    return live_fix_context(source) if source.kind == "live" else snapshot_fix_context(source)
