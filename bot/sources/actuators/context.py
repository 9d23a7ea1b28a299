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

    def usage(self, family: str) -> dict[str, Any] | None:
        """The compute usage entry of a quota family in the cluster's region."""
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
