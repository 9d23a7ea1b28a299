"""Rows 9, 10, 13, 14: idle GPU nodes that never scale down, cold starts after scale-to-zero,
Spot evictions under serving, and slow image pulls. Each starts from the healthy cluster."""

from __future__ import annotations

from typing import Any

from tests.scenarios.builder import base
from tests.scenarios.builder.base import Cluster, event, scenario

Obj = dict[str, Any]
PROXY_IMAGE = "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3"
IDLE_NODE = "aks-gpua100-12345678-vmss000001"
COLD_NODE = "aks-gpua100-12345678-vmss000002"
SPOT_GONE = "aks-gpuspot-23456789-vmss000000"
SPOT_NODE = "aks-gpuspot-23456789-vmss000001"
BATCH_GONE = "aks-spotbatch-34567890-vmss000000"
BATCH_NODE = "aks-spotbatch-34567890-vmss000001"
SPOT_TAINT = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "value": "spot",
    "effect": "NoSchedule",
}
SPOT_TOLERATION = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}
WS_POD = f"{base.WS}-0"
ACR_IMAGE = "mlmodels.azurecr.io/kaito/llama-3.1-8b-instruct:0.2.0"


# ---- shared mutations -----------------------------------------------------------------------


def _daemonsets(c: Cluster, delta: int) -> None:
    """kube-proxy runs on every node and the device plugin on every GPU node: keep counts true."""
    for ds in c.k8s["daemonsets"]:
        status = ds["status"]
        for key in (
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "numberAvailable",
            "updatedNumberScheduled",
        ):
            status[key] += delta


def _add_gpu_node(
    c: Cluster,
    name: str,
    *,
    pool: str,
    age_hours: float,
    suffix: str,
    spot: bool = False,
    sku: str = base.GPU_SKU,
    labels: dict[str, str] | None = None,
) -> Obj:
    taints = [base.GPU_TAINT] + ([SPOT_TAINT] if spot else [])
    node = base.node(
        name,
        pool=pool,
        sku=sku,
        gpu=1,
        age_hours=age_hours,
        taints=taints,
        spot=spot,
        extra_labels=labels if labels is not None else {"gpu-sku": "a100"},
    )
    c.k8s["nodes"].append(node)
    plugin = base.device_plugin_pod(name, suffix=suffix)
    proxy = base.daemonset_pod("kube-proxy", "kube-system", name, PROXY_IMAGE, f"q{suffix[:3]}")
    for pod in (plugin, proxy):
        _age_pod(pod, minutes=age_hours * 60 - 1)
    c.k8s["pods"] += [plugin, proxy]
    _daemonsets(c, +1)
    return node


def _age_pod(pod: Obj, *, minutes: float, ready_minutes: float | None = None) -> None:
    """Re-date a pod created `minutes` ago (Ready `ready_minutes` ago, default at creation)."""
    created = base.ts(minutes=minutes)
    ready = base.ts(minutes=ready_minutes if ready_minutes is not None else minutes)
    pod["metadata"]["creationTimestamp"] = created
    pod["status"]["startTime"] = created
    for cond in pod["status"]["conditions"]:
        cond["lastTransitionTime"] = (
            ready if cond["type"] in ("Ready", "ContainersReady") else created
        )
    for status in pod["status"].get("containerStatuses") or []:
        if "running" in status.get("state", {}):
            status["state"]["running"]["startedAt"] = ready


def _remove_node(c: Cluster, name: str) -> None:
    c.k8s["nodes"] = [n for n in c.k8s["nodes"] if n["metadata"]["name"] != name]
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["spec"].get("nodeName") != name]
    c.logs = {k: v for k, v in c.logs.items() if "nvidia-device-plugin" not in k}
    _daemonsets(c, -1)


def _move_inference(
    c: Cluster,
    node: str,
    *,
    created_minutes: float,
    ready_minutes: float,
    tolerations: list[Obj] | None = None,
) -> Obj:
    """The workspace pod, re-created `created_minutes` ago on `node`, Ready `ready_minutes` ago."""
    if not any(p["metadata"]["name"] == WS_POD for p in c.k8s["pods"]):
        c.k8s["pods"].append(base.inference_pod())
    pod = c.find("pods", WS_POD, base.WS_NS)
    pod["spec"]["nodeName"] = node
    if tolerations is not None:
        pod["spec"]["tolerations"] = tolerations
    pod["metadata"]["uid"] = base.uid(f"{WS_POD}-{created_minutes}")
    _age_pod(pod, minutes=created_minutes, ready_minutes=ready_minutes)
    for cond in pod["status"]["conditions"]:
        if cond["type"] == "PodScheduled":
            cond["lastTransitionTime"] = base.ts(minutes=ready_minutes + 6)
    ws = c.find("workspaces", base.WS, base.WS_NS)
    ws["status"]["workerNodes"] = [node]
    for cond in ws["status"]["conditions"]:
        if cond["type"] in ("InferenceReady", "WorkspaceSucceeded"):
            cond["lastTransitionTime"] = base.ts(minutes=ready_minutes)
    c.k8s["events"] = [e for e in c.k8s["events"] if e["involvedObject"]["name"] != WS_POD]
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"] = [[node, base.GPU_SKU, 0]]
    return pod


def _event_name(obj: str, reason: str, minutes_ago: float) -> str:
    """`<object>.<16 hex>` as the API names events; stable across runs (no hash())."""
    return f"{obj}.{base.uid(f'{obj}{reason}{minutes_ago}').replace('-', '')[:16]}"


def _pod_event(
    reason: str,
    message: str,
    minutes_ago: float,
    *,
    pod: str = WS_POD,
    ns: str = base.WS_NS,
    host: str | None = None,
    type_: str = "Normal",
    component: str = "kubelet",
) -> Obj:
    return event(
        name=_event_name(pod, reason, minutes_ago),
        kind="Pod",
        obj_name=pod,
        ns=ns,
        reason=reason,
        message=message,
        minutes_ago=minutes_ago,
        host=host,
        type_=type_,
        component=component,
    )


def _node_event(
    node: str,
    reason: str,
    message: str,
    minutes_ago: float,
    *,
    component: str,
    type_: str = "Normal",
    host: str | None = None,
) -> Obj:
    return event(
        name=_event_name(node, reason, minutes_ago),
        kind="Node",
        obj_name=node,
        ns="",
        reason=reason,
        message=message,
        minutes_ago=minutes_ago,
        type_=type_,
        component=component,
        host=host,
    )


def _pull_events(
    node: str,
    image: str,
    *,
    pulling: float,
    pulled: float,
    took: str,
    size: int | None = 9876543210,
    pod: str = WS_POD,
    ns: str = base.WS_NS,
    container: str = base.WS,
) -> list[Obj]:
    tail = f". Image size: {size} bytes." if size else ""
    return [
        _pod_event("Pulling", f'Pulling image "{image}"', pulling, pod=pod, ns=ns, host=node),
        _pod_event(
            "Pulled",
            f'Successfully pulled image "{image}" in {took} ({took} including waiting){tail}',
            pulled,
            pod=pod,
            ns=ns,
            host=node,
        ),
        _pod_event("Created", f"Created container {container}", pulled, pod=pod, ns=ns, host=node),
        _pod_event("Started", f"Started container {container}", pulled, pod=pod, ns=ns, host=node),
    ]


# ---- row 9: scale-down-blocked --------------------------------------------------------------


def _second_gpu_node(c: Cluster, *, age_hours: float, min_count: int = 0) -> Obj:
    node = _add_gpu_node(
        c,
        IDLE_NODE,
        pool="gpua100",
        age_hours=age_hours,
        suffix="d3v9w",
        labels={"apps": "llama-3-1-8b", "gpu-sku": "a100"},
    )
    c.pool("gpua100")["properties"].update(count=2, minCount=min_count)
    idle_hours = int(age_hours) if age_hours >= 1 else 0
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append(
        [IDLE_NODE, base.GPU_SKU, idle_hours]
    )
    return node


def _finished_eval_pod(node: str, *, started_hours: float, finished_hours: float) -> Obj:
    """A GPU evaluation Job that ran on the node and finished: the node has been idle since."""
    job = "llama-eval-29401080"
    pod = base.pod(
        f"{job}-7xk2q",
        "ml-eval",
        node_name=node,
        owner=("Job", job),
        phase="Succeeded",
        age_hours=started_hours,
        labels={"batch.kubernetes.io/job-name": job, "job-name": job},
        tolerations=[base.GPU_TOLERATION],
        node_selector={"gpu-sku": "a100"},
        containers=[
            base.container(
                "eval", "mlmodels.azurecr.io/tools/lm-eval:0.4.5", gpu=1, cpu="4", memory="32Gi"
            )
        ],
        statuses=[
            {
                "name": "eval",
                "image": "mlmodels.azurecr.io/tools/lm-eval:0.4.5",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": base.ts(hours=started_hours),
                        "finishedAt": base.ts(hours=finished_hours),
                    }
                },
            }
        ],
    )
    pod["metadata"]["ownerReferences"][0]["apiVersion"] = "batch/v1"
    pod["spec"]["restartPolicy"] = "Never"
    for cond in pod["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(reason="PodCompleted", lastTransitionTime=base.ts(hours=finished_hours))
    return pod


@scenario(
    "scale-down-blocked/confirmed",
    confirmed=["scale-down-blocked"],
    description="Second A100 node idle 6 h 12 min since an eval Job finished (pool gpua100 count 2, "
    "min 0), pinned by kube-system/ama-logs-rs (a ReplicaSet pod, not a DaemonSet) while "
    "skip-nodes-with-system-pods is true.",
)
def scale_down_confirmed() -> Cluster:
    c = base.healthy()
    _second_gpu_node(c, age_hours=8)
    c.k8s["pods"].append(_finished_eval_pod(IDLE_NODE, started_hours=7.9, finished_hours=6.2))
    pinning = base.pod(
        "ama-logs-rs-6f7d9c5b8-wq4zt",
        "kube-system",
        node_name=IDLE_NODE,
        owner=("ReplicaSet", "ama-logs-rs-6f7d9c5b8"),
        age_hours=7.5,
        labels={"rsName": "ama-logs-rs", "pod-template-hash": "6f7d9c5b8"},
        tolerations=[
            {"operator": "Exists", "effect": "NoSchedule"},
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
        ],
        containers=[
            base.container(
                "ama-logs",
                "mcr.microsoft.com/azuremonitor/containerinsights/ciprod:3.1.24",
                cpu="150m",
                memory="250Mi",
            )
        ],
    )
    c.k8s["pods"].append(pinning)
    return c


@scenario(
    "scale-down-blocked/safe-to-evict",
    confirmed=["scale-down-blocked"],
    description="Idle A100 node (3 h, since it was created) pinned by an ml-tools pod annotated "
    'cluster-autoscaler.kubernetes.io/safe-to-evict: "false"; its DaemonSet pods are '
    "not blamed.",
)
def scale_down_safe_to_evict() -> Cluster:
    c = base.healthy()
    _second_gpu_node(c, age_hours=3)
    rs = "model-cache-warmer-7d4b9c6f5"
    pod = base.pod(
        f"{rs}-h2x8n",
        "ml-tools",
        node_name=IDLE_NODE,
        owner=("ReplicaSet", rs),
        age_hours=2.9,
        labels={"app": "model-cache-warmer", "pod-template-hash": "7d4b9c6f5"},
        annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
        tolerations=[base.GPU_TOLERATION],
        node_selector={"gpu-sku": "a100"},
        containers=[base.container("warmer", "mlmodels.azurecr.io/tools/cache-warmer:1.3")],
    )
    c.k8s["pods"].append(pod)
    c.k8s["deployments"].append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "model-cache-warmer",
                "namespace": "ml-tools",
                "uid": base.uid("mlt-mcw"),
                "creationTimestamp": base.ts(days=12),
                "generation": 3,
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "model-cache-warmer"}},
                "template": {
                    "metadata": {
                        "labels": {"app": "model-cache-warmer"},
                        "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
                    },
                    "spec": {
                        "containers": pod["spec"]["containers"],
                        "tolerations": [base.GPU_TOLERATION],
                        "nodeSelector": {"gpu-sku": "a100"},
                    },
                },
            },
            "status": {
                "replicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "updatedReplicas": 1,
                "observedGeneration": 3,
            },
        }
    )
    c.k8s["replicasets"].append(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs,
                "namespace": "ml-tools",
                "uid": base.uid("mlt-" + rs),
                "creationTimestamp": base.ts(days=12),
                "labels": {"app": "model-cache-warmer", "pod-template-hash": "7d4b9c6f5"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "model-cache-warmer",
                        "uid": base.uid("mlt-mcw"),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": 1,
                "selector": {
                    "matchLabels": {"app": "model-cache-warmer", "pod-template-hash": "7d4b9c6f5"}
                },
            },
            "status": {
                "replicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "fullyLabeledReplicas": 1,
            },
        }
    )
    return c


@scenario(
    "scale-down-blocked/pool-at-minimum",
    confirmed=["scale-down-blocked"],
    description="Idle A100 node for 5 h with only DaemonSet pods, but pool gpua100 has minCount 2 = "
    "count 2: the floor holds it.",
)
def scale_down_pool_minimum() -> Cluster:
    c = base.healthy()
    _second_gpu_node(c, age_hours=5, min_count=2)
    return c


@scenario(
    "scale-down-blocked/ruled-out",
    confirmed=[],
    description="A second A100 node came up 7 min ago and is still empty (only the kube-proxy and "
    "device-plugin DaemonSet pods): younger than scale-down-unneeded-time 10m, so nothing "
    "is blocked yet.",
)
def scale_down_ruled_out() -> Cluster:
    c = base.healthy()
    _second_gpu_node(c, age_hours=7 / 60)
    return c


@scenario(
    "scale-down-blocked/daemonset-only",
    confirmed=[],
    description="Trap: an A100 node idle 45 min whose only pods are DaemonSet pods that tolerate the GPU "
    "taint (kube-proxy, device plugin, kube-system ama-logs). DaemonSet pods never block "
    "scale-down and the pool can shrink (count 2, min 0): the row's causes are disproved.",
)
def scale_down_daemonset_only() -> Cluster:
    c = base.healthy()
    _second_gpu_node(c, age_hours=0.75)
    ama = base.daemonset_pod(
        "ama-logs",
        "kube-system",
        IDLE_NODE,
        "mcr.microsoft.com/azuremonitor/containerinsights/ciprod:3.1.24",
        "8kq2d",
    )
    _age_pod(ama, minutes=44)
    c.k8s["pods"].append(ama)
    return c


# ---- row 10: cold-start ---------------------------------------------------------------------


def _cold_cluster(*, node_minutes: float = 12) -> Cluster:
    """The gpua100 pool went to zero overnight; the first request of the day scaled the StatefulSet
    up 13 min ago, the autoscaler added a node (12 min old) and the pod became Ready 4 min ago."""
    c = base.healthy()
    _remove_node(c, base.GPU_NODE)
    _add_gpu_node(
        c,
        COLD_NODE,
        pool="gpua100",
        age_hours=node_minutes / 60,
        suffix="m4q8z",
        labels={"apps": "llama-3-1-8b", "gpu-sku": "a100"},
    )
    c.logs["gpu-resources/nvidia-device-plugin-daemonset-m4q8z/nvidia-device-plugin-ctr"] = (
        "I1127 07:29:41.118 main.go:317] Retrieving plugins.\n"
        "I1127 07:29:41.512 server.go:195] Starting GRPC server for 'nvidia.com/gpu'\n"
        "I1127 07:29:41.514 server.go:139] Registered device plugin for 'nvidia.com/gpu' with Kubelet\n"
    )
    _move_inference(c, COLD_NODE, created_minutes=node_minutes + 1, ready_minutes=4)
    c.k8s["events"] += [
        _pod_event(
            "FailedScheduling",
            "0/2 nodes are available: 2 node(s) didn't match Pod's node "
            "affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
            "scheduling.",
            node_minutes + 1,
            type_="Warning",
            component="default-scheduler",
        ),
        _pod_event(
            "TriggeredScaleUp",
            "pod triggered scale-up: [{aks-gpua100-12345678-vmss 0->1 (max: 4)}]",
            node_minutes + 0.5,
            component="cluster-autoscaler",
        ),
        _node_event(
            COLD_NODE,
            "RegisteredNode",
            f"Node {COLD_NODE} event: Registered Node {COLD_NODE} in Controller",
            node_minutes - 1,
            component="node-controller",
        ),
        _node_event(
            COLD_NODE,
            "NodeReady",
            f"Node {COLD_NODE} status is now: NodeReady",
            node_minutes - 2,
            component="kubelet",
            host=COLD_NODE,
        ),
        _pod_event(
            "Scheduled",
            f"Successfully assigned {base.WS_NS}/{WS_POD} to {COLD_NODE}",
            node_minutes - 2,
            component="default-scheduler",
        ),
        *_pull_events(
            COLD_NODE,
            base.VLLM_IMAGE,
            pulling=node_minutes - 2.5,
            pulled=node_minutes - 5,
            took="2m41.208s",
        ),
    ]
    c.pool("gpua100")["properties"].update(count=1, minCount=0)
    c.logs[f"{base.WS_NS}/{WS_POD}/{base.WS}"] = base.VLLM_START_LOG.replace(
        "11-24 07:02", "11-27 07:35"
    )
    c.metrics[f"{base.WS_NS}/{WS_POD}"] = (
        base.vllm_metrics(running=1)
        .replace("} 812.0", "} 9.0")
        .replace("} 1290.0", "} 15.0")
        .replace("} 1302.0", "} 17.0")
        .replace("} 301.7", "} 58.3")
    )
    return c


@scenario(
    "cold-start/confirmed",
    confirmed=["cold-start"],
    description="Pool gpua100 (min 0) scaled from zero: the A100 node is 12 min old, the llama pod became "
    "Ready 4 min ago, and no CronJob pre-warms the workspace.",
)
def cold_start_confirmed() -> Cluster:
    c = _cold_cluster()
    c.k8s["cronjobs"] = []
    return c


@scenario(
    "cold-start/ruled-out",
    confirmed=[],
    description="The same 12-min-old node in a min-0 pool, but it is the pre-warm at work: CronJob "
    "prewarm-llama scales statefulset/workspace-llama-3-1-8b at 07:28 UTC on weekdays.",
)
def cold_start_ruled_out() -> Cluster:
    c = _cold_cluster()
    cj = c.find("cronjobs", "prewarm-llama", base.WS_NS)
    cj["spec"].update(schedule="28 7 * * 1-5", timeZone="UTC")
    cj["status"]["lastScheduleTime"] = base.ts(minutes=12)
    cj["status"]["lastSuccessfulTime"] = base.ts(minutes=12)
    return c


ISET = "llama-3-1-8b"
ISET_WS = f"{ISET}-0"  # an InferenceSet names its Workspaces <set>-<index>
ISET_LABEL = "inferenceset.kaito.sh/created-by"


def _renamed(c: Cluster, old: str, new: str) -> Cluster:
    """The cluster with every object, log, metric and probe of workspace `old` named `new`."""
    import json

    out = c.copy()
    swap = lambda x: json.loads(json.dumps(x).replace(old, new))  # noqa: E731
    out.k8s = swap(c.k8s)
    out.logs = {k.replace(old, new): v for k, v in c.logs.items()}
    out.metrics = {k.replace(old, new): v for k, v in c.metrics.items()}
    out.probes = {k.replace(old, new): v for k, v in c.probes.items()}
    return out


def _inferenceset(name: str, ns: str, *, replicas: int) -> Obj:
    """A KAITO InferenceSet (kaito.sh/v1beta1, `kaito_inferenceset_phi_4_mini.yaml`'s shape)."""
    return {
        "apiVersion": "kaito.sh/v1beta1", "kind": "InferenceSet",
        "metadata": {"name": name, "namespace": ns, "uid": base.uid(ns + name + "iset"),
                     "creationTimestamp": base.ts(days=20), "generation": 4},
        "spec": {"replicas": replicas, "labelSelector": {"matchLabels": {"apps": "llama-3-1-8b"}},
                 "template": {"resource": {"instanceType": base.GPU_SKU},
                              "inference": {"preset": {"name": "llama-3.1-8b-instruct"},
                                            "config": "llama-inference-config"}}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "conditions": [
            base.condition("InferenceSetReady", "True", "inferencesetReady", "inferenceset is ready", minutes_ago=4)]},
    }


@scenario(
    "cold-start/inferenceset",
    confirmed=["cold-start"],
    description="The cold start of cold-start/confirmed, served by KAITO InferenceSet llama-3-1-8b: it was "
    "scaled to 0 overnight and back to 1 this morning, so its Workspace llama-3-1-8b-0 came back 14 min ago "
    "on a fresh node. No CronJob pre-warms the set; the pre-warm offered scales the InferenceSet, "
    "KAITO's own replica count.",
)
def cold_start_inferenceset() -> Cluster:
    c = _renamed(cold_start_confirmed(), base.WS, ISET_WS)
    ws = c.find("workspaces", ISET_WS, base.WS_NS)
    ws["metadata"]["creationTimestamp"] = base.ts(minutes=14)
    ws["metadata"]["labels"] = {ISET_LABEL: ISET}
    for cond in ws["status"]["conditions"]:
        if cond["type"] in ("NodeClaimReady", "ResourceReady"):
            cond["lastTransitionTime"] = base.ts(minutes=10)
    sts = c.find("statefulsets", ISET_WS, base.WS_NS)
    sts["metadata"]["creationTimestamp"] = base.ts(minutes=14)
    # KAITO adds the set's label to the StatefulSet selector (so HPA/VPA can select its pods).
    for labels in (sts["spec"]["selector"]["matchLabels"], sts["spec"]["template"]["metadata"]["labels"],
                   c.find("pods", f"{ISET_WS}-0", base.WS_NS)["metadata"]["labels"]):
        labels[ISET_LABEL] = ISET
    c.k8s["inferencesets"] = [_inferenceset(ISET, base.WS_NS, replicas=1)]
    return c


# ---- row 13: spot-eviction ------------------------------------------------------------------


def _preempt_events(gone: str, pod: str, ns: str, container: str, *, at: float) -> list[Obj]:
    """AKS's node problem detector reports the Preempt scheduled event (~30 s notice), node
    auto-drain stops the pods, the VM disappears and the node controller removes the node."""
    return [
        _node_event(
            gone,
            "PreemptScheduled",
            f"VM event scheduled: Preempt (Spot eviction), NotBefore: {base.ts(minutes=at - 0.5)}",
            at,
            component="custom-plugin-monitor",
            type_="Warning",
            host=gone,
        ),
        _pod_event(
            "Killing", f"Stopping container {container}", at - 0.2, pod=pod, ns=ns, host=gone
        ),
        _node_event(
            gone,
            "NodeNotReady",
            f"Node {gone} status is now: NodeNotReady",
            at - 1,
            component="node-controller",
        ),
        _pod_event(
            "TaintManagerEviction",
            f"Marking for deletion Pod {ns}/{pod}",
            at - 1,
            pod=pod,
            ns=ns,
            component="taint-eviction-controller",
        ),
        _node_event(
            gone,
            "RemovingNode",
            f"Node {gone} event: Removing Node {gone} from Controller",
            at - 2,
            component="node-controller",
        ),
    ]


@scenario(
    "spot-eviction/confirmed",
    confirmed=["spot-eviction"],
    description="The llama workspace serves from Spot pool gpuspot: Spot VM vmss000000 was preempted 27 "
    "min ago (PreemptScheduled, TaintManagerEviction of the workspace pod), the pod now runs on "
    "replacement Spot node vmss000001.",
)
def spot_confirmed() -> Cluster:
    c = base.healthy()
    _remove_node(c, base.GPU_NODE)
    c.pool("gpua100")["properties"].update(count=0)
    c.azure["agent-pools"]["value"].append(
        base.agent_pool(
            "gpuspot",
            vm=base.GPU_SKU,
            count=1,
            min_count=1,
            max_count=3,
            spot=True,
            taints=["sku=gpu:NoSchedule", "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"],
            labels={"accelerator": "nvidia", "gpu-sku": "a100", "apps": "llama-3-1-8b"},
        )
    )
    _add_gpu_node(
        c,
        SPOT_NODE,
        pool="gpuspot",
        age_hours=22 / 60,
        suffix="s7p3k",
        spot=True,
        labels={"apps": "llama-3-1-8b", "gpu-sku": "a100"},
    )
    _move_inference(c, SPOT_NODE, created_minutes=25, ready_minutes=9)
    c.usage("lowPriorityCores").update(currentValue=24)
    c.usage("standardNCADSA100v4Family").update(currentValue=0)
    c.usage("cores").update(currentValue=8)
    c.k8s["events"] += _preempt_events(SPOT_GONE, WS_POD, base.WS_NS, base.WS, at=27) + [
        _pod_event(
            "FailedScheduling",
            "0/2 nodes are available: 2 node(s) didn't match Pod's node "
            "affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
            "scheduling.",
            25,
            type_="Warning",
            component="default-scheduler",
        ),
        _pod_event(
            "TriggeredScaleUp",
            "pod triggered scale-up: [{aks-gpuspot-23456789-vmss 0->1 (max: 3)}]",
            24.5,
            component="cluster-autoscaler",
        ),
        _node_event(
            SPOT_NODE,
            "RegisteredNode",
            f"Node {SPOT_NODE} event: Registered Node {SPOT_NODE} in Controller",
            21,
            component="node-controller",
        ),
        _pod_event(
            "Scheduled",
            f"Successfully assigned {base.WS_NS}/{WS_POD} to {SPOT_NODE}",
            19,
            component="default-scheduler",
        ),
        *_pull_events(SPOT_NODE, base.VLLM_IMAGE, pulling=18.8, pulled=14.8, took="3m58.102s"),
    ]
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"] = [[SPOT_NODE, base.GPU_SKU, 0]]
    return c


def _batch_pod(name: str, node: str, *, minutes: float) -> Obj:
    job = "reindex-29401020"
    image = "mlmodels.azurecr.io/batch/reindex:2.4.1"
    pod = base.pod(
        name,
        "batch",
        node_name=node,
        owner=("Job", job),
        age_hours=minutes / 60,
        labels={"batch.kubernetes.io/job-name": job, "job-name": job},
        tolerations=[base.GPU_TOLERATION, SPOT_TOLERATION],
        node_selector={"kubernetes.azure.com/agentpool": "spotbatch"},
        containers=[base.container("reindex", image, gpu=1, cpu="8", memory="48Gi")],
    )
    pod["metadata"]["ownerReferences"][0]["apiVersion"] = "batch/v1"
    pod["spec"]["restartPolicy"] = "Never"
    return pod


@scenario(
    "spot-eviction/ruled-out",
    confirmed=[],
    description="Spot evicted a batch re-indexing Job's node (spotbatch vmss000000, 36 min ago); the Job's "
    "retry runs on a new Spot node while the llama workspace keeps serving on on-demand "
    "gpua100: Spot used as it should be.",
)
def spot_ruled_out() -> Cluster:
    c = base.healthy()
    c.azure["agent-pools"]["value"].append(
        base.agent_pool(
            "spotbatch",
            vm=base.GPU_SKU,
            count=1,
            min_count=0,
            max_count=2,
            spot=True,
            taints=["sku=gpu:NoSchedule", "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"],
            labels={"accelerator": "nvidia", "workload": "batch"},
        )
    )
    _add_gpu_node(
        c,
        BATCH_NODE,
        pool="spotbatch",
        age_hours=28 / 60,
        suffix="b5n1x",
        spot=True,
        labels={"workload": "batch"},
    )
    c.k8s["pods"].append(_batch_pod("reindex-29401020-k8m3d", BATCH_NODE, minutes=34))
    c.usage("lowPriorityCores").update(currentValue=24)
    old, new = "reindex-29401020-x2b9q", "reindex-29401020-k8m3d"
    c.k8s["events"] += _preempt_events(BATCH_GONE, old, "batch", "reindex", at=36) + [
        _pod_event(
            "FailedScheduling",
            "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) "
            "didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 "
            "Preemption is not helpful for scheduling.",
            34,
            pod=new,
            ns="batch",
            type_="Warning",
            component="default-scheduler",
        ),
        _pod_event(
            "TriggeredScaleUp",
            "pod triggered scale-up: [{aks-spotbatch-34567890-vmss 0->1 (max: 2)}]",
            33.5,
            pod=new,
            ns="batch",
            component="cluster-autoscaler",
        ),
        _pod_event(
            "Scheduled",
            f"Successfully assigned batch/{new} to {BATCH_NODE}",
            26,
            pod=new,
            ns="batch",
            component="default-scheduler",
        ),
        *_pull_events(
            BATCH_NODE,
            "mlmodels.azurecr.io/batch/reindex:2.4.1",
            pulling=25.8,
            pulled=24.6,
            took="1m12.41s",
            size=3456789012,
            pod=new,
            ns="batch",
            container="reindex",
        ),
    ]
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append([BATCH_NODE, base.GPU_SKU, 0])
    return c


# ---- row 14: slow-image-pull ----------------------------------------------------------------


def _rollout(
    c: Cluster,
    *,
    image: str,
    created: float,
    pulling: float,
    pulled: float,
    took: str,
    size: int | None,
) -> None:
    """The workspace rolled to a new weights image; its pod was re-created on the same A100 node."""
    for obj in (
        c.find("pods", WS_POD, base.WS_NS),
        c.find("statefulsets", base.WS, base.WS_NS)["spec"]["template"],
    ):
        obj["spec"]["containers"][0]["image"] = image
    pod = c.find("pods", WS_POD, base.WS_NS)
    pod["status"]["containerStatuses"][0]["image"] = image
    ws = c.find("workspaces", base.WS, base.WS_NS)
    ws["inference"]["preset"].update(
        accessMode="private", presetOptions={"image": image, "imagePullSecrets": ["mlmodels-pull"]}
    )
    _move_inference(c, base.GPU_NODE, created_minutes=created, ready_minutes=max(pulled - 3, 0.5))
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"] = [[base.GPU_NODE, base.GPU_SKU, 0]]
    c.k8s["events"] += [
        _pod_event("Killing", f"Stopping container {base.WS}", created + 1, host=base.GPU_NODE),
        _pod_event(
            "Scheduled",
            f"Successfully assigned {base.WS_NS}/{WS_POD} to {base.GPU_NODE}",
            created,
            component="default-scheduler",
        ),
        *_pull_events(base.GPU_NODE, image, pulling=pulling, pulled=pulled, took=took, size=size),
    ]


@scenario(
    "slow-image-pull/confirmed",
    confirmed=["slow-image-pull"],
    description="The workspace rolled to a private weights image in ACR mlmodels, which lives in "
    "westeurope while the cluster is in eastus2: the pull took 11 min.",
)
def slow_pull_confirmed() -> Cluster:
    c = base.healthy()
    _rollout(
        c, image=ACR_IMAGE, created=16, pulling=15.5, pulled=4.4, took="11m4.214s", size=18412345678
    )
    c.azure["registries"]["value"][0]["location"] = "westeurope"
    return c


@scenario(
    "slow-image-pull/same-region-cold",
    confirmed=["slow-image-pull"],
    description="Same-region ACR (eastus2) but an 18.4 GB weights image on a node that never had it: "
    "the pull took 7m12.513s.",
)
def slow_pull_same_region() -> Cluster:
    c = base.healthy()
    _rollout(
        c,
        image="mlmodels.azurecr.io/llama:1",
        created=10,
        pulling=9.6,
        pulled=2.4,
        took="7m12.513s",
        size=18412345678,
    )
    return c


@scenario(
    "slow-image-pull/ruled-out",
    confirmed=[],
    description="The workspace rolled to a new image from the same-region ACR and the pull took 40 s.",
)
def slow_pull_ruled_out() -> Cluster:
    c = base.healthy()
    _rollout(c, image=ACR_IMAGE, created=6, pulling=5.7, pulled=5, took="40.127s", size=4123456789)
    return c
