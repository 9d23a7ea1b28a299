"""What serves inference (rows 10 and 13): serving pods, the workload that owns them, and the
CronJobs that pre-warm it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.model import kube

Obj = dict[str, Any]

BATCH_OWNERS = ("Job", "CronJob")


def is_serving(pod: Obj) -> bool:
    """Synchronous serving: a KAITO workspace pod, or a GPU pod, that is not a batch Job
    (KAITO tuning workspaces run as Jobs and carry the workspace label too)."""
    if kube.owner_kind(pod) in BATCH_OWNERS:
        return False
    return kube.WORKSPACE_LABEL in kube.labels(pod) or kube.requests_gpu(pod)


def workload_of(pod: Obj) -> str:
    """`statefulset/ws`, `deployment/vllm` (ReplicaSet name minus its pod-template-hash)."""
    kind, name = kube.owner_kind(pod), kube.owner_name(pod) or kube.name(pod)
    template_hash = kube.labels(pod).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "deployment/" + name.removesuffix("-" + template_hash)
    return f"{(kind or 'pod').lower()}/{name}"


def cronjob_command(cronjob: Obj) -> str:
    spec = (
        (((cronjob.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template")
        or {}
    ).get("spec") or {}
    words = []
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        words += [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
    return " ".join(words)


def prewarms_for(ns: str, workload: str, names: Iterable[str], cronjobs: list[Obj]) -> list[Obj]:
    """CronJobs that scale this workload up: the command says `scale` and names the workload
    (its kind/name, bare name or KAITO workspace), or gpubot made it for this namespace."""
    wanted = {n for n in names if n} | {workload, workload.split("/", 1)[-1]}
    out = []
    for cj in cronjobs:
        command = cronjob_command(cj)
        same_ns = (
            kube.namespace(cj) == ns
            or _names(f"-n {ns}", command)
            or _names(f"--namespace={ns}", command)
            or _names(f"--namespace {ns}", command)
        )
        by_command = "scale" in command and same_ns and any(_names(w, command) for w in wanted)
        by_label = kube.labels(cj).get(MANAGED_BY) == "gpubot" and kube.namespace(cj) == ns
        if by_command or by_label:
            out.append(cj)
    return out


MANAGED_BY = "app.kubernetes.io/managed-by"


def _names(name: str, text: str) -> bool:
    """`name` as a whole token: `ws` must not match `ws-v2` or `my-ws`."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", text) is not None
