"""What the emulated API server says: Status objects, its errors, the field selectors it
accepts per resource, and RFC 7386 merge patches."""

from __future__ import annotations

import copy
from typing import Any

from bot.sources.kube_paths import RESOURCES

Obj = dict[str, Any]
USER = "system:serviceaccount:gpubot:gpubot"
# Field selectors a real API server accepts per resource (beyond metadata.name/namespace);
# anything else is a 400, so a playbook that only works offline fails here first.
FIELDS = {
    "pods": {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.hostNetwork",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "nodes": {"spec.unschedulable"},
    "events": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
    "replicasets": {"status.replicas"},
}


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.headers = code, reason, message, headers or {}

    def body(self) -> Obj:
        return status_doc(self.code, self.reason, self.message)


def status_doc(code: int, reason: str, message: str) -> Obj:
    failed = code >= 400
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if failed else "Success",
        "message": message,
        "reason": reason,
        "code": code,
    }


def forbidden(verb: str, resource: str, ns: str | None) -> ApiError:
    group = RESOURCES[resource.split("/")[0]].group if resource.split("/")[0] in RESOURCES else ""
    scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{resource} is forbidden: User "{USER}" cannot {verb} '
        f'resource "{resource}" in API group "{group}" {scope}',
    )


def not_found(resource: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource} "{name}" not found')


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
