"""Readers for Kubernetes objects as the API returns them (plain dicts, never client models)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from bot.model.domain import looks_like_gpu_sku
from bot.model.text import parse_time

Obj = dict[str, Any]

GPU_RESOURCE = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"
SPOT_LABEL = "kubernetes.azure.com/scalesetpriority"
WORKSPACE_LABEL = "kaito.sh/workspace"
# An InferenceSet names each Workspace it creates `<set>-<index>` and labels it with the set's
# name (KAITO consts.WorkspaceCreatedByInferenceSetLabel); newer releases also copy the label
# into the StatefulSet selector, so the pods carry it too.
INFERENCESET_LABEL = "inferenceset.kaito.sh/created-by"
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
POOL_LABELS = ("kubernetes.azure.com/agentpool", "agentpool")


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace(obj: Obj) -> str:
    return str(meta(obj).get("namespace", ""))


def ref(obj: Obj) -> str:
    ns = namespace(obj)
    return f"{ns}/{name(obj)}" if ns else name(obj)


def labels(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def annotations(obj: Obj) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def created(obj: Obj) -> datetime | None:
    return parse_time(meta(obj).get("creationTimestamp"))


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def condition_status(obj: Obj, kind: str) -> str | None:
    cond = condition(obj, kind)
    return None if cond is None else str(cond.get("status"))


# ---- nodes -------------------------------------------------------------------------------


def instance_type(node: Obj) -> str | None:
    for key in INSTANCE_TYPE_LABELS:
        if key in labels(node):
            return labels(node)[key]
    return None


def pool_name(node: Obj) -> str | None:
    for key in POOL_LABELS:
        if key in labels(node):
            return labels(node)[key]
    return None


def gpu_resources(node: Obj, field: str = "allocatable") -> dict[str, int]:
    """nvidia.com/gpu and nvidia.com/mig-* quantities the node advertises."""
    out: dict[str, int] = {}
    for key, value in ((node.get("status") or {}).get(field) or {}).items():
        if key == GPU_RESOURCE or key.startswith(MIG_PREFIX):
            try:
                out[key] = int(str(value))
            except ValueError:
                continue
    return out


def is_gpu_node(node: Obj) -> bool:
    """A GPU node by what it is (labels, SKU), not by what its driver currently advertises."""
    lab = labels(node)
    if (
        lab.get("kubernetes.azure.com/accelerator") == "nvidia"
        or lab.get("accelerator") == "nvidia"
    ):
        return True
    if lab.get("nvidia.com/gpu.present") == "true" or lab.get("kaito.sh/machine-type") == "gpu":
        return True
    if looks_like_gpu_sku(instance_type(node)):
        return True
    return any(v > 0 for v in gpu_resources(node, "capacity").values())


def is_ready(node: Obj) -> bool:
    return condition_status(node, "Ready") == "True"


def is_spot(node: Obj) -> bool:
    return labels(node).get(SPOT_LABEL, "").lower() == "spot"


def taints(node: Obj) -> list[Obj]:
    return (node.get("spec") or {}).get("taints") or []


def gpu_nodes(nodes: Iterable[Obj]) -> list[Obj]:
    return [n for n in nodes if is_gpu_node(n)]


# ---- pods --------------------------------------------------------------------------------


def containers(pod: Obj, *, init: bool = False) -> list[Obj]:
    spec = pod.get("spec") or {}
    return list(spec.get("containers") or []) + (
        list(spec.get("initContainers") or []) if init else []
    )


def gpu_request(pod: Obj) -> dict[str, int]:
    """GPU-type resources a pod asks for (limits win; extended resources need limits)."""
    out: dict[str, int] = {}
    for c in containers(pod):
        res = c.get("resources") or {}
        for section in ("limits", "requests"):
            for key, value in (res.get(section) or {}).items():
                if key == GPU_RESOURCE or key.startswith(MIG_PREFIX):
                    try:
                        out[key] = max(out.get(key, 0), int(str(value)))
                    except ValueError:
                        continue
    return out


def requests_gpu(pod: Obj) -> bool:
    return any(v > 0 for v in gpu_request(pod).values())


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase", ""))


def node_name(pod: Obj) -> str | None:
    return (pod.get("spec") or {}).get("nodeName")


def owner_kind(pod: Obj) -> str | None:
    for owner in meta(pod).get("ownerReferences") or []:
        if owner.get("controller", True):
            return str(owner.get("kind"))
    return None


def owner_name(pod: Obj) -> str | None:
    for owner in meta(pod).get("ownerReferences") or []:
        if owner.get("controller", True):
            return str(owner.get("name"))
    return None


def container_statuses(pod: Obj) -> list[Obj]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def restart_count(pod: Obj) -> int:
    return sum(int(s.get("restartCount") or 0) for s in container_statuses(pod))


def waiting_reason(pod: Obj) -> str | None:
    for s in container_statuses(pod):
        reason = ((s.get("state") or {}).get("waiting") or {}).get("reason")
        if reason:
            return str(reason)
    return None


def last_termination(pod: Obj) -> list[Obj]:
    """lastState.terminated (and current terminated) records of the pod's containers."""
    out = []
    for s in container_statuses(pod):
        for where in ("lastState", "state"):
            term = (s.get(where) or {}).get("terminated")
            if term:
                out.append({"container": s.get("name"), **term})
    return out


def tolerates(pod: Obj, taint: Obj) -> bool:
    for tol in (pod.get("spec") or {}).get("tolerations") or []:
        effect_ok = not tol.get("effect") or tol.get("effect") == taint.get("effect")
        if tol.get("operator") == "Exists" and not tol.get("key"):
            if effect_ok:
                return True
            continue
        if tol.get("key") != taint.get("key") or not effect_ok:
            continue
        if tol.get("operator") == "Exists" or tol.get("value") == taint.get("value"):
            return True
    return False


def inference_pods(pods: Iterable[Obj]) -> list[Obj]:
    """Pods that serve a model: KAITO workspace pods, or pods that request a GPU."""
    return [p for p in pods if WORKSPACE_LABEL in labels(p) or requests_gpu(p)]


def workspace_of(pod: Obj) -> str | None:
    return labels(pod).get(WORKSPACE_LABEL)


def inferenceset_of(obj: Obj) -> str | None:
    """The InferenceSet a Workspace (or its pod) belongs to: its created-by label, else an
    ownerReference to an InferenceSet; None for a Workspace someone created by hand."""
    named = labels(obj).get(INFERENCESET_LABEL)
    if named:
        return named
    for owner in meta(obj).get("ownerReferences") or []:
        if owner.get("kind") == "InferenceSet" and owner.get("name"):
            return str(owner["name"])
    return None


# ---- events ------------------------------------------------------------------------------


def event_time(event: Obj) -> datetime | None:
    """Scheduler events may carry only eventTime/series; use whichever time the event has."""
    series = event.get("series") or {}
    for value in (
        series.get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        meta(event).get("creationTimestamp"),
    ):
        parsed = parse_time(value)
        if parsed is not None:
            return parsed
    return None


def event_count(event: Obj) -> int:
    series = event.get("series") or {}
    return int(series.get("count") or event.get("count") or 1)


def involved(event: Obj) -> Obj:
    return event.get("involvedObject") or event.get("regarding") or {}


def event_message(event: Obj) -> str:
    return str(event.get("message") or event.get("note") or "")


def recent_events(
    events: Iterable[Obj],
    now: datetime,
    window_start: datetime,
    *,
    reasons: Iterable[str] | None = None,
) -> Iterator[Obj]:
    wanted = set(reasons) if reasons is not None else None
    for event in events:
        if wanted is not None and event.get("reason") not in wanted:
            continue
        when = event_time(event)
        if when is not None and window_start <= when <= now:
            yield event


def by_name(objects: Iterable[Obj]) -> dict[str, Obj]:
    return {name(o): o for o in objects}
