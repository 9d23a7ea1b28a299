"""Reading vLLM's /metrics: KV-cache usage (either metric name) and the request gauges.

Pod metrics come as `{namespace, pod, samples: [{name, labels, value}] | None}`; None samples
mean the pod's /metrics was not captured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

KV_METRICS = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")  # renamed in vLLM 0.9.2
RUNNING, WAITING = "vllm:num_requests_running", "vllm:num_requests_waiting"


@dataclass(frozen=True)
class PodMetrics:
    namespace: str
    pod: str
    read: bool  # the pod's /metrics was captured
    kv: float | None
    kv_metric: str | None
    running: float | None
    waiting: float | None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.pod}"

    def describe(self) -> str:
        if not self.read:
            return f"{self.ref}: /metrics not captured"
        kv = (
            f"KV cache {self.kv:.0%} ({self.kv_metric} {self.kv:g})"
            if self.kv is not None
            else ("no KV-cache metric (neither " + " nor ".join(KV_METRICS) + ")")
        )
        return f"{self.ref}: {kv}, {_n(self.running)} running, {_n(self.waiting)} waiting"


def _n(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _values(samples: list[Obj], name: str) -> list[float]:
    return [
        float(s["value"]) for s in samples if s.get("name") == name and s.get("value") is not None
    ]


def pod_metrics(entry: Obj) -> PodMetrics:
    """KV usage (max over engines, either metric name) and request gauges (summed)."""
    samples = entry.get("samples")
    ns, pod = str(entry.get("namespace")), str(entry.get("pod"))
    if samples is None:
        return PodMetrics(ns, pod, False, None, None, None, None)
    kv, kv_metric = None, None
    for name in KV_METRICS:
        values = _values(samples, name)
        if values and (kv is None or max(values) > kv):
            kv, kv_metric = max(values), name
    running, waiting = _values(samples, RUNNING), _values(samples, WAITING)
    return PodMetrics(
        ns,
        pod,
        True,
        kv,
        kv_metric,
        sum(running) if running else None,
        sum(waiting) if waiting else None,
    )
