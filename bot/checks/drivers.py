"""Rows 3 and 4: the driver contract (one driver source per pool, a live device plugin).

Row 3's symptom is the workload's own words ("no CUDA-capable device is detected", NVML init
failures) in pod logs or Log Analytics; row 4's is a GPU node flapping Ready/NotReady. Their
shared cause, the AKS-managed driver and the GPU Operator's driver both loading kernel modules
on one node, is one check used by both playbooks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import gpu_sku
from bot.model.evidence import Answer
from bot.model.text import clip, duration, parse_time, plural
from bot.model.verdicts import StepResult

Obj = dict[str, Any]

# ---- log lines: what the workload says when it cannot see a GPU ---------------------------

# One family: CUDA finds no device, or NVML (the driver's library) cannot start. Torch words
# the same failure its own ways. CUDA OOM is rows 5/6, not here.
NO_DEVICE_PATTERNS = (
    re.compile(r"no CUDA-capable device is detected", re.IGNORECASE),
    re.compile(r"Failed to initialize NVML", re.IGNORECASE),
    re.compile(r"No CUDA GPUs are available", re.IGNORECASE),
    re.compile(r"Found no NVIDIA driver on your system", re.IGNORECASE),
    re.compile(r"CUDA driver initialization failed", re.IGNORECASE),
)

# GPU-stack pods report the cause (their own NVML failure), not the workload's symptom.
GPU_STACK_PREFIXES = (
    "nvidia-device-plugin",
    "nvidia-driver-daemonset",
    "nvidia-container-toolkit",
    "nvidia-dcgm",
    "gpu-feature-discovery",
    "nvidia-operator-validator",
)

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?\s")
_PYLOG = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)[,.]\d+")
_VLLM = re.compile(r"\b(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) (\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\b")
_KLOG = re.compile(r"^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)")


def matches_no_device(text: str) -> bool:
    return any(p.search(text) for p in NO_DEVICE_PATTERNS)


def _month_day(month: str, day: str, hms: tuple[str, str, str], now: datetime) -> datetime | None:
    """vLLM and klog print no year: take now's, or last year's if that lands in the future."""
    try:
        when = now.replace(
            month=int(month),
            day=int(day),
            hour=int(hms[0]),
            minute=int(hms[1]),
            second=int(hms[2]),
            microsecond=0,
        )
    except ValueError:
        return None
    return when.replace(year=when.year - 1) if when > now + timedelta(days=1) else when


def line_time(line: str, now: datetime) -> datetime | None:
    """The time a log line carries (kubectl --timestamps, Python logging, vLLM, klog), if any."""
    if m := _RFC3339.match(line):
        return parse_time(m.group(1) + (m.group(2) or "Z"))
    if m := _PYLOG.match(line):
        return parse_time(f"{m.group(1)}T{m.group(2)}Z")
    if m := _VLLM.search(line):
        return _month_day(m.group(1), m.group(2), (m.group(3), m.group(4), m.group(5)), now)
    if m := _KLOG.match(line):
        return _month_day(m.group(1), m.group(2), (m.group(3), m.group(4), m.group(5)), now)
    return None


@dataclass(frozen=True)
class Hit:
    """A matching line and the times it must lie between (None: unknown)."""

    line: str
    earliest: datetime | None
    latest: datetime | None

    def when(self, now: datetime) -> str:
        first, last = self.earliest, self.latest
        if first is not None and last is not None and last - first > timedelta(minutes=2):
            return f"between {first:%m-%d %H:%M}Z and {last:%m-%d %H:%M}Z"
        if first is not None:
            return f"~{first:%H:%M:%S}Z, {duration(now - first)} ago"
        if last is not None:
            return f"before {last:%H:%M:%S}Z, {duration(now - last)} ago"
        return "time not in the log"

    def age(self, window_start: datetime) -> str:
        """recent (surely inside the window), old (surely before it) or unknown."""
        if self.earliest is not None and self.earliest >= window_start:
            return "recent"
        if self.latest is not None and self.latest < window_start:
            return "old"
        return "unknown"


def scan(
    text: str, now: datetime, start: datetime | None = None, end: datetime | None = None
) -> list[Hit]:
    """Matching lines bounded by the nearest stamped lines, else by the instance's start/end.

    Tracebacks carry no time: the stamped line before one is its earliest, the one after its
    latest moment.
    """
    lines = text.splitlines()
    times = [line_time(line, now) for line in lines]
    hits = []
    for i, line in enumerate(lines):
        if not matches_no_device(line):
            continue
        before = next((t for t in reversed(times[: i + 1]) if t is not None), start)
        after = next((t for t in times[i:] if t is not None), end)
        hits.append(Hit(line.strip(), before, after))
    return hits


def instance_bounds(
    pod: Obj | None, container: str, previous: bool, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """When the logged container instance ran, from the pod's containerStatuses."""
    status = next(
        (s for s in kube.container_statuses(pod or {}) if s.get("name") == container), None
    )
    if status is None:
        return None, None if previous else now
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    if previous:
        # While waiting (CrashLoopBackOff) which dead instance is "previous" varies; both
        # ended by lastState's finish, so only that bound is safe.
        if "waiting" in state:
            return None, parse_time(last.get("finishedAt"))
        return parse_time(last.get("startedAt")), parse_time(last.get("finishedAt"))
    # The current log is the running (or finished) instance; while waiting it is the last dead one.
    key = next((k for k in ("running", "terminated") if k in state), None)
    ran = (state[key] or {}) if key else last
    return parse_time(ran.get("startedAt")), parse_time(ran.get("finishedAt")) or now


def _data(ev: Mapping[str, Answer], name: str) -> Any:
    answer = ev.get(name)
    return answer.data if answer is not None and answer.available else None


def _unread(ev: Mapping[str, Answer], name: str) -> str | None:
    answer = ev.get(name)
    if answer is None or answer.available:
        return None
    return f"{answer.source} unavailable: {answer.unavailable}"


def _gpu_stack(pod_name: str) -> bool:
    return pod_name.startswith(GPU_STACK_PREFIXES)


@dataclass
class _Sightings:
    """Matching lines sorted by when they were logged relative to the lookback window."""

    recent: list[str] = field(default_factory=list)
    old: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)
    aside: list[str] = field(default_factory=list)

    def add(self, kind: str, line: str, pod: str) -> None:
        getattr(self, kind).append(line)
        if kind == "recent" and pod not in self.pods:
            self.pods.append(pod)


def _from_pod_logs(
    entries: list[Obj], pods: dict[tuple[str, str], Obj], seen: _Sightings, ctx: CheckContext
) -> list[str]:
    """Add sightings from container logs; return the containers whose log was not captured."""
    window, missing = ctx.now - ctx.thresholds.lookback, []
    for e in entries:
        pod = pods.get((e["namespace"], e["pod"]))
        if _gpu_stack(e["pod"]) or not ctx.scope.admits(
            e["namespace"], kube.workspace_of(pod or {})
        ):
            continue
        where = f"{e['namespace']}/{e['pod']}/{e['container']}"
        if e.get("text") is None:
            missing.append(where)
            continue
        start, end = instance_bounds(pod, e["container"], bool(e.get("previous")), ctx.now)
        which = "previous instance" if e.get("previous") else "current instance"
        for hit in scan(e["text"], ctx.now, start, end)[-1:]:  # the last sighting tells most
            seen.add(
                hit.age(window),
                f"{where} ({which}, {hit.when(ctx.now)}): {clip(hit.line)}",
                f"{e['namespace']}/{e['pod']}",
            )
    return missing


def _from_log_analytics(
    rows: list[Obj], pods: dict[tuple[str, str], Obj], seen: _Sightings, ctx: CheckContext
) -> None:
    """gpu-error-patterns rows: the query itself keeps only the last hour (`ago(1h)`)."""
    namespaces = {name: ns for ns, name in pods}
    for row in rows:
        name, message = str(row.get("PodName") or ""), str(row.get("LogMessage") or "")
        ns = namespaces.get(name)
        if not matches_no_device(message):
            continue
        if _gpu_stack(name):
            seen.aside.append(f"{name} (GPU stack, its own failure): {clip(message, 100)}")
            continue
        if ns is not None and not ctx.scope.admits(ns, kube.workspace_of(pods[(ns, name)])):
            continue
        count = row.get("count_", 1)
        seen.add(
            "recent",
            f"loganalytics/gpu-error-patterns: {name} logged {count}× in the last "
            f"hour: {clip(message)}",
            f"{ns}/{name}" if ns else name,
        )


@check(
    "drivers.no_cuda_device",
    inputs={
        "logs": "kubernetes.pod_logs",
        "errors": "loganalytics.query",
        "pods": "kubernetes.list",
    },
    optional=("logs", "errors", "pods"),
)
def no_cuda_device(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A workload logged "no CUDA-capable device is detected" (or an NVML init failure) lately."""
    pods = {(kube.namespace(p), kube.name(p)): p for p in _data(ev, "pods") or []}
    seen = _Sightings()
    logs, rows = _data(ev, "logs"), _data(ev, "errors")
    missing = _from_pod_logs(logs, pods, seen, ctx) if logs is not None else []
    if rows is not None:
        _from_log_analytics(rows, pods, seen, ctx)
    lookback = f"{ctx.thresholds.lookback_minutes:g} min"
    if seen.recent:
        return StepResult.confirmed(*seen.recent[:4], pods=seen.pods, message=seen.recent[0])
    unread = [u for u in (_unread(ev, "logs"), _unread(ev, "errors")) if u]
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


def _node_plugin_state(
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


@check(
    "drivers.device_plugin_down",
    inputs={
        "nodes": "kubernetes.list",
        "gpu_pods": "kubernetes.pods_on_gpu_nodes",
        "skus": "azure.skus",
    },
    optional=("skus",),
)
def device_plugin_down(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node's device plugin is missing, CrashLooping or not Ready, or it advertises no GPU."""
    nodes = kube.gpu_nodes(ev["nodes"].data)
    if not nodes:
        return StepResult.ruled_out("no GPU node in the cluster: no device plugin to be down")
    pods, skus = ev["gpu_pods"].data, _data(ev, "skus")
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
        found, troubled, summary = _node_plugin_state(node, plugins, skus, ctx.now)
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


def _policy_lines(policies: list[Obj] | None) -> list[str]:
    out = []
    for cp in policies or []:
        enabled = ((cp.get("spec") or {}).get("driver") or {}).get("enabled", True)
        out.append(f"ClusterPolicy {kube.name(cp)}: spec.driver.enabled {str(enabled).lower()}")
    return out


def _driver_conflicts(
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
def two_driver_sources(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node gets both the AKS-managed driver and the GPU Operator's driver DaemonSet."""
    dss = [d for d in ev["daemonsets"].data if kube.name(d).startswith(DRIVER_DS_PREFIX)]
    policies = _policy_lines(_data(ev, "clusterpolicies"))
    if not dss:
        return StepResult.ruled_out(
            f"no {DRIVER_DS_PREFIX} DaemonSet in any namespace: "
            "AKS's driver (or none) is the only source",
            *policies,
        )
    raw_pools = _data(ev, "agent_pools")
    pools = (
        {str(p.get("name")): p for p in arm.agent_pools(raw_pools)}
        if raw_pools is not None
        else None
    )
    results = [
        _driver_conflicts(n, dss, _data(ev, "gpu_pods"), pools)
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


def _ready_note(node: Obj, now: datetime) -> tuple[str, bool, datetime | None]:
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


@check(
    "drivers.node_flapping",
    inputs={"nodes": "kubernetes.list", "events": "kubernetes.list"},
    optional=("events",),
)
def node_flapping(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A GPU node went Ready/NotReady repeatedly within the lookback, or just went NotReady."""
    nodes = kube.gpu_nodes(ev["nodes"].data)
    if not nodes:
        return StepResult.ruled_out("no GPU node in the cluster")
    events = _data(ev, "events")
    window, lookback = ctx.now - ctx.thresholds.lookback, f"{ctx.thresholds.lookback_minutes:g} min"
    flapping, calm = [], []
    for node in nodes:
        note, ready, since = _ready_note(node, ctx.now)
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
        return StepResult.inconclusive(*calm, _unread(ev, "events") or "events unread")
    return StepResult.ruled_out(*calm)


# ---- context: what the operator's driver pods say ------------------------------------------

DRIVER_LOG_ERRORS = re.compile(
    r"could not unload|is in use|modprobe: (?:ERROR|FATAL)|failed to|error", re.IGNORECASE
)


@check("drivers.driver_pod_errors", inputs={"logs": "kubernetes.pod_logs"})
def driver_pod_errors(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
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
