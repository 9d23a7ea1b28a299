"""Morning readiness scenarios: one rung broken per case, plus the two whole-morning pictures.

Each scenario declares `rows`, the triage rows (of all 14) its evidence confirms (the
scenario contract test runs the triage runbook), and `rungs`, the morning readiness rungs
that fail, i.e. the readiness playbooks it confirms (tests/unit/test_readiness.py).
"""

from __future__ import annotations

from typing import Any

from tests.scenarios.builder import base
from tests.scenarios.builder.base import Cluster, condition, event, scenario

Obj = dict[str, Any]

PLUGIN_IMAGE = "mcr.microsoft.com/oss/v2/nvidia/k8s-device-plugin:v0.18.2-12"
BATCH_NODE = "aks-gpubatch-23456789-vmss000000"
BATCH_SKU = "Standard_NC48ads_A100_v4"
MIG_NODE = "aks-gpumig-34567890-vmss000000"
PHI = "workspace-phi-4"
PHI_CLAIM = "ws8b21c0e4a"
PHI_NODE = f"aks-{PHI_CLAIM}-45678901-vmss000000"
GPU_LABELS = {
    "accelerator": "nvidia",
    "kubernetes.azure.com/accelerator": "nvidia",
    "gpu-sku": "a100",
}

# What k8s-device-plugin v0.18 prints when the node has no NVIDIA driver / container toolkit,
# then exits (failOnInitError defaults to true) and the pod crashloops.
NO_DRIVER_LOG = """I1126 17:44:02.118301       1 main.go:235] "Starting NVIDIA Device Plugin" version=<
	3c378193
	commit: 3c378193fcebf6e955f0d65bd6f2aeed099ad8ea
 >
I1126 17:44:02.118362       1 main.go:238] Starting FS watcher for /var/lib/kubelet/device-plugins
I1126 17:44:02.118433       1 main.go:245] Starting OS watcher.
I1126 17:44:02.118741       1 main.go:260] Starting Plugins.
I1126 17:44:02.118769       1 main.go:317] Loading configuration.
I1126 17:44:02.119407       1 main.go:356] Retrieving plugins.
E1126 17:44:02.119532       1 factory.go:112] Incompatible strategy detected auto
E1126 17:44:02.119547       1 factory.go:113] If this is a GPU node, did you configure the NVIDIA Container Toolkit?
E1126 17:44:02.119553       1 factory.go:114] You can check the prerequisites at: https://github.com/NVIDIA/k8s-device-plugin#prerequisites
E1126 17:44:02.119559       1 factory.go:115] You can learn how to set the runtime at: https://github.com/NVIDIA/k8s-device-plugin#quick-start
E1126 17:44:02.119565       1 factory.go:116] If this is not a GPU node, you should set up a toleration or nodeSelector to only deploy this plugin on GPU nodes
E1126 17:44:02.119611       1 main.go:123] error starting plugins: error creating plugin manager: unable to create plugin manager: invalid device discovery strategy
"""

# After a kubelet restart the plugin must re-register; this one lost the socket and exits.
KUBELET_SOCK_LOG = """I1127 06:51:40.102118       1 main.go:235] "Starting NVIDIA Device Plugin" version=<
	3c378193
 >
I1127 06:51:40.118204       1 main.go:356] Retrieving plugins.
I1127 06:51:40.512771       1 server.go:195] Starting GRPC server for 'nvidia.com/gpu'
I1127 06:51:40.514002       1 server.go:139] Starting to serve 'nvidia.com/gpu' on /var/lib/kubelet/device-plugins/nvidia-gpu.sock
E1127 06:51:45.515230       1 server.go:146] Could not register device plugin: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial unix /var/lib/kubelet/device-plugins/kubelet.sock: connect: no such file or directory"
E1127 06:51:45.515301       1 main.go:123] error starting plugins: error starting plugin: failed to register plugin with kubelet
"""


# Readiness rungs that FAIL in each scenario (the readiness playbooks it confirms). The scenario's
# own `confirmed=` list is about the 14 triage rows, which the scenario contract test runs.
READINESS: dict[str, tuple[str, ...]] = {}


def _scenario(path: str, *, rows: list[str], rungs: list[str], description: str) -> Any:
    """Register a scenario: `rows` = triage rows confirmed, `rungs` = readiness rungs failing."""
    READINESS[path] = tuple(sorted(rungs))
    failing = (
        f" Morning rungs failing: {', '.join(rungs)}." if rungs else " Every morning rung passes."
    )
    return scenario(path, confirmed=rows, description=description + failing)


# ---- small, coherent mutations -------------------------------------------------------------


def _crashloop(
    pod: Obj, *, restarts: int, since_minutes: float, finished_minutes: float = 3
) -> None:
    """The pod's only container crashloops: waiting CrashLoopBackOff, last run exited 1."""
    status = pod["status"]
    c = status["containerStatuses"][0]
    c.update(
        ready=False,
        started=False,
        restartCount=restarts,
        state={
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 5m0s restarting failed container={c['name']} "
                f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                f"({pod['metadata']['uid']})",
            }
        },
        lastState={
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": base.ts(minutes=finished_minutes + 0.1),
                "finishedAt": base.ts(minutes=finished_minutes),
            }
        },
    )
    for cond in status["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(
                status="False",
                reason="ContainersNotReady",
                message=f"containers with unready status: [{c['name']}]",
                lastTransitionTime=base.ts(minutes=since_minutes),
            )


def _plugin_pod(node_name: str, suffix: str, *, age_hours: float = 70) -> Obj:
    p = base.device_plugin_pod(node_name, suffix=suffix)
    created = base.ts(hours=age_hours)
    p["metadata"]["creationTimestamp"] = p["status"]["startTime"] = created
    for cond in p["status"]["conditions"]:
        cond["lastTransitionTime"] = created
    p["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": created}}
    return p


def _kube_proxy(node_name: str, suffix: str) -> Obj:
    return base.daemonset_pod(
        "kube-proxy",
        "kube-system",
        node_name,
        "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3",
        suffix,
    )


def _recount(c: Cluster) -> None:
    """DaemonSet status from the pods it owns: one per node it covers, Ready ones counted."""
    for ds in c.k8s["daemonsets"]:
        mine = [
            p
            for p in c.k8s["pods"]
            if p["metadata"]["namespace"] == ds["metadata"]["namespace"]
            and any(
                o["kind"] == "DaemonSet" and o["name"] == ds["metadata"]["name"]
                for o in p["metadata"].get("ownerReferences", [])
            )
        ]
        ready = sum(
            1
            for p in mine
            for cond in p["status"]["conditions"]
            if cond["type"] == "Ready" and cond["status"] == "True"
        )
        status = {
            "currentNumberScheduled": len(mine),
            "desiredNumberScheduled": len(mine),
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "observedGeneration": ds["metadata"]["generation"],
            "updatedNumberScheduled": len(mine),
        }
        if ready < len(mine):
            status["numberUnavailable"] = len(mine) - ready
        ds["status"] = status


def _gpu_node(
    name: str,
    pool: str,
    sku: str,
    *,
    gpu: int,
    age_hours: float,
    labels: dict[str, str],
    cpu: str,
    mig: dict[str, int] | None = None,
) -> Obj:
    n = base.node(
        name,
        pool=pool,
        sku=sku,
        gpu=gpu,
        mig=mig,
        age_hours=age_hours,
        taints=[base.GPU_TAINT],
        extra_labels={**GPU_LABELS, **labels},
    )
    for field in ("allocatable", "capacity"):  # GPU VM sizes, whatever the GPU count says
        n["status"][field]["memory"] = "214587916Ki" if field == "allocatable" else "226764240Ki"
    n["status"]["allocatable"]["cpu"] = cpu
    n["status"]["capacity"]["cpu"] = str(-(-int(cpu.removesuffix("m")) // 1000))
    return n


def _batch_pool(c: Cluster, *, age_hours: float, driver: str | None, plugin_ready: bool) -> None:
    """An A100 batch pool (NC48ads, min 1) with one node and its DaemonSet pods."""
    gpus = 2 if plugin_ready else 0
    n = _gpu_node(
        BATCH_NODE,
        "gpubatch",
        BATCH_SKU,
        gpu=gpus,
        age_hours=age_hours,
        labels={"workload": "batch"},
        cpu="47060m",
    )
    c.k8s["nodes"].append(n)
    c.azure["agent-pools"]["value"].append(
        base.agent_pool(
            "gpubatch",
            vm=BATCH_SKU,
            count=1,
            min_count=1,
            max_count=2,
            taints=["sku=gpu:NoSchedule"],
            labels={**{k: v for k, v in GPU_LABELS.items() if "/" not in k}, "workload": "batch"},
            gpu_driver=driver,
        )
    )
    plugin = _plugin_pod(BATCH_NODE, "b4m9t", age_hours=age_hours)
    if not plugin_ready:
        _crashloop(plugin, restarts=int(age_hours * 12), since_minutes=age_hours * 60 - 1)
        key = f"gpu-resources/{plugin['metadata']['name']}/nvidia-device-plugin-ctr"
        c.logs[key] = c.logs[key + ".previous"] = NO_DRIVER_LOG
        c.k8s["events"].append(
            event(
                name=f"{plugin['metadata']['name']}.18b2",
                kind="Pod",
                obj_name=plugin["metadata"]["name"],
                ns="gpu-resources",
                reason="BackOff",
                type_="Warning",
                count=int(age_hours * 12),
                minutes_ago=2,
                first_minutes_ago=age_hours * 60 - 2,
                host=BATCH_NODE,
                message="Back-off restarting failed container nvidia-device-plugin-ctr in pod "
                f"{plugin['metadata']['name']}_gpu-resources({plugin['metadata']['uid']})",
            )
        )
    c.k8s["pods"] += [plugin, _kube_proxy(BATCH_NODE, "k3v9d")]


def _mig_pool(c: Cluster) -> None:
    """An A100 pool partitioned by AKS (gpuInstanceProfile MIG3g): 2 x nvidia.com/mig-3g.40gb."""
    n = _gpu_node(
        MIG_NODE,
        "gpumig",
        base.GPU_SKU,
        gpu=0,
        mig={"nvidia.com/mig-3g.40gb": 2},
        age_hours=96,
        labels={"tenant": "embeddings"},
        cpu="23660m",
    )
    c.k8s["nodes"].append(n)
    pool = base.agent_pool(
        "gpumig",
        vm=base.GPU_SKU,
        count=1,
        min_count=1,
        max_count=1,
        taints=["sku=gpu:NoSchedule"],
        labels={"accelerator": "nvidia", "gpu-sku": "a100", "tenant": "embeddings"},
    )
    pool["properties"]["gpuInstanceProfile"] = "MIG3g"
    c.azure["agent-pools"]["value"].append(pool)
    args = ["--model", "BAAI/bge-m3", "--task", "embed", "--port", "8000"]
    ctr = base.container(
        "vllm",
        "vllm/vllm-openai:v0.9.0",
        ports=[8000],
        args=args,
        probe_port=8000,
        cpu="2",
        memory="16Gi",
        extra_limits={"nvidia.com/mig-3g.40gb": "1"},
    )
    labels = {"app": "bge-embedder", "pod-template-hash": "7c9d8f6b5"}
    pod = base.pod(
        "bge-embedder-7c9d8f6b5-tq4zx",
        "ml",
        node_name=MIG_NODE,
        containers=[ctr],
        owner=("ReplicaSet", "bge-embedder-7c9d8f6b5"),
        labels=labels,
        age_hours=90,
        node_selector={"tenant": "embeddings"},
        tolerations=[base.GPU_TOLERATION],
    )
    c.k8s["pods"] += [
        pod,
        _plugin_pod(MIG_NODE, "h2x5c", age_hours=96),
        _kube_proxy(MIG_NODE, "m7q2w"),
    ]
    template = {
        "metadata": {"labels": {"app": "bge-embedder"}},
        "spec": {
            "containers": [ctr],
            "nodeSelector": {"tenant": "embeddings"},
            "tolerations": [base.GPU_TOLERATION],
        },
    }
    c.k8s["deployments"].append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "bge-embedder",
                "namespace": "ml",
                "uid": base.uid("ml/bge-embedder"),
                "creationTimestamp": base.ts(hours=96),
                "generation": 1,
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "bge-embedder"}},
                "template": template,
            },
            "status": {
                "replicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "updatedReplicas": 1,
                "observedGeneration": 1,
            },
        }
    )
    c.k8s["replicasets"].append(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "bge-embedder-7c9d8f6b5",
                "namespace": "ml",
                "uid": base.uid("bge-embedder-7c9d8f6b5"),
                "creationTimestamp": base.ts(hours=96),
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "bge-embedder",
                        "uid": base.uid("ml/bge-embedder"),
                        "controller": True,
                    }
                ],
            },
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template},
            "status": {
                "replicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "fullyLabeledReplicas": 1,
            },
        }
    )
    c.logs["ml/bge-embedder-7c9d8f6b5-tq4zx/vllm"] = (
        "INFO 11-23 09:41:02 [__init__.py:239] Automatically detected platform cuda.\n"
        "INFO 11-23 09:41:05 [api_server.py:1043] vLLM API server version 0.9.0\n"
        "INFO 11-23 09:41:21 [gpu_model_runner.py:1347] Model loading took 2.1583 GiB and 9.88 seconds\n"
        "INFO 11-23 09:41:24 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:8000\n"
        "INFO:     Application startup complete.\n"
    )
    c.metrics["ml/bge-embedder-7c9d8f6b5-tq4zx"] = base.vllm_metrics(
        kv=0.0, running=2, model="BAAI/bge-m3"
    )
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append([MIG_NODE, base.GPU_SKU, 0])


def _phi_crashloop(c: Cluster) -> None:
    """workspace-phi-4 on its own KAITO node; a typo in its inference config crashloops vLLM."""
    labels = {
        "karpenter.sh/nodepool": "kaito",
        "kaito.sh/workspace": PHI,
        "kaito.sh/workspacenamespace": base.WS_NS,
        "apps": "phi-4",
        "kaito.sh/machine-type": "gpu",
    }
    c.k8s["nodes"].append(
        _gpu_node(
            PHI_NODE, PHI_CLAIM, base.GPU_SKU, gpu=1, age_hours=50, labels=labels, cpu="23660m"
        )
    )
    c.azure["agent-pools"]["value"].append(
        base.agent_pool(
            PHI_CLAIM,
            vm=base.GPU_SKU,
            count=1,
            min_count=None,
            max_count=None,
            taints=["sku=gpu:NoSchedule"],
            labels={k: v for k, v in labels.items()},
        )
    )
    c.k8s["nodeclaims"].append(
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodeClaim",
            "metadata": {
                "name": PHI_CLAIM,
                "uid": base.uid(PHI_CLAIM),
                "creationTimestamp": base.ts(hours=50.1),
                "labels": {k: v for k, v in labels.items() if k != "kaito.sh/machine-type"},
                "annotations": {"karpenter.sh/do-not-disrupt": "true"},
            },
            "spec": {
                "requirements": [
                    {
                        "key": "node.kubernetes.io/instance-type",
                        "operator": "In",
                        "values": [base.GPU_SKU],
                    }
                ],
                "taints": [base.GPU_TAINT],
            },
            "status": {
                "nodeName": PHI_NODE,
                "conditions": [
                    {
                        "type": t,
                        "status": "True",
                        "reason": t,
                        "lastTransitionTime": base.ts(hours=50),
                    }
                    for t in ("Launched", "Registered", "Initialized", "Ready")
                ],
            },
        }
    )
    config = "phi-4-inference-config"
    c.k8s["configmaps"].append(
        base.inference_config(
            config,
            body=(
                "vllm:\n  cpu-offload-gb: 0\n  gpu-memory-utilization: 0.90\n  swap-space: 4\n  max-model-length: 4096\n"
            ),
        )
    )
    ws = base.workspace(
        PHI,
        preset="phi-4",
        config=config,
        age_hours=50,
        label_value="phi-4",
        conditions=[
            condition("NodeClaimReady", "True", "installNodePluginsSuccess", minutes_ago=2990),
            condition(
                "ResourceReady",
                "True",
                "workspaceResourceStatusSuccess",
                "workspace resource is ready",
                minutes_ago=2990,
            ),
            condition(
                "InferenceReady",
                "False",
                "ContainerCrashLoopBackOff",
                f"back-off 5m0s restarting failed container={PHI} pod={PHI}-0_default",
                minutes_ago=49,
            ),
            condition(
                "WorkspaceSucceeded",
                "False",
                "workspaceFailed",
                "inference workload is not ready",
                minutes_ago=49,
            ),
        ],
    )
    ws["status"]["workerNodes"] = [PHI_NODE]
    c.k8s["workspaces"].append(ws)
    c.k8s["statefulsets"].append(base.statefulset(PHI, ready=0))
    c.k8s["services"].append(base.service(PHI))
    pod = base.inference_pod(
        PHI, node_name=PHI_NODE, age_hours=0.87, node_selector={"apps": "phi-4"}
    )
    pod["metadata"]["labels"]["apps"] = "phi-4"
    ctr = pod["spec"]["containers"][0]
    ctr["args"] = [a.replace("llama-3.1-8b-instruct", "phi-4") for a in ctr["args"]]
    _crashloop(pod, restarts=9, since_minutes=49, finished_minutes=2)
    c.k8s["pods"] += [
        pod,
        _plugin_pod(PHI_NODE, "q8w2r", age_hours=50),
        _kube_proxy(PHI_NODE, "r5t8y"),
    ]
    log = (
        "INFO 11-27 07:37:41 [__init__.py:239] Automatically detected platform cuda.\n"
        "usage: inference_api.py [-h] [--kaito-config-file KAITO_CONFIG_FILE] ...\n"
        "inference_api.py: error: unrecognized arguments: --max-model-length=4096\n"
    )
    key = f"{base.WS_NS}/{PHI}-0/{PHI}"
    c.logs[key] = c.logs[key + ".previous"] = log
    c.k8s["events"].append(
        event(
            name=f"{PHI}-0.18b7",
            kind="Pod",
            obj_name=f"{PHI}-0",
            ns=base.WS_NS,
            reason="BackOff",
            type_="Warning",
            count=41,
            minutes_ago=1,
            first_minutes_ago=48,
            host=PHI_NODE,
            message=f"Back-off restarting failed container {PHI} in pod {PHI}-0_default({pod['metadata']['uid']})",
        )
    )
    c.probes[f"{base.WS_NS}/{PHI}"] = _no_endpoints(PHI)
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append([PHI_NODE, base.GPU_SKU, 0])


def _no_endpoints(service: str, ms: int = 4) -> Obj:
    """The API server's service proxy when no Ready pod backs the Service."""
    body = (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"no endpoints available '
        f'for service \\"{service}\\"","reason":"ServiceUnavailable","code":503}}'
    )
    return {"path": "/v1/models", "status": 503, "latency_ms": ms, "body": body}


# ---- the two whole mornings ----------------------------------------------------------------


@_scenario(
    "morning/all-ready",
    rows=[],
    rungs=[],
    description="Healthy cluster at 07:40: every readiness rung passes and no triage row confirms.",
)
def all_ready() -> Cluster:
    return base.healthy()


@_scenario(
    "morning/not-ready",
    rows=["inference-crashloop", "scale-down-blocked"],
    rungs=[
        "gpu-not-advertised",
        "device-plugin-unhealthy",
        "workspace-not-ready",
        "endpoint-not-answering",
        "quota-no-headroom",
        "prewarm-missing",
        "idle-gpu-spend",
    ],
    description="A bad morning. The batch pool (NC48ads, min-count 1) was added at 17:40 yesterday with "
    "--gpu-driver None and no GPU Operator: its node never advertised a GPU (device plugin "
    "crashloops) and idled 14 h. workspace-phi-4 crashloops on a typo in its inference config, "
    "so /v1/models answers 503. The A100 family is at 96/96 vCPUs, and the llama pre-warm "
    "CronJob was deleted while its pool scales to zero. The idle batch node is held by its pool "
    "floor (scale-down-blocked).",
)
def not_ready() -> Cluster:
    c = base.healthy()
    _batch_pool(c, age_hours=14, driver="None", plugin_ready=False)
    _phi_crashloop(c)
    c.k8s["cronjobs"] = []
    c.usage("standardNCADSA100v4Family").update(currentValue=96, limit=96)
    c.usage("cores").update(currentValue=104)
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append([BATCH_NODE, BATCH_SKU, 14])
    _recount(c)
    return c


# ---- rung 1: GPU advertised ----------------------------------------------------------------


@_scenario(
    "gpu-not-advertised/confirmed",
    rows=[],
    rungs=["gpu-not-advertised", "device-plugin-unhealthy"],
    description="kubelet restarted on the A100 node 52 min ago and the device plugin cannot re-register "
    "(kubelet.sock missing): allocatable nvidia.com/gpu is 0 (capacity 1). The running llama "
    "pod keeps its GPU, so serving is fine until it is rescheduled.",
)
def gpu_not_advertised() -> Cluster:
    c = base.healthy()
    gpu = c.find("nodes", base.GPU_NODE)
    gpu["status"]["allocatable"]["nvidia.com/gpu"] = "0"
    plugin = c.find("pods", "nvidia-device-plugin-daemonset-x7k2p", "gpu-resources")
    _crashloop(plugin, restarts=11, since_minutes=51, finished_minutes=4)
    key = "gpu-resources/nvidia-device-plugin-daemonset-x7k2p/nvidia-device-plugin-ctr"
    c.logs[key] = c.logs[key + ".previous"] = KUBELET_SOCK_LOG
    c.k8s["events"] += [
        event(
            name=f"{base.GPU_NODE}.18b0",
            kind="Node",
            obj_name=base.GPU_NODE,
            ns="",
            reason="Starting",
            message="Starting kubelet.",
            minutes_ago=52,
            host=base.GPU_NODE,
        ),
        event(
            name="nvidia-device-plugin-daemonset-x7k2p.18b3",
            kind="Pod",
            obj_name="nvidia-device-plugin-daemonset-x7k2p",
            ns="gpu-resources",
            reason="BackOff",
            type_="Warning",
            count=11,
            minutes_ago=1,
            first_minutes_ago=50,
            host=base.GPU_NODE,
            message="Back-off restarting failed container nvidia-device-plugin-ctr in pod "
            "nvidia-device-plugin-daemonset-x7k2p_gpu-resources",
        ),
    ]
    _recount(c)
    return c


@_scenario(
    "gpu-not-advertised/ruled-out",
    rows=[],
    rungs=[],
    description="Look-alike: a second A100 pool partitioned with MIG (gpuInstanceProfile MIG3g) shows no "
    "nvidia.com/gpu at all, only nvidia.com/mig-3g.40gb: 2, and serves an embedding model from "
    "one slice. Every GPU node advertises a GPU resource.",
)
def gpu_advertised_mig() -> Cluster:
    c = base.healthy()
    _mig_pool(c)
    c.usage("standardNCADSA100v4Family").update(currentValue=48)
    c.usage("cores").update(currentValue=56)
    _recount(c)
    return c


# ---- rung 2: device plugin / driver --------------------------------------------------------


@_scenario(
    "device-plugin-unhealthy/confirmed",
    rows=[],
    rungs=["device-plugin-unhealthy"],
    description="A Helm upgrade 40 min ago dropped the device plugin DaemonSet's nodeSelector: it now "
    "also runs on both system nodes, where it crashloops ('If this is not a GPU node, you "
    "should set up a toleration or nodeSelector'). DaemonSet 1/3 ready; the GPU node is fine.",
)
def plugin_everywhere() -> Cluster:
    c = base.healthy()
    ds = c.find("daemonsets", "nvidia-device-plugin-daemonset", "gpu-resources")
    ds["spec"]["template"]["spec"].pop("nodeSelector")
    ds["metadata"]["generation"] = 2
    for i, sys_node in enumerate(base.SYS_NODES):
        p = _plugin_pod(sys_node, f"s{i}d4f", age_hours=40 / 60)
        _crashloop(p, restarts=6, since_minutes=39, finished_minutes=2 + i)
        c.k8s["pods"].append(p)
        key = f"gpu-resources/{p['metadata']['name']}/nvidia-device-plugin-ctr"
        c.logs[key] = c.logs[key + ".previous"] = NO_DRIVER_LOG.replace("1126 17:44", "1127 07:37")
        c.k8s["events"].append(
            event(
                name=f"{p['metadata']['name']}.18c{i}",
                kind="Pod",
                obj_name=p["metadata"]["name"],
                ns="gpu-resources",
                reason="BackOff",
                type_="Warning",
                count=6,
                minutes_ago=2 + i,
                first_minutes_ago=38,
                host=sys_node,
                message="Back-off restarting failed container nvidia-device-plugin-ctr in pod "
                f"{p['metadata']['name']}_gpu-resources({p['metadata']['uid']})",
            )
        )
    _recount(c)
    return c


@_scenario(
    "device-plugin-unhealthy/ruled-out",
    rows=[],
    rungs=[],
    description="Look-alike: the plugin pod restarted 3 times two days ago (node-image upgrade) and has run "
    "cleanly since; DaemonSet 1/1 ready. Old restarts are not a failing rung.",
)
def plugin_recovered() -> Cluster:
    c = base.healthy()
    plugin = c.find("pods", "nvidia-device-plugin-daemonset-x7k2p", "gpu-resources")
    status = plugin["status"]["containerStatuses"][0]
    status.update(
        restartCount=3,
        state={"running": {"startedAt": base.ts(hours=47)}},
        lastState={
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": base.ts(hours=47.2),
                "finishedAt": base.ts(hours=47.1),
            }
        },
    )
    for cond in plugin["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["lastTransitionTime"] = base.ts(hours=47)
    return c


# ---- rung 3: workspaces ready --------------------------------------------------------------


@_scenario(
    "workspace-not-ready/confirmed",
    rows=["quota-exhausted"],
    rungs=["workspace-not-ready", "quota-no-headroom"],
    description="A second workspace (workspace-phi-4) created 25 min ago waits for its node: the A100 family "
    "quota is at 24/24, so its NodeClaim never launches. KAITO creates no Service until the node "
    "is ready, so the endpoint rung (llama answers) passes.",
)
def workspace_waits_on_quota() -> Cluster:
    c = base.healthy()
    c.k8s["workspaces"].append(
        base.workspace(
            PHI,
            preset="phi-4",
            ready=False,
            config=None,
            age_hours=25 / 60,
            label_value="phi-4",
            conditions=[
                condition(
                    "NodeClaimReady",
                    "False",
                    "LaunchFailed",
                    "creating instance: Operation could not be completed as it results in exceeding approved "
                    "standardNCADSA100v4Family Cores quota. Additional details - Deployment Model: Resource "
                    "Manager, Location: eastus2, Current Limit: 24, Current Usage: 24, Additional Required: 24, "
                    "(Minimum) New Limit Required: 48. Submit a request for Quota increase",
                    minutes_ago=23,
                ),
                condition(
                    "ResourceReady",
                    "False",
                    "workspaceResourceStatusNotReady",
                    "node claim or node status condition not ready",
                    minutes_ago=24,
                ),
                condition(
                    "InferenceReady",
                    "False",
                    "WorkspaceInferenceStatusPending",
                    "Inference workload is not ready",
                    minutes_ago=24,
                ),
            ],
        )
    )
    c.k8s["nodeclaims"].append(
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodeClaim",
            "metadata": {
                "name": PHI_CLAIM,
                "uid": base.uid(PHI_CLAIM),
                "creationTimestamp": base.ts(minutes=24),
                "labels": {
                    "karpenter.sh/nodepool": "kaito",
                    "kaito.sh/workspace": PHI,
                    "kaito.sh/workspacenamespace": base.WS_NS,
                    "apps": "phi-4",
                },
                "annotations": {"karpenter.sh/do-not-disrupt": "true"},
            },
            "spec": {
                "requirements": [
                    {
                        "key": "node.kubernetes.io/instance-type",
                        "operator": "In",
                        "values": [base.GPU_SKU],
                    }
                ],
                "taints": [base.GPU_TAINT],
            },
            "status": {
                "conditions": [
                    {
                        "type": "Launched",
                        "status": "Unknown",
                        "reason": "LaunchFailed",
                        "message": "creating instance: Operation could not be completed as it results in "
                        "exceeding approved standardNCADSA100v4Family Cores quota. Addi",
                        "lastTransitionTime": base.ts(minutes=23),
                    }
                ]
            },
        }
    )
    c.k8s["events"].append(
        event(
            name=f"{PHI_CLAIM}.17f3",
            kind="NodeClaim",
            obj_name=PHI_CLAIM,
            ns="",
            reason="FailedLaunch",
            type_="Warning",
            component="karpenter",
            count=5,
            minutes_ago=3,
            first_minutes_ago=23,
            message="creating instance: Operation could not be completed as it results in "
            "exceeding approved standardNCADSA100v4Family Cores quota.",
        )
    )
    c.usage("standardNCADSA100v4Family").update(currentValue=24, limit=24)
    return c


@_scenario(
    "workspace-not-ready/ruled-out",
    rows=[],
    rungs=[],
    description="Look-alike: a finished QLoRA tuning workspace has no InferenceReady condition at all "
    "(tuning workspaces report JobStarted and WorkspaceSucceeded); the inference workspace is "
    "ready. 1/1 inference workspaces ready.",
)
def tuning_workspace() -> Cluster:
    c = base.healthy()
    tuning = base.workspace(
        "workspace-tuning-phi-3",
        preset="phi-3-mini-128k-instruct",
        config=None,
        age_hours=30,
        label_value="tuning-phi-3",
        conditions=[
            condition("NodeClaimReady", "True", "installNodePluginsSuccess", minutes_ago=1795),
            condition(
                "ResourceReady",
                "True",
                "workspaceResourceStatusSuccess",
                "workspace resource is ready",
                minutes_ago=1794,
            ),
            condition(
                "JobStarted",
                "True",
                "workspacesucceeded",
                "tuning job has started",
                minutes_ago=1790,
            ),
            condition(
                "WorkspaceSucceeded",
                "True",
                "workspaceSucceeded",
                "workspace succeeds",
                minutes_ago=1310,
            ),
        ],
    )
    tuning.pop("inference")
    tuning["tuning"] = {
        "preset": {"name": "phi-3-mini-128k-instruct"},
        "method": "qlora",
        "input": {
            "urls": [
                "https://huggingface.co/datasets/philschmid/dolly-15k-oai-style/"
                "resolve/main/data/train-00000-of-00001.parquet"
            ]
        },
        "output": {
            "image": "mlmodels.azurecr.io/adapters/phi-3-dolly:0.1.0",
            "imagePushSecret": "acr-push",
        },
    }
    tuning["status"]["workerNodes"] = []
    c.k8s["workspaces"].append(tuning)
    c.usage("standardNCADSA100v4Family").update(currentValue=24)
    return c


# ---- rung 4: endpoint answering ------------------------------------------------------------


@_scenario(
    "endpoint-not-answering/confirmed",
    rows=[],
    rungs=["endpoint-not-answering", "workspace-not-ready"],
    description="The llama inference config was changed 5 min ago; KAITO rolled the pod, which is still "
    "loading weights (readiness probe refused), so the Service has no endpoint and /v1/models "
    "through the service proxy answers 503.",
)
def endpoint_rolling() -> Cluster:
    c = base.healthy()
    pod = c.find("pods", f"{base.WS}-0", base.WS_NS)
    started = base.ts(minutes=4)
    pod["metadata"]["creationTimestamp"] = pod["status"]["startTime"] = started
    pod["metadata"]["annotations"]["workspace.kaito.io/revision"] = "2"
    pod["status"]["containerStatuses"][0].update(
        ready=False, started=True, state={"running": {"startedAt": started}}
    )
    for cond in pod["status"]["conditions"]:
        cond["lastTransitionTime"] = started
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(
                status="False",
                reason="ContainersNotReady",
                message=f"containers with unready status: [{base.WS}]",
            )
    sts = c.find("statefulsets", base.WS, base.WS_NS)
    sts["status"].update(readyReplicas=0, availableReplicas=0)
    sts["metadata"]["generation"] = sts["status"]["observedGeneration"] = 2
    c.k8s["configmaps"][0]["data"]["inference_config.yaml"] = c.k8s["configmaps"][0]["data"][
        "inference_config.yaml"
    ].replace("max-model-len: 8192", "max-model-len: 16384")
    ws = c.find("workspaces", base.WS, base.WS_NS)
    for cond in ws["status"]["conditions"]:
        if cond["type"] in ("InferenceReady", "WorkspaceSucceeded"):
            cond.update(status="False", lastTransitionTime=base.ts(minutes=4))
        if cond["type"] == "InferenceReady":
            cond.update(
                reason="WorkspaceInferenceStatusPending", message="Inference workload is not ready"
            )
        if cond["type"] == "WorkspaceSucceeded":
            cond.update(reason="workspacePending", message="inference workload is not ready")
    pod_name = f"{base.WS}-0"
    c.k8s["events"] += [
        event(
            name=f"{pod_name}.18d0",
            kind="Pod",
            obj_name=pod_name,
            ns=base.WS_NS,
            reason="Killing",
            message=f"Stopping container {base.WS}",
            minutes_ago=5,
            host=base.GPU_NODE,
        ),
        event(
            name=f"{pod_name}.18d1",
            kind="Pod",
            obj_name=pod_name,
            ns=base.WS_NS,
            reason="Scheduled",
            message=f"Successfully assigned {base.WS_NS}/{pod_name} to {base.GPU_NODE}",
            minutes_ago=4,
            component="default-scheduler",
        ),
        event(
            name=f"{pod_name}.18d2",
            kind="Pod",
            obj_name=pod_name,
            ns=base.WS_NS,
            reason="Pulled",
            message=f'Container image "{base.VLLM_IMAGE}" already present on machine',
            minutes_ago=4,
            host=base.GPU_NODE,
        ),
        event(
            name=f"{pod_name}.18d3",
            kind="Pod",
            obj_name=pod_name,
            ns=base.WS_NS,
            reason="Started",
            message=f"Started container {base.WS}",
            minutes_ago=4,
            host=base.GPU_NODE,
        ),
        event(
            name=f"{pod_name}.18d4",
            kind="Pod",
            obj_name=pod_name,
            ns=base.WS_NS,
            reason="Unhealthy",
            type_="Warning",
            count=22,
            minutes_ago=0.2,
            first_minutes_ago=3.8,
            host=base.GPU_NODE,
            message='Readiness probe failed: Get "http://10.244.1.23:5000/health": dial tcp 10.244.1.23:5000: '
            "connect: connection refused",
        ),
    ]
    c.logs[f"{base.WS_NS}/{pod_name}/{base.WS}"] = (
        "\n".join(base.VLLM_START_LOG.splitlines()[:4]).replace("11-24 07:02", "11-27 07:36") + "\n"
    )
    c.metrics = {}
    c.probes[f"{base.WS_NS}/{base.WS}"] = _no_endpoints(base.WS, ms=3)
    return c


@_scenario(
    "endpoint-not-answering/ruled-out",
    rows=[],
    rungs=[],
    description="Look-alike: the endpoint is slow under the morning ramp (/v1/models 200 in 1,412 ms, "
    "under the 5 s limit) and the pod restarted once two days ago. It answers with its model.",
)
def endpoint_slow_but_ok() -> Cluster:
    c = base.healthy()
    c.probes[f"{base.WS_NS}/{base.WS}"]["latency_ms"] = 1412
    status = c.find("pods", f"{base.WS}-0", base.WS_NS)["status"]["containerStatuses"][0]
    status.update(
        restartCount=1,
        lastState={
            "terminated": {
                "exitCode": 137,
                "reason": "Error",
                "startedAt": base.ts(hours=70),
                "finishedAt": base.ts(hours=49),
            }
        },
        state={"running": {"startedAt": base.ts(hours=49)}},
    )
    c.metrics[f"{base.WS_NS}/{base.WS}-0"] = base.vllm_metrics(kv=0.62, running=14, waiting=0)
    return c


# ---- quota headroom ------------------------------------------------------------------------


@_scenario(
    "quota-no-headroom/confirmed",
    rows=[],
    rungs=["quota-no-headroom"],
    description="The A100 family is at 96/96 vCPUs (this cluster's node holds 24; VMs elsewhere in the "
    "subscription hold 72). Nothing is stalled yet, but the next A100 node will be.",
)
def quota_full() -> Cluster:
    c = base.healthy()
    c.usage("standardNCADSA100v4Family").update(currentValue=96, limit=96)
    c.usage("cores").update(currentValue=104)
    return c


@_scenario(
    "quota-no-headroom/spot",
    rows=[],
    rungs=["quota-no-headroom"],
    description="A Spot burst pool (gpuspot, NC24ads, min 0, count 0) draws on Total Regional Low-priority "
    "vCPUs, limited to 16: not even one 24-vCPU Spot node fits, though the A100 family has room.",
)
def quota_spot() -> Cluster:
    c = base.healthy()
    c.azure["agent-pools"]["value"].append(
        base.agent_pool(
            "gpuspot",
            vm=base.GPU_SKU,
            count=0,
            min_count=0,
            max_count=3,
            spot=True,
            taints=["sku=gpu:NoSchedule", "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"],
            labels={
                "accelerator": "nvidia",
                "gpu-sku": "a100",
                "kubernetes.azure.com/scalesetpriority": "spot",
            },
        )
    )
    c.usage("lowPriorityCores").update(currentValue=0, limit=16)
    return c


@_scenario(
    "quota-no-headroom/ruled-out",
    rows=[],
    rungs=[],
    description="Boundary: the A100 family is at 72/96, exactly one NC24ads node of room. The T4 family "
    "has a limit of 0 but nothing uses T4s, so it needs no headroom.",
)
def quota_boundary() -> Cluster:
    c = base.healthy()
    c.usage("standardNCADSA100v4Family").update(currentValue=72)
    c.usage("standardNCASv3_T4Family").update(currentValue=0, limit=0)
    c.usage("cores").update(currentValue=80)
    return c


# ---- pre-warm ------------------------------------------------------------------------------


@_scenario(
    "prewarm-missing/confirmed",
    rows=[],
    rungs=["prewarm-missing"],
    description="The prewarm-llama CronJob was deleted; the llama workspace still sits on gpua100, which "
    "scales to zero (minCount 0).",
)
def prewarm_deleted() -> Cluster:
    c = base.healthy()
    c.k8s["cronjobs"] = []
    return c


@_scenario(
    "prewarm-missing/scale-down-only",
    rows=[],
    rungs=["prewarm-missing"],
    description="Trap: the only CronJob naming the workload is the nightly scale-down "
    "(kubectl scale statefulset/... --replicas=0 at 20:00); nothing scales it back up.",
)
def prewarm_scale_down_only() -> Cluster:
    c = base.healthy()
    c.k8s["cronjobs"] = [
        base.cronjob(
            "scaledown-llama",
            base.WS_NS,
            schedule="0 20 * * 1-5",
            command=[
                "kubectl",
                "scale",
                f"statefulset/{base.WS}",
                "--replicas=0",
                "-n",
                base.WS_NS,
            ],
        )
    ]
    c.k8s["cronjobs"][0]["status"]["lastScheduleTime"] = base.ts(hours=11, minutes=40)
    return c


@_scenario(
    "prewarm-missing/ruled-out",
    rows=[],
    rungs=[],
    description="Look-alike: no pre-warm CronJob, but gpua100 keeps minCount 1 so its node never goes "
    "cold; no pool that scales to zero hosts an inference workload.",
)
def prewarm_not_needed() -> Cluster:
    c = base.healthy()
    c.k8s["cronjobs"] = []
    c.pool("gpua100")["properties"].update(minCount=1)
    return c


# ---- idle GPU node-hours -------------------------------------------------------------------


@_scenario(
    "idle-gpu-spend/confirmed",
    rows=["scale-down-blocked"],
    rungs=["idle-gpu-spend"],
    description="The A100 batch pool (NC48ads) keeps minCount 1: its node ran batch jobs for 4 h "
    "yesterday and sat idle 20 h (≈ ₹12,200 at ₹610/h).",
)
def idle_batch() -> Cluster:
    c = base.healthy()
    _batch_pool(c, age_hours=120, driver=None, plugin_ready=True)
    c.usage("standardNCADSA100v4Family").update(currentValue=72, limit=144)
    c.usage("cores").update(currentValue=80)
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].insert(0, [BATCH_NODE, BATCH_SKU, 20])
    _recount(c)
    return c


@_scenario(
    "idle-gpu-spend/ruled-out",
    rows=[],
    rungs=[],
    description="Look-alike: a burst node (gpua100 vmss000001) that the autoscaler removed yesterday idled "
    "1 h before it went: under the 2 h per node threshold. The node no longer exists.",
)
def idle_short() -> Cluster:
    c = base.healthy()
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].insert(
        0, ["aks-gpua100-12345678-vmss000001", base.GPU_SKU, 1]
    )
    return c
