"""Answer `kubernetes.*` evidence questions from a live cluster with the official client.

Semantics equal `bot.sources.snapshot` (same data shapes), with the questions asked narrowly:
pods on GPU nodes come from one `spec.nodeName=<node>` list per GPU node, pending pods from
`status.phase=Pending`, inference pods from the `kaito.sh/workspace` label; only a playbook
asking `kubernetes.list {resource: pods}` with no selector pages through every pod, as raw JSON,
and with `subset: gpu` keeps only the pods a GPU check can read (bot/sources/podsubset.py),
page by page (kube_pages), so 150,000 pods never sit in memory at once.

Lists several questions need are fetched once (kube_share); per-pod and per-service reads are
bounded per source (kube_fanout). Any failure becomes `Answer.missing(question, reason)`, never
an exception.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from bot.model import kube
from bot.model.evidence import Answer, Question
from bot.model.text import parse_time
from bot.sources import kube_pages, kube_reads, podsubset
from bot.sources.base import ClusterInfo
from bot.sources.kube_config import api_client_from
from bot.sources.kube_fanout import IN_FLIGHT, FanOut
from bot.sources.kube_http import Caller, CallFailed, clip
from bot.sources.kube_pages import PAGE_SIZE, Keep
from bot.sources.kube_paths import RESOURCES, Resource
from bot.sources.kube_share import SharedLists
from bot.sources.listorder import api_order

Obj = dict[str, Any]


class KubeSource:
    kind = "live"

    def __init__(
        self,
        api_client: Any,
        *,
        cluster: ClusterInfo | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        max_retry_sleep: float = 5.0,
        page_size: int = PAGE_SIZE,
        in_flight: int = IN_FLIGHT,
        share_seconds: float = 2.0,
    ) -> None:
        self.api = api_client
        self.cluster = cluster or ClusterInfo(name="kubernetes")
        self.caller = Caller(timeout=timeout, retries=retries, max_sleep=max_retry_sleep)
        self.page_size = page_size
        self.fanout = FanOut(in_flight)
        self.shared = SharedLists(share_seconds)
        self.generation = 0

    @classmethod
    def from_kubeconfig(
        cls, path: str | None = None, context: str | None = None, **options: Any
    ) -> KubeSource:
        """Kubeconfig (path or $KUBECONFIG, optional context); in a pod with neither, in-cluster."""
        api_client, label = api_client_from(
            path, context, pool_size=options.get("in_flight", IN_FLIGHT)
        )
        options.setdefault("cluster", ClusterInfo(name=label))
        return cls(api_client, **options)

    def now(self) -> datetime:
        return parse_time(os.environ.get("GPUBOT_NOW")) or datetime.now(UTC)

    def answer(self, question: Question) -> Answer:
        handler = getattr(self, "_" + question.kind.replace(".", "_"), None)
        if handler is None:
            return Answer.missing(question, f"{question.kind} is not a Kubernetes question")
        try:
            return Answer(question, handler(question))
        except CallFailed as exc:
            return Answer.missing(question, exc.reason)
        except Exception as exc:  # a client quirk must cost one answer, not the diagnosis
            return Answer.missing(question, clip(f"{type(exc).__name__}: {exc}"))

    # ---- lists ---------------------------------------------------------------------------

    def read(self, call: Callable[[Any], Any], **options: Any) -> tuple[bytes, float]:
        """One API call (`Caller.read` options), holding one of the source's in-flight slots."""
        with self.fanout.slot():
            return self.caller.read(call, **options)

    def shared_list(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        subset: str | None = None,
    ) -> list[Obj]:
        """`list`, fetched once for every question of a run that needs it (the nodes for
        both `kubernetes.list nodes` and the GPU-node pods, pending pods for both the
        question and the pods whose logs to read)."""
        key = (resource, namespace, label_selector, field_selector, subset)
        if subset is not None:
            return self.shared.get(  # type: ignore[no-any-return]
                key, lambda: self._subset(namespace, label_selector, field_selector)
            )
        return self.shared.get(  # type: ignore[no-any-return]
            key,
            lambda: self.list(
                resource,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
            ),
        )

    def _subset(self, namespace: str | None, labels: str | None, fields: str | None) -> list[Obj]:
        """Pods with `subset: gpu`. The nodes and the TaintManagerEviction events it is judged
        against are fetched alongside the first page, and each page keeps only the pods that
        can matter, so the whole list never sits in memory."""
        nodes = self.shared.start(("nodes", None, None, None, None), lambda: self.list("nodes"))
        evictions = self.shared.start(
            ("events", None, None, podsubset.EVICTION_EVENTS, None),
            lambda: self.list("events", field_selector=podsubset.EVICTION_EVENTS),
        )
        facts: list[podsubset.Facts] = []

        def keep(pod: Obj) -> bool:
            if not facts:
                facts.append(podsubset.Facts.of(_result_or_none(nodes), _result_or_none(evictions)))
            return podsubset.keeps(pod, facts[0])

        return self.list(
            "pods", namespace=namespace, label_selector=labels, field_selector=fields, keep=keep
        )

    def list(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        keep: Keep | None = None,
    ) -> list[Obj]:
        res = RESOURCES.get(resource)
        if res is None:
            raise CallFailed(f"unknown resource {resource!r}: gpubot does not read it")
        if namespace and not res.namespaced:
            return []  # as offline: a cluster-scoped object is in no namespace
        for index, version in enumerate(res.versions):
            try:
                return self._pages(res, version, namespace, label_selector, field_selector, keep)
            except CallFailed as exc:
                if exc.status != 404 or not res.custom:
                    raise
                if index + 1 == len(res.versions):
                    return []  # CRD not installed: none of these objects exist (DESIGN.md)
        return []

    def _pages(
        self,
        res: Resource,
        version: str,
        namespace: str | None,
        labels: str | None,
        fields: str | None,
        keep: Keep | None = None,
    ) -> list[Obj]:
        return kube_pages.read_all(
            self.read,
            self.api,
            res,
            version,
            namespace=namespace,
            labels=labels,
            fields=fields,
            page_size=self.page_size,
            keep=keep,
        )

    def _kubernetes_list(self, q: Question) -> list[Obj]:
        return self.shared_list(
            q.param("resource"),
            namespace=q.param("namespace"),
            label_selector=q.param("label_selector"),
            field_selector=q.param("field_selector"),
            subset=q.param("subset"),
        )

    # ---- pods by where they run ----------------------------------------------------------

    def forget(self) -> None:
        """Drop shared lists now (e.g. before re-checking after a fix). `generation` counts
        these, so layers above that share answers (bot/engine/evidence.py) drop theirs too."""
        self.shared.forget()
        self.generation += 1

    def gpu_node_pods(self) -> list[Obj]:
        def fetch() -> list[Obj]:
            nodes = self.shared_list("nodes")
            per_node = self.fanout.map(
                lambda node: self.list("pods", field_selector=f"spec.nodeName={node}"),
                sorted(kube.name(n) for n in kube.gpu_nodes(nodes)),
            )
            return _sorted(p for pods in per_node for p in pods)

        return self.shared.get("gpu-node-pods", fetch)  # type: ignore[no-any-return]

    def _kubernetes_pods_on_gpu_nodes(self, q: Question) -> list[Obj]:
        return self.gpu_node_pods()

    def target_pods(self, namespace: str | None, label_selector: str | None) -> list[Obj]:
        """Pods whose logs/metrics to read: the selected ones, else the inference pods."""
        if label_selector:
            return _sorted(self.list("pods", namespace=namespace, label_selector=label_selector))
        labelled = self.shared_list(
            "pods", namespace=namespace, label_selector=kube.WORKSPACE_LABEL
        )
        pending = self.shared_list(
            "pods", namespace=namespace, field_selector="status.phase=Pending"
        )
        on_gpu = [p for p in self.gpu_node_pods() if namespace in (None, kube.namespace(p))]
        unique = {kube.ref(p): p for p in [*labelled, *on_gpu, *pending]}
        return _sorted(kube.inference_pods(unique.values()))

    # ---- logs, metrics, probes -----------------------------------------------------------

    def _kubernetes_pod_logs(self, q: Question) -> list[Obj]:
        pods = self.target_pods(q.param("namespace"), q.param("label_selector"))
        return kube_reads.pod_logs(self, pods)

    def _kubernetes_pod_metrics(self, q: Question) -> list[Obj]:
        pods = self.target_pods(q.param("namespace"), q.param("label_selector"))
        return kube_reads.pod_metrics(self, pods)

    def _kubernetes_service_probes(self, q: Question) -> list[Obj]:
        services = self.shared_list("services", label_selector=kube.WORKSPACE_LABEL)
        return kube_reads.service_probes(
            self, _sorted(services), str(q.param("path", "/v1/models"))
        )


def _result_or_none(future: Future[list[Obj]]) -> list[Obj] | None:
    """The shared list, or None when it failed (the subset then keeps every pod)."""
    try:
        return future.result()
    except Exception:
        return None


def _sorted(objects: Iterable[Obj]) -> list[Obj]:
    """The API's own order (storage key), whatever order the narrow lists came in."""
    return api_order(objects)
