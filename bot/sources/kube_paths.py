"""Which Kubernetes API serves each plural the playbooks ask for, and the raw calls to it.

Every call goes through the official client's generated methods with `_preload_content=False`,
so the caller gets the raw urllib3 response and parses the JSON itself: a 10,000-pod list is
never turned into client model objects (DESIGN.md, issue 3: ~7x faster, a third of the memory).
The emulator in `tests/emulators` uses the same table, so both sides agree on paths and kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubernetes import client

# Log tails: the snapshot layout stores "the tail of the container's log"; 2000 lines covers
# a vLLM start-up plus the crash that follows it.
LOG_TAIL_LINES = 2000
KAITO_METRICS_PORT = 5000  # KAITO's vLLM serves /metrics on the inference port
VLLM_DEFAULT_PORT = 8000  # vLLM's own default when a pod declares no port
RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    group: str  # "" = core
    versions: tuple[str, ...]  # tried in order; a 404 moves on (CRD served at another version)
    namespaced: bool
    api: str  # client class, or "custom" for CustomObjectsApi
    # generated method stem: list_<snake>_for_all_namespaces, list_namespaced_<snake>
    snake: str = ""

    @property
    def custom(self) -> bool:
        return self.api == "custom"

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource("nodes", "Node", "", ("v1",), False, "CoreV1Api", "node"),
        Resource("pods", "Pod", "", ("v1",), True, "CoreV1Api", "pod"),
        Resource("events", "Event", "", ("v1",), True, "CoreV1Api", "event"),
        Resource("configmaps", "ConfigMap", "", ("v1",), True, "CoreV1Api", "config_map"),
        Resource("services", "Service", "", ("v1",), True, "CoreV1Api", "service"),
        Resource("daemonsets", "DaemonSet", "apps", ("v1",), True, "AppsV1Api", "daemon_set"),
        Resource("deployments", "Deployment", "apps", ("v1",), True, "AppsV1Api", "deployment"),
        Resource("replicasets", "ReplicaSet", "apps", ("v1",), True, "AppsV1Api", "replica_set"),
        Resource("statefulsets", "StatefulSet", "apps", ("v1",), True, "AppsV1Api", "stateful_set"),
        Resource("cronjobs", "CronJob", "batch", ("v1",), True, "BatchV1Api", "cron_job"),
        Resource(
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            "policy",
            ("v1",),
            True,
            "PolicyV1Api",
            "pod_disruption_budget",
        ),
        # KAITO serves v1beta1 since v0.7; the AKS add-on (v0.6) only v1alpha1.
        Resource("workspaces", "Workspace", "kaito.sh", ("v1beta1", "v1alpha1"), True, "custom"),
        Resource("nodeclaims", "NodeClaim", "karpenter.sh", ("v1",), False, "custom"),
        Resource("clusterpolicies", "ClusterPolicy", "nvidia.com", ("v1",), False, "custom"),
    )
}

# Kinds only fixes touch: prewarm-schedule's ServiceAccount, Role and RoleBinding (gpubot's
# own objects), and KAITO InferenceSets, whose scale subresource the pre-warms change (their
# Workspaces are evidence; the set is read only to scale it). Never evidence, so no playbook
# lists them, `collect` never writes them and the read role never grants them: the fix Role
# does. Kept apart from RESOURCES so diagnosis, its RBAC and its parity tests stay as they
# are; the emulator serves both.
FIX_RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        # v1beta1 is the storage version; v1alpha1 is still served (kaito.sh_inferencesets.yaml).
        Resource(
            "inferencesets", "InferenceSet", "kaito.sh", ("v1beta1", "v1alpha1"), True, "custom"
        ),
        Resource(
            "serviceaccounts", "ServiceAccount", "", ("v1",), True, "CoreV1Api", "service_account"
        ),
        Resource("roles", "Role", RBAC_GROUP, ("v1",), True, "RbacAuthorizationV1Api", "role"),
        Resource(
            "rolebindings",
            "RoleBinding",
            RBAC_GROUP,
            ("v1",),
            True,
            "RbacAuthorizationV1Api",
            "role_binding",
        ),
    )
}
ALL_RESOURCES: dict[str, Resource] = {**RESOURCES, **FIX_RESOURCES}


def list_page(
    api_client: client.ApiClient,
    res: Resource,
    version: str,
    *,
    namespace: str | None,
    label_selector: str | None,
    field_selector: str | None,
    limit: int,
    token: str | None,
    timeout: Any,
) -> Any:
    """One page of a list, as the raw urllib3 response."""
    kw: dict[str, Any] = {"limit": limit, "_preload_content": False, "_request_timeout": timeout}
    if token:
        kw["_continue"] = token
    if label_selector:
        kw["label_selector"] = label_selector
    if field_selector:
        kw["field_selector"] = field_selector
    if res.custom:
        api = client.CustomObjectsApi(api_client)
        if namespace and res.namespaced:
            return api.list_namespaced_custom_object(
                res.group, version, namespace, res.plural, **kw
            )
        return api.list_cluster_custom_object(res.group, version, res.plural, **kw)
    typed = getattr(client, res.api)(api_client)
    if not res.namespaced:
        return getattr(typed, f"list_{res.snake}")(**kw)
    if namespace:
        return getattr(typed, f"list_namespaced_{res.snake}")(namespace, **kw)
    return getattr(typed, f"list_{res.snake}_for_all_namespaces")(**kw)


def read_object(
    api_client: client.ApiClient,
    res: Resource,
    version: str,
    namespace: str | None,
    name: str,
    timeout: Any,
) -> Any:
    """GET one object, as the raw urllib3 response (`read_namespaced_<snake>` and friends)."""
    kw: dict[str, Any] = {"_preload_content": False, "_request_timeout": timeout}
    if res.custom:
        api = client.CustomObjectsApi(api_client)
        if res.namespaced:
            return api.get_namespaced_custom_object(
                res.group, version, namespace, res.plural, name, **kw
            )
        return api.get_cluster_custom_object(res.group, version, res.plural, name, **kw)
    typed = getattr(client, res.api)(api_client)
    if not res.namespaced:
        return getattr(typed, f"read_{res.snake}")(name, **kw)
    return getattr(typed, f"read_namespaced_{res.snake}")(name, namespace, **kw)


def pod_log(
    api_client: client.ApiClient, ns: str, pod: str, container: str, previous: bool, timeout: Any
) -> Any:
    return client.CoreV1Api(api_client).read_namespaced_pod_log(
        pod,
        ns,
        container=container,
        previous=previous,
        tail_lines=LOG_TAIL_LINES,
        _preload_content=False,
        _request_timeout=timeout,
    )


def pod_proxy_get(
    api_client: client.ApiClient, ns: str, pod: str, port: int, path: str, timeout: Any
) -> Any:
    """GET /api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/{path} through the API server."""
    return client.CoreV1Api(api_client).connect_get_namespaced_pod_proxy_with_path(
        f"{pod}:{port}", ns, path.lstrip("/"), _preload_content=False, _request_timeout=timeout
    )


def service_proxy_get(
    api_client: client.ApiClient, ns: str, service: str, port: int | str, path: str, timeout: Any
) -> Any:
    """GET /api/v1/namespaces/{ns}/services/{svc}:{port}/proxy/{path} through the API server."""
    return client.CoreV1Api(api_client).connect_get_namespaced_service_proxy_with_path(
        f"{service}:{port}", ns, path.lstrip("/"), _preload_content=False, _request_timeout=timeout
    )


def metrics_port(pod: dict[str, Any]) -> int:
    """KAITO pods serve /metrics on 5000; others on their first declared container port."""
    if "kaito.sh/workspace" in ((pod.get("metadata") or {}).get("labels") or {}):
        return KAITO_METRICS_PORT
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("containerPort"):
                return int(port["containerPort"])
    return VLLM_DEFAULT_PORT


def service_port(service: dict[str, Any]) -> int | None:
    ports = (service.get("spec") or {}).get("ports") or []
    return int(ports[0]["port"]) if ports and ports[0].get("port") else None


_CONTINUE = re.compile(rb'"continue"\s*:\s*"([A-Za-z0-9_\-=.]*)"')


def continue_token(body: bytes) -> str | None:
    """The list's continue token, read from the metadata the API server writes before the
    items (`{"kind", "apiVersion", "metadata", "items"}`), without decoding the page. None
    when it is not there; the caller then takes it from the decoded page."""
    end = body.find(b'"items"')
    match = _CONTINUE.search(body, 0, end) if end > 0 else None
    return match.group(1).decode("ascii") if match and match.group(1) else None


def typed_items(doc: dict[str, Any], res: Resource, version: str) -> list[dict[str, Any]]:
    """The API server leaves kind/apiVersion off built-in list items; kubectl (and so every
    snapshot) fills them in from the list, so do the same."""
    kind = str(doc.get("kind") or "").removesuffix("List") or res.kind
    api_version = str(doc.get("apiVersion") or res.api_version(version))
    items = []
    for item in doc["items"]:
        if isinstance(item, dict):
            items.append({"apiVersion": api_version, "kind": kind, **item})
    return items
