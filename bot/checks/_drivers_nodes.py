"""Node-side readings for rows 3 and 4: device-plugin state, driver sources, Ready flaps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.checks import azure as arm
from bot.model import kube
from bot.model.domain import gpu_sku
from bot.model.text import clip, duration, parse_time, plural

Obj = dict[str, Any]

# ---- (a) the device plugin ----------------------------------------------------------------

# KAITO's chart and the AKS doc label the plugin name=nvidia-device-plugin-ds; the GPU
# Operator labels its own app=nvidia-device-plugin-daemonset. Either may run in any namespace.
PLUGIN_LABELS = (("name", "nvidia-device-plugin-ds"), ("app", "nvidia-device-plugin-daemonset"))
PLUGIN_PREFIX = "nvidia-device-plugin-daemonset"
# The seed's timeline gives driver + plugin 30-90 s on a new node; allow a margin before a
# node with nothing advertised counts as a dead plugin rather than a node still joining.
PLUGIN_GRACE = timedelta(minutes=5)


def is_device_plugin(pod: Obj) -> bool:
    labels = kube.labels(pod)
    return kube.name(pod).startswith(PLUGIN_PREFIX) or any(
        labels.get(k) == v for k, v in PLUGIN_LABELS
    )


def plugin_trouble(pod: Obj, now: datetime) -> str | None:
    """Why this plugin pod is not serving (CrashLoopBackOff, not Ready, not Running), or None."""
    waiting = kube.waiting_reason(pod)
    restarts = kube.restart_count(pod)
    last = next(iter(kube.last_termination(pod)), {})
    finished = parse_time(last.get("finishedAt"))
    exit_note = ""
    if finished is not None:
        ago = duration(now - finished)
        exit_note = f", last exit {last.get('exitCode')} ({last.get('reason')}) {ago} ago"
    if waiting:
        return f"{waiting}, {plural(restarts, 'restart')}{exit_note}"
    if kube.phase(pod) != "Running":
        return f"phase {kube.phase(pod) or 'unknown'}"
    ready = kube.condition(pod, "Ready")
    if ready is not None and ready.get("status") != "True":
        return f"Running but not Ready ({ready.get('reason') or 'no reason'}){exit_note}"
    return None


def expected_gpus(node: Obj, skus: Obj | None) -> int | None:
    """GPUs the node's SKU has: ARM's `GPUs` capability, else the seed's SKU table."""
    sku = kube.instance_type(node) or ""
    entry = arm.vm_skus(skus).get(sku.lower()) if skus else None
    for cap in (entry or {}).get("capabilities") or []:
        if str(cap.get("name", "")).lower() == "gpus" and str(cap.get("value", "")).isdigit():
            return int(cap["value"])
    table = gpu_sku(sku)
    return table.gpus if table else None


def node_plugin_state(
    node: Obj, plugins: list[Obj], skus: Obj | None, now: datetime
) -> tuple[list[str], list[Obj], str]:
    """(problems, troubled plugin pods, a healthy summary) for one GPU node."""
    problems, troubled = [], []
    for p in plugins:
        trouble = plugin_trouble(p, now)
        if trouble:
            problems.append(f"{kube.ref(p)} on {kube.name(node)}: {trouble}")
            troubled.append(p)
    advertised = sum(kube.gpu_resources(node).values())
    capacity = sum(kube.gpu_resources(node, "capacity").values())
    wanted = expected_gpus(node, skus)
    if advertised == 0 and wanted != 0:
        has = f"{plural(wanted, 'GPU')}" if wanted else "GPUs"
        none = "; no device-plugin pod on it" if not plugins else ""
        problems.append(
            f"{kube.name(node)} ({kube.instance_type(node)}, {has}) advertises no "
            f"nvidia.com/gpu in allocatable (capacity {capacity}){none}"
        )
    names = ", ".join(f"{kube.ref(p)} Ready" for p in plugins) or "no device-plugin pod seen"
    return problems, troubled, f"{kube.name(node)}: {names}; advertises {advertised} nvidia.com/gpu"


# ---- (b) two driver sources ---------------------------------------------------------------

# The GPU Operator's driver DaemonSet; precompiled-driver installs append the kernel version.
DRIVER_DS_PREFIX = "nvidia-driver-daemonset"


def managed_driver(pool: Obj) -> tuple[bool | None, str]:
    """Does AKS install its own driver on this pool? No gpuProfile on a GPU pool means yes."""
    props = arm.pool_props(pool)
    driver = (props.get("gpuProfile") or {}).get("driver")
    where = f"agent pool {pool.get('name')} ({props.get('vmSize')})"
    if driver is None:
        return True, f"{where} has no gpuProfile.driver: AKS installs its managed driver by default"
    if str(driver).lower() == "install":
        return True, f"{where} gpuProfile.driver Install: AKS-managed driver"
    if str(driver).lower() == "none":
        return (
            False,
            f"{where} gpuProfile.driver None: self-managed, the operator's driver is the only one",
        )
    return None, f"{where} gpuProfile.driver {driver!r}: unknown value"


def _template_pod(ds: Obj) -> Obj:
    return {"spec": ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}}


def daemonset_on_node(ds: Obj, node: Obj, pods: list[Obj] | None) -> str | None:
    """How `ds` reaches `node`: a pod of it runs there, or its selector and tolerations admit it."""
    for p in pods or []:
        if (
            kube.node_name(p) == kube.name(node)
            and kube.owner_kind(p) == "DaemonSet"
            and kube.owner_name(p) == kube.name(ds)
            and kube.namespace(p) == kube.namespace(ds)
        ):
            restarts = kube.restart_count(p)
            note = f" ({plural(restarts, 'restart')})" if restarts else ""
            return f"runs {kube.ref(p)}{note}"
    if int((ds.get("status") or {}).get("desiredNumberScheduled") or 0) == 0:
        return None
    template = _template_pod(ds)
    selector = template["spec"].get("nodeSelector") or {}
    labels = kube.labels(node)
    # The operator labels a node whose host already has a driver `gpu.deploy.driver=pre-installed`,
    # which its `=true` selector then skips: the selector is what decides.
    if not all(labels.get(k) == v for k, v in selector.items()):
        return None
    if not all(
        kube.tolerates(template, t)
        for t in kube.taints(node)
        if t.get("effect") != "PreferNoSchedule"
    ):
        return None
    shown = ", ".join(f"{k}={v}" for k, v in selector.items()) or "none"
    return f"its nodeSelector ({shown}) and tolerations admit the node"


def policy_lines(policies: list[Obj] | None) -> list[str]:
    out = []
    for cp in policies or []:
        enabled = ((cp.get("spec") or {}).get("driver") or {}).get("enabled", True)
        out.append(f"ClusterPolicy {kube.name(cp)}: spec.driver.enabled {str(enabled).lower()}")
    return out


def driver_conflicts(
    node: Obj, dss: list[Obj], pods: list[Obj] | None, pools: dict[str, Obj] | None
) -> tuple[str, str, dict[str, Any]]:
    """(verdict word conflict|clear|unknown, line, facts) for one GPU node."""
    reaching = [(ds, how) for ds in dss if (how := daemonset_on_node(ds, node, pods))]
    if not reaching:
        return "clear", f"{kube.name(node)}: no operator driver DaemonSet reaches it", {}
    ds, how = reaching[0]
    operator = f"DaemonSet {kube.ref(ds)} {how}"
    pool_name = kube.pool_name(node) or "(no agentpool label)"
    if pools is None:
        return (
            "unknown",
            f"{kube.name(node)}: {operator}; agent pools unread, so whether AKS also "
            "installs its driver is unknown",
            {},
        )
    pool = pools.get(pool_name)
    if pool is None:
        return (
            "unknown",
            f"{kube.name(node)}: {operator}; pool {pool_name} not in azure/agent-pools",
            {},
        )
    managed, why = managed_driver(pool)
    line = f"{kube.name(node)}: {why}, and {operator}"
    if managed:
        return (
            "conflict",
            line,
            {"node": kube.name(node), "pool": pool_name, "daemonset": kube.ref(ds)},
        )
    return ("clear" if managed is False else "unknown"), line, {}


# ---- row 4's symptom: a GPU node flapping Ready/NotReady ----------------------------------

# kubelet reports NodeReady/NodeNotReady; the node lifecycle controller reports NodeNotReady
# when the kubelet stops posting. Both are Node events in the default namespace.
FLAP_REASONS = ("NodeNotReady", "NodeReady")


def flap_events(
    events: list[Obj], node: str, now: datetime, window_start: datetime
) -> dict[str, int]:
    """Transitions per reason for `node` in the window; `count`/`series.count` fold repeats."""
    out: dict[str, int] = {}
    for e in kube.recent_events(events, now, window_start, reasons=FLAP_REASONS):
        who = kube.involved(e)
        if who.get("kind", "Node") == "Node" and who.get("name") == node:
            out[e["reason"]] = out.get(e["reason"], 0) + kube.event_count(e)
    return out


def ready_note(node: Obj, now: datetime) -> tuple[str, bool, datetime | None]:
    """('Ready=True since 6 min', is ready, last transition)."""
    cond = kube.condition(node, "Ready") or {}
    since = parse_time(cond.get("lastTransitionTime"))
    status = cond.get("status", "absent")
    ago = f" since {duration(now - since)}" if since else ""
    why = (
        f" ({cond.get('reason')}: {clip(cond.get('message') or '', 80)})"
        if status != "True"
        else ""
    )
    return f"Ready={status}{ago}{why}", status == "True", since
