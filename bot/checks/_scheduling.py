"""Shared reading for the scheduling rows: where a GPU pod could land, and why it does not.

A *target* is a place a GPU pod could run: a GPU node, or a GPU agent pool that has no node
yet (scale from zero), whose labels and taints come from ARM. What the scheduler said about a
pod is read in _sched_events, the taint manager's evictions in _evictions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.checks import azure as arm

# Re-exported: the unit tests read these as _scheduling.*
from bot.checks._evictions import taint_evictions as taint_evictions
from bot.checks._sched_events import parse_failed_scheduling as parse_failed_scheduling
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import looks_like_gpu_sku

Obj = dict[str, Any]
HARD_EFFECTS = ("NoSchedule", "NoExecute")
# Taints the node lifecycle controller and the autoscaler put on nodes: node health or
# scale-down in progress, never a pool's design, so never a "missing toleration".
LIFECYCLE_TAINTS = (
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "ToBeDeletedByClusterAutoscaler",
    "DeletionCandidateOfClusterAutoscaler",
)
DONE_PHASES = ("Succeeded", "Failed")

# ---- taints, tolerations, selectors ------------------------------------------------------


def taint_str(taint: Mapping[str, Any]) -> str:
    value = taint.get("value")
    return f"{taint.get('key')}{'=' + str(value) if value else ''}:{taint.get('effect')}"


def is_lifecycle(taint: Mapping[str, Any]) -> bool:
    return str(taint.get("key", "")).startswith(LIFECYCLE_TAINTS)


def parse_pool_taint(text: str) -> Obj:
    """ARM `nodeTaints` entries are `key=value:Effect` (or `key:Effect`)."""
    spec, _, effect = text.rpartition(":")
    key, _, value = spec.partition("=")
    return (
        {"key": key, "value": value, "effect": effect} if value else {"key": key, "effect": effect}
    )


def blocking_taints(pod: Obj, taints: Iterable[Obj]) -> list[Obj]:
    """Hard, non-lifecycle taints this pod does not tolerate."""
    return [
        t
        for t in taints
        if t.get("effect") in HARD_EFFECTS and not is_lifecycle(t) and not kube.tolerates(pod, t)
    ]


def _expression_miss(expr: Obj, labels: Mapping[str, str]) -> str | None:
    key, op, values = expr.get("key", ""), expr.get("operator"), list(expr.get("values") or [])
    have = labels.get(key)
    ok = {
        "In": have in values,
        "NotIn": have not in values,
        "Exists": key in labels,
        "DoesNotExist": key not in labels,
        "Gt": have is not None and have.isdigit() and values and int(have) > int(values[0]),
        "Lt": have is not None and have.isdigit() and values and int(have) < int(values[0]),
    }.get(str(op), False)
    if ok:
        return None
    return f"{key} {op} ({', '.join(values)})" if values else f"{key} {op}"


def required_terms(pod: Obj) -> list[Obj]:
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    return list(required.get("nodeSelectorTerms") or [])


def selector_misses(pod: Obj, labels: Mapping[str, str]) -> list[str]:
    """Why these node labels fail the pod's nodeSelector / required node affinity ([] = fit)."""
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    misses = [f"{k}={v}" for k, v in selector.items() if labels.get(k) != v]
    terms = required_terms(pod)
    if terms:
        per_term = [
            [m for e in t.get("matchExpressions") or [] if (m := _expression_miss(e, labels))]
            for t in terms
        ]
        if all(per_term):  # terms are OR-ed: one fitting term is enough
            misses += per_term[0]
    return misses


def selector_text(pod: Obj) -> str:
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    parts = [f"{k}={v}" for k, v in selector.items()]
    for term in required_terms(pod)[:1]:
        for e in term.get("matchExpressions") or []:
            parts.append(f"{e.get('key')} {e.get('operator')} ({', '.join(e.get('values') or [])})")
    return ", ".join(parts) or "none"


def tolerations_text(pod: Obj) -> str:
    """`sku=gpu:NoSchedule, node.kubernetes.io/not-ready:NoExecute`; `*` for a wildcard key."""
    out = []
    for tol in (pod.get("spec") or {}).get("tolerations") or []:
        value = f"={tol['value']}" if tol.get("value") else ""
        out.append(f"{tol.get('key') or '*'}{value}:{tol.get('effect') or 'any effect'}")
    return ", ".join(dict.fromkeys(out)) or "none"


# ---- where GPU pods can land -------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str  # "aks-gpua100-...-vmss000000" or "agent pool gpua100 (no node yet)"
    labels: Mapping[str, str]
    taints: tuple[Obj, ...]
    gpus: Mapping[str, int] = field(default_factory=dict)  # allocatable GPU resources
    node: str | None = None
    pool: str | None = None


def pool_labels(pool: Obj) -> dict[str, str]:
    """Labels a node of this pool will carry: its nodeLabels plus what AKS adds [inferred]."""
    props, name = arm.pool_props(pool), str(pool.get("name"))
    labels = {
        "agentpool": name,
        "kubernetes.azure.com/agentpool": name,
        "kubernetes.io/os": "linux",
    }
    vm = str(props.get("vmSize") or "")
    labels |= {key: vm for key in kube.INSTANCE_TYPE_LABELS}
    if looks_like_gpu_sku(vm):
        labels |= {"accelerator": "nvidia", "kubernetes.azure.com/accelerator": "nvidia"}
    if arm.pool_is_spot(pool):
        labels[kube.SPOT_LABEL] = "spot"
    return labels | dict(props.get("nodeLabels") or {})


def gpu_targets(nodes: list[Obj], pools: list[Obj]) -> list[Target]:
    """GPU nodes, then GPU pools with no node yet (what the autoscaler would add)."""
    out = [
        Target(
            kube.name(n),
            kube.labels(n),
            tuple(kube.taints(n)),
            kube.gpu_resources(n),
            node=kube.name(n),
            pool=kube.pool_name(n),
        )
        for n in kube.gpu_nodes(nodes)
    ]
    have = {t.pool for t in out}
    for pool in pools:
        props = arm.pool_props(pool)
        if looks_like_gpu_sku(props.get("vmSize")) and pool.get("name") not in have:
            taints = tuple(parse_pool_taint(t) for t in props.get("nodeTaints") or [])
            out.append(
                Target(
                    f"agent pool {pool.get('name')} (no node yet)",
                    pool_labels(pool),
                    taints,
                    pool=str(pool.get("name")),
                )
            )
    return out


def fits(pod: Obj, target: Target) -> bool:
    return not selector_misses(pod, target.labels) and not blocking_taints(pod, target.taints)


def is_vllm(pod: Obj) -> bool:
    """A model server that needs a GPU: KAITO workspace pod or a vLLM image/command (not CPU)."""
    if kube.workspace_of(pod):
        return True
    for c in kube.containers(pod):
        words = " ".join(
            [str(c.get("image", ""))]
            + [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
        ).lower()
        if "vllm" in words and "cpu" not in words:
            return True
    return False


def gpu_intent(pod: Obj, targets: list[Target], nodes: list[Obj]) -> list[str]:
    """How a pod says it wants a GPU node: a toleration or a selector only GPU nodes satisfy."""
    out = []
    for taint in {
        taint_str(t): t for tg in targets for t in tg.taints if not is_lifecycle(t)
    }.values():
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        if any(tol.get("key") == taint.get("key") for tol in tolerations) and kube.tolerates(
            pod, taint
        ):
            out.append(f"tolerates {taint_str(taint)}")
    other = [kube.labels(n) for n in nodes if not kube.is_gpu_node(n)]
    for key, value in ((pod.get("spec") or {}).get("nodeSelector") or {}).items():
        on_gpu = any(t.labels.get(key) == value for t in targets)
        if on_gpu and not any(lab.get(key) == value for lab in other):
            out.append(f"selects {key}={value}")
    return out


def wants_gpu(pod: Obj, targets: list[Target], nodes: list[Obj]) -> bool:
    return kube.requests_gpu(pod) or is_vllm(pod) or bool(gpu_intent(pod, targets, nodes))


def stuck_gpu_pods(
    pods: list[Obj], targets: list[Target], nodes: list[Obj], ctx: CheckContext
) -> list[tuple[Obj, datetime]]:
    """Unscheduled GPU pods in scope, Pending at least the stuck threshold (by creation)."""
    out = []
    for pod in pods:
        if kube.phase(pod) != "Pending" or kube.node_name(pod):
            continue
        if not ctx.scope.admits(kube.namespace(pod), kube.workspace_of(pod)):
            continue
        since = kube.created(pod)
        if since is None or ctx.now - since < ctx.thresholds.stuck:
            continue
        if wants_gpu(pod, targets, nodes):
            out.append((pod, since))
    return out


def gpu_in_use(pods: list[Obj]) -> dict[str, dict[str, int]]:
    """node -> GPU resources requested by the pods bound to it that still hold them."""
    used: dict[str, dict[str, int]] = {}
    for pod in pods:
        node = kube.node_name(pod)
        if not node or kube.phase(pod) in DONE_PHASES:
            continue
        for res, n in kube.gpu_request(pod).items():
            used.setdefault(node, {})
            used[node][res] = used[node].get(res, 0) + n
    return used


def gpus_text(gpus: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(gpus.items())) or "no GPU resource"
