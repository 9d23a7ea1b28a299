"""The per-pod and per-service reads behind `kubernetes.pod_logs`, `pod_metrics` and
`service_probes`: one call each, run through the source's bounded fan-out.

A 403 on a log or /metrics read means the whole question is unknown (RBAC), so it fails the
answer; a pod that simply has no log yet, no earlier instance or no metrics endpoint gives an
entry saying so, as a missing snapshot file would.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.model import kube
from bot.sources import kube_paths
from bot.sources.formats import parse_prometheus
from bot.sources.kube_fanout import FanOut
from bot.sources.kube_http import CallFailed

Obj = dict[str, Any]
FORBIDDEN = (401, 403)
# What a proxied GET may answer on the workload's behalf (nothing listening, the server's own
# error): evidence about the pod, not a failure to talk to the API server.
BACKEND_ANSWERS = (404, 500, 502, 503, 504)


class Reader(Protocol):
    api: Any
    fanout: FanOut

    def read(self, call: Any, **options: Any) -> tuple[bytes, float]: ...


def may_have_previous(pod: Obj, container: str) -> bool:
    """A previous instance exists only after a restart (and never on a pod no node has run);
    asking for one otherwise costs a call the API server answers 400 "previous terminated
    container not found". A scheduled pod with no status for the container: ask."""
    if not kube.node_name(pod):
        return False
    for status in kube.container_statuses(pod):
        if status.get("name") == container:
            return bool(status.get("restartCount") or status.get("lastState"))
    return True


def pod_logs(src: Reader, pods: list[Obj]) -> list[Obj]:
    wanted = [
        (pod, str(c.get("name")), previous)
        for pod in pods
        for c in kube.containers(pod)
        for previous in (False, True)
        if not previous or may_have_previous(pod, str(c.get("name")))
    ]
    return [entry for group in src.fanout.map(lambda w: _log(src, *w), wanted) for entry in group]


def _log(src: Reader, pod: Obj, container: str, previous: bool) -> list[Obj]:
    ns, name = kube.namespace(pod), kube.name(pod)
    try:
        body, _ = src.read(
            lambda t: kube_paths.pod_log(src.api, ns, name, container, previous, t),
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


def pod_metrics(src: Reader, pods: list[Obj]) -> list[Obj]:
    return src.fanout.map(lambda pod: _metrics(src, pod), pods)


def _metrics(src: Reader, pod: Obj) -> Obj:
    ns, name, port = kube.namespace(pod), kube.name(pod), kube_paths.metrics_port(pod)
    samples: list[Obj] | None = None
    try:
        body, _ = src.read(
            lambda t: kube_paths.pod_proxy_get(src.api, ns, name, port, "metrics", t),
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
    return {"namespace": ns, "pod": name, "samples": samples}


def service_probes(src: Reader, services: list[Obj], path: str) -> list[Obj]:
    probed = [s for s in services if kube_paths.service_port(s) is not None]
    results = src.fanout.map(lambda s: _probe(src, s, path), probed)
    if probed and all(r is None for r in results):
        raise CallFailed(f"every service probe was refused ({len(probed)} services)")
    return [r for r in results if r is not None]


def _probe(src: Reader, service: Obj, path: str) -> Obj | None:
    ns, name = kube.namespace(service), kube.name(service)
    port = kube_paths.service_port(service)
    assert port is not None
    out: Obj = {"namespace": ns, "service": name, "path": path}
    try:
        body, elapsed = src.read(
            lambda t: kube_paths.service_proxy_get(src.api, ns, name, port, path, t),
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
    return out
