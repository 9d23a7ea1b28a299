"""Row 12: GPU pods sharing a time-sliced GPU OOM each other.

Co-tenancy is per node: the checks look at the nodes the pods in scope run on, and every GPU
pod there whatever its namespace.
"""

from __future__ import annotations

from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _gpushare as share
from bot.checks import _oom as oom
from bot.checks import _vllm as vllm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import names, plural
from bot.model.verdicts import StepResult, Verdict

Obj = dict[str, Any]
LIST = "kubernetes.list"


def _tenants(pods: list[Obj], node: str) -> list[Obj]:
    """GPU pods bound to the node and not finished: the ones sharing its GPUs."""
    return [
        p
        for p in pods
        if kube.node_name(p) == node
        and kube.requests_gpu(p)
        and kube.phase(p) in ("Running", "Pending")
    ]


def _recent_ooms(pods: list[Obj], logs: list[Obj], ctx: CheckContext) -> list[tuple[Obj, str]]:
    """(pod, line) for the first OOM kill or logged CUDA OOM of each pod within the lookback."""
    out = [
        (pod, oom.killed(pod, term, ctx))
        for pod, term in vllm.oom_killed(pods, ctx.now, ctx.thresholds.lookback)
    ]
    by_ref = {kube.ref(p): p for p in pods}
    for hit in vllm.oom_hits(logs, pods, ctx.now):
        if vllm.recent(hit.when, ctx.now, ctx.thresholds.lookback) and hit.ref in by_ref:
            out.append((by_ref[hit.ref], hit.line(ctx.now)))
    first: dict[str, tuple[Obj, str]] = {}
    for pod, line in out:
        first.setdefault(kube.ref(pod), (pod, line))
    return list(first.values())


def cotenant_ooms(ev: evi.Evidence, ctx: CheckContext) -> tuple[dict[str, list[str]], list[str]]:
    """(node -> lines, for nodes where an OOMed GPU pod has a GPU co-tenant; OOMed pods alone).

    Co-tenancy is per node, so a scoped run looks at the nodes its pods run on and every GPU
    pod there, whatever its namespace.
    """
    pods = list(evi.data(ev, "pods") or [])
    in_scope = {kube.node_name(p) for p in oom.admitted_pods(pods, ctx)}
    shared: dict[str, list[str]] = {}
    alone = []
    for pod, line in _recent_ooms(pods, evi.data(ev, "logs") or [], ctx):
        node = kube.node_name(pod)
        if not node or node not in in_scope:
            continue
        tenants = _tenants(pods, node)
        if len(tenants) < 2:
            alone.append(f"{line}, but it is the only GPU pod on {node}")
            continue
        who = names([kube.ref(t) for t in tenants])
        shared.setdefault(node, [f"{node}: {len(tenants)} GPU pods share the node ({who})"])
        shared[node].append(line)
    return shared, alone


def _unseen_ooms(ev: evi.Evidence, ctx: CheckContext) -> list[str]:
    """Why a co-tenant's CUDA OOM could have gone unseen: the logs were unavailable while a
    GPU pod ran, or the log of a pod sharing its node with another GPU pod was not captured."""
    if gap := evi.gap(ev, "logs"):
        return [f"{gap}: CUDA OOMs not checked"] if oom.pods_that_ran(ev, ctx) else []
    pods = list(evi.data(ev, "pods") or [])
    in_scope = {kube.node_name(p) for p in oom.admitted_pods(pods, ctx)}
    by_key = {(kube.namespace(p), kube.name(p)): p for p in pods}
    unread = []
    for ref, line in oom.unread_logs(evi.data(ev, "logs") or [], by_key, ctx).items():
        ns, name = ref.split("/", 1)
        node = kube.node_name(by_key[(ns, name)])
        if node and node in in_scope and len(_tenants(pods, node)) > 1:
            unread.append(f"{line} (it shares {node})")
    return [*unread[:3], "CUDA OOMs in them not checked"] if unread else []


@check(
    "memory.cotenant_oom", inputs={"pods": LIST, "logs": "kubernetes.pod_logs"}, optional=("logs",)
)
def cotenant_oom(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A GPU pod sharing its node with another GPU pod was OOM-killed or hit CUDA OOM recently."""
    shared, alone = cotenant_ooms(ev, ctx)
    if shared:
        lines = [ln for node_lines in shared.values() for ln in node_lines]
        return StepResult.confirmed(*lines[:5], oom_nodes=sorted(shared))
    # OOM kills were read, CUDA OOMs in logs were not (which matters only if a GPU pod ran).
    if unseen := _unseen_ooms(ev, ctx):
        return StepResult.inconclusive(*unseen, *alone[:2])
    if alone:
        return StepResult.ruled_out(*alone[:3])
    window = f"{ctx.thresholds.lookback_minutes:g} min"
    return StepResult.ruled_out(f"no GPU pod OOM-killed or logging CUDA OOM in the last {window}")


def _slicing_verdict(
    configs: list[share.Slicing], used: set[str], nodes: list[share.NodeShare], read: str
) -> StepResult:
    """Time-slicing on the given GPU nodes: a config they do not isolate away, or GFD's labels."""
    signs = [f"{n.node}: {', '.join(n.signs)}" for n in nodes if n.signs]
    over = [n.over for n in nodes if n.over]
    isolated = [f"{n.node}: {', '.join(n.isolated)}" for n in nodes if n.isolated and not n.signs]
    all_isolated = bool(nodes) and len(isolated) == len(nodes) and not over
    caps = [n.mig_capable for n in nodes if n.mig_capable is not None]
    facts = {"mig_capable": bool(caps) and all(caps), "nodes": [n.node for n in nodes]}
    config_lines = [c.line(used) for c in configs]
    if signs or (configs and not all_isolated):
        return StepResult.confirmed(*config_lines[:2], *signs[:3], *over[:2], **facts)
    if over:
        return StepResult.inconclusive(
            *over[:2], "no timeSlicing config or GFD sharing label explains it", **facts
        )
    checked = (
        f"no device-plugin config time-slices a GPU in {read}"
        if not configs
        else f"{config_lines[0]}, but the nodes do not use it"
    )
    return StepResult.ruled_out(checked, *isolated[:3], **facts)


@check(
    "memory.time_slicing",
    inputs={
        "configmaps": LIST,
        "clusterpolicies": LIST,
        "nodes": LIST,
        "pods": LIST,
        "logs": "kubernetes.pod_logs",
    },
    optional=("clusterpolicies", "nodes", "pods", "logs"),
)
def time_slicing(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """The GPUs are time-sliced: a device-plugin timeSlicing config or GFD sharing labels."""
    configs = share.slicing_configs(ev["configmaps"].data)
    used = share.policy_configs(evi.data(ev, "clusterpolicies"))
    read = plural(len(ev["configmaps"].data), "ConfigMap")
    if gap := evi.gap(ev, "nodes"):
        # GFD's labels and MIG layouts are on the nodes: a config alone neither shows the
        # nodes use it nor, absent, that no node is time-sliced.
        return StepResult.inconclusive(
            f"{configs[0].line(used)}, but whether the GPU nodes use it is unknown"
            if configs
            else f"no device-plugin config time-slices a GPU in {read}",
            f"{gap}: GFD sharing labels and MIG layouts not checked",
        )
    gpu_nodes = kube.gpu_nodes(evi.data(ev, "nodes") or [])
    shared = cotenant_ooms(ev, ctx)[0] if evi.data(ev, "pods") is not None else {}
    # The nodes where co-tenants OOMed decide; with none, every GPU node.
    judged = [n for n in gpu_nodes if not shared or kube.name(n) in shared]
    result = _slicing_verdict(configs, used, [share.node_sharing(n) for n in judged], read)
    unseen = _unseen_ooms(ev, ctx) if shared else []
    if result.verdict is Verdict.RULED_OUT and unseen:
        # Co-tenants on other nodes may have OOMed unseen: rule out only if no node slices.
        wide = _slicing_verdict(configs, used, [share.node_sharing(n) for n in gpu_nodes], read)
        if wide.verdict is not Verdict.RULED_OUT:
            return StepResult.inconclusive(
                *result.lines[:2],
                *unseen,
                f"other GPU nodes are time-sliced: {wide.lines[0]}",
                **result.facts,
            )
    return result
