"""Pods the taint manager evicted (a NoExecute taint), and the kubelet's look-alike evictions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, duration

Obj = dict[str, Any]

_MARK = re.compile(r"Marking for deletion Pod (\S+)/(\S+)")
_CANCEL = re.compile(r"Cancelling deletion of Pod (\S+)/(\S+)")


@dataclass(frozen=True)
class Eviction:
    namespace: str
    name: str
    when: datetime
    how: str  # what was read: the event, or the pod's DisruptionTarget condition
    node: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def _event_pod(event: Obj, pattern: re.Pattern[str]) -> tuple[str, str] | None:
    match = pattern.search(kube.event_message(event))
    if match:
        return match.group(1), match.group(2)
    obj = kube.involved(event)
    if (
        obj.get("kind") == "Pod"
        and pattern is _MARK
        and "evict" in kube.event_message(event).lower()
    ):
        return str(obj.get("namespace", "")), str(obj.get("name", ""))
    return None


def _condition_evictions(
    pods: list[Obj], window: datetime, now: datetime
) -> dict[tuple[str, str], Eviction]:
    """Pods still terminating with DisruptionTarget reason DeletionByTaintManager."""
    out = {}
    for pod in pods:
        cond = kube.condition(pod, "DisruptionTarget") or {}
        when = kube.parse_time(cond.get("lastTransitionTime"))
        if cond.get("reason") == "DeletionByTaintManager" and when and window <= when <= now:
            how = f"DisruptionTarget DeletionByTaintManager: '{clip(str(cond.get('message', '')))}'"
            key = (kube.namespace(pod), kube.name(pod))
            out[key] = Eviction(*key, when, how, kube.node_name(pod))
    return out


def taint_evictions(events: list[Obj], pods: list[Obj], ctx: CheckContext) -> list[Eviction]:
    """Pods the taint manager deleted within the lookback, minus deletions it cancelled.

    Read from `TaintManagerEviction` events ("Marking for deletion Pod ns/name") and from
    pods still terminating with condition DisruptionTarget reason DeletionByTaintManager.
    """
    window = ctx.now - ctx.thresholds.lookback
    marked: dict[tuple[str, str], Eviction] = {}
    cancelled: dict[tuple[str, str], datetime] = {}
    by_uid = {str(kube.meta(p).get("uid")): p for p in pods}
    for event in kube.recent_events(events, ctx.now, window, reasons=("TaintManagerEviction",)):
        when = kube.event_time(event) or ctx.now
        if (key := _event_pod(event, _CANCEL)) is not None:
            cancelled[key] = max(when, cancelled.get(key, when))
        elif (key := _event_pod(event, _MARK)) is not None:
            pod = by_uid.get(str(kube.involved(event).get("uid")))
            node = kube.node_name(pod) if pod else None
            marked[key] = Eviction(
                *key, when, f"{event.get('reason')}: '{clip(kube.event_message(event))}'", node
            )
    for key, eviction in _condition_evictions(pods, window, ctx.now).items():
        marked.setdefault(key, eviction)
    return [
        e
        for key, e in sorted(marked.items())
        if ctx.scope.admits(e.namespace) and not (key in cancelled and cancelled[key] >= e.when)
    ]


def kubelet_evictions(events: list[Obj], pods: list[Obj], ctx: CheckContext) -> list[str]:
    """Node-pressure evictions by the kubelet in the lookback: a taint eviction's look-alike."""
    window = ctx.now - ctx.thresholds.lookback
    out = {}
    for event in kube.recent_events(events, ctx.now, window, reasons=("Evicted",)):
        obj = kube.involved(event)
        when = kube.event_time(event) or ctx.now
        out[f"{obj.get('namespace')}/{obj.get('name')}"] = (when, kube.event_message(event))
    for pod in pods:
        if (pod.get("status") or {}).get("reason") == "Evicted" and kube.ref(pod) not in out:
            cond = kube.condition(pod, "DisruptionTarget") or {}
            when = kube.parse_time(cond.get("lastTransitionTime"))
            if when is not None and window <= when <= ctx.now:
                out[kube.ref(pod)] = (when, str((pod.get("status") or {}).get("message", "")))
    return [
        f"{ref} was evicted by the kubelet {duration(ctx.now - when)} ago, not by a taint: "
        f"'{clip(msg, 120)}'"
        for ref, (when, msg) in sorted(out.items())
    ]
