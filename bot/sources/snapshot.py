"""Answer evidence questions from a snapshot directory (DESIGN.md "Snapshot directory").

Every JSON file is parsed when the snapshot opens (`snapshot_files.py`), so a file that does not
parse is reported up front, by name, instead of half-way through a diagnosis. A missing file is
"not known".
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from bot.model import kube
from bot.model.evidence import Answer, Question
from bot.sources import podsubset, selectors, snapshot_files
from bot.sources.base import BadInput
from bot.sources.formats import table_rows
from bot.sources.listorder import api_order

AZURE_FILES = {
    "azure.usages": "usages.json",
    "azure.skus": "skus.json",
    "azure.managed_cluster": "managed-cluster.json",
    "azure.agent_pools": "agent-pools.json",
    "azure.registries": "registries.json",
}


class SnapshotSource:
    kind = "snapshot"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise BadInput(f"{self.root}: snapshot directory not found")
        self.cluster, self.captured_at = snapshot_files.read_manifest(self.root)
        self._json, self._metrics = snapshot_files.parse_all(self.root)

    # ---- answering -----------------------------------------------------------------------

    def now(self) -> datetime:
        return self.captured_at

    def answer(self, question: Question) -> Answer:
        handler = getattr(self, "_" + question.kind.replace(".", "_"))
        try:
            return handler(question)  # type: ignore[no-any-return]
        except selectors.SelectorError as exc:
            return Answer.missing(question, f"bad selector: {exc}")

    def _items(self, resource: str) -> list[dict[str, Any]] | None:
        data = self._json.get(f"kubernetes/{resource}.json")
        return None if data is None else api_order(data["items"])  # as the API lists them

    def _not_captured(self, question: Question, rel: str) -> Answer:
        return Answer.missing(question, f"{rel} is not in the snapshot")

    def _kubernetes_list(self, q: Question) -> Answer:
        resource = q.param("resource")
        items = self._items(resource)
        if items is None:
            return self._not_captured(q, f"kubernetes/{resource}.json")
        chosen = selectors.select(
            items,
            namespace=q.param("namespace"),
            label_selector=q.param("label_selector"),
            field_selector=q.param("field_selector"),
        )
        if q.param("subset"):
            chosen = self.subset(chosen)
        return Answer(q, chosen)

    def subset(self, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`subset: gpu`, judged against the snapshot's nodes and events, as live."""
        facts = podsubset.Facts.of(self._items("nodes"), self._items("events"))
        return podsubset.subset(pods, facts)

    def _kubernetes_pods_on_gpu_nodes(self, q: Question) -> Answer:
        nodes, pods = self._items("nodes"), self._items("pods")
        if nodes is None:
            return self._not_captured(q, "kubernetes/nodes.json")
        if pods is None:
            return self._not_captured(q, "kubernetes/pods.json")
        gpu_names = {kube.name(n) for n in kube.gpu_nodes(nodes)}
        return Answer(q, [p for p in pods if kube.node_name(p) in gpu_names])

    def _target_pods(self, q: Question) -> list[dict[str, Any]] | None:
        pods = self._items("pods")
        if pods is None:
            return None
        chosen = selectors.select(
            pods, namespace=q.param("namespace"), label_selector=q.param("label_selector")
        )
        return chosen if q.param("label_selector") else kube.inference_pods(chosen)

    def _kubernetes_pod_logs(self, q: Question) -> Answer:
        pods = self._target_pods(q)
        logs_dir = self.root / "kubernetes" / "logs"
        if pods is None:
            return self._not_captured(q, "kubernetes/pods.json")
        if not pods:
            return Answer(q, [])  # no pod to read: nothing could be missing (as live)
        if not logs_dir.is_dir():
            return self._not_captured(q, "kubernetes/logs/")
        out: list[dict[str, Any]] = []
        for pod in pods:
            for container in kube.containers(pod):
                for previous in (False, True):
                    suffix = ".previous.log" if previous else ".log"
                    path = (
                        logs_dir
                        / kube.namespace(pod)
                        / kube.name(pod)
                        / f"{container.get('name')}{suffix}"
                    )
                    text = (
                        path.read_text(encoding="utf-8", errors="replace")
                        if path.is_file()
                        else None
                    )
                    if text is None and previous:
                        continue
                    out.append(
                        {
                            "namespace": kube.namespace(pod),
                            "pod": kube.name(pod),
                            "container": container.get("name"),
                            "previous": previous,
                            "text": text,
                        }
                    )
        return Answer(q, out)

    def _kubernetes_pod_metrics(self, q: Question) -> Answer:
        pods = self._target_pods(q)
        if pods is None:
            return self._not_captured(q, "kubernetes/pods.json")
        if not pods:
            return Answer(q, [])  # no pod to scrape: nothing could be missing (as live)
        if not (self.root / "kubernetes" / "metrics").is_dir():
            return self._not_captured(q, "kubernetes/metrics/")
        out = []
        for pod in pods:
            rel = f"kubernetes/metrics/{kube.namespace(pod)}/{kube.name(pod)}.prom"
            out.append(
                {
                    "namespace": kube.namespace(pod),
                    "pod": kube.name(pod),
                    "samples": self._metrics.get(rel),
                }
            )
        return Answer(q, out)

    def _kubernetes_service_probes(self, q: Question) -> Answer:
        if not (self.root / "kubernetes" / "probes").is_dir():
            services = self._items("services")
            kaito = [s for s in services or [] if kube.WORKSPACE_LABEL in kube.labels(s)]
            if services is not None and not kaito:
                return Answer(q, [])  # no KAITO service to probe (the ones live probes)
            return self._not_captured(q, "kubernetes/probes/")
        out = []
        for rel, data in sorted(self._json.items()):
            if rel.startswith("kubernetes/probes/"):
                _, _, ns, file = rel.split("/")
                out.append({"namespace": ns, "service": file.removesuffix(".json"), **data})
        return Answer(q, out)

    def _azure(self, q: Question) -> Answer:
        rel = f"azure/{AZURE_FILES[q.kind]}"
        data = self._json.get(rel)
        return self._not_captured(q, rel) if data is None else Answer(q, data)

    _azure_usages = _azure_skus = _azure_managed_cluster = _azure_agent_pools = (
        _azure_registries
    ) = _azure

    def _loganalytics_query(self, q: Question) -> Answer:
        rel = f"loganalytics/{q.param('query')}.json"
        data = self._json.get(rel)
        if data is None:
            return self._not_captured(q, rel)
        return Answer(q, table_rows(data))
