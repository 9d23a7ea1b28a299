"""A scenario's cluster behind the Kubernetes API emulator, with the fix context the
actuators get in production: the REAL kubernetes client, configured by a kubeconfig."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, config

from bot.sources.actuators import ACTUATORS, kube_fixes  # noqa: F401  (registers them)
from bot.sources.actuators.context import FixContext
from bot.sources.actuators.kube_state import LiveKubeState, SnapshotKubeState
from bot.sources.base import ClusterInfo
from bot.sources.snapshot import SnapshotSource
from tests.conftest import SCENARIOS
from tests.emulators.kube_api import KubeApiEmulator, Recorded

COLD_START = SCENARIOS / "cold-start" / "confirmed"
DEVICE_PLUGIN = SCENARIOS / "device-plugin-unhealthy" / "confirmed"
KV_BOUND = SCENARIOS / "kv-cache-bound" / "confirmed"
SCALE_DOWN = SCENARIOS / "scale-down-blocked" / "confirmed"
CLUSTER = "aks-inference"  # every scenario's snapshot.yaml names it
WS = "workspace-llama-3-1-8b"
NS = "default"


@dataclass
class Cluster:
    api: KubeApiEmulator
    client: client.ApiClient
    ctx: FixContext

    def writes(self) -> list[Recorded]:
        return list(self.api.writes)

    def read(self, plural: str, name: str, namespace: str = NS) -> dict[str, Any] | None:
        """The object as the emulator holds it now (read through the actuators' own reader)."""
        return LiveKubeState(self.client).get(plural, namespace, name)


def edited(snapshot: Path, tmp: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of a scenario snapshot with its kubernetes/*.json documents changed by `edit`
    (a dict plural -> List document)."""
    target = tmp / snapshot.parent.name
    shutil.copytree(snapshot, target)
    docs = {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in (target / "kubernetes").glob("*.json")
    }
    edit(docs)
    for plural, doc in docs.items():
        (target / "kubernetes" / f"{plural}.json").write_text(json.dumps(doc), encoding="utf-8")
    return target


def plain_workload(plural: str, replicas: int) -> Callable[[dict[str, Any]], None]:
    """The scenario's inference workload run without KAITO (a hand-made vLLM StatefulSet or
    Deployment), scaled to `replicas` (0: scaled to zero overnight)."""

    def edit(docs: dict[str, Any]) -> None:
        for item in docs[plural]["items"]:
            if item["metadata"]["name"] == WS:
                item["metadata"].pop("ownerReferences", None)
                item["spec"]["replicas"] = replicas

    return edit


@contextmanager
def cluster(snapshot: Path, tmp: Path) -> Iterator[Cluster]:
    with KubeApiEmulator(snapshot) as api:
        kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        ctx = FixContext(
            cluster=ClusterInfo(name=CLUSTER),
            kube_state=LiveKubeState(api_client),
            azure_state=None,
            now=datetime(2026, 11, 27, 7, 40, tzinfo=UTC),
            kube_api=api_client,
        )
        yield Cluster(api, api_client, ctx)


def snapshot_context(snapshot: Path) -> FixContext:
    """What `gpubot fix plan --snapshot` and a `--snapshot` bot plan with: no clients."""
    source = SnapshotSource(snapshot)
    return FixContext(
        cluster=source.cluster,
        kube_state=SnapshotKubeState(source),
        azure_state=None,
        now=source.now(),
        read_only_reason="this bot answers from a snapshot",
    )


def actuator(fix: str) -> Any:
    return ACTUATORS[fix]
