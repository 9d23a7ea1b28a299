"""Row 7 (pod Pending on a GPU), MIG resource mismatch and NoExecute evictions.

The seed's scheduling quick reference: each `kubectl describe pod` signal maps to one cause.
The checks read the pod spec against the GPU nodes (or, with none, the GPU agent pools'
labels and taints from ARM), and quote the scheduler's own message when it was recorded.

This module holds row 7's symptoms and the model server without a GPU request; the other
causes live one concern a module: scheduling_fit (tolerations, selectors), scheduling_capacity
(every GPU reserved), scheduling_evictions (NoExecute taints), scheduling_mig (MIG resources).
What they all read is in _pending.
"""

from __future__ import annotations

from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _pending as pending
from bot.checks import _scheduling as sch
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import duration, plural
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


def _why_gpu(pod: Obj, w: pending.World) -> str:
    if kube.requests_gpu(pod):
        return "requests " + sch.gpus_text(kube.gpu_request(pod))
    if kube.workspace_of(pod):
        return "KAITO workspace pod"
    return ", ".join(sch.gpu_intent(pod, w.targets, w.nodes)) or "vLLM workload"


@pending.check("scheduling.gpu_pod_pending")
def gpu_pod_pending(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU pod has been Pending, unscheduled, past the stuck threshold."""
    w = pending.world(ev, ctx)
    if w.stuck:
        lines = [
            f"{pending.line(p, s, ctx)} ({_why_gpu(p, w)}); {pending.said(w, p, ctx)}"
            for p, s in w.stuck
        ]
        return StepResult.confirmed(*lines[:5], pending=[kube.ref(p) for p, _ in w.stuck])
    other = []
    for pod in w.pods:
        if kube.phase(pod) != "Pending" or kube.node_name(pod):
            continue
        if not ctx.scope.admits(kube.namespace(pod), kube.workspace_of(pod)):
            continue
        age = duration(ctx.now - (kube.created(pod) or ctx.now))
        why = (
            "younger than the threshold"
            if sch.wants_gpu(pod, w.targets, w.nodes)
            else "wants no GPU"
        )
        other.append(f"{kube.ref(pod)} Pending {age} ({why})")
    return StepResult.ruled_out(
        f"no GPU pod has been Pending unscheduled for {duration(ctx.thresholds.stuck)} or more",
        *other[:4],
    )


def _off_gpu(w: pending.World, ctx: CheckContext) -> list[Obj]:
    return [
        p
        for p in w.pods
        if kube.node_name(p)
        and kube.phase(p) not in sch.DONE_PHASES
        and sch.is_vllm(p)
        and not kube.requests_gpu(p)
        and ctx.scope.admits(kube.namespace(p), kube.workspace_of(p))
    ]


def _placement(pod: Obj, w: pending.World) -> str:
    node = kube.node_name(pod)
    gpu_node = any(t.node == node for t in w.targets)
    state = kube.waiting_reason(pod) or kube.phase(pod)
    image = next((str(c.get("image")) for c in kube.containers(pod)), "?")
    kind = "a GPU node" if gpu_node else "not a GPU node"
    return (
        f"{kube.ref(pod)} ({image}) runs on {node} ({kind})"
        f" with no nvidia.com/gpu request; {state}, {plural(kube.restart_count(pod), 'restart')}"
    )


@pending.check("scheduling.gpu_workload_without_gpu")
def gpu_workload_without_gpu(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A model server (KAITO/vLLM pod) is scheduled without asking for a GPU."""
    w = pending.world(ev, ctx)
    off = _off_gpu(w, ctx)
    if off:
        return StepResult.confirmed(
            *[_placement(p, w) for p in off[:5]], no_gpu_pods=[kube.ref(p) for p in off]
        )
    checked = [p for p in w.pods if kube.node_name(p) and sch.is_vllm(p)]
    return StepResult.ruled_out(
        f"every scheduled KAITO/vLLM pod requests a GPU ({len(checked)} checked)"
    )


@pending.check("scheduling.no_gpu_request")
def no_gpu_request(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A KAITO/vLLM pod has no nvidia.com/gpu limit, so nothing places it on (or gives it) a GPU."""
    w = pending.world(ev, ctx)
    off = _off_gpu(w, ctx)
    if not off:
        return StepResult.ruled_out("every scheduled KAITO/vLLM pod has a nvidia.com/gpu limit")
    lines = []
    for pod in off[:5]:
        intent = sch.gpu_intent(pod, w.targets, w.nodes) or (
            ["is a KAITO workspace pod"] if kube.workspace_of(pod) else []
        )
        node = kube.node_name(pod)
        where = (
            "a GPU node, but holds no GPU"
            if any(t.node == node for t in w.targets)
            else "a node with no GPU"
        )
        said = f"it {', '.join(intent)} but" if intent else "it"
        lines.append(
            f"{kube.ref(pod)}: {said} has no limits.nvidia.com/gpu, so it landed on {node} "
            f"({where}): no GPU is visible to it (nvidia-smi missing)"
        )
    return StepResult.confirmed(*lines, pod=kube.ref(off[0]), node=kube.node_name(off[0]))
