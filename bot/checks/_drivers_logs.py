"""Row 3's symptom in the workload's words: "no CUDA-capable device", NVML init failures.

Reads container logs (with the instance's run bounds from containerStatuses) and Log
Analytics' gpu-error-patterns rows, and sorts each sighting by whether it lies inside the
lookback window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, duration, parse_time

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


def gpu_stack(pod_name: str) -> bool:
    return pod_name.startswith(GPU_STACK_PREFIXES)


@dataclass
class Sightings:
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


def from_pod_logs(
    entries: list[Obj], pods: dict[tuple[str, str], Obj], seen: Sightings, ctx: CheckContext
) -> list[str]:
    """Add sightings from container logs; return the containers whose log was not captured."""
    window, missing = ctx.now - ctx.thresholds.lookback, []
    for e in entries:
        pod = pods.get((e["namespace"], e["pod"]))
        if gpu_stack(e["pod"]) or not ctx.scope.admits(
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


def from_log_analytics(
    rows: list[Obj], pods: dict[tuple[str, str], Obj], seen: Sightings, ctx: CheckContext
) -> None:
    """gpu-error-patterns rows: the query itself keeps only the last hour (`ago(1h)`)."""
    namespaces = {name: ns for ns, name in pods}
    for row in rows:
        name, message = str(row.get("PodName") or ""), str(row.get("LogMessage") or "")
        ns = namespaces.get(name)
        if not matches_no_device(message):
            continue
        if gpu_stack(name):
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
