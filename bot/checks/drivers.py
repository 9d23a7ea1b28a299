"""Rows 3 and 4: the driver contract (one driver source per pool, a live device plugin).

Row 3's symptom is the workload's own words ("no CUDA-capable device is detected", NVML init
failures) in pod logs or Log Analytics; row 4's is a GPU node flapping Ready/NotReady. Their
shared cause, the AKS-managed driver and the GPU Operator's driver both loading kernel modules
on one node, is one check used by both playbooks. The readings live in `_drivers_logs`
(workload log lines) and `_drivers_nodes` (plugin pods, driver DaemonSets, Ready flaps).
"""

from __future__ import annotations

import re
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import azure as arm
from bot.checks._drivers_logs import Sightings, from_log_analytics, from_pod_logs
from bot.checks._drivers_nodes import (
    DRIVER_DS_PREFIX,
    PLUGIN_GRACE,
    driver_conflicts,
    flap_events,
    is_device_plugin,
    node_plugin_state,
    policy_lines,
    ready_note,
)
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, duration, plural
from bot.model.verdicts import StepResult


@check(
    "drivers.no_cuda_device",
    inputs={
        "logs": "kubernetes.pod_logs",
        "errors": "loganalytics.query",
        "pods": "kubernetes.list",
    },
    optional=("logs", "errors", "pods"),
)
def no_cuda_device(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A workload logged "no CUDA-capable device is detected" (or an NVML init failure) lately."""
    pods = {(kube.namespace(p), kube.name(p)): p for p in evi.data(ev, "pods") or []}
    seen = Sightings()
    logs, rows = evi.data(ev, "logs"), evi.data(ev, "errors")
    missing = from_pod_logs(logs, pods, seen, ctx) if logs is not None else []
    if rows is not None:
        from_log_analytics(rows, pods, seen, ctx)
    lookback = f"{ctx.thresholds.lookback_minutes:g} min"
    if seen.recent:
        return StepResult.confirmed(*seen.recent[:4], pods=seen.pods, message=seen.recent[0])
    unread = evi.gaps(ev, "logs", "errors")
    if missing:
        unread.append(f"logs not captured for {', '.join(missing[:3])}")
    if seen.unknown:
        return StepResult.inconclusive(*seen.unknown[:3], f"cannot tell whether within {lookback}")
    read_all = (logs is not None and not missing) or rows is not None
    older = [f"{line} (older than the {lookback} lookback)" for line in seen.old[:2]]
    older += [f"set aside {line}" for line in seen.aside[:1]]
    if not read_all:
        return StepResult.inconclusive("no CUDA-device error in what was read", *older, *unread)
    read = []
    if logs is not None:
        read.append(f"{plural(len(logs), 'container log')} (current and previous instances)")
    if rows is not None:
        read.append("loganalytics/gpu-error-patterns")
    return StepResult.ruled_out(
        f"no 'no CUDA-capable device' or NVML init error within {lookback} in {' and '.join(read)}",
        *older,
    )


@check(
    "drivers.device_plugin_down",
    inputs={
        "nodes": "kubernetes.list",
        "gpu_pods": "kubernetes.pods_on_gpu_nodes",
        "skus": "azure.skus",
    },
    optional=("skus",),
)
def device_plugin_down(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node's device plugin is missing, CrashLooping or not Ready, or it advertises no GPU."""
    nodes = kube.gpu_nodes(ev["nodes"].data)
    if not nodes:
        return StepResult.ruled_out("no GPU node in the cluster: no device plugin to be down")
    pods, skus = ev["gpu_pods"].data, evi.data(ev, "skus")
    problems, restart, fine, joining = [], [], [], []
    for node in nodes:
        created = kube.created(node)
        if created is not None and ctx.now - created < PLUGIN_GRACE:
            joining.append(
                f"{kube.name(node)} joined {duration(ctx.now - created)} ago: "
                "its plugin may still be starting"
            )
            continue
        plugins = [p for p in pods if kube.node_name(p) == kube.name(node) and is_device_plugin(p)]
        found, troubled, summary = node_plugin_state(node, plugins, skus, ctx.now)
        problems += found
        restart += [
            {"namespace": kube.namespace(p), "pod": kube.name(p), "node": kube.name(node)}
            for p in troubled
        ]
        fine += [] if found else [summary]
    if problems:
        return StepResult.confirmed(
            *problems, restart=restart, plugin_nodes=sorted({r["node"] for r in restart})
        )
    if joining and not fine:
        return StepResult.inconclusive(*joining)
    return StepResult.ruled_out(*fine, *joining)


@check(
    "drivers.two_driver_sources",
    inputs={
        "nodes": "kubernetes.list",
        "daemonsets": "kubernetes.list",
        "gpu_pods": "kubernetes.pods_on_gpu_nodes",
        "agent_pools": "azure.agent_pools",
        "clusterpolicies": "kubernetes.list",
    },
    optional=("gpu_pods", "agent_pools", "clusterpolicies"),
)
def two_driver_sources(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node gets both the AKS-managed driver and the GPU Operator's driver DaemonSet."""
    dss = [d for d in ev["daemonsets"].data if kube.name(d).startswith(DRIVER_DS_PREFIX)]
    policies = policy_lines(evi.data(ev, "clusterpolicies"))
    if not dss:
        return StepResult.ruled_out(
            f"no {DRIVER_DS_PREFIX} DaemonSet in any namespace: "
            "AKS's driver (or none) is the only source",
            *policies,
        )
    raw_pools = evi.data(ev, "agent_pools")
    pools = (
        {str(p.get("name")): p for p in arm.agent_pools(raw_pools)}
        if raw_pools is not None
        else None
    )
    results = [
        driver_conflicts(n, dss, evi.data(ev, "gpu_pods"), pools)
        for n in kube.gpu_nodes(ev["nodes"].data)
    ]
    if not results:
        return StepResult.ruled_out("no GPU node: no node for two drivers to fight over", *policies)
    conflicts = [r for r in results if r[0] == "conflict"]
    if conflicts:
        return StepResult.confirmed(
            *(r[1] for r in conflicts),
            *policies,
            **conflicts[0][2],
            conflict_nodes=[r[2]["node"] for r in conflicts],
        )
    lines = [r[1] for r in results]
    if any(r[0] == "unknown" for r in results):
        return StepResult.inconclusive(*lines, *policies)
    return StepResult.ruled_out(*lines, *policies)


@check(
    "drivers.node_flapping",
    inputs={"nodes": "kubernetes.list", "events": "kubernetes.list"},
    optional=("events",),
)
def node_flapping(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node went Ready/NotReady repeatedly within the lookback, or just went NotReady."""
    nodes = kube.gpu_nodes(ev["nodes"].data)
    if not nodes:
        return StepResult.ruled_out("no GPU node in the cluster")
    events = evi.data(ev, "events")
    window, lookback = ctx.now - ctx.thresholds.lookback, f"{ctx.thresholds.lookback_minutes:g} min"
    flapping, calm = [], []
    for node in nodes:
        note, ready, since = ready_note(node, ctx.now)
        counts = flap_events(events or [], kube.name(node), ctx.now, window)
        total = sum(counts.values())
        detail = ", ".join(f"{r} ×{n}" for r, n in sorted(counts.items()))
        line = (
            f"{kube.name(node)}: {total} NodeNotReady/NodeReady transitions in the last {lookback}"
        )
        line += f" ({detail}); {note}" if detail else f"; {note}"
        recent_drop = not ready and since is not None and since >= window
        if total >= ctx.thresholds.flap_transitions or recent_drop:
            flapping.append((kube.name(node), line))
        else:
            calm.append(line)
    if flapping:
        return StepResult.confirmed(
            *(f[1] for f in flapping), flapping_nodes=[f[0] for f in flapping]
        )
    if events is None:
        return StepResult.inconclusive(*calm, evi.gap(ev, "events") or "events unread")
    return StepResult.ruled_out(*calm)


# ---- context: what the operator's driver pods say ------------------------------------------

DRIVER_LOG_ERRORS = re.compile(
    r"could not unload|is in use|modprobe: (?:ERROR|FATAL)|failed to|error", re.IGNORECASE
)


@check("drivers.driver_pod_errors", inputs={"logs": "kubernetes.pod_logs"})
def driver_pod_errors(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """The GPU Operator's driver pods log kernel-module errors (the seed's DaemonSet logs)."""
    entries = ev["logs"].data
    if not entries:
        return StepResult.ruled_out("no operator driver pod to read")
    found, unread = [], []
    for e in entries:
        if e.get("text") is None:
            unread.append(f"{e['namespace']}/{e['pod']}/{e['container']}")
            continue
        errors = [line.strip() for line in e["text"].splitlines() if DRIVER_LOG_ERRORS.search(line)]
        which = "previous" if e.get("previous") else "current"
        found += [f"{e['namespace']}/{e['pod']} ({which}): {clip(line)}" for line in errors[-2:]]
    if found:
        return StepResult.confirmed(*found[:4])
    if unread:
        return StepResult.inconclusive(f"logs not captured for {', '.join(unread[:3])}")
    return StepResult.ruled_out(f"no error in {plural(len(entries), 'driver container log')}")
