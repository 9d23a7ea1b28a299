"""A whole, coherent, healthy AKS + KAITO cluster in the DESIGN.md snapshot layout.

Shapes follow the real APIs (shared/reference/): Kubernetes Lists as `kubectl get -o json`
prints them, ARM bodies as the REST API returns them, Log Analytics `tables[]` responses.
Mutations in sibling modules break exactly one thing each, so every scenario stays a
plausible cluster rather than a fragment.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]
NOW = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)
SUB = "00000000-0000-0000-0000-000000000000"
RG = "rg-ml"
CLUSTER = "aks-inference"
LOCATION = "eastus2"
WS = "workspace-llama-3-1-8b"
WS_NS = "default"
GPU_NODE = "aks-gpua100-12345678-vmss000000"
GPU_SKU = "Standard_NC24ads_A100_v4"
SYS_NODES = ["aks-system-12345678-vmss000000", "aks-system-12345678-vmss000001"]


def ts(delta: timedelta | None = None, *, minutes: float = 0, hours: float = 0, days: float = 0) -> str:
    """Time `delta` before NOW, RFC 3339 as the API prints it."""
    when = NOW - (delta or timedelta(minutes=minutes, hours=hours, days=days))
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def klist(kind: str, items: list[Obj], api: str = "v1") -> Obj:
    return {"apiVersion": api, "kind": f"{kind}List" if api == "v1" else "List", "items": items,
            "metadata": {"resourceVersion": "123456"}}


def uid(seed: str) -> str:
    import hashlib

    h = hashlib.sha1(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


# ---- nodes ---------------------------------------------------------------------------------


def node(name: str, *, pool: str, sku: str, gpu: int = 0, age_hours: float = 72, ready: bool = True,
         taints: list[Obj] | None = None, extra_labels: dict[str, str] | None = None,
         mig: dict[str, int] | None = None, spot: bool = False) -> Obj:
    labels = {
        "agentpool": pool,
        "kubernetes.azure.com/agentpool": pool,
        "kubernetes.azure.com/cluster": f"MC_{RG}_{CLUSTER}_{LOCATION}",
        "kubernetes.azure.com/mode": "system" if pool == "system" else "user",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": sku,
        "topology.kubernetes.io/region": LOCATION,
        "topology.kubernetes.io/zone": f"{LOCATION}-1",
    }
    if gpu or mig:
        labels.update({"accelerator": "nvidia", "kubernetes.azure.com/accelerator": "nvidia"})
    if spot:
        labels["kubernetes.azure.com/scalesetpriority"] = "spot"
    labels.update(extra_labels or {})
    resources = {"cpu": "23660m" if gpu else "3860m", "memory": "214587916Ki" if gpu else "12880128Ki",
                 "pods": "110", "ephemeral-storage": "119703055367"}
    capacity = dict(resources)
    if gpu:
        resources["nvidia.com/gpu"] = capacity["nvidia.com/gpu"] = str(gpu)
    for key, value in (mig or {}).items():
        resources[key] = capacity[key] = str(value)
    created = ts(hours=age_hours)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "uid": uid(name), "labels": labels, "creationTimestamp": created,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"providerID": f"azure:///subscriptions/{SUB}/resourceGroups/mc_{RG}_{CLUSTER}_{LOCATION}"
                               f"/providers/Microsoft.Compute/virtualMachineScaleSets/aks-{pool}-12345678-vmss"
                               f"/virtualMachines/0",
                 "taints": taints or []},
        "status": {
            "allocatable": resources,
            "capacity": capacity,
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                 "lastHeartbeatTime": ts(minutes=1), "lastTransitionTime": created},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                 "lastHeartbeatTime": ts(minutes=1), "lastTransitionTime": created},
                {"type": "Ready", "status": "True" if ready else "False",
                 "reason": "KubeletReady" if ready else "KubeletNotReady",
                 "message": "kubelet is posting ready status" if ready else "container runtime network not ready",
                 "lastHeartbeatTime": ts(minutes=1), "lastTransitionTime": created},
            ],
            "nodeInfo": {"kubeletVersion": "v1.31.3", "containerRuntimeVersion": "containerd://1.7.23-1",
                         "osImage": "Ubuntu 22.04.5 LTS", "kernelVersion": "5.15.0-1079-azure",
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


GPU_TAINT = {"key": "sku", "value": "gpu", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}


# ---- pods ----------------------------------------------------------------------------------


def pod(name: str, ns: str, *, node_name: str | None, containers: list[Obj], owner: tuple[str, str] | None,
        labels: dict[str, str] | None = None, phase: str = "Running", age_hours: float = 70,
        tolerations: list[Obj] | None = None, node_selector: dict[str, str] | None = None,
        statuses: list[Obj] | None = None, annotations: dict[str, str] | None = None,
        volumes: list[Obj] | None = None, grace: int = 30, conditions: list[Obj] | None = None) -> Obj:
    created = ts(hours=age_hours)
    meta: Obj = {"name": name, "namespace": ns, "uid": uid(ns + name), "creationTimestamp": created,
                 "labels": labels or {}}
    if annotations:
        meta["annotations"] = annotations
    if owner:
        kind, oname = owner
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": oname, "uid": uid(oname),
                                    "controller": True, "blockOwnerDeletion": True}]
    spec: Obj = {"containers": containers, "restartPolicy": "Always", "schedulerName": "default-scheduler",
                 "serviceAccountName": "default", "terminationGracePeriodSeconds": grace,
                 "tolerations": tolerations or [
                     {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                      "tolerationSeconds": 300},
                     {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                      "tolerationSeconds": 300}]}
    if node_name:
        spec["nodeName"] = node_name
    if node_selector:
        spec["nodeSelector"] = node_selector
    if volumes:
        spec["volumes"] = volumes
    running = phase == "Running"
    status: Obj = {"phase": phase, "qosClass": "Burstable", "startTime": created if node_name else None}
    if node_name:
        status["hostIP"] = "10.224.0.5"
        status["podIP"] = "10.244.1." + str(int(uid(name)[:2], 16) % 200 + 10)
    status["conditions"] = conditions or [
        {"type": "PodScheduled", "status": "True" if node_name else "False", "lastTransitionTime": created},
        {"type": "Initialized", "status": "True", "lastTransitionTime": created},
        {"type": "ContainersReady", "status": "True" if running else "False", "lastTransitionTime": created},
        {"type": "Ready", "status": "True" if running else "False", "lastTransitionTime": created},
    ]
    if statuses is not None:
        status["containerStatuses"] = statuses
    elif node_name:
        status["containerStatuses"] = [
            {"name": c["name"], "image": c["image"], "imageID": "", "ready": running, "restartCount": 0,
             "started": running, "containerID": "containerd://" + uid(name + c["name"]).replace("-", ""),
             "state": {"running": {"startedAt": created}} if running else {"waiting": {"reason": "ContainerCreating"}}}
            for c in containers
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": {k: v for k, v in status.items() if v is not None}}


def container(name: str, image: str, *, gpu: int = 0, ports: list[int] | None = None, args: list[str] | None = None,
              probe_port: int | None = None, probe_path: str = "/health", cpu: str = "100m", memory: str = "128Mi",
              extra_limits: dict[str, str] | None = None) -> Obj:
    c: Obj = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
              "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}}
    if gpu:
        c["resources"]["limits"]["nvidia.com/gpu"] = str(gpu)
        c["resources"]["requests"]["nvidia.com/gpu"] = str(gpu)
    if extra_limits:
        c["resources"]["limits"].update(extra_limits)
        c["resources"]["requests"].update(extra_limits)
    if ports:
        c["ports"] = [{"containerPort": p, "protocol": "TCP", "name": "http" if i == 0 else f"p{p}"}
                      for i, p in enumerate(ports)]
    if args:
        c["args"] = args
    if probe_port:
        probe = {"httpGet": {"path": probe_path, "port": probe_port, "scheme": "HTTP"}, "periodSeconds": 10,
                 "timeoutSeconds": 1, "failureThreshold": 3}
        c["readinessProbe"] = dict(probe, initialDelaySeconds=10)
        c["livenessProbe"] = dict(probe, initialDelaySeconds=600)
    return c


VLLM_IMAGE = "mcr.microsoft.com/aks/kaito/kaito-base:0.0.9"
VLLM_ARGS = ["python3", "/workspace/vllm/inference_api.py", "--kaito-config-file=/mnt/config/inference_config.yaml",
             "--served-model-name=llama-3.1-8b-instruct", "--port=5000", "--gpu-memory-utilization=0.90",
             "--tensor-parallel-size=1"]


def inference_pod(ws: str = WS, ns: str = WS_NS, *, node_name: str | None = GPU_NODE, gpu: int = 1,
                  age_hours: float = 70, **kw: Any) -> Obj:
    labels = {"kaito.sh/workspace": ws, "apps": "llama-3-1-8b",
              "statefulset.kubernetes.io/pod-name": f"{ws}-0", "controller-revision-hash": f"{ws}-6c8f9b7d5c"}
    kw.setdefault("tolerations", [GPU_TOLERATION,
                                  {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
                                   "value": "spot", "effect": "NoSchedule"},
                                  {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                   "effect": "NoExecute", "tolerationSeconds": 300}])
    kw.setdefault("node_selector", {"apps": "llama-3-1-8b"})
    return pod(f"{ws}-0", ns, node_name=node_name, owner=("StatefulSet", ws), labels=labels, age_hours=age_hours,
               containers=[container(ws, VLLM_IMAGE, gpu=gpu, ports=[5000], args=VLLM_ARGS, probe_port=5000,
                                     cpu="4", memory="24Gi")],
               annotations={"workspace.kaito.io/revision": "1"}, **kw)


def device_plugin_pod(node_name: str, *, ns: str = "gpu-resources", ready: bool = True, suffix: str = "x7k2p") -> Obj:
    image = "mcr.microsoft.com/oss/v2/nvidia/k8s-device-plugin:v0.18.2-12"
    statuses = None
    if not ready:
        statuses = [{"name": "nvidia-device-plugin-ctr", "image": image, "imageID": "", "ready": False,
                     "restartCount": 9, "started": False,
                     "state": {"waiting": {"reason": "CrashLoopBackOff",
                                           "message": "back-off 5m0s restarting failed container"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                  "startedAt": ts(minutes=7), "finishedAt": ts(minutes=6)}}}]
    return pod(f"nvidia-device-plugin-daemonset-{suffix}", ns, node_name=node_name,
               owner=("DaemonSet", "nvidia-device-plugin-daemonset"),
               labels={"name": "nvidia-device-plugin-ds", "controller-revision-hash": "6b9c7d9f8"},
               containers=[container("nvidia-device-plugin-ctr", image)],
               tolerations=[GPU_TOLERATION, {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                            {"key": "CriticalAddonsOnly", "operator": "Exists"}],
               statuses=statuses, conditions=None if ready else [
                   {"type": "PodScheduled", "status": "True", "lastTransitionTime": ts(hours=70)},
                   {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                    "lastTransitionTime": ts(minutes=50)}])


def daemonset_pod(ds: str, ns: str, node_name: str, image: str, suffix: str) -> Obj:
    return pod(f"{ds}-{suffix}", ns, node_name=node_name, owner=("DaemonSet", ds),
               labels={"k8s-app": ds}, containers=[container(ds, image)],
               tolerations=[{"operator": "Exists"}])


def daemonset(name: str, ns: str, *, desired: int, ready: int, image: str, labels: dict[str, str],
              tolerations: list[Obj], node_selector: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns, "uid": uid(ns + name), "creationTimestamp": ts(days=30),
                     "generation": 1},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [container(name, image)], "tolerations": tolerations,
                                       **({"nodeSelector": node_selector} if node_selector else {})}},
                 "updateStrategy": {"type": "RollingUpdate"}},
        "status": {"currentNumberScheduled": desired, "desiredNumberScheduled": desired, "numberAvailable": ready,
                   "numberMisscheduled": 0, "numberReady": ready, "observedGeneration": 1,
                   "updatedNumberScheduled": desired, **({"numberUnavailable": desired - ready} if desired > ready else {})},
    }


def event(*, name: str, kind: str, obj_name: str, ns: str, reason: str, message: str, minutes_ago: float,
          type_: str = "Normal", count: int = 1, component: str = "kubelet", host: str | None = None,
          first_minutes_ago: float | None = None) -> Obj:
    last = ts(minutes=minutes_ago)
    first = ts(minutes=first_minutes_ago if first_minutes_ago is not None else minutes_ago)
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns or "default", "uid": uid(name + last), "creationTimestamp": first},
        "involvedObject": {"kind": kind, "name": obj_name, **({"namespace": ns} if ns else {}), "apiVersion": "v1"},
        "reason": reason, "message": message, "type": type_, "count": count,
        "firstTimestamp": first, "lastTimestamp": last,
        "source": {"component": component, **({"host": host} if host else {})},
        "reportingComponent": component, "reportingInstance": host or "",
    }


def condition(kind: str, status: str, reason: str, message: str = "", *, minutes_ago: float = 4000) -> Obj:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": ts(minutes=minutes_ago), "observedGeneration": 1}


def workspace(name: str = WS, ns: str = WS_NS, *, sku: str = GPU_SKU, preset: str = "llama-3.1-8b-instruct",
              ready: bool = True, config: str | None = "llama-inference-config", age_hours: float = 72,
              conditions: list[Obj] | None = None, label_value: str = "llama-3-1-8b") -> Obj:
    inference: Obj = {"preset": {"name": preset}}
    if config:
        inference["config"] = config
    conds = conditions or [
        condition("NodeClaimReady", "True", "installNodePluginsSuccess", minutes_ago=age_hours * 60 - 5),
        condition("ResourceReady", "True", "workspaceResourceStatusSuccess", "workspace resource is ready",
                  minutes_ago=age_hours * 60 - 6),
        condition("InferenceReady", "True", "WorkspaceInferenceStatusSuccess", "Inference has been deployed successfully",
                  minutes_ago=age_hours * 60 - 9),
        condition("WorkspaceSucceeded", "True", "workspaceSucceeded", "workspace succeeds",
                  minutes_ago=age_hours * 60 - 9),
    ]
    return {
        "apiVersion": "kaito.sh/v1beta1", "kind": "Workspace",
        "metadata": {"name": name, "namespace": ns, "uid": uid(ns + name), "creationTimestamp": ts(hours=age_hours),
                     "generation": 1, "finalizers": ["workspace.finalizer.kaito.sh"],
                     "annotations": {"kaito.sh/runtime": "vllm"}},
        "resource": {"instanceType": sku, "labelSelector": {"matchLabels": {"apps": label_value}}},
        "inference": inference,
        "status": {"workerNodes": [GPU_NODE] if ready else [], "conditions": conds},
    }


def statefulset(name: str = WS, ns: str = WS_NS, *, replicas: int = 1, ready: int = 1) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns, "uid": uid(ns + name + "sts"), "creationTimestamp": ts(hours=72),
                     "labels": {"kaito.sh/workspace": name},
                     "ownerReferences": [{"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace", "name": name,
                                          "uid": uid(ns + name), "controller": True}]},
        "spec": {"replicas": replicas, "serviceName": f"{name}-headless",
                 "selector": {"matchLabels": {"kaito.sh/workspace": name}},
                 "template": {"metadata": {"labels": {"kaito.sh/workspace": name}},
                              "spec": {"containers": [container(name, VLLM_IMAGE, gpu=1, ports=[5000],
                                                                args=VLLM_ARGS, probe_port=5000)]}}},
        "status": {"replicas": replicas, "readyReplicas": ready, "currentReplicas": replicas,
                   "updatedReplicas": replicas, "availableReplicas": ready, "observedGeneration": 1},
    }


def service(name: str = WS, ns: str = WS_NS) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "uid": uid(ns + name + "svc"), "creationTimestamp": ts(hours=72),
                     "labels": {"kaito.sh/workspace": name}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.0.114.23",
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 5000}],
                 "selector": {"kaito.sh/workspace": name, "statefulset.kubernetes.io/pod-name": f"{name}-0"}},
        "status": {"loadBalancer": {}},
    }


def inference_config(name: str = "llama-inference-config", ns: str = WS_NS, *, max_model_len: int = 8192,
                     body: str | None = None) -> Obj:
    text = body if body is not None else (
        "vllm:\n  cpu-offload-gb: 0\n  gpu-memory-utilization: 0.90\n  swap-space: 4\n"
        f"  max-model-len: {max_model_len}\n")
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "uid": uid(ns + name), "creationTimestamp": ts(hours=72)},
            "data": {"inference_config.yaml": text}}


def cronjob(name: str, ns: str, *, schedule: str, command: list[str], time_zone: str | None = "Asia/Kolkata",
            labels: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"schedule": schedule, "concurrencyPolicy": "Forbid", "suspend": False,
                 "jobTemplate": {"spec": {"template": {"spec": {
                     "restartPolicy": "OnFailure", "serviceAccountName": "prewarm",
                     "containers": [{"name": "kubectl", "image": "bitnami/kubectl:1.31", "command": command}]}}}}}
    if time_zone:
        spec["timeZone"] = time_zone
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": ns, "uid": uid(ns + name), "creationTimestamp": ts(days=20),
                         "labels": labels or {}},
            "spec": spec, "status": {"lastScheduleTime": ts(minutes=(7 * 60 + 40) - (7 * 60 + 45) + 24 * 60)}}


# ---- ARM -----------------------------------------------------------------------------------


def usage(name: str, localized: str, current: int, limit: int) -> Obj:
    return {"unit": "Count", "currentValue": current, "limit": limit, "name": {"value": name, "localizedValue": localized}}


def vm_sku(name: str, family: str, vcpus: int, *, gpus: int = 0, zones: tuple[str, ...] = ("1", "2", "3"),
           restrictions: list[Obj] | None = None, location: str = LOCATION) -> Obj:
    caps = [{"name": "vCPUs", "value": str(vcpus)}, {"name": "MemoryGB", "value": str(vcpus * 9)},
            {"name": "vCPUsAvailable", "value": str(vcpus)}, {"name": "LowPriorityCapable", "value": "True"},
            {"name": "HyperVGenerations", "value": "V1,V2"}]
    if gpus:
        caps.append({"name": "GPUs", "value": str(gpus)})
    return {"resourceType": "virtualMachines", "name": name, "tier": "Standard", "size": name.removeprefix("Standard_"),
            "family": family, "locations": [location],
            "locationInfo": [{"location": location, "zones": list(zones), "zoneDetails": []}],
            "capabilities": caps, "restrictions": restrictions or []}


def agent_pool(name: str, *, vm: str, count: int, min_count: int | None, max_count: int | None,
               mode: str = "User", taints: list[str] | None = None, labels: dict[str, str] | None = None,
               gpu_driver: str | None = None, spot: bool = False, zones: list[str] | None = None) -> Obj:
    props: Obj = {"count": count, "vmSize": vm, "osType": "Linux", "osSKU": "Ubuntu", "mode": mode,
                  "type": "VirtualMachineScaleSets", "orchestratorVersion": "1.31.3",
                  "provisioningState": "Succeeded", "powerState": {"code": "Running"},
                  "enableAutoScaling": min_count is not None,
                  "nodeTaints": taints or [], "nodeLabels": labels or {}, "maxPods": 110}
    if min_count is not None:
        props.update({"minCount": min_count, "maxCount": max_count})
    if gpu_driver:
        props["gpuProfile"] = {"driver": gpu_driver}
    if spot:
        props.update({"scaleSetPriority": "Spot", "scaleSetEvictionPolicy": "Delete", "spotMaxPrice": -1})
    if zones:
        props["availabilityZones"] = zones
    return {"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/"
                  f"{CLUSTER}/agentPools/{name}",
            "name": name, "type": "Microsoft.ContainerService/managedClusters/agentPools", "properties": props}


# ---- the cluster ---------------------------------------------------------------------------


@dataclass
class Cluster:
    """Everything one snapshot holds; mutate it, then `write()`."""

    captured_at: datetime = NOW
    manifest: Obj = field(default_factory=dict)
    k8s: dict[str, list[Obj]] = field(default_factory=dict)
    azure: dict[str, Obj] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)  # "ns/pod/container[.previous]" -> text
    metrics: dict[str, str] = field(default_factory=dict)  # "ns/pod" -> prometheus text
    probes: dict[str, Obj] = field(default_factory=dict)  # "ns/service" -> probe result
    loganalytics: dict[str, Obj] = field(default_factory=dict)
    omit: set[str] = field(default_factory=set)  # relative paths/dirs to leave out

    def find(self, resource: str, name: str, ns: str | None = None) -> Obj:
        for item in self.k8s[resource]:
            meta = item["metadata"]
            if meta["name"] == name and (ns is None or meta.get("namespace") == ns):
                return item
        raise KeyError(f"{resource}/{name}")

    def pool(self, name: str) -> Obj:
        return next(p for p in self.azure["agent-pools"]["value"] if p["name"] == name)

    def usage(self, name: str) -> Obj:
        return next(u for u in self.azure["usages"]["value"] if u["name"]["value"].lower() == name.lower())

    def copy(self) -> Cluster:
        return copy.deepcopy(self)

    def write(self, root: Path) -> None:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)

        def put(rel: str, text: str) -> None:
            if any(rel == o or rel.startswith(o.rstrip("/") + "/") for o in self.omit):
                return
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

        def dump(obj: Any) -> str:
            return json.dumps(obj, indent=1, sort_keys=False) + "\n"

        put("snapshot.yaml", yaml.safe_dump(self.manifest, sort_keys=False))
        apis = {"workspaces": "kaito.sh/v1beta1", "inferencesets": "kaito.sh/v1beta1", "nodeclaims": "karpenter.sh/v1",
                "clusterpolicies": "nvidia.com/v1"}
        for resource, items in self.k8s.items():
            kind = {"nodes": "Node", "pods": "Pod", "events": "Event", "daemonsets": "DaemonSet",
                    "deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
                    "cronjobs": "CronJob", "configmaps": "ConfigMap", "services": "Service",
                    "poddisruptionbudgets": "PodDisruptionBudget"}.get(resource, resource)
            put(f"kubernetes/{resource}.json", dump(klist(kind, items, apis.get(resource, "v1"))))
        for name, body in self.azure.items():
            put(f"azure/{name}.json", dump(body))
        for qid, body in self.loganalytics.items():
            put(f"loganalytics/{qid}.json", dump(body))
        for key, text in self.logs.items():
            put(f"kubernetes/logs/{key}.log", text)
        for key, text in self.metrics.items():
            put(f"kubernetes/metrics/{key}.prom", text)
        for key, body in self.probes.items():
            put(f"kubernetes/probes/{key}.json", dump(body))


VLLM_START_LOG = """INFO 11-24 07:02:11 [__init__.py:239] Automatically detected platform cuda.
INFO 11-24 07:02:14 [api_server.py:1043] vLLM API server version 0.9.0
INFO 11-24 07:02:14 [config.py:717] This model supports multiple tasks: {'generate'}. Defaulting to 'generate'.
INFO 11-24 07:02:31 [loader.py:458] Loading weights took 14.21 seconds
INFO 11-24 07:02:32 [gpu_model_runner.py:1347] Model loading took 14.9889 GiB and 15.203471 seconds
INFO 11-24 07:02:41 [kv_cache_utils.py:634] GPU KV cache size: 431,280 tokens
INFO 11-24 07:02:55 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:5000
INFO:     Started server process [1]
INFO:     Waiting for application startup.
INFO:     Application startup complete.
INFO:     Uvicorn running on http://0.0.0.0:5000 (Press CTRL+C to quit)
INFO:     10.244.0.12:51234 - "GET /v1/models HTTP/1.1" 200 OK
"""


def vllm_metrics(*, kv: float = 0.35, running: int = 4, waiting: int = 0, both_names: bool = True,
                 old_name_only: bool = False, model: str = "llama-3.1-8b-instruct") -> str:
    lines = []
    lab = f'engine="0",model_name="{model}"'
    lines += ["# HELP vllm:num_requests_running Number of requests in model execution batches.",
              "# TYPE vllm:num_requests_running gauge", f"vllm:num_requests_running{{{lab}}} {float(running)}",
              "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
              "# TYPE vllm:num_requests_waiting gauge", f"vllm:num_requests_waiting{{{lab}}} {float(waiting)}"]
    if not old_name_only:
        lines += ["# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
                  "# TYPE vllm:kv_cache_usage_perc gauge", f"vllm:kv_cache_usage_perc{{{lab}}} {kv}"]
    if both_names or old_name_only:
        lines += ["# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.",
                  "# TYPE vllm:gpu_cache_usage_perc gauge", f"vllm:gpu_cache_usage_perc{{{lab}}} {kv}"]
    lines += ["# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.",
              "# TYPE vllm:time_to_first_token_seconds histogram",
              f'vllm:time_to_first_token_seconds_bucket{{{lab},le="0.1"}} 812.0',
              f'vllm:time_to_first_token_seconds_bucket{{{lab},le="1.0"}} 1290.0',
              f'vllm:time_to_first_token_seconds_bucket{{{lab},le="+Inf"}} 1302.0',
              f"vllm:time_to_first_token_seconds_count{{{lab}}} 1302.0",
              f"vllm:time_to_first_token_seconds_sum{{{lab}}} 301.7"]
    return "\n".join(lines) + "\n"


def la_table(columns: list[tuple[str, str]], rows: list[list[Any]]) -> Obj:
    return {"tables": [{"name": "PrimaryResult", "columns": [{"name": n, "type": t} for n, t in columns],
                        "rows": rows}]}


def healthy() -> Cluster:
    """aks-inference in eastus2: two system nodes, one A100 node serving a KAITO llama workspace."""
    c = Cluster()
    c.manifest = {"cluster": {"name": CLUSTER, "subscription_id": SUB, "resource_group": RG, "location": LOCATION,
                              "log_analytics_workspace_id": "11111111-2222-3333-4444-555555555555"},
                  "captured_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}
    gpu = node(GPU_NODE, pool="gpua100", sku=GPU_SKU, gpu=1, taints=[GPU_TAINT],
               extra_labels={"apps": "llama-3-1-8b", "gpu-sku": "a100"})
    nodes = [node(n, pool="system", sku="Standard_D4s_v5") for n in SYS_NODES] + [gpu]
    all_nodes = [n["metadata"]["name"] for n in nodes]
    pods = [
        pod("coredns-6f9b7c9d8-abcde", "kube-system", node_name=SYS_NODES[0], owner=("ReplicaSet", "coredns-6f9b7c9d8"),
            labels={"k8s-app": "kube-dns"}, containers=[container("coredns", "mcr.microsoft.com/oss/kubernetes/coredns:v1.11.3")]),
        pod("metrics-server-7d9f8b6c5-fghij", "kube-system", node_name=SYS_NODES[1],
            owner=("ReplicaSet", "metrics-server-7d9f8b6c5"), labels={"k8s-app": "metrics-server"},
            containers=[container("metrics-server", "mcr.microsoft.com/oss/kubernetes/metrics-server:v0.7.2")]),
        pod("kaito-workspace-5c7b9d8f6-klmno", "kube-system", node_name=SYS_NODES[0],
            owner=("ReplicaSet", "kaito-workspace-5c7b9d8f6"), labels={"app.kubernetes.io/name": "kaito"},
            containers=[container("workspace", "mcr.microsoft.com/aks/kaito/workspace:0.6.0")]),
        inference_pod(),
        device_plugin_pod(GPU_NODE),
    ]
    pods += [daemonset_pod("kube-proxy", "kube-system", n, "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3",
                           f"p{i}xz") for i, n in enumerate(all_nodes)]
    c.k8s = {
        "nodes": nodes,
        "pods": pods,
        "events": [
            event(name=f"{WS}-0.18a1", kind="Pod", obj_name=f"{WS}-0", ns=WS_NS, reason="Pulled",
                  message=f'Container image "{VLLM_IMAGE}" already present on machine', minutes_ago=50, host=GPU_NODE),
        ],
        "daemonsets": [
            daemonset("kube-proxy", "kube-system", desired=3, ready=3,
                      image="mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3", labels={"k8s-app": "kube-proxy"},
                      tolerations=[{"operator": "Exists"}]),
            daemonset("nvidia-device-plugin-daemonset", "gpu-resources", desired=1, ready=1,
                      image="mcr.microsoft.com/oss/v2/nvidia/k8s-device-plugin:v0.18.2-12",
                      labels={"name": "nvidia-device-plugin-ds"},
                      tolerations=[GPU_TOLERATION, {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                      node_selector={"accelerator": "nvidia"}),
        ],
        "deployments": [],
        "replicasets": [],
        "statefulsets": [statefulset()],
        "cronjobs": [cronjob("prewarm-llama", WS_NS, schedule="45 7 * * 1-5",
                             command=["kubectl", "scale", f"statefulset/{WS}", "--replicas=1", "-n", WS_NS])],
        "configmaps": [inference_config()],
        "services": [service()],
        "poddisruptionbudgets": [],
        "workspaces": [workspace()],
        "nodeclaims": [],
        "clusterpolicies": [],
    }
    c.azure = {
        "usages": {"value": [
            usage("cores", "Total Regional vCPUs", 32, 350),
            usage("standardDSv5Family", "Standard DSv5 Family vCPUs", 8, 100),
            usage("standardNCADSA100v4Family", "Standard NCADS_A100_v4 Family vCPUs", 24, 96),
            usage("standardNCASv3_T4Family", "Standard NCASv3_T4 Family vCPUs", 0, 16),
            usage("lowPriorityCores", "Total Regional Low-priority vCPUs", 0, 100),
        ]},
        "skus": {"value": [
            vm_sku("Standard_D4s_v5", "standardDSv5Family", 4),
            vm_sku("Standard_NC4as_T4_v3", "standardNCASv3_T4Family", 4, gpus=1),
            vm_sku("Standard_NC24ads_A100_v4", "StandardNCADSA100v4Family", 24, gpus=1),
            vm_sku("Standard_NC48ads_A100_v4", "StandardNCADSA100v4Family", 48, gpus=2),
            vm_sku("Standard_NC96ads_A100_v4", "StandardNCADSA100v4Family", 96, gpus=4),
        ]},
        "managed-cluster": {
            "id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}",
            "name": CLUSTER, "type": "Microsoft.ContainerService/ManagedClusters", "location": LOCATION,
            "properties": {"provisioningState": "Succeeded", "kubernetesVersion": "1.31.3",
                           "dnsPrefix": CLUSTER, "fqdn": f"{CLUSTER}-dns-abc123.hcp.{LOCATION}.azmk8s.io",
                           "nodeResourceGroup": f"MC_{RG}_{CLUSTER}_{LOCATION}",
                           "autoScalerProfile": {"balance-similar-node-groups": "false", "expander": "random",
                                                 "max-graceful-termination-sec": "600",
                                                 "scale-down-delay-after-add": "10m",
                                                 "scale-down-unneeded-time": "10m",
                                                 "scale-down-utilization-threshold": "0.5",
                                                 "scan-interval": "10s",
                                                 "skip-nodes-with-local-storage": "false",
                                                 "skip-nodes-with-system-pods": "true"},
                           "aiToolchainOperatorProfile": {"enabled": True}},
        },
        "agent-pools": {"value": [
            agent_pool("system", vm="Standard_D4s_v5", count=2, min_count=2, max_count=3, mode="System"),
            agent_pool("gpua100", vm=GPU_SKU, count=1, min_count=0, max_count=4, taints=["sku=gpu:NoSchedule"],
                       labels={"accelerator": "nvidia", "gpu-sku": "a100", "apps": "llama-3-1-8b"}),
        ]},
        "registries": {"value": [
            {"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerRegistry/registries/mlmodels",
             "name": "mlmodels", "type": "Microsoft.ContainerRegistry/registries", "location": LOCATION,
             "sku": {"name": "Premium", "tier": "Premium"},
             "properties": {"loginServer": "mlmodels.azurecr.io", "provisioningState": "Succeeded"}},
        ]},
    }
    c.loganalytics = {
        "gpu-error-patterns": la_table([("PodName", "string"), ("LogMessage", "string"), ("count_", "long")], []),
        "gpu-node-hours": la_table([("Computer", "string"), ("InstanceType", "string"), ("IdleHours", "long")],
                                   [[GPU_NODE, GPU_SKU, 0]]),
    }
    c.logs = {
        f"{WS_NS}/{WS}-0/{WS}": VLLM_START_LOG,
        f"gpu-resources/nvidia-device-plugin-daemonset-x7k2p/nvidia-device-plugin-ctr":
            "I1124 07:00:02.118 main.go:317] Retrieving plugins.\n"
            "I1124 07:00:02.512 server.go:195] Starting GRPC server for 'nvidia.com/gpu'\n"
            "I1124 07:00:02.514 server.go:139] Registered device plugin for 'nvidia.com/gpu' with Kubelet\n",
    }
    c.metrics = {f"{WS_NS}/{WS}-0": vllm_metrics()}
    c.probes = {f"{WS_NS}/{WS}": {"path": "/v1/models", "status": 200, "latency_ms": 84,
                                  "body": '{"object":"list","data":[{"id":"llama-3.1-8b-instruct","object":"model"}]}'}}
    return c


# ---- registry of scenarios -----------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    path: str  # "<playbook-id>/<case>"
    build: Callable[[], Cluster]
    confirmed: tuple[str, ...]
    description: str


SCENARIOS: dict[str, Scenario] = {}


def scenario(path: str, *, confirmed: list[str], description: str) -> Callable[[Callable[[], Cluster]], Callable[[], Cluster]]:
    """Register a scenario: `confirmed` is the exact set of playbooks its evidence supports."""

    def register(fn: Callable[[], Cluster]) -> Callable[[], Cluster]:
        if path in SCENARIOS:
            raise ValueError(f"scenario {path} registered twice")
        SCENARIOS[path] = Scenario(path, fn, tuple(sorted(confirmed)), description)
        return fn

    return register
