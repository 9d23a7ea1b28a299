"""What the emulated API server says: Status objects, its errors, the field selectors it
accepts per resource, and RFC 7386 merge patches."""

from __future__ import annotations

import copy
from typing import Any

from bot.sources.kube_paths import ALL_RESOURCES, Resource

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
    known = ALL_RESOURCES.get(resource.split("/")[0])
    group = known.group if known else ""
    scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{resource} is forbidden: User "{USER}" cannot {verb} '
        f'resource "{resource}" in API group "{group}" {scope}',
    )


def not_found(resource: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource} "{name}" not found')


def _qualified(res: Resource) -> str:
    return f"{res.plural}.{res.group}" if res.group else res.plural


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(res)} "{name}" already exists')


def kube_meta(obj: Any) -> Obj:
    return (obj.get("metadata") or {}) if isinstance(obj, dict) else {}


def check_resource_version(res: Resource, obj: Obj, body: Any) -> None:
    """A write that names a resourceVersion applies only to that version (optimistic lock)."""
    wanted = kube_meta(body).get("resourceVersion")
    if wanted is not None and str(wanted) != str(kube_meta(obj).get("resourceVersion")):
        raise ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {_qualified(res)} "{kube_meta(obj).get("name")}": '
            "the object has been modified; please apply your changes to the latest version "
            "and try again",
        )


def check_preconditions(res: Resource, obj: Obj, options: Any) -> None:
    """DeleteOptions.preconditions: uid and resourceVersion must both match when given."""
    wanted = ((options or {}) if isinstance(options, dict) else {}).get("preconditions") or {}
    meta = kube_meta(obj)
    for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        if wanted.get(key) is not None and str(wanted[key]) != str(meta.get(key)):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {_qualified(res)} "{meta.get("name")}": '
                f"Precondition failed: {label} in precondition: {wanted[key]}, "
                f"{label} in object meta: {meta.get(key)}",
            )


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
