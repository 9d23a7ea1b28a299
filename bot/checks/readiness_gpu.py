"""Readiness rungs 1 and 2: every GPU node advertises its GPUs, and the device plugin (and the
GPU Operator's driver, when there is one) is Ready on every GPU node.

Readiness semantics (confirmed = the rung fails) are in bot/checks/readiness.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field

from bot.checks import _evidence as evi
from bot.checks import _readiness as rd
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import duration, names
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


# ---- 1. GPU advertised ----------------------------------------------------------------------


class AdvertisedParams(rd.RungParams):
    grace_minutes: float = Field(
        5, ge=0, description="a GPU node this young may still be loading its driver"
    )


def _not_advertised(node: Obj, ctx: CheckContext) -> str:
    cap = kube.gpu_resources(node, "capacity")
    alloc = kube.gpu_resources(node)
    age = ctx.now - (kube.created(node) or ctx.now)
    what = (
        ", ".join(f"allocatable {k} {alloc.get(k, 0)} (capacity {v})" for k, v in cap.items())
        if cap
        else "no nvidia.com/gpu in allocatable or capacity"
    )
    ready = "" if kube.is_ready(node) else ", node NotReady"
    where = f"{kube.instance_type(node)}, pool {kube.pool_name(node)}, up {duration(age)}{ready}"
    return f"{kube.name(node)} ({where}): {what}"


def _no_gpu_nodes(ev: evi.Evidence) -> StepResult:
    if not ev["agent_pools"].available:
        return StepResult.inconclusive(
            "no GPU node is registered",
            evi.why_unread(ev, "agent_pools")
            + " (cannot tell whether the GPU pools scaled to zero)",
        )
    pools = rd.gpu_pools(ev["agent_pools"].data)
    if not pools:
        return StepResult.ruled_out(
            "no GPU node and no GPU agent pool: nothing to advertise", advertised=0, gpu_nodes=0
        )
    expecting = [p for p in pools if int(arm.pool_props(p).get("count") or 0) > 0]
    if expecting:
        return StepResult.inconclusive(
            "no GPU node is registered, yet pool(s) "
            + names(
                [f"{p.get('name')} (count {arm.pool_props(p).get('count')})" for p in expecting]
            )
            + " expect nodes"
        )
    return StepResult.ruled_out(
        "no GPU node up: pool(s) "
        + names([str(p.get("name")) for p in pools])
        + " scaled to zero (count 0); "
        "the GPU is advertised when a node joins",
        advertised=0,
        gpu_nodes=0,
    )


@check(
    "readiness.gpu_advertised",
    inputs={"nodes": "kubernetes.list", "agent_pools": "azure.agent_pools"},
    optional=("agent_pools",),
    params=AdvertisedParams,
)
def gpu_advertised(ev: evi.Evidence, params: AdvertisedParams, ctx: CheckContext) -> StepResult:
    """Every GPU node advertises nvidia.com/gpu (or nvidia.com/mig-*) > 0 in allocatable."""
    nodes = kube.gpu_nodes(ev["nodes"].data)
    if not nodes:
        return _no_gpu_nodes(ev)
    ok, failing, young = [], [], []
    for node in nodes:
        res = {k: v for k, v in kube.gpu_resources(node).items() if v > 0}
        if res:
            ok.append(
                f"{kube.name(node)}: " + ", ".join(f"{k} {v}" for k, v in sorted(res.items()))
            )
            continue
        created = kube.created(node)
        fresh = created is not None and ctx.now - created < timedelta(minutes=params.grace_minutes)
        (young if fresh else failing).append(_not_advertised(node, ctx))
    head = f"{len(ok)}/{len(nodes)} GPU nodes advertise nvidia.com/gpu"
    facts = {"advertised": len(ok), "gpu_nodes": len(nodes)}
    if failing:
        return StepResult.confirmed(
            head, *failing, *[f"{y} (still joining)" for y in young], **facts
        )
    if young:
        return StepResult.inconclusive(
            head, *[f"{y}: joined under {params.grace_minutes:g} min ago" for y in young]
        )
    return StepResult.ruled_out(f"{head} ({'; '.join(ok)})", **facts)


# ---- 2. device plugin / driver --------------------------------------------------------------

DS_INPUTS = {"daemonsets": "kubernetes.list", "pods": "kubernetes.list", "nodes": "kubernetes.list"}


def _log_for(pod: Obj, logs: list[Obj] | None) -> str | None:
    """Why the pod's container fails, from its previous (crashed) log first, then the current."""
    mine = [
        e
        for e in logs or []
        if e.get("namespace") == kube.namespace(pod) and e.get("pod") == kube.name(pod)
    ]
    for entry in sorted(mine, key=lambda e: not e.get("previous")):
        problem = rd.plugin_log_problem(entry.get("text"))
        if problem:
            return problem
    return None


def _pod_problem(pod: Obj, gpu: set[str], logs: list[Obj] | None) -> str:
    node = kube.node_name(pod) or "unscheduled"
    where = (
        node if node in gpu else f"{node} (not a GPU node: the DaemonSet lacks a GPU nodeSelector)"
    )
    why = _log_for(pod, logs)
    return f"{where}: {kube.ref(pod)} {rd.pod_trouble(pod)}" + (f": {why}" if why else "")


def _ds_problems(
    sets: list[Obj], pods: list[Obj], gpu: set[str], logs: list[Obj] | None, *, every_gpu_node: bool
) -> tuple[list[str], list[str], list[Obj]]:
    """(problems, passes, unhealthy pods on GPU nodes) for DaemonSets that must be Ready.

    Pod and node problems come first: they name the node and the reason, the counts do not.
    """
    counts, passes, unready = [], [], []
    for ds in sets:
        desired, ready = rd.ds_counts(ds)
        (passes if ready >= desired else counts).append(f"{kube.ref(ds)}: {ready}/{desired} ready")
        unready += [p for p in pods if rd.owned_by(p, ds) and not rd.pod_ready(p)]
    problems = [_pod_problem(p, gpu, logs) for p in unready]
    if every_gpu_node:
        covered = {kube.node_name(p) for ds in sets for p in pods if rd.owned_by(p, ds)}
        problems += [f"{n}: no device-plugin pod on this GPU node" for n in sorted(gpu - covered)]
    unhealthy = [
        {"namespace": kube.namespace(p), "pod": kube.name(p), "node": kube.node_name(p)}
        for p in unready
        if kube.node_name(p) in gpu
    ]
    return problems + counts, passes, unhealthy


@check(
    "readiness.device_plugin",
    inputs={**DS_INPUTS, "plugin_logs": "kubernetes.pod_logs"},
    optional=("plugin_logs",),
)
def device_plugin(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """Device-plugin DaemonSets are fully ready and a plugin pod is Ready on every GPU node."""
    nodes = kube.gpu_nodes(ev["nodes"].data)
    gpu = {kube.name(n) for n in nodes}
    sets = [d for d in ev["daemonsets"].data if rd.is_plugin_daemonset(d)]
    if not sets:
        advertising = [n for n in nodes if any(v > 0 for v in kube.gpu_resources(n).values())]
        if not nodes or len(advertising) == len(nodes):
            return StepResult.inconclusive(
                "no device-plugin DaemonSet (nvidia-device-plugin-daemonset, "
                "name=nvidia-device-plugin-ds or app=nvidia-device-plugin-daemonset) in any "
                f"namespace; {len(advertising)}/{len(nodes)} GPU nodes "
                "advertise nvidia.com/gpu, so the plugin (if any) runs outside Kubernetes"
            )
        return StepResult.confirmed(
            "no device-plugin DaemonSet in any namespace and "
            f"{len(nodes) - len(advertising)}/{len(nodes)} "
            "GPU nodes advertise no GPU",
            unhealthy_pods=[],
        )
    logs = evi.data(ev, "plugin_logs")
    problems, passes, unhealthy = _ds_problems(
        sets, ev["pods"].data, gpu, logs, every_gpu_node=True
    )
    if problems:
        return StepResult.confirmed(*problems, *passes, unhealthy_pods=unhealthy)
    where = f"; plugin pod Ready on {len(gpu)}/{len(gpu)} GPU nodes" if gpu else "; no GPU node up"
    return StepResult.ruled_out("; ".join(passes) + where, unhealthy_pods=[])


@check("readiness.operator_driver", inputs=DS_INPUTS)
def operator_driver(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """The GPU Operator's driver DaemonSet, when present, is fully ready."""
    sets = [d for d in ev["daemonsets"].data if rd.is_driver_daemonset(d)]
    if not sets:
        return StepResult.ruled_out(
            "no GPU Operator driver DaemonSet (nvidia-driver-daemonset): "
            "the driver comes with the AKS node image"
        )
    gpu = {kube.name(n) for n in kube.gpu_nodes(ev["nodes"].data)}
    problems, passes, _ = _ds_problems(sets, ev["pods"].data, gpu, None, every_gpu_node=False)
    if problems:
        return StepResult.confirmed(*problems, *passes)
    return StepResult.ruled_out("; ".join(passes))
