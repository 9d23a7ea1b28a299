"""vLLM /metrics of the serving pods in scope, and the cap-max-model-len offers, for the KV-cache
rows (6 and 11).

An unreadable ConfigMap, workspace or pod never stands in for vLLM's defaults.
"""

from __future__ import annotations

from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _vllm_config as vconfig
from bot.checks import _vllm_metrics as vmetrics
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


def is_vllm(pod: Obj | None) -> bool:
    """KAITO workspace pods and pods whose image or command names vLLM serve /metrics."""
    if pod is None:
        return True  # pods not readable: judge every metrics entry
    if kube.workspace_of(pod):
        return True
    words = " ".join(
        str(w)
        for c in kube.containers(pod)
        for w in [c.get("image", "")] + (c.get("command") or []) + (c.get("args") or [])
    )
    return "vllm" in words.lower()


def _ready(pod: Obj) -> bool:
    return kube.condition_status(pod, "Ready") == "True"


def serving_metrics(
    ev: evi.Evidence, ctx: CheckContext, *, only_vllm: bool = True
) -> tuple[list[vmetrics.PodMetrics] | None, dict[str, Obj]]:
    """Metrics of the (vLLM) pods in scope, and the pods by ns/name (empty if unreadable).

    None when /metrics could not be read while a vLLM pod may be serving; an empty list
    when /metrics is missing but the pods show nothing Ready to serve.
    """
    pods = {kube.ref(p): p for p in evi.data(ev, "pods") or []}
    if not ev["metrics"].available:
        serving = [
            p
            for p in pods.values()
            if ctx.scope.admits(kube.namespace(p), kube.workspace_of(p))
            and is_vllm(p)
            and _ready(p)
        ]
        return (None if serving or evi.data(ev, "pods") is None else []), pods
    out = []
    for entry in ev["metrics"].data or []:
        pod = pods.get(f"{entry.get('namespace')}/{entry.get('pod')}")
        ws = kube.workspace_of(pod) if pod else None
        wanted = not only_vllm or not pods or is_vllm(pod)
        # A pod that is not Ready serves nothing: no /metrics from it is expected.
        idle = pod is not None and entry.get("samples") is None and not _ready(pod)
        if ctx.scope.admits(entry.get("namespace"), ws) and wanted and not idle:
            out.append(vmetrics.pod_metrics(entry))
    return out, pods


def no_metrics(ev: evi.Evidence) -> StepResult:
    return StepResult.inconclusive(f"{evi.why_unread(ev, 'metrics')} while a vLLM pod is Ready")


def cap_offers(
    pinned: list[vmetrics.PodMetrics], pods: dict[str, Obj], ev: evi.Evidence
) -> tuple[list[Obj], list[str]]:
    """cap-max-model-len offers (one per ConfigMap) for the pods whose KV cache is pinned."""
    offers: dict[str, Obj] = {}
    lines: dict[str, str] = {}
    for pm in pinned:
        cfg = vconfig.workspace_config(
            pods.get(pm.ref) or {}, evi.data(ev, "workspaces"), evi.data(ev, "configmaps")
        )
        key = f"{cfg.namespace}/{cfg.configmap or cfg.workspace}" if cfg else None
        if cfg is None or key in lines:
            continue
        if cfg.configmap and (gap := evi.gap(ev, "configmaps")):
            lines[key] = f"ConfigMap {key} not read ({gap}): no cap offered"
            continue
        params, lines[key] = vconfig.cap_offer(cfg)
        if params:
            offers[key] = params
    return list(offers.values()), list(lines.values())
