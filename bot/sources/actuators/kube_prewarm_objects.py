"""The four objects of a scheduled pre-warm, built from the fix's params alone (pure).

A CronJob runs `kubectl patch <kind> <name> --subresource=scale` at the schedule, as a
ServiceAccount whose Role grants `get` and `patch` on that one workload's scale subresource
(`resourceNames`) and nothing else: a StatefulSet's or Deployment's, or for a KAITO workload
its InferenceSet's (`kaito.sh` `inferencesets/scale`). `kubectl scale` would also GET the
object itself (its resource builder fetches it); `patch --subresource=scale` reads and writes
only the Scale, so the Role stays that narrow. Every object carries
app.kubernetes.io/managed-by=gpubot, which is also how the cold-start and pre-warm checks
recognise a gpubot pre-warm."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.sources.actuators.kube_workloads import Workload
from bot.sources.actuators.kube_writes import GPUBOT_LABELS
from bot.sources.kube_paths import RBAC_GROUP

Obj = dict[str, Any]
CRONJOB_NAME_MAX = 52  # a CronJob's Jobs append 11 characters to its name (63 in all)
LABELS = {**GPUBOT_LABELS, "app.kubernetes.io/component": "prewarm"}
ORDER = ("ServiceAccount", "Role", "RoleBinding", "CronJob")  # RBAC first: the Job can run
API = {
    "ServiceAccount": ("v1", "serviceaccounts"),
    "Role": (f"{RBAC_GROUP}/v1", "roles"),
    "RoleBinding": (f"{RBAC_GROUP}/v1", "rolebindings"),
    "CronJob": ("batch/v1", "cronjobs"),
}


def object_name(workload_name: str) -> str:
    """`gpubot-prewarm-<workload>`, shortened with a hash when it would not fit a CronJob."""
    name = f"gpubot-prewarm-{workload_name}"
    if len(name) <= CRONJOB_NAME_MAX:
        return name
    digest = hashlib.sha256(workload_name.encode()).hexdigest()[:8]
    return f"{name[: CRONJOB_NAME_MAX - 9].rstrip('-')}-{digest}"


def metadata(name: str, namespace: str) -> Obj:
    return {"name": name, "namespace": namespace, "labels": dict(LABELS)}


def role_rules(w: Workload) -> list[Obj]:
    return [
        {
            "apiGroups": [w.group],
            "resources": [f"{w.plural}/scale"],
            "resourceNames": [w.name],
            "verbs": ["get", "patch"],
        }
    ]


def binding(name: str, namespace: str) -> Obj:
    return {
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }


def command(w: Workload, replicas: int) -> list[str]:
    patch = json.dumps({"spec": {"replicas": replicas}}, separators=(",", ":"))
    return [
        "kubectl",
        "patch",
        w.kubectl_resource,
        w.name,
        f"--namespace={w.namespace}",
        "--subresource=scale",
        "--type=merge",
        f"--patch={patch}",
    ]


def cronjob_spec(w: Workload, p: Any, name: str) -> Obj:
    """The CronJob's spec. Forbid overlap; a run missed by more than 10 minutes is skipped (a
    pre-warm at 09:30 is worthless); the Job gives up after 5 minutes."""
    container = {
        "name": "scale",
        "image": p.image,
        "command": command(w, p.replicas),
        "env": [{"name": "HOME", "value": "/tmp"}],  # kubectl's discovery cache
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod_spec = {
        "serviceAccountName": name,
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    return {
        "schedule": p.schedule,
        "timeZone": p.time_zone,
        "suspend": False,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 600,
        "successfulJobsHistoryLimit": 1,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": dict(LABELS)},
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": 300,
                "ttlSecondsAfterFinished": 86400,
                "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod_spec},
            },
        },
    }


def desired(kind: str, w: Workload, p: Any, name: str) -> Any:
    """What gpubot sets in each object: its content, as the plan shows it."""
    if kind == "Role":
        return role_rules(w)
    if kind == "RoleBinding":
        return binding(name, w.namespace)
    if kind == "CronJob":
        return cronjob_spec(w, p, name)
    return {"labels": dict(LABELS)}


def content_of(kind: str, obj: Obj) -> Any:
    """The same view of an object read from the cluster."""
    if kind == "Role":
        return obj.get("rules")
    if kind == "RoleBinding":
        return {"roleRef": obj.get("roleRef"), "subjects": obj.get("subjects")}
    if kind == "CronJob":
        return obj.get("spec")
    return {"labels": (obj.get("metadata") or {}).get("labels") or {}}


def body(kind: str, name: str, namespace: str, content: Any) -> Obj:
    """The object to create (or, for a CronJob, to PUT) from the plan's content."""
    api_version, _ = API[kind]
    out: Obj = {"apiVersion": api_version, "kind": kind, "metadata": metadata(name, namespace)}
    if kind == "Role":
        out["rules"] = content
    elif kind == "RoleBinding":
        out.update(content)
    elif kind == "CronJob":
        out["spec"] = content
    return out
