"""What serves inference (rows 10 and 13): serving pods, the workload that owns them, the
CronJobs that pre-warm it, and what a pre-warm fix can scale for it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.model import kube

Obj = dict[str, Any]

BATCH_OWNERS = ("Job", "CronJob")


def is_serving(pod: Obj) -> bool:
    """Synchronous serving: a KAITO workspace pod, or a GPU pod, that is not a batch Job
    (KAITO tuning workspaces run as Jobs and carry the workspace label too)."""
    if kube.owner_kind(pod) in BATCH_OWNERS:
        return False
    return kube.WORKSPACE_LABEL in kube.labels(pod) or kube.requests_gpu(pod)


def workload_of(pod: Obj) -> str:
    """`statefulset/ws`, `deployment/vllm` (ReplicaSet name minus its pod-template-hash)."""
    kind, name = kube.owner_kind(pod), kube.owner_name(pod) or kube.name(pod)
    template_hash = kube.labels(pod).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "deployment/" + name.removesuffix("-" + template_hash)
    return f"{(kind or 'pod').lower()}/{name}"


def cronjob_command(cronjob: Obj) -> str:
    spec = (
        (((cronjob.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template")
        or {}
    ).get("spec") or {}
    words = []
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        words += [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
    return " ".join(words)


def prewarms_for(ns: str, workload: str, names: Iterable[str], cronjobs: list[Obj]) -> list[Obj]:
    """CronJobs that scale this workload up: the command says `scale` and names the workload
    (its kind/name, bare name or KAITO workspace), or gpubot made it for this namespace."""
    wanted = {n for n in names if n} | {workload, workload.split("/", 1)[-1]}
    out = []
    for cj in cronjobs:
        command = cronjob_command(cj)
        same_ns = (
            kube.namespace(cj) == ns
            or _names(f"-n {ns}", command)
            or _names(f"--namespace={ns}", command)
            or _names(f"--namespace {ns}", command)
        )
        by_command = "scale" in command and same_ns and any(_names(w, command) for w in wanted)
        by_label = kube.labels(cj).get(MANAGED_BY) == "gpubot" and kube.namespace(cj) == ns
        if by_command or by_label:
            out.append(cj)
    return out


MANAGED_BY = "app.kubernetes.io/managed-by"


def _names(name: str, text: str) -> bool:
    """`name` as a whole token: `ws` must not match `ws-v2` or `my-ws`."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", text) is not None


# ---- what a pre-warm can scale ---------------------------------------------------------------

SCALABLE_KINDS = ("statefulset", "deployment")


@dataclass(frozen=True)
class PrewarmTarget:
    """What the pre-warm fixes (prewarm-schedule, prewarm-now) can scale to warm one serving
    workload: the workload itself, or the InferenceSet of the KAITO Workspace running it. Their
    actuators refuse everything else, so a check offers a pre-warm only where `target` is set,
    and quotes `line`: why a KAITO workload is warmed through its set, or why nothing can be."""

    namespace: str
    workload: str  # what serves: statefulset/ws, deployment/vllm
    target: str | None  # statefulset/x, deployment/x or inferenceset/<set>; None: nothing
    workspace: str | None = None
    line: str = ""

    def offer(self) -> Obj:
        return {"namespace": self.namespace, "workload": self.target}


def inferenceset_of_workspace(ns: str, workspace: str, workspaces: list[Obj]) -> str | None:
    ws = next(
        (w for w in workspaces if kube.name(w) == workspace and kube.namespace(w) == ns), None
    )
    return kube.inferenceset_of(ws) if ws is not None else None


def prewarm_target(
    ns: str,
    workload: str,
    *,
    workspace: str | None = None,
    inferenceset: str | None = None,
    workspaces_read: bool = True,
    controller: str | None = None,
) -> PrewarmTarget:
    """`controller`: "Kind name" of whatever owns a non-KAITO workload, when known."""
    if inferenceset:
        line = (
            f"KAITO workspace {ns}/{workspace} belongs to InferenceSet {ns}/{inferenceset}: a "
            "pre-warm scales the set's replicas, KAITO's own replica count"
        )
        return PrewarmTarget(ns, workload, f"inferenceset/{inferenceset}", workspace, line)
    if workspace and not workspaces_read:
        why = (
            f"whether KAITO workspace {ns}/{workspace} belongs to an InferenceSet is unknown "
            "(workspaces not read): no pre-warm offered"
        )
        return PrewarmTarget(ns, workload, None, workspace, why)
    if workspace:
        why = (
            f"KAITO workspace {ns}/{workspace} runs {workload} and belongs to no InferenceSet: "
            "a Workspace has no replica count (resource.count is its GPU node count) and KAITO "
            "reconciles the workload, so no pre-warm can scale it"
        )
        return PrewarmTarget(ns, workload, None, workspace, why)
    if controller:
        why = f"{workload} in {ns} is managed by {controller}: its replicas are not gpubot's"
        return PrewarmTarget(ns, workload, None, None, why)
    if workload.split("/", 1)[0] not in SCALABLE_KINDS:
        why = f"{workload} in {ns} is not a StatefulSet or Deployment: nothing to scale"
        return PrewarmTarget(ns, workload, None, None, why)
    return PrewarmTarget(ns, workload, workload)
