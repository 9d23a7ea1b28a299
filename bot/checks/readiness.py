"""Morning readiness: the seed's verify ladder plus quota, pre-warm and idle spend.

A readiness playbook's step is *confirmed* when its rung FAILS, *ruled out* when it passes,
inconclusive when what would decide it could not be read. Each rung gates the next in the
seed's ladder (GPU advertised -> driver loaded -> workspace ready -> endpoint answering).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import _readiness as rd
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import format_money, hourly_price, looks_like_gpu_sku
from bot.model.evidence import Answer
from bot.model.text import clip, duration, names, plural
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _data(ev: Mapping[str, Answer], name: str) -> Any:
    answer = ev.get(name)
    return answer.data if answer is not None and answer.available else None


def _missing(ev: Mapping[str, Answer], name: str) -> str:
    return f"{ev[name].source} unavailable: {ev[name].unavailable}"


def _gpu_pools(pools_body: Any) -> list[Obj]:
    return [
        p
        for p in arm.agent_pools(pools_body)
        if looks_like_gpu_sku(arm.pool_props(p).get("vmSize"))
    ]


# ---- 1. GPU advertised ----------------------------------------------------------------------


class AdvertisedParams(_Params):
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


def _no_gpu_nodes(ev: Mapping[str, Answer]) -> StepResult:
    if not ev["agent_pools"].available:
        return StepResult.inconclusive(
            "no GPU node is registered",
            _missing(ev, "agent_pools") + " (cannot tell whether the GPU pools scaled to zero)",
        )
    pools = _gpu_pools(ev["agent_pools"].data)
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
def gpu_advertised(
    ev: Mapping[str, Answer], params: AdvertisedParams, ctx: CheckContext
) -> StepResult:
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
def device_plugin(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
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
    logs = _data(ev, "plugin_logs")
    problems, passes, unhealthy = _ds_problems(
        sets, ev["pods"].data, gpu, logs, every_gpu_node=True
    )
    if problems:
        return StepResult.confirmed(*problems, *passes, unhealthy_pods=unhealthy)
    where = f"; plugin pod Ready on {len(gpu)}/{len(gpu)} GPU nodes" if gpu else "; no GPU node up"
    return StepResult.ruled_out("; ".join(passes) + where, unhealthy_pods=[])


@check("readiness.operator_driver", inputs=DS_INPUTS)
def operator_driver(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
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


# ---- 3. workspaces ready --------------------------------------------------------------------

WORKSPACE_CONDITIONS = ("ResourceReady", "InferenceReady")


def _condition_text(ws: Obj, kind: str, ctx: CheckContext) -> str | None:
    """None when the condition is True, else `InferenceReady=False (reason: message) for 50 min`."""
    cond = kube.condition(ws, kind)
    if cond is None:
        return f"{kind} absent"
    if cond.get("status") == "True":
        return None
    detail = ": ".join(
        str(x) for x in (cond.get("reason"), clip(str(cond.get("message") or ""), 120)) if x
    )
    since = kube.parse_time(cond.get("lastTransitionTime"))
    age = f" for {duration(ctx.now - since)}" if since else ""
    return f"{kind}={cond.get('status')}" + (f" ({detail})" if detail else "") + age


@check("readiness.workspaces_ready", inputs={"workspaces": "kubernetes.list"})
def workspaces_ready(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """Every KAITO inference workspace has ResourceReady and InferenceReady True."""
    admitted = [
        w for w in ev["workspaces"].data if ctx.scope.admits(kube.namespace(w), kube.name(w))
    ]
    # Tuning workspaces never report InferenceReady; they finish with WorkspaceSucceeded instead.
    serving = [w for w in admitted if w.get("inference") or not w.get("tuning")]
    if not serving:
        others = f" ({plural(len(admitted), 'tuning workspace')})" if admitted else ""
        return StepResult.ruled_out(f"no KAITO inference workspace{others}", ready=0, workspaces=0)
    failing = []
    for ws in serving:
        texts = [t for t in (_condition_text(ws, k, ctx) for k in WORKSPACE_CONDITIONS) if t]
        if texts:
            failing.append(f"{kube.ref(ws)}: " + ", ".join(texts))
    ok = len(serving) - len(failing)
    head = f"{ok}/{len(serving)} workspaces ResourceReady and InferenceReady"
    facts = {
        "ready": ok,
        "workspaces": len(serving),
        "not_ready": [f.split(":")[0] for f in failing],
    }
    if failing:
        return StepResult.confirmed(head, *failing, **facts)
    return StepResult.ruled_out(f"{head} ({names([kube.ref(w) for w in serving])})", **facts)


# ---- 4. endpoint answering ------------------------------------------------------------------


class EndpointParams(_Params):
    max_latency_ms: int = Field(
        5000, ge=1, description="a /v1/models answer slower than this fails"
    )


def _judge_probe(probe: Obj, max_ms: int) -> tuple[bool, str]:
    """(passes, line) for one `{namespace, service, path, status, latency_ms, body}` probe."""
    where = f"{probe.get('namespace')}/{probe.get('service')} {probe.get('path') or '/v1/models'}"
    status, ms = probe.get("status"), probe.get("latency_ms")
    took = f" in {ms:g} ms" if isinstance(ms, int | float) else ""
    if not status:
        error = rd.probe_error(probe)
        after = f" after {ms:g} ms" if isinstance(ms, int | float) else ""
        return False, f"{where}: no answer{after}" + (f": {error}" if error else "")
    if int(status) != 200:
        error = rd.probe_error(probe)
        return False, f"{where}: {status}{took}" + (f": {error}" if error else "")
    models = rd.probe_models(probe.get("body"))
    if not models:
        return False, f"{where}: 200{took} but no model id in the body"
    if isinstance(ms, int | float) and ms > max_ms:
        return False, f"{where}: 200{took}, slower than {max_ms} ms ({', '.join(models)})"
    return True, f"{where}: 200{took} ({', '.join(models)})"


def _workspace_service(svc: Obj) -> bool:
    """A Service KAITO created for a workspace (its label, or a Workspace owner reference)."""
    owners = kube.meta(svc).get("ownerReferences") or []
    return "kaito.sh/workspace" in kube.labels(svc) or any(
        o.get("kind") == "Workspace" for o in owners
    )


def _expected_endpoints(ev: Mapping[str, Answer]) -> set[tuple[str, str]] | None:
    """Workspace Services that should have been probed; None when neither list could be read.

    Without the workspace list, the Services KAITO labelled for a workspace stand in for it;
    without both, which endpoints exist is unknown (a pass would be a guess).
    """
    workspaces, services = _data(ev, "workspaces"), _data(ev, "services")
    if workspaces is None:
        if services is None:
            return None
        return {(kube.namespace(s), kube.name(s)) for s in services if _workspace_service(s)}
    wanted = {(kube.namespace(w), kube.name(w)) for w in workspaces if w.get("inference")}
    if services is not None:  # KAITO creates the Service only once the workspace's nodes are ready
        wanted &= {(kube.namespace(s), kube.name(s)) for s in services}
    return wanted


@check(
    "readiness.endpoint_answering",
    inputs={
        "probes": "kubernetes.service_probes",
        "workspaces": "kubernetes.list",
        "services": "kubernetes.list",
    },
    optional=("workspaces", "services"),
    params=EndpointParams,
)
def endpoint_answering(
    ev: Mapping[str, Answer], params: EndpointParams, ctx: CheckContext
) -> StepResult:
    """Each inference endpoint answers /v1/models with 200 and a model id."""
    probes = [
        p for p in ev["probes"].data if ctx.scope.admits(p.get("namespace"), p.get("service"))
    ]
    expected = _expected_endpoints(ev)
    judged = [(p, *_judge_probe(p, params.max_latency_ms)) for p in probes]
    bad = [line for _, good, line in judged if not good]
    good = [line for _, ok, line in judged if ok]
    seen = {(p.get("namespace"), p.get("service")) for p in probes}
    unprobed = sorted(e for e in expected or set() if e not in seen and ctx.scope.admits(*e))
    unknown = [
        f"{ns}/{svc}: no /v1/models probe result for this workspace Service" for ns, svc in unprobed
    ]
    latency = next((p.get("latency_ms") for p, ok, _ in judged if ok), None)
    facts = {"answering": len(good), "endpoints": len(judged) + len(unknown), "latency_ms": latency}
    if bad:
        return StepResult.confirmed(*bad, *unknown, *good, **facts)
    if expected is None:  # which workspace Services exist is unknown: one may be unprobed
        what = (
            "cannot tell whether every endpoint was probed" if judged else "no endpoint was probed"
        )
        return StepResult.inconclusive(
            what, *good, _missing(ev, "workspaces"), _missing(ev, "services"), **facts
        )
    note = []
    if not ev["workspaces"].available:
        note = [_missing(ev, "workspaces") + " (workspace Services found by their kaito.sh label)"]
    if unknown:
        return StepResult.inconclusive(*unknown, *good, *note, **facts)
    if not judged:
        return StepResult.ruled_out(
            "no inference endpoint to probe (no workspace Service)", *note, **facts
        )
    return StepResult.ruled_out(*good, *note, **facts)


# ---- 5. quota headroom ----------------------------------------------------------------------


class HeadroomParams(_Params):
    request_nodes: int = Field(
        2, ge=1, description="nodes of room a quota request asks for above usage"
    )


def gpu_demand(pools_body: Any, workspaces: list[Obj] | None) -> list[tuple[str, bool, str]]:
    """(sku, spot, who) for GPU SKUs in use: GPU pools that have or may get nodes, workspaces."""
    out = []
    for pool in _gpu_pools(pools_body):
        props = arm.pool_props(pool)
        if props.get("enableAutoScaling") or int(props.get("count") or 0) > 0:
            out.append((str(props["vmSize"]), arm.pool_is_spot(pool), f"pool {pool.get('name')}"))
    for ws in workspaces or []:
        sku = (ws.get("resource") or {}).get("instanceType")
        if sku:
            out.append((str(sku), False, f"workspace {kube.ref(ws)}"))
    return out


def _family_rows(
    demand: list[tuple[str, bool, str]], skus: Any
) -> tuple[dict[str, list[Any]], list[str]]:
    """quota name (lower) -> [(SkuInfo, [who])]; plus SKUs whose family or vCPUs are unknown."""
    families: dict[str, dict[str, Any]] = {}
    unknown = []
    for sku, spot, who in demand:
        info = arm.sku_info(sku, skus)
        if info.family is None or info.vcpus is None:
            unknown.append(
                f"{sku} ({who}): family or vCPUs unknown (not in azure/skus nor the SKU table)"
            )
            continue
        family = "lowPriorityCores" if spot else info.family
        entry = families.setdefault(family.lower(), {}).setdefault(info.name.lower(), [info, []])
        entry[1].append(who)
    return {k: list(v.values()) for k, v in families.items()}, unknown


def _headroom(usage: Obj, rows: list[Any], request_nodes: int) -> tuple[bool, str, Obj]:
    """(room for one more node of every SKU, evidence line, facts row) for one quota family."""
    limit, used = int(usage.get("limit") or 0), int(usage.get("currentValue") or 0)
    label = str((usage.get("name") or {}).get("value", "?"))
    info, who = max(rows, key=lambda r: r[0].vcpus)
    free = limit - used
    row = {
        "family": label,
        "limit": limit,
        "used": used,
        "sku": info.name,
        "vcpus": info.vcpus,
        "headroom_nodes": max(free, 0) // info.vcpus,
        "new_limit": max(limit, used + info.vcpus * request_nodes),
    }
    if free < info.vcpus:
        why = "quota is 0" if limit == 0 else f"{max(free, 0)} vCPUs free"
        return (
            False,
            (
                f"{label}: {used}/{limit} vCPUs used; no room for one more {info.name} "
                f"(needs {info.vcpus}, {why}; {', '.join(who)})"
            ),
            row,
        )
    rooms = [f"{free // i.vcpus} more {i.name} ({i.vcpus} vCPUs each)" for i, _ in rows]
    return True, f"{label}: {used}/{limit} vCPUs used; room for " + ", ".join(rooms), row


def _demand_or_result(
    ev: Mapping[str, Answer],
) -> tuple[list[tuple[str, bool, str]], list[str], StepResult | None]:
    """What is in use, which of its sources could not be read, and the verdict when that
    cannot be known or nothing is in use.

    A GPU pool or workspace that could not be listed may use a family with no room, so a
    pass needs both lists: with one unreadable, a step can confirm but never rule out.
    """
    demand = gpu_demand(_data(ev, "agent_pools"), _data(ev, "workspaces"))
    unread = [_missing(ev, n) for n in ("agent_pools", "workspaces") if not ev[n].available]
    if not demand and unread:
        return (
            demand,
            unread,
            StepResult.inconclusive("cannot tell which GPU families are in use", *unread),
        )
    if not demand:
        return (
            demand,
            unread,
            StepResult.ruled_out(
                "no GPU agent pool or workspace in use: no GPU family needs headroom",
                families=[],
                short=[],
            ),
        )
    return demand, unread, None


QUOTA_INPUTS = {
    "usages": "azure.usages",
    "skus": "azure.skus",
    "agent_pools": "azure.agent_pools",
    "workspaces": "kubernetes.list",
}


@check(
    "readiness.quota_headroom",
    inputs=QUOTA_INPUTS,
    optional=("skus", "agent_pools", "workspaces"),
    params=HeadroomParams,
)
def quota_headroom(
    ev: Mapping[str, Answer], params: HeadroomParams, ctx: CheckContext
) -> StepResult:
    """Every GPU family in use has quota for one more node of its largest SKU in use."""
    demand, unread, early = _demand_or_result(ev)
    if early is not None:
        return early
    families, unknown = _family_rows(demand, _data(ev, "skus"))
    usages = arm.usage_by_name(ev["usages"].data)
    short, ok, rows = [], [], []
    for family, entries in sorted(families.items()):
        usage = usages.get(family)
        if usage is None:
            unknown.append(
                f"{entries[0][0].family if family != 'lowprioritycores' else 'lowPriorityCores'}: "
                "no usage entry in azure/usages"
            )
            continue
        passes, line, row = _headroom(usage, entries, params.request_nodes)
        rows.append(row)
        (ok if passes else short).append((line, row))
    facts = {"families": rows, "short": [r for _, r in short], **(short[0][1] if short else {})}
    unknown += [f"{u} (GPU families it uses are not checked)" for u in unread]
    if short:
        return StepResult.confirmed(*[x for x, _ in short], *unknown, *[x for x, _ in ok], **facts)
    if unknown:
        return StepResult.inconclusive(*unknown, *[x for x, _ in ok], **facts)
    return StepResult.ruled_out(*[x for x, _ in ok], **facts)


@check(
    "readiness.regional_headroom",
    inputs=QUOTA_INPUTS,
    optional=("skus", "agent_pools", "workspaces"),
    params=HeadroomParams,
)
def regional_headroom(
    ev: Mapping[str, Answer], params: HeadroomParams, ctx: CheckContext
) -> StepResult:
    """Total Regional vCPUs leave room for one more on-demand node of the largest GPU SKU in use."""
    demand, unread, early = _demand_or_result(ev)
    if early is not None:
        return early
    usage = arm.usage_by_name(ev["usages"].data).get("cores")
    if usage is None:
        return StepResult.inconclusive("no 'cores' (Total Regional vCPUs) entry in azure/usages")
    sizes = [(arm.sku_info(s, _data(ev, "skus")), who) for s, spot, who in demand if not spot]
    unknown = [f"{i.name} ({who}): vCPUs unknown" for i, who in sizes if not i.vcpus]
    unknown += [f"{u} (GPU SKUs it uses are not checked)" for u in unread]
    sizes = [(i, who) for i, who in sizes if i.vcpus]
    if not sizes:  # Spot nodes draw on lowPriorityCores only
        if unknown:
            return StepResult.inconclusive(
                "cannot tell the largest on-demand GPU SKU in use", *unknown
            )
        return StepResult.ruled_out(
            "no on-demand GPU SKU in use: Total Regional vCPUs do not gate it"
        )
    info, who = max(sizes, key=lambda x: x[0].vcpus or 0)
    limit, used = int(usage.get("limit") or 0), int(usage.get("currentValue") or 0)
    line = f"Total Regional vCPUs: {used}/{limit} used; one more {info.name} ({who})"
    line += f" needs {info.vcpus}"
    if used + int(info.vcpus or 0) > limit:
        return StepResult.confirmed(
            line + " (no room)",
            *unknown,
            regional_limit=limit,
            regional_used=used,
            regional_new_limit=used + int(info.vcpus or 0) * params.request_nodes,
        )
    if unknown:
        return StepResult.inconclusive(line, *unknown)
    return StepResult.ruled_out(line)


# ---- 6. pre-warm ----------------------------------------------------------------------------


class PrewarmParams(_Params):
    schedule: str = Field("45 7 * * 1-5", description="schedule proposed for a missing pre-warm")
    time_zone: str = Field("UTC", description="time zone proposed for a missing pre-warm")


def _cronjob_line(cj: Obj) -> str:
    spec = cj.get("spec") or {}
    zone = spec.get("timeZone") or "controller time zone, usually UTC"
    return f"{kube.ref(cj)} '{spec.get('schedule')}' ({zone})"


def _cold_pools(pools_body: Any) -> list[Obj]:
    """GPU pools the autoscaler may take to zero nodes."""
    return [
        p
        for p in _gpu_pools(pools_body)
        if arm.pool_props(p).get("enableAutoScaling")
        and int(arm.pool_props(p).get("minCount") or 0) == 0
    ]


def _prewarm_of(
    pool: Obj, wl: rd.Workload, cronjobs: list[Obj], params: PrewarmParams
) -> tuple[bool, str, Obj]:
    """(pre-warmed, evidence line, facts) for one workload on a pool that scales to zero."""
    jobs = [c for c in cronjobs if rd.scales_up(c, wl.name, wl.namespace)]
    where = f"pool {pool.get('name')} (minCount 0) hosts {wl.kind} {wl.namespace}/{wl.name}"
    item = {"pool": pool.get("name"), "namespace": wl.namespace, "workload": wl.ref}
    if not jobs:
        line = f"{where}: no CronJob scales {wl.name} up (a cold node on first use)"
        return False, line, {**item, "schedule": params.schedule, "time_zone": params.time_zone}
    spec = jobs[0].get("spec") or {}
    line = f"{where}: pre-warm " + ", ".join(_cronjob_line(c) for c in jobs)
    fact = {**item, "cronjob": kube.name(jobs[0]), "schedule": spec.get("schedule")}
    return True, line, {**fact, "time_zone": spec.get("timeZone")}


@check(
    "readiness.prewarm_in_place",
    inputs={
        "agent_pools": "azure.agent_pools",
        "cronjobs": "kubernetes.list",
        "workspaces": "kubernetes.list",
        "statefulsets": "kubernetes.list",
        "deployments": "kubernetes.list",
    },
    optional=("workspaces", "statefulsets", "deployments"),
    params=PrewarmParams,
)
def prewarm_in_place(
    ev: Mapping[str, Answer], params: PrewarmParams, ctx: CheckContext
) -> StepResult:
    """Each inference workload on a GPU pool that scales to zero has a CronJob scaling it up."""
    kinds = ("workspaces", "statefulsets", "deployments")
    workloads = rd.inference_workloads(*(_data(ev, n) for n in kinds))
    unknown = [_missing(ev, n) for n in kinds if not ev[n].available]
    cold = _cold_pools(ev["agent_pools"].data)
    found: list[tuple[bool, str, Obj]] = [
        _prewarm_of(pool, wl, ev["cronjobs"].data, params)
        for pool in cold
        for wl in workloads
        if rd.pool_hosts(pool, wl) and ctx.scope.admits(wl.namespace, wl.name)
    ]
    ok, missing = [x for x in found if x[0]], [x for x in found if not x[0]]
    facts = {"prewarms": [f for _, _, f in ok], "missing": [f for _, _, f in missing]}
    lines = [line for _, line, _ in missing + ok] + unknown
    if missing:
        return StepResult.confirmed(*lines, **facts)
    # A workload that could not be listed may sit on a scale-to-zero pool without a pre-warm;
    # only when no pool scales to zero does that not matter.
    if unknown and cold:
        return StepResult.inconclusive(
            "cannot tell what the scale-to-zero pools host", *lines, **facts
        )
    if not ok:
        warm = [str(p.get("name")) for p in _gpu_pools(ev["agent_pools"].data) if p not in cold]
        note = f"; pools {names(warm)} keep a minimum node" if warm else ""
        return StepResult.ruled_out(
            "no GPU pool that scales to zero hosts an inference workload" + note, **facts
        )
    return StepResult.ruled_out(*lines, **facts)


# ---- 7. idle GPU node-hours -----------------------------------------------------------------


class IdleParams(_Params):
    max_idle_hours: float = Field(
        2, ge=0, description="idle GPU hours per node per day that still pass"
    )


def _pool_of(node_name: str, nodes: list[Obj] | None) -> str | None:
    live = kube.by_name(nodes or []).get(node_name)
    return (kube.pool_name(live) if live else None) or rd.pool_from_node_name(node_name)


def _idle_by_node(rows: list[Obj]) -> dict[str, tuple[str, float]]:
    """Computer -> (instance type, idle hours summed over the rows)."""
    out: dict[str, tuple[str, float]] = {}
    for row in rows:
        node = str(row.get("Computer") or "")
        if not node:
            continue
        sku, hours = out.get(node, ("", 0.0))
        out[node] = (
            sku or str(row.get("InstanceType") or ""),
            hours + float(row.get("IdleHours") or 0),
        )
    return out


def _floor(pool: str | None, pools: dict[str, Obj]) -> tuple[str, Obj | None]:
    """`, pool gpubatch minCount 1` and a pool-min-count offer when the pool keeps a node warm."""
    props = pools.get(pool or "")
    if props is None:
        return (f", pool {pool}" if pool else ""), None
    if not props.get("enableAutoScaling"):
        return f", pool {pool} fixed at {props.get('count')} nodes", None
    low = int(props.get("minCount") or 0)
    offer = {"pool": pool, "min_count": 0, "max_count": props.get("maxCount")} if low >= 1 else None
    return f", pool {pool} minCount {low}", offer


@dataclass(frozen=True)
class _Idle:
    """One GPU node's idle hours, priced, with its pool's floor."""

    node: str
    sku: str
    hours: float
    cost: float | None
    pool: str | None
    line: str
    offer: Obj | None


def _idle_node(
    node: str, sku: str, hours: float, ev: Mapping[str, Answer], ctx: CheckContext
) -> _Idle:
    nodes = _data(ev, "nodes")
    live = kube.by_name(nodes or []).get(node)
    sku = sku or (kube.instance_type(live) if live else "") or ""
    price = hourly_price(sku, ctx.thresholds.currency)
    cost = hours * price if price is not None else None
    pool = _pool_of(node, nodes)
    pools = {
        str(p.get("name")): arm.pool_props(p) for p in arm.agent_pools(_data(ev, "agent_pools"))
    }
    floor, offer = _floor(pool, pools)
    money = format_money(cost, ctx.thresholds.currency) if cost is not None else "(price unknown)"
    line = f"{node} ({sku or 'SKU unknown'}): {hours:g} idle h {money}{floor}"
    return _Idle(node, sku, hours, cost, pool, line, offer)


@check(
    "readiness.idle_gpu_hours",
    inputs={
        "node_hours": "loganalytics.query",
        "agent_pools": "azure.agent_pools",
        "nodes": "kubernetes.list",
    },
    optional=("agent_pools", "nodes"),
    params=IdleParams,
)
def idle_gpu_hours(ev: Mapping[str, Answer], params: IdleParams, ctx: CheckContext) -> StepResult:
    """No GPU node sat idle more than max_idle_hours in the last day (with indicative cost)."""
    rows = sorted(_idle_by_node(ev["node_hours"].data).items(), key=lambda x: -x[1][1])
    idle = [_idle_node(node, sku, hours, ev, ctx) for node, (sku, hours) in rows if hours > 0]
    over = [i for i in idle if i.hours > params.max_idle_hours]
    total_h, total_cost = sum(i.hours for i in idle), sum(i.cost or 0 for i in idle)
    money = f" {format_money(total_cost, ctx.thresholds.currency)}" if total_cost else ""
    head = f"{total_h:g} idle GPU node-hours in the last 24 h{money}"
    facts = {
        "idle_hours": total_h,
        "idle_cost": total_cost,
        "idle_cost_text": money.strip(),
        "currency": ctx.thresholds.currency,
        "idle_nodes": [
            {"node": i.node, "sku": i.sku, "hours": i.hours, "cost": i.cost, "pool": i.pool}
            for i in idle
        ],
        # One offer per pool whose minimum keeps an idle node (a min-0 pool's idle node is pinned).
        "min_count_pools": list({i.offer["pool"]: i.offer for i in over if i.offer}.values()),
    }
    lines = [i.line for i in over] + [i.line for i in idle if i not in over]
    if over:
        return StepResult.confirmed(head, *lines, **facts)
    return StepResult.ruled_out(
        f"{head}; no node idle over {params.max_idle_hours:g} h", *lines, **facts
    )
