"""Reading vLLM's container logs: CUDA OOMs before or after the server came up, and when.

Shared by the GPU-memory rows (5, 6, 12). Pure functions over the shapes the evidence layer
answers with: pod logs `{namespace, pod, container, previous, text}`, Kubernetes objects as
dicts. Its /metrics are read in _vllm_metrics, its inference config in _vllm_config.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Re-exported: the unit tests read the /metrics and inference-config readers as _vllm.*
from bot.checks._vllm_config import WorkspaceConfig as WorkspaceConfig
from bot.checks._vllm_config import arg_int as arg_int
from bot.checks._vllm_config import cap_offer as cap_offer
from bot.checks._vllm_config import config_int as config_int
from bot.checks._vllm_config import halve_context as halve_context
from bot.checks._vllm_config import vllm_config as vllm_config
from bot.checks._vllm_metrics import pod_metrics as pod_metrics
from bot.model import kube
from bot.model.text import clip, parse_time

Obj = dict[str, Any]

# What a CUDA allocation failure prints: PyTorch's exception (old and new spelling, both say
# "CUDA out of memory") and the CUDA runtime's own error string (cuBLAS/NCCL init).
OOM_PATTERNS = ("cuda out of memory", "outofmemoryerror", "cuda error: out of memory")
# Lines vLLM/uvicorn print once the model is loaded and the KV cache is allocated: an OOM
# after one of these happened while serving, an OOM before it while loading.
READY_MARKERS = ("Application startup complete", "Uvicorn running on", "Starting vLLM API server")

# vLLM's logger prints `INFO 11-27 07:31:02` (no year), sometimes after a `(EngineCore pid=1)`
# prefix; `kubectl logs --timestamps` prefixes RFC 3339.
_VLLM_TS = re.compile(
    r"\b(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) (\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\b"
)
_RFC_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))\s")


@dataclass(frozen=True)
class OomLine:
    """One CUDA OOM in a log: in which phase, what it said, and when if the log says."""

    phase: str  # "load" (before the server was ready) or "serving"
    message: str
    at: datetime | None


def line_time(line: str, now: datetime) -> datetime | None:
    """The time a log line carries; vLLM's year-less stamp takes the year that is not future."""
    if m := _RFC_TS.match(line):
        return parse_time(m.group(1))
    if not (m := _VLLM_TS.search(line)):
        return None
    month, day, hour, minute, second = (int(g) for g in m.groups())
    for year in (now.year, now.year - 1):
        try:
            when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            continue
        if when <= now + timedelta(days=1):
            return when
    return None


_LOGGER_PREFIX = re.compile(
    r"^.*?\b(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) \d{2}-\d{2} [\d:]{8} (?:\[[^\]]*\] )?"
)


def message(line: str) -> str:
    """The line without its logger prefix (`ERROR 11-27 07:31:02 [core.py:502] `) or RFC stamp."""
    line = _RFC_TS.sub("", line, count=1)
    return _LOGGER_PREFIX.sub("", line, count=1).strip()


def is_oom(line: str) -> bool:
    lowered = line.lower()
    return any(p in lowered for p in OOM_PATTERNS)


def find_ooms(text: str, now: datetime) -> list[OomLine]:
    """CUDA OOMs of one container instance's log, each tagged load or serving."""
    ready, last_time, out = False, None, []
    for line in text.splitlines():
        last_time = line_time(line, now) or last_time
        if any(marker in line for marker in READY_MARKERS):
            ready = True
        if is_oom(line):
            # A traceback's lines carry no stamp: the OOM happened at the last stamped line.
            out.append(OomLine("serving" if ready else "load", message(line), last_time))
    return out


# ---- container instances and their times ---------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """A container instance whose log was read: the live one or the previous (crashed) one."""

    started: datetime | None
    finished: datetime | None
    reason: str | None  # terminated reason (Error, OOMKilled, Completed), None if running


def _status(pod: Obj, container: str) -> Obj:
    return next((s for s in kube.container_statuses(pod) if s.get("name") == container), {})


def instance(pod: Obj, container: str, previous: bool) -> Instance:
    """Times of the instance a log belongs to. While waiting (CrashLoopBackOff) the log
    kubelet serves is the last terminated run's, so lastState stands in for the current."""
    status = _status(pod, container)
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    if previous and "waiting" in state:
        # The run before the last terminated one: it ended before that one started.
        return Instance(None, parse_time(last.get("startedAt")), None)
    term = last if previous or "waiting" in state else state.get("terminated")
    if term:
        return Instance(
            parse_time(term.get("startedAt")),
            parse_time(term.get("finishedAt")),
            term.get("reason"),
        )
    running = state.get("running") or {}
    return Instance(parse_time(running.get("startedAt")), None, None)


def has_run(pod: Obj) -> bool:
    """A pod that never started a container has no log to miss."""
    return any(
        s.get("restartCount")
        or (s.get("state") or {}).keys() & {"running", "terminated"}
        or s.get("lastState")
        for s in kube.container_statuses(pod)
    )


def ran_since(pod: Obj, container: str, since: datetime) -> bool:
    """Whether the instance the container's current log belongs to ran after `since` (or
    when is unknown): only such a log can hold a recent OOM."""
    status = _status(pod, container)
    started = status.get("restartCount") or status.get("lastState")
    if not (started or (status.get("state") or {}).keys() & {"running", "terminated"}):
        return False  # never started: no log
    ended = instance(pod, container, False).finished
    return ended is None or ended >= since


def previous_expected(pod: Obj, container: str, now: datetime, lookback: timedelta) -> bool:
    """Whether the container ran an instance before the one its current log belongs to that
    ended within the lookback (or at an unknown time): a previous log that should be read."""
    status = _status(pod, container)
    if not (status.get("lastState") or {}).get("terminated"):
        return False
    if "waiting" in (status.get("state") or {}) and not status.get("restartCount"):
        return False  # the current log is the only terminated run's
    ended = instance(pod, container, True).finished
    return ended is None or ended >= now - lookback


@dataclass(frozen=True)
class OomHit:
    namespace: str
    pod: str
    container: str
    previous: bool
    oom: OomLine
    when: datetime | None  # line time, else the instance's end, else its start while running

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.pod}"

    def line(self, now: datetime) -> str:
        which = "previous instance" if self.previous else "current instance"
        when = f", {_ago(now, self.when)}" if self.when else ", time unknown"
        phase = (
            "while loading, before the server was ready"
            if self.oom.phase == "load"
            else ("while serving, after the server was ready")
        )
        return f"{self.ref} ({which}{when}): CUDA OOM {phase}: {clip(self.oom.message, 200)}"


def _ago(now: datetime, when: datetime) -> str:
    minutes = int(max((now - when).total_seconds(), 0) // 60)
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


def oom_hits(logs: Iterable[Obj], pods: Iterable[Obj], now: datetime) -> list[OomHit]:
    """Every CUDA OOM in the logs read, with the best time known for it."""
    by_ref = {(kube.namespace(p), kube.name(p)): p for p in pods}
    out = []
    for entry in logs:
        if not entry.get("text"):
            continue
        pod = by_ref.get((entry.get("namespace"), entry.get("pod")), {})
        inst = instance(pod, str(entry.get("container")), bool(entry.get("previous")))
        for oom in find_ooms(entry["text"], now):
            when = oom.at or inst.finished or inst.started
            out.append(
                OomHit(
                    str(entry["namespace"]),
                    str(entry["pod"]),
                    str(entry["container"]),
                    bool(entry.get("previous")),
                    oom,
                    when,
                )
            )
    return out


def recent(when: datetime | None, now: datetime, lookback: timedelta) -> bool:
    return when is not None and now - lookback <= when <= now + timedelta(minutes=5)


def oom_killed(pods: Iterable[Obj], now: datetime, lookback: timedelta) -> list[tuple[Obj, Obj]]:
    """(pod, terminated record) for containers the kernel OOM-killed within the lookback."""
    out = []
    for pod in pods:
        for term in kube.last_termination(pod):
            if term.get("reason") == "OOMKilled" and recent(
                parse_time(term.get("finishedAt")), now, lookback
            ):
                out.append((pod, term))
    return out
