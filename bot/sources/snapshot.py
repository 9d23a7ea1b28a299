"""Answer evidence questions from a snapshot directory (DESIGN.md "Snapshot directory").

Every JSON file is parsed when the snapshot opens, so a file that does not parse is reported
up front, by name, instead of half-way through a diagnosis. A missing file is "not known".
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.model import kube
from bot.model.evidence import Answer, Question
from bot.model.text import parse_time
from bot.sources import podsubset, selectors
from bot.sources.base import BadInput, ClusterInfo
from bot.sources.listorder import api_order

AZURE_FILES = {
    "azure.usages": "usages.json",
    "azure.skus": "skus.json",
    "azure.managed_cluster": "managed-cluster.json",
    "azure.agent_pools": "agent-pools.json",
    "azure.registries": "registries.json",
}


def _load_json(path: Path, root: Path) -> Any:
    rel = path.relative_to(root)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise BadInput(f"{rel}: not UTF-8 text: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{rel}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except OSError as exc:
        raise BadInput(f"{rel}: cannot read: {exc.strerror}") from exc


def parse_prometheus(text: str) -> list[dict[str, Any]]:
    """Prometheus text -> [{name, labels, value}] with prometheus_client's own parser."""
    samples = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.append(
                {"name": sample.name, "labels": dict(sample.labels), "value": sample.value}
            )
    return samples


class SnapshotSource:
    kind = "snapshot"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise BadInput(f"{self.root}: snapshot directory not found")
        self.cluster, self.captured_at = self._read_manifest()
        self._json: dict[str, Any] = {}
        self._metrics: dict[str, list[dict[str, Any]]] = {}
        self._parse_all()

    # ---- loading -------------------------------------------------------------------------

    def _read_manifest(self) -> tuple[ClusterInfo, datetime]:
        path = self.root / "snapshot.yaml"
        if not path.is_file():
            raise BadInput(f"{path}: missing (a snapshot needs snapshot.yaml)")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise BadInput(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path}: cannot read: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("cluster"), dict):
            raise BadInput(f"{path}: cluster: required mapping is missing")
        cluster = data["cluster"]
        if not cluster.get("name"):
            raise BadInput(f"{path}: cluster.name: required")
        captured = parse_time(data.get("captured_at"))
        if captured is None:
            raise BadInput(
                f"{path}: captured_at: required RFC 3339 time, got {data.get('captured_at')!r}"
            )
        known = {
            "name",
            "subscription_id",
            "resource_group",
            "location",
            "log_analytics_workspace_id",
        }
        info = ClusterInfo(
            **{k: (str(v) if v is not None else None) for k, v in cluster.items() if k in known}
        )
        return info, captured

    def _parse_all(self) -> None:
        for folder in ("kubernetes", "azure", "loganalytics"):
            for path in sorted((self.root / folder).glob("*.json")):
                data = _load_json(path, self.root)
                rel = str(path.relative_to(self.root))
                self._check_shape(rel, folder, data)
                self._json[rel] = data
        for path in sorted((self.root / "kubernetes" / "probes").glob("*/*.json")):
            data = _load_json(path, self.root)
            if not isinstance(data, dict):
                raise BadInput(f"{path.relative_to(self.root)}: expected a JSON object")
            self._json[str(path.relative_to(self.root))] = data
        for path in sorted((self.root / "kubernetes" / "metrics").glob("*/*.prom")):
            rel = str(path.relative_to(self.root))
            try:
                self._metrics[rel] = parse_prometheus(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadInput(f"{rel}: invalid Prometheus text: {exc}") from exc

    @staticmethod
    def _check_shape(rel: str, folder: str, data: Any) -> None:
        if folder == "kubernetes":
            if not isinstance(data, dict) or not isinstance(data.get("items", None), list):
                raise BadInput(f"{rel}: expected a Kubernetes List with an items array")
            if not all(isinstance(i, dict) for i in data["items"]):
                raise BadInput(f"{rel}: every item must be an object")
        elif folder == "azure":
            if not isinstance(data, dict):
                raise BadInput(f"{rel}: expected an ARM response object")
            if rel.endswith(
                ("usages.json", "skus.json", "agent-pools.json", "registries.json")
            ) and not isinstance(data.get("value"), list):
                raise BadInput(f"{rel}: expected an ARM list body with a value array")
        elif folder == "loganalytics":
            tables = data.get("tables") if isinstance(data, dict) else None
            if not isinstance(tables, list) or not all(
                isinstance(t, dict)
                and isinstance(t.get("columns"), list)
                and isinstance(t.get("rows"), list)
                for t in tables
            ):
                raise BadInput(
                    f"{rel}: expected a Log Analytics response with tables[].columns/rows"
                )

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


def table_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the primary table of a Log Analytics query response, as dicts by column name."""
    tables = body.get("tables") or []
    if not tables:
        return []
    table = next((t for t in tables if t.get("name") == "PrimaryResult"), tables[0])
    columns = [c.get("name") for c in table.get("columns") or []]
    return [dict(zip(columns, row, strict=False)) for row in table.get("rows") or []]
