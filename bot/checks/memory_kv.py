"""Rows 6 and 11: the KV cache pinned near full (the cause of OOM under load), and throughput
flat because requests queue on a full KV cache rather than on vLLM's batch limit.
"""

from __future__ import annotations

from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _kv as kv
from bot.checks import _oom as oom
from bot.checks import _unserved as unserved
from bot.checks import _vllm_config as vconfig
from bot.checks import _vllm_metrics as vmetrics
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import names, plural
from bot.model.verdicts import StepResult

Obj = dict[str, Any]
LIST = "kubernetes.list"


KV_INPUTS = {
    "metrics": "kubernetes.pod_metrics",
    "pods": LIST,
    "logs": "kubernetes.pod_logs",
    "workspaces": LIST,
    "configmaps": LIST,
}


@check(
    "memory.kv_cache_pinned",
    inputs=KV_INPUTS,
    optional=("metrics", "pods", "logs", "workspaces", "configmaps"),
)
def kv_cache_pinned(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """vLLM's KV-cache usage (either metric name) is at or above the threshold now."""
    metrics, pods = kv.serving_metrics(ev, ctx)
    if metrics is None:
        return kv.no_metrics(ev)
    every = {m.ref: m for m in kv.serving_metrics(ev, ctx, only_vllm=False)[0] or []}
    thr = ctx.thresholds.kv_cache_ratio
    c = oom.culprits(ev, ctx, "serving")
    # The pods that OOMed while serving are the ones that matter; with none, every vLLM pod.
    if c.certain:
        judged = [m for ref, m in every.items() if ref in c.known]
        if c.known and not judged:
            return StepResult.inconclusive(f"no /metrics for {names(sorted(c.known))}, which OOMed")
        judged = judged or metrics
    else:
        # Which pods OOMed is not fully known: an OOM placed while serving still picks its pod;
        # otherwise any pod that may have OOMed unseen could be the one.
        possible = c.placed or c.possible()
        judged = [m for ref, m in every.items() if possible is None or ref in possible]
        if not c.placed:
            judged += [m for m in metrics if m not in judged]
    pinned = [m for m in judged if m.kv is not None and m.kv >= thr]
    if pinned:
        caps, cfg_lines = kv.cap_offers(pinned, pods, ev)
        top = max(pinned, key=lambda m: m.kv or 0)
        return StepResult.confirmed(
            *[f"{m.describe()}: at or above {thr:.0%}" for m in pinned[:3]],
            *cfg_lines,
            kv_pct=round((top.kv or 0) * 100),
            kv_metric=top.kv_metric,
            kv_pods=[m.ref for m in pinned],
            caps=caps,
        )
    if not c.certain:
        # Ruled out only if every pod that may have OOMed, and (when no OOM is known, so the
        # full evidence may judge every vLLM pod) every vLLM pod, reads below the threshold.
        possible = c.possible()
        if possible is None:
            return StepResult.inconclusive(
                *c.gaps, "which pods OOMed is unknown", *[m.describe() for m in judged[:2]]
            )
        unread = sorted(r for r in possible if r not in every)
        judged = [every[r] for r in sorted(possible) if r in every]
        judged += [m for m in metrics if not c.known and m.ref not in possible]
        if unread:
            return StepResult.inconclusive(
                *c.gaps,
                f"no /metrics for {names(unread)}, which may have OOMed",
                *[m.describe() for m in judged[:2]],
            )
    unknown = [m for m in judged if m.kv is None]
    if unknown or not judged:
        lines = [m.describe() for m in unknown[:3]] or ["no vLLM pod's /metrics to read"]
        known = [m.describe() for m in judged if m.kv is not None]
        return StepResult.inconclusive(*lines, *known[:2], *c.gaps)
    return StepResult.ruled_out(*[f"{m.describe()}: below {thr:.0%}" for m in judged[:3]])


def _replicas(ev: evi.Evidence, refs: list[str]) -> list[str]:
    """`StatefulSet default/ws: 3/3 ready` for the KAITO workloads of the queueing pods."""
    workloads = [("StatefulSet", w) for w in evi.data(ev, "statefulsets") or []]
    workloads += [("Deployment", w) for w in evi.data(ev, "deployments") or []]
    out = []
    for kind, w in workloads:
        ws = kube.labels(w).get(kube.WORKSPACE_LABEL) or kube.name(w)
        if any(ref.startswith(f"{kube.namespace(w)}/{ws}") for ref in refs):
            ready = (w.get("status") or {}).get("readyReplicas", 0)
            wanted = (w.get("spec") or {}).get("replicas", 1)
            out.append(f"{kind} {kube.ref(w)}: {ready}/{wanted} replicas ready")
    return out


@check(
    "memory.requests_queueing",
    inputs={
        "metrics": "kubernetes.pod_metrics",
        "pods": LIST,
        "statefulsets": LIST,
        "deployments": LIST,
        "workspaces": LIST,
    },
    optional=("metrics", "pods", "statefulsets", "deployments", "workspaces"),
)
def requests_queueing(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """Requests are waiting (vllm:num_requests_waiting > 0) on the serving pods."""
    metrics, _ = kv.serving_metrics(ev, ctx)
    if metrics is None:
        return kv.no_metrics(ev)
    queueing = [m for m in metrics if (m.waiting or 0) > 0]
    if queueing:
        replicas = _replicas(ev, [m.ref for m in queueing])
        return StepResult.confirmed(
            *[m.describe() for m in queueing[:4]],
            *replicas,
            waiting=int(sum(m.waiting or 0 for m in queueing)),
            queueing_pods=[m.ref for m in queueing],
            replicas=replicas,
        )
    unknown = [m for m in metrics if m.waiting is None]
    if unknown:
        return StepResult.inconclusive(*[m.describe() for m in unknown[:3]])
    if not metrics:
        return _nothing_serving(ev, ctx)
    return StepResult.ruled_out(
        f"no request waiting on {plural(len(metrics), 'vLLM pod')}: "
        + "; ".join(m.describe() for m in metrics[:3])
    )


def _nothing_serving(ev: evi.Evidence, ctx: CheckContext) -> StepResult:
    """No vLLM pod serves: nothing queues only if nothing wants to serve. A workload still
    rolling out (say, just after cap-max-model-len evicted its pods) may queue once it serves."""
    wanted = unserved.unserved(ev, ctx)
    if wanted.lines:
        return StepResult.inconclusive(*wanted.lines[:4])
    if wanted.gaps:
        return StepResult.inconclusive(
            "no vLLM pod is serving, but whether a workload wants to is unknown", *wanted.gaps
        )
    return StepResult.ruled_out("no vLLM pod is serving and none is wanted, so nothing is queueing")


def _max_num_seqs(pod: Obj | None, ev: evi.Evidence) -> tuple[int | None, str]:
    """vLLM's batch limit for the pod: the inference config, its args, else vLLM's default.

    None (and why) when the pod, its workspace or its ConfigMap could not be read: the
    default only stands in when what was read sets no limit.
    """
    if pod is None:
        return None, f"max-num-seqs unknown ({evi.gap(ev, 'pods') or 'the pod is not in the list'})"
    workspaces, configmaps = evi.data(ev, "workspaces"), evi.data(ev, "configmaps")
    if kube.workspace_of(pod) and workspaces is None and (gap := evi.gap(ev, "workspaces")):
        return None, f"max-num-seqs unknown ({gap})"
    cfg = vconfig.workspace_config(pod, workspaces, configmaps)
    if cfg is not None and cfg.configmap and configmaps is None:
        gap = evi.gap(ev, "configmaps") or "ConfigMaps not read"
        return None, f"max-num-seqs unknown (ConfigMap {cfg.namespace}/{cfg.configmap}: {gap})"
    if cfg is not None and (limit := vconfig.config_int(cfg.section, "max-num-seqs")) is not None:
        return limit, f"max-num-seqs {limit} (ConfigMap {cfg.namespace}/{cfg.configmap})"
    if (limit := vconfig.arg_int(pod, "--max-num-seqs")) is not None:
        return limit, f"--max-num-seqs={limit}"
    return (
        vconfig.DEFAULT_MAX_NUM_SEQS,
        f"max-num-seqs {vconfig.DEFAULT_MAX_NUM_SEQS} (vLLM default)",
    )


def _kv_judgement(
    m: vmetrics.PodMetrics, pod: Obj | None, ev: evi.Evidence, thr: float
) -> tuple[bool | None, str]:
    """(KV-bound?, why) for one pod; None when its metrics or its batch limit do not say."""
    if m.kv is None or m.running is None:
        return None, m.describe()
    if m.kv < thr:
        return False, f"{m.describe()}: KV cache below {thr:.0%}, not KV-bound"
    limit, why = _max_num_seqs(pod, ev)
    if limit is None:
        return None, f"{m.describe()}: KV cache full, but {why}: KV- or sequence-bound?"
    if m.running >= limit:
        return False, f"{m.describe()}: batch full at {why}: sequence-bound, not KV-bound"
    return True, f"{m.describe()}: KV cache full while {m.running:g} running < {why}: KV-bound"


@check(
    "memory.kv_bound",
    inputs={
        "metrics": "kubernetes.pod_metrics",
        "pods": LIST,
        "workspaces": LIST,
        "configmaps": LIST,
    },
    optional=("metrics", "pods", "workspaces", "configmaps"),
)
def kv_bound(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """KV cache at or above the threshold while running requests stay below max-num-seqs."""
    metrics, pods = kv.serving_metrics(ev, ctx)
    if metrics is None:
        return kv.no_metrics(ev)
    # The queueing pods are the ones whose throughput is flat; with none, every vLLM pod.
    judged = [m for m in metrics if (m.waiting or 0) > 0] or metrics
    thr = ctx.thresholds.kv_cache_ratio
    verdicts = [(m, *_kv_judgement(m, pods.get(m.ref), ev, thr)) for m in judged]
    bound = [(m, line) for m, is_bound, line in verdicts if is_bound]
    if bound:
        caps, cfg_lines = kv.cap_offers([m for m, _ in bound], pods, ev)
        top = max((m for m, _ in bound), key=lambda m: m.kv or 0)
        return StepResult.confirmed(
            *[line for _, line in bound[:3]],
            *cfg_lines,
            kv_pct=round((top.kv or 0) * 100),
            running=int(top.running or 0),
            kv_pods=[m.ref for m, _ in bound],
            caps=caps,
        )
    unknown = [line for _, is_bound, line in verdicts if is_bound is None]
    known = [line for _, is_bound, line in verdicts if is_bound is False]
    if unknown or not judged:
        return StepResult.inconclusive(
            *(unknown[:3] or ["no vLLM pod's /metrics to read"]), *known[:2]
        )
    return StepResult.ruled_out(*known[:3])
