"""What the live Kubernetes source needs the API server to allow, and asking whether it does.

`READS` is derived from the code: list on every kind in `kube_paths.RESOURCES`, get on pod
logs and on the pod/service proxies that scrape metrics. deploy/rbac-read.yaml grants exactly
this (tests/test_deploy.py checks it against a recorded emulator run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kubernetes import client

from bot.sources.kube_paths import RESOURCES


@dataclass(frozen=True, order=True)
class Permission:
    group: str  # "" = core
    resource: str  # plural, or plural/subresource
    verb: str

    def rule(self) -> str:
        """The RBAC rule that grants it, as one YAML flow line for gpubot-read."""
        return (
            f'- apiGroups: ["{self.group}"]  resources: ["{self.resource}"]  verbs: ["{self.verb}"]'
        )


READS: tuple[Permission, ...] = tuple(
    sorted(
        {Permission(r.group, r.plural, "list") for r in RESOURCES.values()}
        | {
            Permission("", "pods/log", "get"),
            Permission("", "pods/proxy", "get"),
            Permission("", "services/proxy", "get"),
        }
    )
)


def allowed(api_client: client.ApiClient, perm: Permission, timeout: float = 10.0) -> bool:
    """POST a SelfSubjectAccessReview: may this identity do `perm` cluster-wide?"""
    resource, _, sub = perm.resource.partition("/")
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "group": perm.group,
                "resource": resource,
                "subresource": sub,
                "verb": perm.verb,
            }
        },
    }
    review = client.AuthorizationV1Api(api_client).create_self_subject_access_review(
        body, _request_timeout=timeout
    )
    return bool(review.status and review.status.allowed)


def reachable(api_client: client.ApiClient, timeout: float = 10.0) -> str:
    """A cheap question: the API server's version."""
    resp = client.VersionApi(api_client).get_code(_request_timeout=timeout, _preload_content=False)
    return str(json.loads(resp.data).get("gitVersion", "unknown"))
