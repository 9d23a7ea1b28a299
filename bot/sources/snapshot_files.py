"""Reading a snapshot directory (DESIGN.md "Snapshot directory"): the manifest and every data
file, parsed and shape-checked up front so a bad file is reported by name before a diagnosis
starts rather than half-way through one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bot.model.text import parse_time
from bot.sources.base import BadInput, ClusterInfo
from bot.sources.formats import parse_prometheus


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


def read_manifest(root: Path) -> tuple[ClusterInfo, datetime]:
    """`snapshot.yaml`: which cluster, captured when."""
    path = root / "snapshot.yaml"
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


def parse_all(root: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Every JSON file by path relative to `root`, and every `.prom` file's samples."""
    documents: dict[str, Any] = {}
    metrics: dict[str, list[dict[str, Any]]] = {}
    for folder in ("kubernetes", "azure", "loganalytics"):
        for path in sorted((root / folder).glob("*.json")):
            data = _load_json(path, root)
            rel = str(path.relative_to(root))
            _check_shape(rel, folder, data)
            documents[rel] = data
    for path in sorted((root / "kubernetes" / "probes").glob("*/*.json")):
        data = _load_json(path, root)
        if not isinstance(data, dict):
            raise BadInput(f"{path.relative_to(root)}: expected a JSON object")
        documents[str(path.relative_to(root))] = data
    for path in sorted((root / "kubernetes" / "metrics").glob("*/*.prom")):
        rel = str(path.relative_to(root))
        try:
            metrics[rel] = parse_prometheus(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput(f"{rel}: invalid Prometheus text: {exc}") from exc
    return documents, metrics


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
            raise BadInput(f"{rel}: expected a Log Analytics response with tables[].columns/rows")
