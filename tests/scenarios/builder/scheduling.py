"""Scenarios for pod-pending (row 7), inference-crashloop (row 8), MIG mismatch and NoExecute.

Each starts from the healthy cluster and breaks one thing the way a real cluster shows it:
the scheduler's FailedScheduling events (often only `eventTime`/`series`), the autoscaler's
NotTriggerScaleUp, container statuses, probe events, logs and ARM bodies all agree.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.scenarios.builder import base
from tests.scenarios.builder.base import Cluster, condition, event, scenario

Obj = dict[str, Any]
VLLM_OPENAI = "vllm/vllm-openai:v0.9.0"
GPU_NODE_2 = "aks-gpua100-12345678-vmss000001"
MIG_NODE = "aks-gpumig-12345678-vmss000000"
SELECT_A100 = {"accelerator": "nvidia", "gpu-sku": "a100"}
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]
GPU_TOLERATIONS = [base.GPU_TOLERATION, *DEFAULT_TOLERATIONS]


def ts_micro(minutes: float) -> str:
    """events.k8s.io times carry microseconds."""
    return (base.NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pod_uid(pod: Obj) -> str:
    return pod["metadata"]["uid"]


# ---- workloads -----------------------------------------------------------------------------


def deployment(name: str, ns: str, *, replicas: int, ready: int, pod_spec: Obj, labels: dict[str, str],
               age_hours: float) -> list[Obj]:
    """A Deployment and its ReplicaSet, statuses consistent with `ready` of `replicas`."""
    rs_name = f"{name}-{base.uid(ns + name)[:10].replace('-', '')}"
    dep_status: Obj = {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                       "readyReplicas": ready, "availableReplicas": ready,
                       "conditions": [{"type": "Available", "status": "True" if ready >= replicas else "False",
                                       "reason": "MinimumReplicasAvailable" if ready >= replicas
                                       else "MinimumReplicasUnavailable",
                                       "lastTransitionTime": base.ts(hours=age_hours)}]}
    if ready < replicas:
        dep_status["unavailableReplicas"] = replicas - ready
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": ns, "uid": base.uid(ns + name + "dep"),
                        "creationTimestamp": base.ts(hours=age_hours), "generation": 1, "labels": labels},
           "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
           "status": dep_status}
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": rs_name, "namespace": ns, "uid": base.uid(ns + rs_name),
                       "creationTimestamp": base.ts(hours=age_hours), "labels": labels,
                       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                            "uid": dep["metadata"]["uid"], "controller": True}]},
          "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
          "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                     "fullyLabeledReplicas": replicas, "observedGeneration": 1}}
    return [dep, rs]


def rs_of(deploy: list[Obj]) -> str:
    return deploy[1]["metadata"]["name"]


def unscheduled(name: str, ns: str, *, rs: str, labels: dict[str, str], containers: list[Obj], minutes: float,
                message: str, tolerations: list[Obj], node_selector: dict[str, str] | None) -> Obj:
    """A Pending pod the scheduler could not place: only the PodScheduled condition."""
    return base.pod(name, ns, node_name=None, owner=("ReplicaSet", rs), labels=labels, phase="Pending",
                    age_hours=minutes / 60, containers=containers, tolerations=tolerations,
                    node_selector=node_selector,
                    conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                 "message": message, "lastProbeTime": None,
                                 "lastTransitionTime": base.ts(minutes=minutes)}])


def vllm_container(name: str, model: str, served: str, *, gpu: int = 1, port: int = 8000,
                   extra_limits: dict[str, str] | None = None, cpu: str = "4", memory: str = "24Gi",
                   extra_args: list[str] | None = None) -> Obj:
    return base.container(name, VLLM_OPENAI, gpu=gpu, ports=[port],
                          args=[f"--model={model}", f"--served-model-name={served}", f"--port={port}",
                                *(extra_args or [])],
                          probe_port=port, cpu=cpu, memory=memory, extra_limits=extra_limits)


def scheduler_event(pod: Obj, message: str, *, first: float, last: float, count: int) -> Obj:
    """FailedScheduling as `kubectl get events -o json` shows an events.k8s.io event: eventTime and
    series, null firstTimestamp/lastTimestamp, no count."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{base.uid(name + 'sched')[:16].replace('-', '')}", "namespace": ns,
                     "uid": base.uid(name + "sched-event"), "creationTimestamp": base.ts(minutes=first)},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": name, "uid": pod_uid(pod),
                           "apiVersion": "v1", "resourceVersion": "48213"},
        "reason": "FailedScheduling", "message": message, "type": "Warning", "source": {},
        "firstTimestamp": None, "lastTimestamp": None, "eventTime": ts_micro(first),
        "series": {"count": count, "lastObservedTime": ts_micro(last)}, "action": "Scheduling",
        "reportingComponent": "default-scheduler", "reportingInstance": "default-scheduler-6d5f8b9c7-xq2lp",
    }


def legacy_scheduler_event(pod: Obj, message: str, *, first: float, last: float, count: int) -> Obj:
    """FailedScheduling written through the core/v1 API (older schedulers): first/last timestamps."""
    e = event(name=f"{pod['metadata']['name']}.{base.uid(pod['metadata']['name'])[:12].replace('-', '')}",
              kind="Pod", obj_name=pod["metadata"]["name"], ns=pod["metadata"]["namespace"],
              reason="FailedScheduling", message=message, minutes_ago=last, first_minutes_ago=first,
              type_="Warning", count=count, component="default-scheduler")
    e["involvedObject"]["uid"] = pod_uid(pod)
    return e


def autoscaler_event(pod: Obj, reason: str, message: str, *, first: float, last: float, count: int) -> Obj:
    e = event(name=f"{pod['metadata']['name']}.{base.uid(pod['metadata']['name'] + reason)[:12].replace('-', '')}",
              kind="Pod", obj_name=pod["metadata"]["name"], ns=pod["metadata"]["namespace"], reason=reason,
              message=message, minutes_ago=last, first_minutes_ago=first, count=count,
              component="cluster-autoscaler")
    e["involvedObject"]["uid"] = pod_uid(pod)
    return e


def add_gpu_node(c: Cluster, name: str, *, pool: str, age_hours: float, suffix: str, **kw: Any) -> Obj:
    """A GPU node with the device plugin and kube-proxy pods the DaemonSets put on it."""
    n = base.node(name, pool=pool, sku=base.GPU_SKU, age_hours=age_hours, taints=[base.GPU_TAINT], **kw)
    n["status"]["allocatable"].update(cpu="23660m", memory="214587916Ki")
    n["status"]["capacity"].update(cpu="24", memory="226764720Ki")
    c.k8s["nodes"].append(n)
    plugin = base.device_plugin_pod(name, suffix=suffix)
    plugin["metadata"]["creationTimestamp"] = base.ts(hours=age_hours)
    proxy = base.daemonset_pod("kube-proxy", "kube-system", name, "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3",
                               f"k{suffix[:3]}")
    c.k8s["pods"] += [plugin, proxy]
    for ds in c.k8s["daemonsets"]:
        st = ds["status"]
        for key in ("currentNumberScheduled", "desiredNumberScheduled", "numberAvailable", "numberReady",
                    "updatedNumberScheduled"):
            st[key] += 1
    return n


def vllm_log(port: int, *, day: str = "11-27", start: str = "04:39") -> str:
    return (f"INFO {day} {start}:11 [__init__.py:239] Automatically detected platform cuda.\n"
            f"INFO {day} {start}:14 [api_server.py:1043] vLLM API server version 0.9.0\n"
            f"INFO {day} {start}:31 [loader.py:458] Loading weights took 9.84 seconds\n"
            f"INFO {day} {start}:41 [kv_cache_utils.py:634] GPU KV cache size: 198,416 tokens\n"
            f"INFO {day} {start}:55 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:{port}\n"
            "INFO:     Started server process [1]\n"
            "INFO:     Waiting for application startup.\n"
            "INFO:     Application startup complete.\n"
            f"INFO:     Uvicorn running on http://0.0.0.0:{port} (Press CTRL+C to quit)\n"
            'INFO:     10.244.0.12:40112 - "POST /v1/chat/completions HTTP/1.1" 200 OK\n')


def no_endpoints_probe(c: Cluster) -> None:
    """The Service has no ready endpoint: the API server's proxy answers 503."""
    c.probes[f"{base.WS_NS}/{base.WS}"] = {
        "path": "/v1/models", "status": 503, "latency_ms": 3,
        "body": '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                '"no endpoints available for service \\"workspace-llama-3-1-8b\\"","reason":'
                '"ServiceUnavailable","code":503}'}


def inference_not_ready(c: Cluster, *, minutes: float, reason: str = "WorkspaceInferenceStatusFailed") -> None:
    ws = c.find("workspaces", base.WS, base.WS_NS)
    for cond in ws["status"]["conditions"]:
        if cond["type"] == "InferenceReady":
            cond.update(status="False", reason=reason, message="Inference workload is not ready",
                        lastTransitionTime=base.ts(minutes=minutes))
    c.find("statefulsets", base.WS, base.WS_NS)["status"].update(readyReplicas=0, availableReplicas=0)


# ---- pod-pending (row 7) -------------------------------------------------------------------

TAINT_MESSAGE = ("0/3 nodes are available: 1 node(s) had untolerated taint {sku: gpu}, 2 node(s) didn't match "
                 "Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not "
                 "helpful for scheduling.")


@scenario("pod-pending/confirmed", confirmed=["pod-pending"],
          description="A new vLLM Deployment selects the A100 pool but has no sku=gpu toleration: its pod has "
                      "been Pending 25 min; the scheduler's event has only eventTime/series.")
def pending_missing_toleration() -> Cluster:
    c = base.healthy()
    labels = {"app": "vllm-mistral"}
    spec_container = vllm_container("vllm", "mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b-instruct")
    dep = deployment("vllm-mistral", "ml", replicas=1, ready=0, labels=labels, age_hours=25 / 60,
                     pod_spec={"containers": [spec_container], "nodeSelector": SELECT_A100})
    pod = unscheduled("vllm-mistral-7b9c6d5f4-k4x2p", "ml", rs=rs_of(dep), labels=labels,
                      containers=[spec_container], minutes=25, message=TAINT_MESSAGE,
                      tolerations=DEFAULT_TOLERATIONS, node_selector=SELECT_A100)
    c.k8s["deployments"] += dep[:1]
    c.k8s["replicasets"] += dep[1:]
    c.k8s["pods"].append(pod)
    c.k8s["events"] += [
        scheduler_event(pod, TAINT_MESSAGE, first=25, last=2, count=9),
        autoscaler_event(pod, "NotTriggerScaleUp",
                         "pod didn't trigger scale-up: 1 node(s) had untolerated taint {sku: gpu}, 1 node(s) "
                         "didn't match Pod's node affinity/selector", first=25, last=1, count=148),
    ]
    return c


@scenario("pod-pending/selector-mismatch", confirmed=["pod-pending"],
          description="A vLLM pod tolerates the GPU taint but selects gpu-sku=a100-80gb; the pool is labelled "
                      "gpu-sku=a100, so no node matches: Pending 18 min.")
def pending_selector() -> Cluster:
    c = base.healthy()
    labels = {"app": "vllm-qwen-coder"}
    selector = {"accelerator": "nvidia", "gpu-sku": "a100-80gb"}
    spec_container = vllm_container("vllm", "Qwen/Qwen2.5-Coder-7B-Instruct", "qwen2.5-coder-7b-instruct")
    dep = deployment("vllm-qwen-coder", "ml", replicas=1, ready=0, labels=labels, age_hours=0.3,
                     pod_spec={"containers": [spec_container], "nodeSelector": selector,
                               "tolerations": GPU_TOLERATIONS})
    message = ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 "
               "nodes are available: 3 Preemption is not helpful for scheduling.")
    pod = unscheduled("vllm-qwen-coder-5d4c8b7f9-w9z7m", "ml", rs=rs_of(dep), labels=labels,
                      containers=[spec_container], minutes=18, message=message, tolerations=GPU_TOLERATIONS,
                      node_selector=selector)
    c.k8s["deployments"] += dep[:1]
    c.k8s["replicasets"] += dep[1:]
    c.k8s["pods"].append(pod)
    c.k8s["events"].append(legacy_scheduler_event(pod, message, first=18, last=3, count=7))
    return c


INSUFFICIENT_MESSAGE = ("0/4 nodes are available: 2 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node "
                        "affinity/selector. preemption: 0/4 nodes are available: 2 No preemption victims found for "
                        "incoming pod, 2 Preemption is not helpful for scheduling.")


@scenario("pod-pending/insufficient-gpu", confirmed=["pod-pending"],
          description="Both A100 nodes' GPUs are taken (workspace + vllm-mistral replica 1); replica 2 has been "
                      "Pending 22 min and the pool is at its maximum 2/2. Quota has room (48/96): not a quota "
                      "problem.")
def pending_insufficient() -> Cluster:
    c = base.healthy()
    add_gpu_node(c, GPU_NODE_2, pool="gpua100", age_hours=5, suffix="m3n8q", gpu=1,
                 extra_labels={"apps": "llama-3-1-8b", "gpu-sku": "a100"})
    c.pool("gpua100")["properties"].update(count=2, maxCount=2)
    c.usage("standardNCADSA100v4Family").update(currentValue=48)
    c.usage("cores").update(currentValue=56)
    labels = {"app": "vllm-mistral"}
    spec_container = vllm_container("vllm", "mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b-instruct")
    dep = deployment("vllm-mistral", "ml", replicas=2, ready=1, labels=labels, age_hours=5,
                     pod_spec={"containers": [spec_container], "nodeSelector": SELECT_A100,
                               "tolerations": GPU_TOLERATIONS})
    running = base.pod("vllm-mistral-7b9c6d5f4-h2j8q", "ml", node_name=GPU_NODE_2, owner=("ReplicaSet", rs_of(dep)),
                       labels=labels, age_hours=4.9, containers=[spec_container], tolerations=GPU_TOLERATIONS,
                       node_selector=SELECT_A100)
    pending = unscheduled("vllm-mistral-7b9c6d5f4-r5t6y", "ml", rs=rs_of(dep), labels=labels,
                          containers=[spec_container], minutes=22, message=INSUFFICIENT_MESSAGE,
                          tolerations=GPU_TOLERATIONS, node_selector=SELECT_A100)
    c.k8s["deployments"] += dep[:1]
    c.k8s["replicasets"] += dep[1:]
    c.k8s["pods"] += [running, pending]
    c.k8s["events"] += [
        scheduler_event(pending, INSUFFICIENT_MESSAGE, first=22, last=1, count=11),
        autoscaler_event(pending, "NotTriggerScaleUp",
                         "pod didn't trigger scale-up: 1 max node group size reached, 1 node(s) didn't match "
                         "Pod's node affinity/selector", first=22, last=1, count=131),
    ]
    c.logs["ml/vllm-mistral-7b9c6d5f4-h2j8q/vllm"] = vllm_log(8000, start="02:42")
    c.metrics["ml/vllm-mistral-7b9c6d5f4-h2j8q"] = base.vllm_metrics(kv=0.41, running=6, model="mistral-7b-instruct")
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append([GPU_NODE_2, base.GPU_SKU, 0])
    return c


@scenario("pod-pending/no-gpu-request", confirmed=["pod-pending"],
          description="A vLLM Deployment tolerates the GPU taint but has no nvidia.com/gpu limit and no "
                      "selector: it landed on a system node and crash-loops with no GPU visible.")
def pending_no_request() -> Cluster:
    c = base.healthy()
    labels = {"app": "vllm-phi"}
    spec_container = base.container("vllm", VLLM_OPENAI, ports=[8000], cpu="2", memory="8Gi",
                                    args=["--model=microsoft/Phi-4-mini-instruct",
                                          "--served-model-name=phi-4-mini-instruct", "--port=8000"])
    dep = deployment("vllm-phi", "ml", replicas=1, ready=0, labels=labels, age_hours=40 / 60,
                     pod_spec={"containers": [spec_container], "tolerations": GPU_TOLERATIONS})
    name = "vllm-phi-6c5b4a3d2-x8c7v"
    statuses = [{"name": "vllm", "image": VLLM_OPENAI, "imageID": f"docker.io/{VLLM_OPENAI}@sha256:" + "4e" * 32,
                 "ready": False, "restartCount": 9, "started": False,
                 "containerID": "containerd://" + base.uid(name).replace("-", ""),
                 "state": {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": f"back-off 5m0s restarting failed container=vllm pod={name}_ml"
                                                  f"({base.uid('ml' + name)})"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": base.ts(minutes=3),
                                              "finishedAt": base.ts(minutes=2.5)}}}]
    pod = base.pod(name, "ml", node_name=base.SYS_NODES[1], owner=("ReplicaSet", rs_of(dep)), labels=labels,
                   age_hours=40 / 60, containers=[spec_container], tolerations=GPU_TOLERATIONS, statuses=statuses,
                   conditions=[{"type": "PodScheduled", "status": "True", "lastTransitionTime": base.ts(minutes=40)},
                               {"type": "Initialized", "status": "True", "lastTransitionTime": base.ts(minutes=40)},
                               {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
                                "lastTransitionTime": base.ts(minutes=39)},
                               {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                                "lastTransitionTime": base.ts(minutes=39)}])
    c.k8s["deployments"] += dep[:1]
    c.k8s["replicasets"] += dep[1:]
    c.k8s["pods"].append(pod)
    c.k8s["events"].append(event(name=f"{name}.18b2", kind="Pod", obj_name=name, ns="ml", reason="BackOff",
                                 message=f"Back-off restarting failed container vllm in pod {name}_ml"
                                         f"({base.uid('ml' + name)})",
                                 minutes_ago=1, first_minutes_ago=36, type_="Warning", count=41,
                                 host=base.SYS_NODES[1]))
    return c


@scenario("pod-pending/ruled-out", confirmed=[],
          description="Look-alikes: a CPU batch pod Pending 40 min (Insufficient cpu, no GPU wanted) and a GPU "
                      "pod Pending only 4 min while the autoscaler adds a node.")
def pending_ruled_out() -> Cluster:
    c = base.healthy()
    etl_message = ("0/3 nodes are available: 1 node(s) had untolerated taint {sku: gpu}, 2 Insufficient cpu. "
                   "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No "
                   "preemption victims found for incoming pod.")
    etl = base.pod("etl-nightly-29012345-q7w4e", "batch", node_name=None, owner=("Job", "etl-nightly-29012345"),
                   labels={"job-name": "etl-nightly-29012345"}, phase="Pending", age_hours=40 / 60,
                   containers=[base.container("etl", "mlmodels.azurecr.io/etl:2.3.1", cpu="6", memory="8Gi")],
                   tolerations=DEFAULT_TOLERATIONS,
                   conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                "message": etl_message, "lastProbeTime": None,
                                "lastTransitionTime": base.ts(minutes=40)}])
    labels = {"app": "vllm-mistral"}
    spec_container = vllm_container("vllm", "mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b-instruct")
    dep = deployment("vllm-mistral", "ml", replicas=1, ready=0, labels=labels, age_hours=4 / 60,
                     pod_spec={"containers": [spec_container], "nodeSelector": SELECT_A100,
                               "tolerations": GPU_TOLERATIONS})
    young_message = ("0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node "
                     "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for "
                     "incoming pod, 2 Preemption is not helpful for scheduling.")
    young = unscheduled("vllm-mistral-7b9c6d5f4-t6y7u", "ml", rs=rs_of(dep), labels=labels,
                        containers=[spec_container], minutes=4, message=young_message, tolerations=GPU_TOLERATIONS,
                        node_selector=SELECT_A100)
    c.k8s["deployments"] += dep[:1]
    c.k8s["replicasets"] += dep[1:]
    c.k8s["pods"] += [etl, young]
    c.k8s["events"] += [
        legacy_scheduler_event(etl, etl_message, first=40, last=4, count=12),
        scheduler_event(young, young_message, first=4, last=1, count=3),
        autoscaler_event(young, "TriggeredScaleUp",
                         "pod triggered scale-up: [{aks-gpua100-12345678-vmss 1->2 (max: 4)}]",
                         first=3.5, last=3.5, count=1),
    ]
    c.pool("gpua100")["properties"].update(count=2)
    return c


# ---- inference-crashloop (row 8) ----------------------------------------------------------


def _crashloop_status(container: str, image: str, *, restarts: int, exit_code: int, started: float,
                      finished: float, pod: str) -> list[Obj]:
    return [{"name": container, "image": image, "imageID": "", "ready": False, "restartCount": restarts,
             "started": False, "containerID": "containerd://" + base.uid(pod + str(restarts)).replace("-", ""),
             "state": {"waiting": {"reason": "CrashLoopBackOff",
                                   "message": f"back-off 5m0s restarting failed container={container} pod={pod}"
                                              f"_default({base.uid(base.WS_NS + pod)})"}},
             "lastState": {"terminated": {"exitCode": exit_code, "reason": "Error",
                                          "startedAt": base.ts(minutes=started),
                                          "finishedAt": base.ts(minutes=finished)}}}]


def _not_ready_conditions(minutes: float) -> list[Obj]:
    return [{"type": "PodScheduled", "status": "True", "lastTransitionTime": base.ts(minutes=minutes)},
            {"type": "Initialized", "status": "True", "lastTransitionTime": base.ts(minutes=minutes)},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
             "lastTransitionTime": base.ts(minutes=minutes - 1)},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
             "lastTransitionTime": base.ts(minutes=minutes - 1)}]


@scenario("inference-crashloop/confirmed", confirmed=["inference-crashloop"],
          description="The workspace moved to an inference.template copied from the vLLM docs: probes on 8000, "
                      "server on 5000 (--port=5000, Uvicorn log). Liveness kills it: CrashLoopBackOff.")
def crashloop_probe_port() -> Cluster:
    c = base.healthy()
    pod_name = f"{base.WS}-0"
    spec_container = base.container(base.WS, VLLM_OPENAI, gpu=1, ports=[5000], cpu="4", memory="24Gi",
                                    args=["--model=meta-llama/Llama-3.1-8B-Instruct",
                                          "--served-model-name=llama-3.1-8b-instruct", "--port=5000"],
                                    probe_port=8000)
    spec_container["livenessProbe"]["initialDelaySeconds"] = 120
    ws = c.find("workspaces", base.WS, base.WS_NS)
    ws["inference"] = {"template": {"spec": {"containers": [spec_container]}}}
    ws["metadata"]["generation"] = 2
    inference_not_ready(c, minutes=38)
    c.find("statefulsets", base.WS, base.WS_NS)["spec"]["template"]["spec"]["containers"] = [spec_container]
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["metadata"]["name"] != pod_name]
    pod = base.inference_pod(age_hours=40 / 60, conditions=_not_ready_conditions(40),
                             statuses=_crashloop_status(base.WS, VLLM_OPENAI, restarts=7, exit_code=143,
                                                        started=6.5, finished=3.5, pod=pod_name))
    pod["spec"]["containers"] = [spec_container]
    pod["metadata"]["annotations"]["workspace.kaito.io/revision"] = "2"
    c.k8s["pods"].append(pod)
    ip = pod["status"]["podIP"]
    refused = f'Get "http://{ip}:8000/health": dial tcp {ip}:8000: connect: connection refused'
    common = {"kind": "Pod", "obj_name": pod_name, "ns": base.WS_NS, "host": base.GPU_NODE}
    c.k8s["events"] = [
        event(name=f"{pod_name}.19a0", reason="Pulled", minutes_ago=38, **common,
              message=f'Successfully pulled image "{VLLM_OPENAI}" in 1m52.309s (1m52.309s including waiting). '
                      "Image size: 9816384729 bytes."),
        event(name=f"{pod_name}.19a1", reason="Pulled", minutes_ago=6.5, first_minutes_ago=33, count=7, **common,
              message=f'Container image "{VLLM_OPENAI}" already present on machine'),
        event(name=f"{pod_name}.19a2", reason="Unhealthy", minutes_ago=3.6, first_minutes_ago=37, count=128,
              type_="Warning", message=f"Readiness probe failed: {refused}", **common),
        event(name=f"{pod_name}.19a3", reason="Unhealthy", minutes_ago=3.6, first_minutes_ago=35, count=21,
              type_="Warning", message=f"Liveness probe failed: {refused}", **common),
        event(name=f"{pod_name}.19a4", reason="Killing", minutes_ago=3.6, first_minutes_ago=35, count=7, **common,
              message=f"Container {base.WS} failed liveness probe, will be restarted"),
        event(name=f"{pod_name}.19a5", reason="BackOff", minutes_ago=0.5, first_minutes_ago=20, count=15,
              type_="Warning", **common,
              message=f"Back-off restarting failed container {base.WS} in pod {pod_name}_default"
                      f"({base.uid(base.WS_NS + pod_name)})"),
    ]
    shutdown = ("INFO:     Shutting down\nINFO:     Waiting for application shutdown.\n"
                "INFO:     Application shutdown complete.\nINFO:     Finished server process [1]\n")
    served = vllm_log(5000, start="07:34").replace(
        'INFO:     10.244.0.12:40112 - "POST /v1/chat/completions HTTP/1.1" 200 OK\n', "")
    c.logs[f"{base.WS_NS}/{pod_name}/{base.WS}"] = served + shutdown
    c.logs[f"{base.WS_NS}/{pod_name}/{base.WS}.previous"] = served.replace("07:34", "07:29") + shutdown
    c.metrics = {}
    no_endpoints_probe(c)
    return c


ARG_ERROR_LOG = """INFO 11-27 {t}:41 [__init__.py:239] Automatically detected platform cuda.
INFO 11-27 {t}:44 inference_api.py:98] Set default gpu_memory_utilization to 0.95
usage: inference_api.py [-h] [--host HOST] [--port PORT]
                        [--uvicorn-log-level {{debug,info,warning,error,critical,trace}}]
                        [--disable-uvicorn-access-log] [--allow-credentials]
                        [--model MODEL] [--max-model-len MAX_MODEL_LEN]
                        [--gpu-memory-utilization GPU_MEMORY_UTILIZATION]
                        [--swap-space SWAP_SPACE] [--cpu-offload-gb CPU_OFFLOAD_GB]
inference_api.py: error: unrecognized arguments: --max-model-lenn 4096
"""


@scenario("inference-crashloop/bad-config", confirmed=["inference-crashloop"],
          description="A typo in the workspace's inference.config (max-model-lenn: 4096) becomes an unknown vLLM "
                      "argument: the server exits 2 at start, CrashLoopBackOff after a rollout restart 20 min ago.")
def crashloop_bad_config() -> Cluster:
    c = base.healthy()
    pod_name = f"{base.WS}-0"
    c.k8s["configmaps"] = [base.inference_config(body="vllm:\n  cpu-offload-gb: 0\n  gpu-memory-utilization: 0.90\n"
                                                      "  swap-space: 4\n  max-model-lenn: 4096\n")]
    inference_not_ready(c, minutes=19)
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["metadata"]["name"] != pod_name]
    pod = base.inference_pod(age_hours=20 / 60, conditions=_not_ready_conditions(20),
                             statuses=_crashloop_status(base.WS, base.VLLM_IMAGE, restarts=6, exit_code=2,
                                                        started=2.2, finished=2.1, pod=pod_name))
    pod["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = base.ts(minutes=20)
    c.k8s["pods"].append(pod)
    common = {"kind": "Pod", "obj_name": pod_name, "ns": base.WS_NS, "host": base.GPU_NODE}
    c.k8s["events"] = [
        event(name=f"{pod_name}.1b10", reason="Pulled", minutes_ago=2.3, first_minutes_ago=20, count=7, **common,
              message=f'Container image "{base.VLLM_IMAGE}" already present on machine'),
        event(name=f"{pod_name}.1b11", reason="Started", minutes_ago=2.2, first_minutes_ago=20, count=7, **common,
              message=f"Started container {base.WS}"),
        event(name=f"{pod_name}.1b12", reason="BackOff", minutes_ago=0.4, first_minutes_ago=19, count=84,
              type_="Warning", **common,
              message=f"Back-off restarting failed container {base.WS} in pod {pod_name}_default"
                      f"({base.uid(base.WS_NS + pod_name)})"),
    ]
    c.logs[f"{base.WS_NS}/{pod_name}/{base.WS}"] = ARG_ERROR_LOG.format(t="07:37")
    c.logs[f"{base.WS_NS}/{pod_name}/{base.WS}.previous"] = ARG_ERROR_LOG.format(t="07:34")
    c.metrics = {}
    no_endpoints_probe(c)
    return c


@scenario("inference-crashloop/ruled-out", confirmed=[],
          description="The inference pod restarted once 3 h ago (liveness kill during a stall) and has served "
                      "since: InferenceReady True, no restart or probe failure in the last hour.")
def crashloop_ruled_out() -> Cluster:
    c = base.healthy()
    pod = c.find("pods", f"{base.WS}-0", base.WS_NS)
    status = pod["status"]["containerStatuses"][0]
    status.update(restartCount=1, state={"running": {"startedAt": base.ts(hours=3)}},
                  lastState={"terminated": {"exitCode": 143, "reason": "Error", "startedAt": base.ts(hours=70),
                                            "finishedAt": base.ts(hours=3, minutes=1)}})
    c.logs[f"{base.WS_NS}/{base.WS}-0/{base.WS}"] = vllm_log(5000, start="04:39")
    c.logs[f"{base.WS_NS}/{base.WS}-0/{base.WS}.previous"] = (
        'INFO:     10.244.0.12:51234 - "POST /v1/chat/completions HTTP/1.1" 200 OK\n'
        "INFO:     Shutting down\nINFO:     Waiting for application shutdown.\n"
        "INFO:     Application shutdown complete.\nINFO:     Finished server process [1]\n")
    return c


# ---- MIG resource mismatch ----------------------------------------------------------------


def _mig_pool(c: Cluster, *, profile: str, resource: str, slices: int, age_hours: float, label: str) -> None:
    pool = base.agent_pool("gpumig", vm=base.GPU_SKU, count=1, min_count=1, max_count=1,
                           taints=["sku=gpu:NoSchedule"], labels={"accelerator": "nvidia", "gpu-sku": label})
    pool["properties"]["gpuInstanceProfile"] = profile
    c.azure["agent-pools"]["value"].append(pool)
    add_gpu_node(c, MIG_NODE, pool="gpumig", age_hours=age_hours, suffix="q2w5r", mig={resource: slices},
                 extra_labels={"gpu-sku": label, "nvidia.com/mig.strategy": "mixed", "nvidia.com/mig.capable": "true"})
    c.usage("standardNCADSA100v4Family").update(currentValue=48)
    c.usage("cores").update(currentValue=56)


@scenario("mig-resource-mismatch/confirmed", confirmed=["mig-resource-mismatch", "pod-pending"],
          description="The MIG pool (MIG1g, mixed strategy) advertises nvidia.com/mig-1g.10gb: 7 and no whole "
                      "GPU; an embedder serves from one slice, but the new reranker selecting the pool asks for "
                      "nvidia.com/gpu: 1 and has been Pending 20 min.")
def mig_confirmed() -> Cluster:
    c = base.healthy()
    _mig_pool(c, profile="MIG1g", resource="nvidia.com/mig-1g.10gb", slices=7, age_hours=50, label="a100-mig")
    c.k8s["pods"].append(_mig_tenant(c, "embedder", "BAAI/bge-m3", "bge-m3", "embed", hours=49,
                                     pod_name="embedder-6b8d7f5c4-a1s2d", resource="nvidia.com/mig-1g.10gb"))
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append([MIG_NODE, base.GPU_SKU, 0])
    labels = {"app": "reranker"}
    selector = {"gpu-sku": "a100-mig"}
    spec_container = base.container("reranker", "ghcr.io/huggingface/text-embeddings-inference:1.5", gpu=1,
                                    ports=[8080], args=["--model-id=BAAI/bge-reranker-v2-m3", "--port=8080"],
                                    cpu="2", memory="8Gi")
    dep = deployment("reranker", "ml", replicas=1, ready=0, labels=labels, age_hours=20 / 60,
                     pod_spec={"containers": [spec_container], "nodeSelector": selector,
                               "tolerations": GPU_TOLERATIONS})
    message = ("0/4 nodes are available: 1 Insufficient nvidia.com/gpu, 3 node(s) didn't match Pod's node "
               "affinity/selector. preemption: 0/4 nodes are available: 1 No preemption victims found for "
               "incoming pod, 3 Preemption is not helpful for scheduling.")
    pod = unscheduled("reranker-5f7d8c9b6-q8w2n", "ml", rs=rs_of(dep), labels=labels, containers=[spec_container],
                      minutes=20, message=message, tolerations=GPU_TOLERATIONS, node_selector=selector)
    c.k8s["deployments"] += dep[:1]
    c.k8s["replicasets"] += dep[1:]
    c.k8s["pods"].append(pod)
    c.k8s["events"].append(legacy_scheduler_event(pod, message, first=20, last=2, count=12))
    return c


def _mig_tenant(c: Cluster, name: str, model: str, served: str, task: str, *, pod_name: str,
                hours: float, resource: str = "nvidia.com/mig-3g.40gb") -> Obj:
    """A vLLM Deployment serving from one MIG slice on the MIG node, with its log and metrics."""
    labels = {"app": name}
    spec_container = vllm_container("vllm", model, served, gpu=0, cpu="2", memory="16Gi",
                                    extra_limits={resource: "1"}, extra_args=[f"--task={task}"])
    c.logs[f"ml/{pod_name}/vllm"] = vllm_log(8000, day="11-25", start="06:40")
    c.metrics[f"ml/{pod_name}"] = base.vllm_metrics(kv=0.22, running=2, model=served)
    dep = deployment(name, "ml", replicas=1, ready=1, labels=labels, age_hours=hours,
                     pod_spec={"containers": [spec_container], "nodeSelector": {"gpu-sku": "a100-mig"},
                               "tolerations": GPU_TOLERATIONS})
    c.k8s["deployments"] += dep[:1]
    c.k8s["replicasets"] += dep[1:]
    return base.pod(pod_name, "ml", node_name=MIG_NODE, owner=("ReplicaSet", rs_of(dep)), labels=labels,
                    age_hours=hours, containers=[spec_container], tolerations=GPU_TOLERATIONS,
                    node_selector={"gpu-sku": "a100-mig"})


@scenario("mig-resource-mismatch/ruled-out", confirmed=["pod-pending"],
          description="Look-alike: a pod asks for nvidia.com/mig-3g.40gb, which the MIG pool does advertise, but "
                      "both slices are in use: Insufficient nvidia.com/mig-3g.40gb is plain capacity (pod-pending).")
def mig_ruled_out() -> Cluster:
    c = base.healthy()
    _mig_pool(c, profile="MIG3g", resource="nvidia.com/mig-3g.40gb", slices=2, age_hours=50, label="a100-mig")
    tenants = [
        _mig_tenant(c, "embedder", "BAAI/bge-m3", "bge-m3", "embed", pod_name="embedder-6b8d7f5c4-a1s2d", hours=49),
        _mig_tenant(c, "phi-mini", "microsoft/Phi-4-mini-instruct", "phi-4-mini-instruct", "generate",
                    pod_name="phi-mini-7d6c5b4a3-z9x8c", hours=48),
    ]
    c.k8s["pods"] += tenants
    labels = {"app": "summarizer"}
    spec_container = vllm_container("vllm", "microsoft/Phi-4-mini-instruct", "summarizer", gpu=0, cpu="2",
                                    memory="16Gi", extra_limits={"nvidia.com/mig-3g.40gb": "1"})
    dep = deployment("summarizer", "ml", replicas=1, ready=0, labels=labels, age_hours=0.25,
                     pod_spec={"containers": [spec_container], "nodeSelector": {"gpu-sku": "a100-mig"},
                               "tolerations": GPU_TOLERATIONS})
    message = ("0/4 nodes are available: 1 Insufficient nvidia.com/mig-3g.40gb, 3 node(s) didn't match Pod's node "
               "affinity/selector. preemption: 0/4 nodes are available: 1 No preemption victims found for "
               "incoming pod, 3 Preemption is not helpful for scheduling.")
    pod = unscheduled("summarizer-7c6d5e4f3-p0o9i", "ml", rs=rs_of(dep), labels=labels, containers=[spec_container],
                      minutes=15, message=message, tolerations=GPU_TOLERATIONS, node_selector={"gpu-sku": "a100-mig"})
    c.k8s["deployments"] += dep[:1]
    c.k8s["replicasets"] += dep[1:]
    c.k8s["pods"].append(pod)
    c.k8s["events"].append(scheduler_event(pod, message, first=15, last=2, count=6))
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append([MIG_NODE, base.GPU_SKU, 0])
    return c


# ---- NoExecute evictions ------------------------------------------------------------------


@scenario("noexecute-eviction/confirmed", confirmed=["noexecute-eviction", "pod-pending"],
          description="The A100 pool's taint was changed to sku=gpu:NoExecute 9 min ago: the taint manager evicted "
                      "the inference pod and the device plugin; the re-created inference pod cannot schedule.")
def noexecute_confirmed() -> Cluster:
    c = base.healthy()
    minutes = 9
    c.pool("gpua100")["properties"]["nodeTaints"] = ["sku=gpu:NoExecute"]
    gpu = c.find("nodes", base.GPU_NODE)
    gpu["spec"]["taints"] = [{"key": "sku", "value": "gpu", "effect": "NoExecute", "timeAdded": base.ts(minutes=minutes)}]
    for field in ("allocatable", "capacity"):
        gpu["status"][field]["nvidia.com/gpu"] = "0"  # the device plugin left with its pod
    old = c.find("pods", f"{base.WS}-0", base.WS_NS)
    plugin = c.find("pods", "nvidia-device-plugin-daemonset-x7k2p", "gpu-resources")
    evicted = [(old, base.WS), (plugin, "nvidia-device-plugin-ctr")]
    for victim, container in evicted:
        ns, name = victim["metadata"]["namespace"], victim["metadata"]["name"]
        mark = event(name=f"{name}.1c{len(container)}", kind="Pod", obj_name=name, ns=ns, reason="TaintManagerEviction",
                     message=f"Marking for deletion Pod {ns}/{name}", minutes_ago=minutes,
                     component="taint-eviction-controller")
        mark["involvedObject"]["uid"] = victim["metadata"]["uid"]
        stop = event(name=f"{name}.1d{len(container)}", kind="Pod", obj_name=name, ns=ns, reason="Killing",
                     message=f"Stopping container {container}", minutes_ago=minutes - 0.1, host=base.GPU_NODE)
        stop["involvedObject"]["uid"] = victim["metadata"]["uid"]
        c.k8s["events"] += [mark, stop]
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p is not old and p is not plugin]
    new = base.inference_pod(node_name=None, age_hours=(minutes - 0.5) / 60, phase="Pending",
                             conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                          "message": TAINT_MESSAGE, "lastProbeTime": None,
                                          "lastTransitionTime": base.ts(minutes=minutes - 0.5)}])
    new["metadata"]["uid"] = base.uid("recreated" + base.WS)
    new["status"].pop("containerStatuses", None)
    c.k8s["pods"].append(new)
    c.k8s["events"].append(scheduler_event(new, TAINT_MESSAGE, first=minutes - 0.5, last=1, count=6))
    plugin_ds = c.find("daemonsets", "nvidia-device-plugin-daemonset", "gpu-resources")
    plugin_ds["status"].update(currentNumberScheduled=0, desiredNumberScheduled=0, numberAvailable=0, numberReady=0,
                               updatedNumberScheduled=0)
    inference_not_ready(c, minutes=minutes, reason="WorkspaceInferenceStatusPending")
    c.logs = {}
    c.metrics = {}
    no_endpoints_probe(c)
    return c


@scenario("noexecute-eviction/ruled-out", confirmed=[],
          description="Look-alike: a batch pod was evicted 24 min ago by the kubelet for disk pressure on a system "
                      "node (status Evicted, DisruptionTarget TerminationByKubelet), not by a taint; the node "
                      "has recovered.")
def noexecute_ruled_out() -> Cluster:
    c = base.healthy()
    node = base.SYS_NODES[1]
    message = ("The node was low on resource: ephemeral-storage. Threshold quantity: 10120387896, available: "
               "9830204Ki. Container report-builder was using 31457280Ki, request is 0, has larger consumption of "
               "ephemeral-storage. ")
    name = "report-builder-29012345-7xk9p"
    pod = base.pod(name, "batch", node_name=node, owner=("Job", "report-builder-29012345"),
                   labels={"job-name": "report-builder-29012345"}, phase="Failed", age_hours=0.8,
                   containers=[base.container("report-builder", "mlmodels.azurecr.io/report-builder:1.4.0")],
                   tolerations=DEFAULT_TOLERATIONS,
                   statuses=[{"name": "report-builder", "image": "mlmodels.azurecr.io/report-builder:1.4.0",
                              "imageID": "", "ready": False, "restartCount": 0, "started": False,
                              "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                                       "message": "The container could not be located when the "
                                                                  "pod was terminated",
                                                       "startedAt": base.ts(minutes=45),
                                                       "finishedAt": base.ts(minutes=24)}}}],
                   conditions=[{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                                "message": message.strip(), "lastTransitionTime": base.ts(minutes=24)},
                               {"type": "PodScheduled", "status": "True", "lastTransitionTime": base.ts(minutes=46)},
                               {"type": "Ready", "status": "False", "reason": "PodFailed",
                                "lastTransitionTime": base.ts(minutes=24)}])
    pod["status"].update(reason="Evicted", message=message)
    c.k8s["pods"].append(pod)
    sys_node = c.find("nodes", node)
    for cond in sys_node["status"]["conditions"]:
        if cond["type"] == "DiskPressure":
            cond.update(lastTransitionTime=base.ts(minutes=15))
    c.k8s["events"] += [
        event(name=f"{name}.1e01", kind="Pod", obj_name=name, ns="batch", reason="Evicted", message=message.strip(),
              minutes_ago=24, type_="Warning", host=node),
        event(name=f"{node}.1e02", kind="Node", obj_name=node, ns="", reason="NodeHasDiskPressure",
              message=f"Node {node} status is now: NodeHasDiskPressure", minutes_ago=25, host=node),
        event(name=f"{node}.1e03", kind="Node", obj_name=node, ns="", reason="NodeHasNoDiskPressure",
              message=f"Node {node} status is now: NodeHasNoDiskPressure", minutes_ago=15, host=node),
    ]
    return c
