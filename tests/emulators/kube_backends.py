"""What the emulated API server answers for pod logs and the pod/service proxies, from the
snapshot's `logs/`, `metrics/` and `probes/` folders.

A folder the snapshot lacks is "not known": 403, as an RBAC refusal of `pods/log`,
`pods/proxy` or `services/proxy` would be. Inside a present folder, a missing file gets what
a real cluster says for that case: a container that has not started, no previous instance,
a pod whose metrics port refuses connections.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.sources.kube_paths import RESOURCES
from tests.emulators.kube_status import ApiError, forbidden
from tests.emulators.kube_store import KubeStore


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    delay: float = 0.0  # seconds the backend takes (probe latency)
    # status 0: the backend never answers; the server drops the connection after `delay`


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def pod_log(store: KubeStore, ns: str, name: str, query: dict[str, str]) -> Reply:
    pod = store.find(RESOURCES["pods"], ns, name)
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = query.get("container") or (names[0] if len(names) == 1 else None)
    if container is None:
        raise ApiError(
            400,
            "BadRequest",
            f"a container name must be specified for pod {name}, "
            f"choose one of: [{' '.join(map(str, names))}]",
        )
    if container not in names:
        raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
    if not store.has("logs"):
        raise forbidden("get", "pods/log", ns)
    previous = _truthy(query.get("previous"))
    suffix = ".previous.log" if previous else ".log"
    path = store.root / "kubernetes" / "logs" / ns / name / f"{container}{suffix}"
    if not path.is_file():
        if previous:
            raise ApiError(
                400,
                "BadRequest",
                f'previous terminated container "{container}" in pod "{name}" not found',
            )
        raise ApiError(
            400,
            "BadRequest",
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    tail = query.get("tailLines")
    if tail:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-int(tail) :]) if int(tail) > 0 else ""
    return Reply(200, "text/plain", text.encode("utf-8"))


def _split_port(name_port: str) -> tuple[str, str | None]:
    name, _, port = name_port.partition(":")
    return name, port or None


def pod_proxy(store: KubeStore, ns: str, name_port: str, path: str) -> Reply:
    name, port = _split_port(name_port)
    store.find(RESOURCES["pods"], ns, name)
    if not store.has("metrics"):
        raise forbidden("get", "pods/proxy", ns)
    if path.strip("/") != "metrics":
        return Reply(404, "text/plain", b"404 page not found\n")
    prom = store.root / "kubernetes" / "metrics" / ns / f"{name}.prom"
    if not prom.is_file():
        # What the API server says when nothing listens on the pod's port.
        message = (
            f"error trying to reach service: dial tcp 10.244.1.7:{port or 80}: "
            "connect: connection refused"
        )
        raise ApiError(503, "ServiceUnavailable", message)
    return Reply(200, "text/plain; version=0.0.4", prom.read_bytes())


def service_proxy(
    store: KubeStore, ns: str, name_port: str, path: str, latency_cap: float | None
) -> Reply:
    name, _ = _split_port(name_port)
    store.find(RESOURCES["services"], ns, name)
    if not store.has("probes"):
        raise forbidden("get", "services/proxy", ns)
    probe_file = store.root / "kubernetes" / "probes" / ns / f"{name}.json"
    if not probe_file.is_file():
        raise forbidden("get", "services/proxy", ns)  # this service's probe is not known
    probe = json.loads(probe_file.read_text(encoding="utf-8"))
    if "/" + path.strip("/") != "/" + str(probe.get("path", "/v1/models")).strip("/"):
        return Reply(404, "application/json", b'{"detail":"Not Found"}')
    delay = float(probe.get("latency_ms") or 0) / 1000
    if latency_cap is not None:
        delay = min(delay, latency_cap)
    body = probe.get("body")
    raw = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
    if probe.get("status") is None:
        return Reply(0, "", b"", delay)  # recorded as a timeout: hang, then drop the connection
    return Reply(int(probe["status"]), "application/json", raw, delay)
