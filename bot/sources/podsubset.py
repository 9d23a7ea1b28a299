"""The `subset: gpu` of a pod list: every pod that can bear on a GPU diagnosis.

At 150,000 pods a cluster-wide pod list decodes to about 1.3 GB of Python objects, nearly all
of it healthy web pods that no GPU row reads (bench/README.md). A playbook that asks
`kubernetes.list {resource: pods, subset: gpu}` gets the list with those pods left out; the
live source drops them page by page as it decodes, the snapshot source the same way, so both
answer the same list.

A pod is left out only when every one of these holds (each is something no check reads a
pod for, see `tests/test_pod_subset.py` for the audit and the equivalence test):

- phase Running, no deletionTimestamp, no status reason or message, only the usual
  conditions (PodScheduled, Initialized, ContainersReady, Ready, PodReadyToStartContainers),
  every one True;
- every container status running, ready, restartCount 0, no lastState; init containers
  terminated Completed with exit code 0 (or running and ready);
- bound to a listed node that is Ready, untainted, not Spot and not a GPU node;
- no GPU or MIG request, and none of the GPU words below in its name, labels, annotation
  keys, node selector, affinity or tolerations, or its containers' images, commands, args or
  resource names (a blanket `operator: Exists` toleration, as kube-proxy's, is no GPU sign:
  no check reads a running pod's tolerations but the NoExecute row, covered next);
- not named by a TaintManagerEviction event, nor a sibling (same controller name stem) of a
  pod that is: the NoExecute row reads the replacement's tolerations.

When the nodes or those events are unknown every pod is kept. One thing the subset cannot know: a
Log Analytics row names a pod by name only, so in a run scoped to a namespace a GPU-error
row of a left-out pod is read as a pod of unknown namespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.model import kube

Obj = dict[str, Any]
GPU_WORDS = ("nvidia", "gpu", "cuda", "vllm", "kaito")
USUAL_CONDITIONS = {
    "PodScheduled",
    "Initialized",
    "ContainersReady",
    "Ready",
    "PodReadyToStartContainers",
}
EVICTION_REASON = "TaintManagerEviction"
EVICTION_EVENTS = f"reason={EVICTION_REASON}"  # the field selector for the events it reads
_MARKED = re.compile(r"(?:Marking for deletion|Cancelling deletion of) Pod (\S+)/(\S+)")


@dataclass(frozen=True)
class Facts:
    """What the subset is judged against: the plain nodes (empty when nodes are unknown) and
    the pods TaintManagerEviction events name, with their controller name stems."""

    plain: frozenset[str]
    evicted: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def of(cls, nodes: Iterable[Obj] | None, events: Iterable[Obj] | None) -> Facts:
        """Unknown nodes or events (None): no node counts as plain, so every pod is kept."""
        if nodes is None or events is None:
            return cls(frozenset())
        plain = frozenset(kube.name(n) for n in nodes if _plain_node(n))
        named = set()
        for e in events:
            if e.get("reason") != EVICTION_REASON:
                continue
            obj = kube.involved(e)
            named.add((str(obj.get("namespace") or kube.namespace(e)), str(obj.get("name"))))
            named.update(_MARKED.findall(kube.event_message(e)))
        return cls(plain, frozenset((ns, _stem(name)) for ns, name in named))


def _stem(name: str) -> str:
    return name.rsplit("-", 1)[0]


def _plain_node(node: Obj) -> bool:
    return (
        kube.is_ready(node)
        and not kube.taints(node)
        and not kube.is_spot(node)
        and not kube.is_gpu_node(node)
    )


def keeps(pod: Obj, facts: Facts) -> bool:
    """True unless the pod is plainly healthy CPU workload on a plain node (see above)."""
    return not (
        kube.node_name(pod) in facts.plain
        and (kube.namespace(pod), _stem(kube.name(pod))) not in facts.evicted
        and _healthy(pod)
        and not kube.gpu_request(pod)
        and not _gpu_words(pod)
    )


def _healthy(pod: Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or status.get("reason") or status.get("message"):
        return False
    if kube.meta(pod).get("deletionTimestamp"):
        return False
    for cond in status.get("conditions") or []:
        if cond.get("status") != "True" or cond.get("type") not in USUAL_CONDITIONS:
            return False
    if not all(_running(s) for s in status.get("containerStatuses") or [None]):
        return False
    if status.get("ephemeralContainerStatuses"):
        return False
    return all(_initialized(s) for s in status.get("initContainerStatuses") or [])


def _running(status: Obj | None) -> bool:
    if status is None:
        return False  # a Running pod with no container status: not plainly healthy
    return (
        status.get("ready") is True
        and not status.get("restartCount")
        and not status.get("lastState")
        and set(status.get("state") or {}) == {"running"}
    )


def _initialized(status: Obj) -> bool:
    if _running(status):
        return True
    done = (status.get("state") or {}).get("terminated") or {}
    return (
        not status.get("restartCount")
        and not status.get("lastState")
        and set(status.get("state") or {}) == {"terminated"}
        and done.get("reason") == "Completed"
        and done.get("exitCode") == 0
    )


def _gpu_words(pod: Obj) -> bool:
    meta = kube.meta(pod)
    parts = [str(meta.get("name", ""))]
    for key, value in (meta.get("labels") or {}).items():
        parts += [str(key), str(value)]
    parts += [str(k) for k in meta.get("annotations") or {}]
    spec = pod.get("spec") or {}
    parts += [f"{k}={v}" for k, v in (spec.get("nodeSelector") or {}).items()]
    parts.append(str(spec.get("affinity") or ""))
    for tol in spec.get("tolerations") or []:
        parts += [str(tol.get("key") or ""), str(tol.get("value") or "")]
    for c in kube.containers(pod, init=True):
        parts.append(str(c.get("image", "")))
        parts += [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
        for section in (c.get("resources") or {}).values():
            parts += [str(k) for k in section or {}]
    text = " ".join(parts).lower()
    return any(word in text for word in GPU_WORDS)


def subset(pods: Iterable[Obj], facts: Facts) -> list[Obj]:
    return [p for p in pods if keeps(p, facts)]
