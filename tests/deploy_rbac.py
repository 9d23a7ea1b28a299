"""Map recorded API calls to the permissions they need (tests/test_deploy.py).

Kubernetes: (method, path) -> (apiGroup, resource[/subresource], verb), the way the API
server's RBAC authorizer sees the request. Azure: an emulator route name -> the ARM action.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def render(kustomization: Path = DEPLOY / "kustomization.yaml") -> list[dict[str, Any]]:
    """The kustomization is `resources:` only, so rendering it is reading those files."""
    doc = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
    assert set(doc) <= {"apiVersion", "kind", "resources"}, "renderer handles resources only"
    objects: list[dict[str, Any]] = []
    for rel in doc["resources"]:
        text = (kustomization.parent / rel).read_text(encoding="utf-8")
        objects.extend(o for o in yaml.safe_load_all(text) if o)
    return objects


def kube_permission(method: str, path: str) -> tuple[str, str, str]:
    """(apiGroup, resource or resource/subresource, verb) for one API request."""
    path = path.split("?", 1)[0].strip("/")
    parts = path.split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        raise ValueError(f"not a resource path: /{path}")
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        rest = rest[2:]  # namespaced request; /namespaces/{ns} alone is the namespace itself
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if name is not None and ":" in name and sub == "proxy":
        name = name.split(":", 1)[0]  # pods/{name}:{port}/proxy/...
    if sub:
        resource = f"{resource}/{sub}"
    verb = ("get" if name is not None else "list") if method == "GET" else _VERBS[method]
    return group, resource, verb


def rule_grants(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """Every (group, resource, verb) a list of PolicyRules grants (no wildcards allowed)."""
    out = set()
    for rule in rules:
        for value in (*rule.get("apiGroups", []), *rule["resources"], *rule["verbs"]):
            assert "*" not in value, f"wildcard in RBAC rule {rule}"
        out |= {
            (g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
        }
    return out


# Emulator route (method, name) -> the ARM action it needs.
ARM_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", "usages"): "Microsoft.Compute/locations/usages/read",
    ("GET", "skus"): "Microsoft.Compute/skus/read",
    ("GET", "managed_cluster"): "Microsoft.ContainerService/managedClusters/read",
    ("PUT", "managed_cluster"): "Microsoft.ContainerService/managedClusters/write",
    ("POST", "user_credentials"): (
        "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action"
    ),
    ("GET", "agent_pools"): "Microsoft.ContainerService/managedClusters/agentPools/read",
    ("GET", "agent_pool"): "Microsoft.ContainerService/managedClusters/agentPools/read",
    ("PUT", "agent_pool"): "Microsoft.ContainerService/managedClusters/agentPools/write",
    ("GET", "registries"): "Microsoft.ContainerRegistry/registries/read",
    ("GET", "quota"): "Microsoft.Quota/quotas/read",
    ("PUT", "quota"): "Microsoft.Quota/quotas/write",
    ("GET", "quota_request"): "Microsoft.Quota/quotaRequests/read",
    ("POST", "logs"): "Microsoft.OperationalInsights/workspaces/query/read",
}


def arm_action(method: str, route: str | None) -> str:
    if route is None:
        raise ValueError(f"{method} to no known ARM route")
    return ARM_ACTIONS[(method, route)]
