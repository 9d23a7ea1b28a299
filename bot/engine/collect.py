"""`gpubot collect`: write a live cluster's evidence as a snapshot (DESIGN.md layout).

Like must-gather or AKS Periscope, but only what the playbooks read, and never a secret:
no Secret objects are ever requested, environment variable values are replaced, ConfigMap
data is kept only for the ConfigMaps playbooks read (the rest keep their names and keys),
and tokens never reach a file. Everything left out is listed, with why, in COLLECTED.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import yaml

from bot.engine.loader import Catalog
from bot.model import kube
from bot.model.evidence import Answer, Question
from bot.sources.snapshot import AZURE_FILES

REDACTED = "(value removed by gpubot collect)"
KEEP_CONFIGMAPS = {("kube-system", "cluster-autoscaler-status")}


@dataclass
class Report:
    written: dict[str, None] = field(default_factory=dict)
    omitted: list[str] = field(default_factory=list)

    def markdown(self, cluster: str, at: str) -> str:
        lines = [f"# gpubot collect: {cluster} at {at}", "", "## Written", ""]
        lines += [f"- {w}" for w in self.written] or ["- (nothing)"]
        lines += ["", "## Left out, and why", ""]
        lines += [f"- {o}" for o in self.omitted] or ["- (nothing)"]
        return "\n".join(lines) + "\n"


def _questions(catalog: Catalog) -> list[Question]:
    seen: dict[Question, None] = {}
    for playbook in catalog.playbooks.values():
        for q in playbook.questions.values():
            if q.kind == "kubernetes.list":  # the whole list, so any selector works offline
                q = Question.of("kubernetes.list", {"resource": q.param("resource")})
            seen.setdefault(q)
    return list(seen)


def _configmaps_read(items: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str]]:
    keep = set(KEEP_CONFIGMAPS)
    for ws in items.get("workspaces", []):
        config = (ws.get("inference") or {}).get("config")
        if config:
            keep.add((kube.namespace(ws), str(config)))
    for policy in items.get("clusterpolicies", []):
        name = (((policy.get("spec") or {}).get("devicePlugin") or {}).get("config") or {}).get(
            "name"
        )
        if name:
            keep.add(("gpu-operator", str(name)))
    return keep


def _scrub_configmaps(
    cms: list[dict[str, Any]], keep: set[tuple[str, str]], report: Report
) -> None:
    for cm in cms:
        if (kube.namespace(cm), kube.name(cm)) in keep:
            continue
        for section in ("data", "binaryData"):
            if cm.get(section):
                cm[section] = {key: REDACTED for key in cm[section]}
                report.omitted.append(
                    f"configmap {kube.ref(cm)}: {section} values (no playbook reads them)"
                )


def _scrub_env(objects: list[dict[str, Any]], report: Report, resource: str) -> None:
    count = 0

    def walk(node: Any) -> None:
        nonlocal count
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "env" and isinstance(value, list):
                    for var in value:
                        if isinstance(var, dict) and "value" in var:
                            var["value"] = REDACTED
                            count += 1
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(objects)
    if count:
        report.omitted.append(f"{resource}: {count} environment variable values (may hold secrets)")


def _prom_text(samples: list[dict[str, Any]]) -> str:
    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    out = []
    for s in samples:
        labels = ",".join(f'{k}="{esc(str(v))}"' for k, v in s["labels"].items())
        out.append(
            f"{s['name']}{{{labels}}} {s['value']!r}" if labels else f"{s['name']} {s['value']!r}"
        )
    return "\n".join(out) + "\n"


def _write(root: Path, rel: str, text: str, report: Report) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    report.written[rel] = None


def _dump(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def collect(source: Any, catalog: Catalog, out: Path) -> Report:
    """Ask every question the playbooks ask, write the answers, say what was left out."""
    report = Report()
    out.mkdir(parents=True, exist_ok=True)
    now = source.now().astimezone(UTC)
    lists: dict[str, list[dict[str, Any]]] = {}
    others: list[tuple[Question, Answer]] = []
    for q in _questions(catalog):
        answer = source.raw(q)
        if not answer.available:
            report.omitted.append(f"{q.label()}: not collected: {answer.unavailable}")
        elif q.kind == "kubernetes.list":
            lists[str(q.param("resource"))] = list(answer.data)
        else:
            others.append((q, answer))
    if "configmaps" in lists:
        _scrub_configmaps(lists["configmaps"], _configmaps_read(lists), report)
    for resource, items in sorted(lists.items()):
        _scrub_env(items, report, resource)
        _write(
            out,
            f"kubernetes/{resource}.json",
            _dump({"apiVersion": "v1", "kind": "List", "items": items}),
            report,
        )
    for q, answer in others:
        if q.kind in AZURE_FILES:
            _write(out, f"azure/{AZURE_FILES[q.kind]}", _dump(answer.data), report)
        elif q.kind == "loganalytics.query":
            _write(out, f"loganalytics/{q.param('query')}.json", _dump(answer.data), report)
        elif q.kind == "kubernetes.pod_logs":
            for log in answer.data:
                if log["text"] is not None:
                    suffix = ".previous.log" if log["previous"] else ".log"
                    where = f"{log['namespace']}/{log['pod']}/{log['container']}"
                    _write(out, f"kubernetes/logs/{where}{suffix}", log["text"], report)
        elif q.kind == "kubernetes.pod_metrics":
            for m in answer.data:
                if m["samples"] is not None:
                    _write(
                        out,
                        f"kubernetes/metrics/{m['namespace']}/{m['pod']}.prom",
                        _prom_text(m["samples"]),
                        report,
                    )
        elif q.kind == "kubernetes.service_probes":
            for p in answer.data:
                body = {k: p.get(k) for k in ("path", "status", "latency_ms", "body")}
                _write(
                    out,
                    f"kubernetes/probes/{p['namespace']}/{p['service']}.json",
                    _dump(body),
                    report,
                )
    manifest = {
        "cluster": {k: v for k, v in source.cluster.as_dict().items() if v is not None},
        "captured_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    _write(out, "snapshot.yaml", yaml.safe_dump(manifest, sort_keys=False), report)
    report.omitted.append("Secret objects: never requested by gpubot")
    _write(
        out, "COLLECTED.md", report.markdown(source.cluster.name, manifest["captured_at"]), report
    )
    return report
