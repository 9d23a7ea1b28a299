"""Pure readers behind row 9 (an idle GPU node never scales down): the autoscaler's scale-down
settings, idle GPU nodes, and the cluster-autoscaler FAQ's rules for what pins a node."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.checks import azure as arm
from bot.checks._pulls import parse_go_duration

# Re-exported: the unit tests read the pull and serving-workload readers as _cost.*
from bot.checks._pulls import parse_pulled as parse_pulled
from bot.checks._pulls import pulling_image as pulling_image
from bot.checks._pulls import registry_host as registry_host
from bot.checks._workloads import MANAGED_BY as MANAGED_BY
from bot.checks._workloads import is_serving as is_serving
from bot.checks._workloads import prewarms_for as prewarms_for
from bot.checks._workloads import workload_of as workload_of
from bot.model import kube

Obj = dict[str, Any]

# ---- the autoscaler profile -----------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The scale-down settings that decide row 9; None = could not be read."""

    unneeded: timedelta | None = None
    unneeded_text: str = "?"
    delay_after_add: timedelta | None = None
    skip_system_pods: bool | None = None
    skip_local_storage: bool | None = None
    max_grace_seconds: int | None = None
    missing: str | None = None  # why the profile is unknown


def profile_from(managed_cluster: Obj | None, unavailable: str | None = None) -> Profile:
    if managed_cluster is None:
        return Profile(missing=unavailable or "azure/managed-cluster not read")

    def value(key: str) -> str:
        return arm.profile_value(managed_cluster, key)[0]

    grace = parse_go_duration(value("max-graceful-termination-sec"))
    return Profile(
        unneeded=parse_go_duration(value("scale-down-unneeded-time")),
        unneeded_text=value("scale-down-unneeded-time"),
        delay_after_add=parse_go_duration(value("scale-down-delay-after-add")),
        skip_system_pods=value("skip-nodes-with-system-pods") == "true",
        skip_local_storage=value("skip-nodes-with-local-storage") == "true",
        max_grace_seconds=int(grace.total_seconds()) if grace is not None else None,
    )


# ---- idle GPU nodes -------------------------------------------------------------------------

TERMINAL = ("Succeeded", "Failed")
KAITO_NODE_LABELS = ("kaito.sh/workspace", "karpenter.sh/nodepool")


@dataclass(frozen=True)
class IdleNode:
    node: Obj
    since: datetime
    since_why: str  # "created" or "GPU pod ns/x finished"
    pods: tuple[Obj, ...] = field(default=())  # live pods still on the node

    @property
    def name(self) -> str:
        return kube.name(self.node)

    def idle(self, now: datetime) -> timedelta:
        return now - self.since


def live_pods_on(node_name: str, pods: Iterable[Obj]) -> list[Obj]:
    return [p for p in pods if kube.node_name(p) == node_name and kube.phase(p) not in TERMINAL]


def _finished_at(pod: Obj) -> datetime | None:
    times = [kube.parse_time(t.get("finishedAt")) for t in kube.last_termination(pod)]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def idle_gpu_nodes(nodes: Iterable[Obj], pods: list[Obj]) -> list[IdleNode]:
    """GPU nodes where no live pod requests a GPU or MIG slice; idle since the node was created
    or the last GPU pod that ran there finished, whichever is later (when that is visible)."""
    out = []
    for node in kube.gpu_nodes(nodes):
        if kube.meta(node).get("deletionTimestamp"):
            continue  # already being removed
        here = [p for p in pods if kube.node_name(p) == kube.name(node)]
        live = [p for p in here if kube.phase(p) not in TERMINAL]
        created = kube.created(node)
        if created is None or any(kube.requests_gpu(p) for p in live):
            continue
        since, why = created, "created"
        for pod in here:
            finished = _finished_at(pod) if kube.requests_gpu(pod) else None
            if finished is not None and finished > since:
                since, why = finished, f"GPU pod {kube.ref(pod)} finished"
        out.append(IdleNode(node, since, why, tuple(live)))
    return out


def node_age(node: Obj, now: datetime) -> timedelta:
    return now - (kube.created(node) or now)


def is_kaito_node(node: Obj) -> bool:
    return any(k in kube.labels(node) for k in KAITO_NODE_LABELS)


def pool_of(node: Obj, pools: list[Obj]) -> Obj | None:
    name = kube.pool_name(node)
    return next((p for p in pools if p.get("name") == name), None)


# ---- what pins a node (cluster-autoscaler FAQ) ----------------------------------------------

SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
SAFE_LOCAL_VOLUMES = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
MIRROR = "kubernetes.io/config.mirror"
DEFAULT_GRACE_SECONDS = 30  # Kubernetes' default terminationGracePeriodSeconds


def _matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False  # a null selector selects nothing
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        has = key in labels
        ok = {
            "In": has and labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": has,
            "DoesNotExist": not has,
        }.get(str(op), False)
        if not ok:
            return False
    return True


def pdbs_for(pod: Obj, pdbs: list[Obj]) -> list[Obj]:
    return [
        b
        for b in pdbs
        if kube.namespace(b) == kube.namespace(pod)
        and _matches((b.get("spec") or {}).get("selector"), kube.labels(pod))
    ]


def _allowed(pdb: Obj) -> int:
    return int((pdb.get("status") or {}).get("disruptionsAllowed") or 0)


def local_volumes(pod: Obj) -> list[str]:
    """emptyDir/hostPath volumes the autoscaler counts as local storage, minus the safe list."""
    safe = {v.strip() for v in kube.annotations(pod).get(SAFE_LOCAL_VOLUMES, "").split(",")}
    vols = (pod.get("spec") or {}).get("volumes") or []
    return [
        str(v.get("name"))
        for v in vols
        if ("emptyDir" in v or "hostPath" in v) and v.get("name") not in safe
    ]


@dataclass
class Pins:
    reasons: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    system_pod: bool = False


def pin_reasons(pod: Obj, profile: Profile, pdbs: list[Obj] | None) -> Pins:
    """Why the cluster autoscaler cannot evict this pod (FAQ "What types of pods can prevent
    CA from removing a node?"). DaemonSet and mirror pods never count unless annotated."""
    out, safe = Pins(), kube.annotations(pod).get(SAFE_TO_EVICT, "").lower()
    if safe == "true":
        return out  # overrides every other rule
    if safe == "false":
        out.reasons.append(f'annotated {SAFE_TO_EVICT}: "false"')
        return out
    if kube.owner_kind(pod) == "DaemonSet" or MIRROR in kube.annotations(pod):
        return out
    covering = pdbs_for(pod, pdbs) if pdbs is not None else []
    if kube.namespace(pod) == "kube-system" and not any(_allowed(b) > 0 for b in covering):
        if profile.skip_system_pods is None:
            out.unknown.append(
                f"{kube.ref(pod)}: kube-system pod, skip-nodes-with-system-pods unknown"
            )
        elif profile.skip_system_pods:
            out.system_pod = True
            out.reasons.append(
                "kube-system pod not from a DaemonSet, skip-nodes-with-system-pods=true"
            )
    if kube.owner_kind(pod) is None:
        out.reasons.append("no controller owns it (a bare pod is never recreated)")
    _local_and_grace(pod, profile, out)
    if pdbs is None:
        out.unknown.append(f"{kube.ref(pod)}: PodDisruptionBudgets not read")
    for pdb in covering:
        if _allowed(pdb) == 0:
            out.reasons.append(f"PodDisruptionBudget {kube.name(pdb)} allows 0 disruptions")
    return out


def _local_and_grace(pod: Obj, profile: Profile, out: Pins) -> None:
    local = local_volumes(pod)
    if local and profile.skip_local_storage is None:
        out.unknown.append(f"{kube.ref(pod)}: local storage, skip-nodes-with-local-storage unknown")
    elif local and profile.skip_local_storage:
        out.reasons.append(
            f"local storage ({', '.join(local)}) with skip-nodes-with-local-storage=true"
        )
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    limit = profile.max_grace_seconds
    if grace is not None and limit is None and int(grace) > DEFAULT_GRACE_SECONDS:
        out.unknown.append(
            f"{kube.ref(pod)}: grace {grace} s, max-graceful-termination-sec unknown"
        )
    if grace is not None and limit is not None and int(grace) > limit:
        out.reasons.append(
            f"terminationGracePeriodSeconds {grace} > max-graceful-termination-sec {limit}"
        )
