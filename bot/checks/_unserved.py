"""vLLM workloads that want to serve while none of their pods serves yet (row 11).

Right after a fix evicts a workload's pods, or while a rollout or a crash loop keeps them
un-Ready, no pod reports a queue. That is not evidence that nothing queues: the requests wait
on a Service with no endpoints, or will as soon as the pods serve. Only a cluster where nothing
wants to serve shows that no vLLM request can be waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _kv as kv
from bot.checks import _workloads as wl
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import plural

Obj = dict[str, Any]
WORKLOADS = (("Deployment", "deployments"), ("StatefulSet", "statefulsets"))
DONE_PHASES = ("Succeeded", "Failed")


@dataclass
class Unserved:
    """Why something wants to serve (one line each), and the inputs that could not be read."""

    lines: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)


def _template(workload: Obj) -> Obj:
    """The pod template as a pod-shaped dict, so the pod readers apply to it."""
    return ((workload.get("spec") or {}).get("template")) or {}


def _is_vllm_workload(workload: Obj) -> bool:
    template = _template(workload)
    return bool(kube.workspace_of(workload)) or (bool(template) and kv.is_vllm(template))


def _replicas(workload: Obj) -> int:
    """spec.replicas; the API server defaults an absent one to 1."""
    value = (workload.get("spec") or {}).get("replicas", 1)
    return value if isinstance(value, int) else 1


def _pod_state(pod: Obj) -> str:
    """`Pending`, `Running, not Ready (CrashLoopBackOff)`: why a pod does not serve."""
    if kube.condition_status(pod, "Ready") == "True":
        return "Ready, but no /metrics were read from it"
    reason = kube.waiting_reason(pod)
    state = kube.phase(pod) or "phase unknown"
    state += ", not Ready" if state == "Running" else ""
    return f"{state} ({reason})" if reason else state


def _workload_key(pod: Obj) -> str:
    """`default/deployment/ws`: the namespace and the workload that owns the pod."""
    return f"{kube.namespace(pod)}/{wl.workload_of(pod)}"


def _wanted_pods(pods: list[Obj], ctx: CheckContext) -> list[Obj]:
    """vLLM pods in scope that are meant to serve: not a batch Job's, not finished or leaving."""
    return [
        p
        for p in pods
        if ctx.scope.admits(kube.namespace(p), kube.workspace_of(p))
        and kv.is_vllm(p)
        and kube.owner_kind(p) not in wl.BATCH_OWNERS
        and kube.phase(p) not in DONE_PHASES
        and not kube.meta(p).get("deletionTimestamp")
    ]


def unserved(ev: evi.Evidence, ctx: CheckContext) -> Unserved:
    """What wants vLLM replicas in scope while (the caller has found) none serves: workloads
    with spec.replicas > 0, KAITO inference Workspaces with no workload yet, and pods of
    neither that exist but are not Ready."""
    out = Unserved(gaps=evi.gaps(ev, "pods", "deployments", "statefulsets", "workspaces"))
    pods = _wanted_pods(evi.data(ev, "pods") or [], ctx)
    workspaces_run: set[str] = set()  # ns/name of the workspaces whose workload exists
    workloads_seen: set[str] = set()  # ns/kind/name of the vLLM workloads judged here
    for kind, resource in WORKLOADS:
        for w in evi.data(ev, resource) or []:
            ns, ws = kube.namespace(w), kube.workspace_of(w)
            workspaces_run.add(f"{ns}/{ws or kube.name(w)}")
            if not ctx.scope.admits(ns, ws) or not _is_vllm_workload(w):
                continue
            key = f"{ns}/{kind.lower()}/{kube.name(w)}"
            workloads_seen.add(key)
            if (wanted := _replicas(w)) > 0:
                mine = [p for p in pods if _workload_key(p) == key]
                states = "; ".join(f"{kube.ref(p)}: {_pod_state(p)}" for p in mine[:3])
                out.lines.append(
                    f"{kind} {kube.ref(w)} wants {plural(wanted, 'replica')} and none is serving "
                    f"yet ({states or 'no pod yet'})"
                )
    for w in evi.data(ev, "workspaces") or []:
        ns, name = kube.namespace(w), kube.name(w)
        if "inference" in w and ctx.scope.admits(ns, name) and kube.ref(w) not in workspaces_run:
            wants = "wants inference served and none is serving yet"
            out.lines.append(f"Workspace {kube.ref(w)} {wants}")
    for p in pods:
        if _workload_key(p) not in workloads_seen:
            out.lines.append(f"{kube.ref(p)} is meant to serve but is {_pod_state(p)}")
    return out
