"""Answer `kubernetes.*` evidence questions from a live cluster with the official client.

Semantics equal `bot.sources.snapshot` (same data shapes), with the questions asked narrowly:
pods on GPU nodes come from one `spec.nodeName=<node>` list per GPU node, pending pods from
`status.phase=Pending`, inference pods from the `kaito.sh/workspace` label; only a playbook
asking `kubernetes.list {resource: pods}` with no selector pages through every pod, as raw JSON.
Any failure becomes `Answer.missing(question, reason)`, never an exception.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from bot import logctx
from bot.model import kube
from bot.model.evidence import Answer, Question
from bot.model.text import parse_time
from bot.sources import calls, kube_paths
from bot.sources.base import ClusterInfo
from bot.sources.kube_config import api_client_from
from bot.sources.kube_http import SOURCE, Caller, CallFailed, clip, parse_json
from bot.sources.kube_paths import RESOURCES, Resource
from bot.sources.listorder import api_order
from bot.sources.snapshot import parse_prometheus

Obj = dict[str, Any]
MAX_PAGES = 10_000  # a continue token that never ends must not loop forever
FORBIDDEN = (401, 403)
# What a proxied GET may answer on the workload's behalf (nothing listening, the server's own
# error): evidence about the pod, not a failure to talk to the API server.
BACKEND_ANSWERS = (404, 500, 502, 503, 504)


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
        page_size: int = 500,
        workers: int = 8,
        share_seconds: float = 2.0,
    ) -> None:
        self.api = api_client
        self.cluster = cluster or ClusterInfo(name="kubernetes")
        self.caller = Caller(timeout=timeout, retries=retries, max_sleep=max_retry_sleep)
        self.page_size, self.workers, self.share_seconds = page_size, workers, share_seconds
        self._lock = threading.Lock()
        self._shared: dict[str, tuple[float, Future[list[Obj]]]] = {}

    @classmethod
    def from_kubeconfig(
        cls, path: str | None = None, context: str | None = None, **options: Any
    ) -> KubeSource:
        """Kubeconfig (path or $KUBECONFIG, optional context); in a pod with neither, in-cluster."""
        api_client, label = api_client_from(path, context)
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

    def list(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        res = RESOURCES.get(resource)
        if res is None:
            raise CallFailed(f"unknown resource {resource!r}: gpubot does not read it")
        if namespace and not res.namespaced:
            return []  # as offline: a cluster-scoped object is in no namespace
        for index, version in enumerate(res.versions):
            try:
                return self._pages(res, version, namespace, label_selector, field_selector)
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
    ) -> list[Obj]:
        items: list[Obj] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            body, _ = self.caller.read(
                lambda timeout, token=token: kube_paths.list_page(
                    self.api,
                    res,
                    version,
                    namespace=namespace,
                    label_selector=labels,
                    field_selector=fields,
                    limit=self.page_size,
                    token=token,
                    timeout=timeout,
                ),
                operation=f"list:{res.plural}",
                answers=(404,) if res.custom else (),  # CRD not installed: none exist
            )
            doc = parse_json(body, f"{res.plural} list")
            if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
                calls.failed(SOURCE, "malformed")
                raise CallFailed(f"the {res.plural} list response has no items array")
            items.extend(kube_paths.typed_items(doc, res, version))
            token = (doc.get("metadata") or {}).get("continue") or None
            if not token:
                return items
        raise CallFailed(f"the {res.plural} list did not end after {MAX_PAGES} pages")

    def _kubernetes_list(self, q: Question) -> list[Obj]:
        return self.list(
            q.param("resource"),
            namespace=q.param("namespace"),
            label_selector=q.param("label_selector"),
            field_selector=q.param("field_selector"),
        )

    # ---- pods by where they run ----------------------------------------------------------

    def forget(self) -> None:
        """Drop shared lists now (e.g. before re-checking after a fix)."""
        with self._lock:
            self._shared.clear()

    def _share(self, key: str, fetch: Callable[[], list[Obj]]) -> list[Obj]:
        """Single flight for the narrow lists several questions of one run need (GPU-node pods
        for pods_on_gpu_nodes, pod_logs and pod_metrics). Kept `share_seconds` only: a run's
        questions start together, and a re-check after a fix must see the cluster afresh."""
        with self._lock:
            held = self._shared.get(key)
            fresh = held is not None and time.monotonic() - held[0] < self.share_seconds
            if not fresh:
                future: Future[list[Obj]] = Future()
                self._shared[key] = (time.monotonic(), future)
        if fresh:
            assert held is not None
            return held[1].result()
        try:
            future.set_result(fetch())
        except BaseException as exc:
            future.set_exception(exc)
            with self._lock:
                self._shared.pop(key, None)
        return future.result()

    def _parallel(self, fn: Callable[[Any], list[Obj]], args: Iterable[Any]) -> list[list[Obj]]:
        args = list(args)
        if len(args) <= 1:
            return [fn(a) for a in args]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [logctx.submit(pool, fn, a) for a in args]  # request id follows
            return [f.result() for f in futures]

    def gpu_node_pods(self) -> list[Obj]:
        def fetch() -> list[Obj]:
            nodes = self._share("nodes", lambda: self.list("nodes"))
            per_node = self._parallel(
                lambda node: self.list("pods", field_selector=f"spec.nodeName={node}"),
                sorted(kube.name(n) for n in kube.gpu_nodes(nodes)),
            )
            return _sorted(p for pods in per_node for p in pods)

        return self._share("gpu-node-pods", fetch)

    def _kubernetes_pods_on_gpu_nodes(self, q: Question) -> list[Obj]:
        return self.gpu_node_pods()

    def target_pods(self, namespace: str | None, label_selector: str | None) -> list[Obj]:
        """Pods whose logs/metrics to read: the selected ones, else the inference pods."""
        if label_selector:
            return _sorted(self.list("pods", namespace=namespace, label_selector=label_selector))
        labelled = self._share(
            f"kaito-pods/{namespace}",
            lambda: self.list("pods", namespace=namespace, label_selector=kube.WORKSPACE_LABEL),
        )
        pending = self._share(
            f"pending-pods/{namespace}",
            lambda: self.list("pods", namespace=namespace, field_selector="status.phase=Pending"),
        )
        on_gpu = [p for p in self.gpu_node_pods() if namespace in (None, kube.namespace(p))]
        unique = {kube.ref(p): p for p in [*labelled, *on_gpu, *pending]}
        return _sorted(kube.inference_pods(unique.values()))

    # ---- logs, metrics, probes -----------------------------------------------------------

    def _kubernetes_pod_logs(self, q: Question) -> list[Obj]:
        wanted = [
            (pod, str(c.get("name")), previous)
            for pod in self.target_pods(q.param("namespace"), q.param("label_selector"))
            for c in kube.containers(pod)
            for previous in (False, True)
        ]
        return [entry for group in self._parallel(self._log, wanted) for entry in group]

    def _log(self, want: tuple[Obj, str, bool]) -> list[Obj]:
        pod, container, previous = want
        ns, name = kube.namespace(pod), kube.name(pod)
        try:
            body, _ = self.caller.read(
                lambda t: kube_paths.pod_log(self.api, ns, name, container, previous, t),
                operation="pod_log",
                # 400: the container has not started, or has no previous instance
                answers=(400, 404) if previous else (400,),
            )
            text: str | None = body.decode("utf-8", errors="replace")
        except CallFailed as exc:
            if exc.status in FORBIDDEN:
                raise
            if previous:
                return []  # "previous terminated container not found": no earlier instance
            text = None  # not started yet, or unreadable: unknown, as a missing .log file
        entry = {"namespace": ns, "pod": name, "container": container, "previous": previous}
        return [{**entry, "text": text}]

    def _kubernetes_pod_metrics(self, q: Question) -> list[Obj]:
        pods = self.target_pods(q.param("namespace"), q.param("label_selector"))
        return [m for group in self._parallel(self._metrics, pods) for m in group]

    def _metrics(self, pod: Obj) -> list[Obj]:
        ns, name, port = kube.namespace(pod), kube.name(pod), kube_paths.metrics_port(pod)
        samples: list[Obj] | None = None
        try:
            body, _ = self.caller.read(
                lambda t: kube_paths.pod_proxy_get(self.api, ns, name, port, "metrics", t),
                operation="pod_metrics",
                retry_503=False,
                answers=BACKEND_ANSWERS,
            )
            samples = parse_prometheus(body.decode("utf-8", errors="replace"))
        except CallFailed as exc:
            if exc.status in FORBIDDEN:
                raise
        except ValueError:
            samples = None  # not Prometheus text: as good as no metrics endpoint
        return [{"namespace": ns, "pod": name, "samples": samples}]

    def _kubernetes_service_probes(self, q: Question) -> list[Obj]:
        path = str(q.param("path", "/v1/models"))
        services = [
            s
            for s in self.list("services", label_selector=kube.WORKSPACE_LABEL)
            if kube_paths.service_port(s) is not None
        ]
        results = self._parallel(lambda s: self._probe(s, path), _sorted(services))
        if services and all(r is None for r in results):
            raise CallFailed(f"every service probe was refused ({len(services)} services)")
        return [r[0] for r in results if r]

    def _probe(self, service: Obj, path: str) -> list[Obj] | None:
        ns, name = kube.namespace(service), kube.name(service)
        port = kube_paths.service_port(service)
        assert port is not None
        out: Obj = {"namespace": ns, "service": name, "path": path}
        try:
            body, elapsed = self.caller.read(
                lambda t: kube_paths.service_proxy_get(self.api, ns, name, port, path, t),
                operation="service_probe",
                retry_503=False,
                answers=BACKEND_ANSWERS,
            )
            out.update(status=200, body=body.decode("utf-8", errors="replace"))
        except CallFailed as exc:
            if exc.status in FORBIDDEN:
                return None  # not allowed to probe it: unknown, like a missing probe file
            if exc.status is None and not exc.timed_out:
                raise  # the API server itself is unreachable
            elapsed = exc.elapsed
            out.update(status=exc.status, body=exc.body if exc.status else exc.reason)
        out["latency_ms"] = round(elapsed * 1000)
        return [out]


def _sorted(objects: Iterable[Obj]) -> list[Obj]:
    """The API's own order (storage key), whatever order the narrow lists came in."""
    return api_order(objects)
