"""Rows 2-4: SKU availability (region, zone) and the driver contract (plugin, one driver source)."""

from __future__ import annotations

from typing import Any

from tests.scenarios.builder import base
from tests.scenarios.builder.base import Cluster, event, scenario
from tests.scenarios.builder.core import _stuck_workspace

Obj = dict[str, Any]
VLLM_POD = f"{base.WS}-0"
PLUGIN_POD = "nvidia-device-plugin-daemonset-x7k2p"
PLUGIN_LOG_KEY = f"gpu-resources/{PLUGIN_POD}/nvidia-device-plugin-ctr"
VLLM_LOG_KEY = f"{base.WS_NS}/{VLLM_POD}/{base.WS}"
OPERATOR_NS = "gpu-operator"


# ---- shared pieces -------------------------------------------------------------------------


def _sku(c: Cluster, name: str = base.GPU_SKU) -> Obj:
    return next(s for s in c.azure["skus"]["value"] if s["name"] == name)


def _hhmm(minutes_ago: float) -> str:
    """`11-27 07:31` as vLLM prints it (no year), `minutes_ago` before NOW."""
    stamp = base.ts(minutes=minutes_ago)  # 2026-11-27T07:31:00Z
    return f"{stamp[5:7]}-{stamp[8:10]} {stamp[11:16]}"


def _klog(minutes_ago: float) -> str:
    stamp = base.ts(minutes=minutes_ago)
    return f"{stamp[5:7]}{stamp[8:10]} {stamp[11:16]}"


def _status(container: str, image: str, *, restarts: int, started_min: float | None, ready: bool,
            last: tuple[float, float, int, str] | None = None, waiting: str | None = None) -> Obj:
    """A containerStatuses entry: running since `started_min` (or waiting), last instance's end."""
    state: Obj = {"waiting": {"reason": waiting, "message": f"back-off 5m0s restarting failed container={container}"}} \
        if waiting else {"running": {"startedAt": base.ts(minutes=started_min or 0)}}
    out: Obj = {"name": container, "image": image, "imageID": "", "ready": ready, "restartCount": restarts,
                "started": not waiting, "containerID": "containerd://" + base.uid(container + str(restarts)).replace("-", ""),
                "state": state}
    if last:
        started, finished, code, reason = last
        out["lastState"] = {"terminated": {"exitCode": code, "reason": reason, "startedAt": base.ts(minutes=started),
                                           "finishedAt": base.ts(minutes=finished)}}
    return out


def _pod_ready(pod: Obj, ready: bool, since_min: float, reason: str = "ContainersNotReady") -> None:
    for cond in pod["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(status="True" if ready else "False", lastTransitionTime=base.ts(minutes=since_min))
            if not ready:
                cond["reason"] = reason


def _vllm_log(minutes_ago: float, *, fail: bool = False, starting: bool = False) -> str:
    """vLLM 0.9 start (`fail`: its death on a GPU it cannot see; `starting`: still loading)."""
    t = _hhmm(minutes_ago)
    head = (f"INFO {t}:12 [__init__.py:239] Automatically detected platform cuda.\n"
            f"INFO {t}:14 [api_server.py:1043] vLLM API server version 0.9.0\n"
            f"INFO {t}:14 [config.py:717] This model supports multiple tasks: {{'generate'}}. Defaulting to 'generate'.\n")
    if starting:
        return head
    if not fail:
        return head + (f"INFO {t}:31 [loader.py:458] Loading weights took 14.21 seconds\n"
                       f"INFO {t}:55 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:5000\n"
                       "INFO:     Application startup complete.\n")
    return head + (
        f"ERROR {t}:21 [core.py:515] EngineCore failed to start.\n"
        f"ERROR {t}:21 [core.py:515] Traceback (most recent call last):\n"
        '  File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py", line 506, in run_engine_core\n'
        "    engine_core = EngineCoreProc(*args, **kwargs)\n"
        '  File "/usr/local/lib/python3.12/dist-packages/vllm/worker/worker.py", line 160, in init_device\n'
        "    torch.cuda.set_device(self.device)\n"
        '  File "/usr/local/lib/python3.12/dist-packages/torch/cuda/__init__.py", line 399, in set_device\n'
        "    torch._C._cuda_setDevice(device)\n"
        "RuntimeError: CUDA error: no CUDA-capable device is detected\n"
        "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
        "might be incorrect.\n"
        "For debugging consider passing CUDA_LAUNCH_BLOCKING=1\n")


def _vllm_restarted(c: Cluster, *, restarts: int, started_min: float, died_min: float, ready: bool,
                    ready_since_min: float) -> Obj:
    """The inference pod restarted in place: previous instance died `died_min` ago on no CUDA device."""
    pod = c.find("pods", VLLM_POD, base.WS_NS)
    pod["status"]["containerStatuses"] = [
        _status(base.WS, base.VLLM_IMAGE, restarts=restarts, started_min=started_min, ready=ready,
                last=(died_min + 0.5, died_min, 1, "Error"))]
    _pod_ready(pod, ready, ready_since_min)
    c.logs[VLLM_LOG_KEY] = _vllm_log(started_min, starting=not ready)
    c.logs[VLLM_LOG_KEY + ".previous"] = _vllm_log(died_min + 0.5, fail=True)
    return pod


def _gpu_node(c: Cluster) -> Obj:
    return c.find("nodes", base.GPU_NODE)


def _la_errors(c: Cluster, rows: list[list[Any]]) -> None:
    c.loganalytics["gpu-error-patterns"]["tables"][0]["rows"] = rows


def _inference_not_ready(c: Cluster, minutes_ago: float, reason: str = "WorkspaceInferenceStatusFailed") -> None:
    ws = c.find("workspaces", base.WS, base.WS_NS)
    for cond in ws["status"]["conditions"]:
        if cond["type"] == "InferenceReady":
            cond.update(status="False", reason=reason, message="Inference workload is not ready",
                        lastTransitionTime=base.ts(minutes=minutes_ago))
    c.find("statefulsets", base.WS, base.WS_NS)["status"].update(readyReplicas=0, availableReplicas=0)
    c.probes[f"{base.WS_NS}/{base.WS}"] = {
        "path": "/v1/models", "status": 503, "latency_ms": 4,
        "body": f'no endpoints available for service "{base.WS}"'}
    c.metrics = {}


def _warn(c: Cluster, **kw: Any) -> None:
    c.k8s["events"].append(event(type_="Warning", **kw))


# ---- row 2: sku-unavailable ----------------------------------------------------------------

SKU_NOT_AVAILABLE = (
    "creating instance: SkuNotAvailable: The requested VM size for resource 'Following SKUs have failed for "
    "Capacity Restrictions: Standard_NC24ads_A100_v4' is currently not available in location 'eastus2'. Please "
    "try another size or deploy to a different location or zones. See https://aka.ms/azureskunotavailable for "
    "details.")[:300]  # Karpenter keeps 300 characters of the Azure error


@scenario("sku-unavailable/confirmed", confirmed=["sku-unavailable"],
          description="The A100 SKU carries a Location restriction (NotAvailableForSubscription) in eastus2: the "
                      "workspace's NodeClaim fails with SkuNotAvailable for 18 min although the family quota has "
                      "room.")
def sku_region_restricted() -> Cluster:
    c = base.healthy()
    _stuck_workspace(c, minutes=18, message=SKU_NOT_AVAILABLE)
    _sku(c)["restrictions"] = [{"type": "Location", "values": [base.LOCATION],
                                "restrictionInfo": {"locations": [base.LOCATION]},
                                "reasonCode": "NotAvailableForSubscription"}]
    c.usage("standardNCADSA100v4Family").update(currentValue=0)
    c.usage("cores").update(currentValue=8)
    return c


@scenario("sku-unavailable/not-in-region", confirmed=["sku-unavailable"],
          description="A new H100 workspace: eastus2 does not list Standard_NC40ads_H100_v5 at all (az vm "
                      "list-skus is empty for it); the NodeClaim only says 'unavailable during launch'.")
def sku_not_listed() -> Cluster:
    c = base.healthy()
    h100 = "Standard_NC40ads_H100_v5"
    _stuck_workspace(c, minutes=25, message="creating instance: all requested instance types were unavailable "
                                            "during launch")
    c.k8s["workspaces"][0]["resource"]["instanceType"] = h100
    c.k8s["nodeclaims"][0]["spec"]["requirements"][0]["values"] = [h100]
    c.usage("standardNCADSA100v4Family").update(currentValue=0)
    c.usage("cores").update(currentValue=8)
    return c


def _scaled_to_zero_and_pending(c: Cluster, *, minutes: float, azure_error: str) -> None:
    """The A100 pool scaled to 0 overnight; the inference pod now waits for a node that cannot come."""
    c.k8s["nodes"] = [n for n in c.k8s["nodes"] if n["metadata"]["name"] != base.GPU_NODE]
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["spec"].get("nodeName") != base.GPU_NODE]
    c.k8s["pods"].append(base.inference_pod(node_name=None, phase="Pending", age_hours=minutes / 60, conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
         "lastTransitionTime": base.ts(minutes=minutes)}]))
    plugin_ds = c.find("daemonsets", "nvidia-device-plugin-daemonset", "gpu-resources")
    plugin_ds["status"].update(desiredNumberScheduled=0, currentNumberScheduled=0, numberReady=0,
                               numberAvailable=0, updatedNumberScheduled=0)
    c.find("daemonsets", "kube-proxy", "kube-system")["status"].update(
        desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=2, numberAvailable=2,
        updatedNumberScheduled=2)
    c.pool("gpua100")["properties"].update(count=0)
    ws = c.find("workspaces", base.WS, base.WS_NS)
    ws["status"]["workerNodes"] = []
    _inference_not_ready(c, minutes - 0.5, reason="WorkspaceInferenceStatusPending")
    pod = VLLM_POD
    c.k8s["events"] = [
        event(name=f"{pod}.18b0a1", kind="Pod", obj_name=pod, ns=base.WS_NS, reason="FailedScheduling",
              type_="Warning", component="default-scheduler", count=14, first_minutes_ago=minutes, minutes_ago=1,
              message="0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: "
                      "0/2 nodes are available: 2 Preemption is not helpful for scheduling."),
        event(name=f"{pod}.18b0a2", kind="Pod", obj_name=pod, ns=base.WS_NS, reason="TriggeredScaleUp",
              component="cluster-autoscaler", count=3, first_minutes_ago=minutes - 0.2, minutes_ago=minutes - 12,
              message="pod triggered scale-up: [{aks-gpua100-12345678-vmss 0->1 (max: 4)}]"),
        event(name=f"{pod}.18b0a3", kind="Pod", obj_name=pod, ns=base.WS_NS, reason="NotTriggerScaleUp",
              component="cluster-autoscaler", count=9, first_minutes_ago=minutes - 5, minutes_ago=2,
              message="pod didn't trigger scale-up: 1 in backoff after failed scale-up, 1 node(s) didn't match "
                      "Pod's node affinity/selector"),
        event(name="cluster-autoscaler-status.18b0a4", kind="ConfigMap", obj_name="cluster-autoscaler-status",
              ns="kube-system", reason="FailedToScaleUpGroup", type_="Warning", component="cluster-autoscaler",
              count=3, first_minutes_ago=minutes - 4, minutes_ago=minutes - 16,
              message=f"Scale-up failed for group aks-gpua100-12345678-vmss: {azure_error}"),
    ]
    c.logs = {k: v for k, v in c.logs.items() if not k.startswith(f"{base.WS_NS}/{VLLM_POD}") and "nvidia" not in k}
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"] = []
    c.usage("standardNCADSA100v4Family").update(currentValue=0)
    c.usage("cores").update(currentValue=8)


@scenario("sku-unavailable/zone-restricted", confirmed=["sku-unavailable"],
          description="Pool gpua100 is pinned to zone 1, where the A100 SKU has a Zone restriction: scale-up from 0 "
                      "fails (SkuNotAvailable) and the inference pod has been Pending 26 min; zones 2 and 3 are "
                      "allowed.")
def sku_zone_restricted() -> Cluster:
    c = base.healthy()
    _scaled_to_zero_and_pending(c, minutes=26, azure_error=(
        "Code=\"SkuNotAvailable\" Message=\"The requested VM size for resource 'Following SKUs have failed for "
        "Capacity Restrictions: Standard_NC24ads_A100_v4' is currently not available in location 'eastus2' zones "
        "'1' for subscription '00000000-0000-0000-0000-000000000000'. Please try another size or deploy to a "
        "different location or zones.\""))
    c.pool("gpua100")["properties"]["availabilityZones"] = ["1"]
    _sku(c)["restrictions"] = [{"type": "Zone", "values": [base.LOCATION],
                                "restrictionInfo": {"locations": [base.LOCATION], "zones": ["1"]},
                                "reasonCode": "NotAvailableForSubscription"}]
    return c


@scenario("sku-unavailable/allocation-failed", confirmed=[],
          description="Trap: the same pinned pool fails with ZonalAllocationFailed, but the SKU list shows no "
                      "restriction in zone 1: a transient capacity shortage, not a SKU the zone lacks, so row 2 "
                      "stays inconclusive and nothing is confirmed.")
def sku_allocation_failed() -> Cluster:
    c = base.healthy()
    _scaled_to_zero_and_pending(c, minutes=22, azure_error=(
        "Code=\"ZonalAllocationFailed\" Message=\"Allocation failed. We do not have sufficient capacity for the "
        "requested VM size in this zone. Read more about improving likelihood of allocation success at "
        "http://aka.ms/allocation-guidance\""))
    c.pool("gpua100")["properties"]["availabilityZones"] = ["1"]
    return c


@scenario("sku-unavailable/ruled-out", confirmed=["quota-exhausted"],
          description="Look-alike: KAITO v0.6 says 'all requested instance types were unavailable during launch', "
                      "but the SKU is listed in eastus2 with no restriction; the family quota is 0, so only "
                      "quota-exhausted is confirmed.")
def sku_ruled_out_quota() -> Cluster:
    c = base.healthy()
    _stuck_workspace(c, minutes=16, message="check nodeClaim status timed out. nodeClaim ws3f9a1c2d7 is not "
                                            "ready: all requested instance types were unavailable during launch")
    c.usage("standardNCADSA100v4Family").update(currentValue=0, limit=0)
    c.usage("cores").update(currentValue=8)
    return c


# ---- row 3: no-cuda-device -----------------------------------------------------------------

PLUGIN_NVML_LOG = (
    "I{t} .102211       1 main.go:235] Starting NVIDIA Device Plugin\n"
    "I{t} .102315       1 main.go:317] Retrieving plugins.\n"
    "E{t} .109871       1 factory.go:112] Failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND.\n"
    "E{t} .109902       1 factory.go:113] If this is a GPU node, did you set the docker default runtime to "
    "`nvidia`?\n"
    "E{t} .110113       1 main.go:149] error starting plugins: error creating plugin manager: unable to create "
    "plugin manager: nvml init failed: ERROR_LIBRARY_NOT_FOUND\n")


def _plugin_log(minutes_ago: float) -> str:
    return PLUGIN_NVML_LOG.replace("{t}", _klog(minutes_ago) + ":58")


def _gpu_lost(c: Cluster) -> None:
    """The kubelet zeroes nvidia.com/gpu in allocatable once the plugin is gone; capacity stays."""
    _gpu_node(c)["status"]["allocatable"]["nvidia.com/gpu"] = "0"


def _no_device_rows(count: int) -> list[list[Any]]:
    return [[VLLM_POD, "RuntimeError: CUDA error: no CUDA-capable device is detected", count]]


@scenario("no-cuda-device/confirmed", confirmed=["no-cuda-device"],
          description="Device plugin CrashLoopBackOff on the A100 node (NVML init fails), allocatable lost "
                      "nvidia.com/gpu, vLLM's previous instance died 2 min ago on 'no CUDA-capable device is "
                      "detected', workspace InferenceReady False.")
def no_cuda_plugin_crashloop() -> Cluster:
    c = base.healthy()
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["metadata"]["name"] != PLUGIN_POD]
    c.k8s["pods"].append(base.device_plugin_pod(base.GPU_NODE, ready=False))
    plugin_ds = c.find("daemonsets", "nvidia-device-plugin-daemonset", "gpu-resources")
    plugin_ds["status"].update(numberReady=0, numberAvailable=0, numberUnavailable=1)
    c.logs[PLUGIN_LOG_KEY] = _plugin_log(7)
    c.logs[PLUGIN_LOG_KEY + ".previous"] = _plugin_log(12)
    _gpu_lost(c)
    _vllm_restarted(c, restarts=6, started_min=0.7, died_min=2, ready=False, ready_since_min=38)
    _inference_not_ready(c, 37)
    _warn(c, name=f"{PLUGIN_POD}.18c1", kind="Pod", obj_name=PLUGIN_POD, ns="gpu-resources", reason="BackOff",
          message="Back-off restarting failed container nvidia-device-plugin-ctr in pod "
                  f"{PLUGIN_POD}_gpu-resources(dc4d2d8c-596a-a804-94ce-ebea86e74487)",
          count=31, first_minutes_ago=48, minutes_ago=1, host=base.GPU_NODE)
    _warn(c, name=f"{VLLM_POD}.18c2", kind="Pod", obj_name=VLLM_POD, ns=base.WS_NS, reason="BackOff",
          message=f"Back-off restarting failed container {base.WS} in pod {VLLM_POD}_{base.WS_NS}",
          count=11, first_minutes_ago=36, minutes_ago=1, host=base.GPU_NODE)
    _la_errors(c, _no_device_rows(6) + [[PLUGIN_POD, "E1127 07:33:58.109871 1 factory.go:112] Failed to initialize "
                                                     "NVML: ERROR_LIBRARY_NOT_FOUND.", 9]])
    return c


@scenario("no-cuda-device/log-analytics-only", confirmed=["no-cuda-device"],
          description="Pod logs were not captured; Log Analytics shows vLLM's 'no CUDA-capable device is "
                      "detected' 7 times in the last hour. The device-plugin DaemonSet was uninstalled: no plugin "
                      "pod on the A100 node and allocatable nvidia.com/gpu is 0 (no pod to restart).")
def no_cuda_la_only() -> Cluster:
    c = base.healthy()
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["metadata"]["name"] != PLUGIN_POD]
    c.k8s["daemonsets"] = [d for d in c.k8s["daemonsets"] if d["metadata"]["name"] != "nvidia-device-plugin-daemonset"]
    _gpu_lost(c)
    _vllm_restarted(c, restarts=4, started_min=1.5, died_min=3, ready=False, ready_since_min=30)
    _inference_not_ready(c, 29)
    c.k8s["events"].append(event(name="nvidia-device-plugin-daemonset.18d0", kind="DaemonSet",
                                 obj_name="nvidia-device-plugin-daemonset", ns="gpu-resources",
                                 reason="SuccessfulDelete", component="daemonset-controller",
                                 message=f"Deleted pod: {PLUGIN_POD}", minutes_ago=41))
    c.omit.add("kubernetes/logs")
    _la_errors(c, _no_device_rows(7))
    return c


@scenario("no-cuda-device/ruled-out", confirmed=[],
          description="Look-alike: the device plugin and vLLM both restarted 2 h ago after a driver hiccup; vLLM's "
                      "previous log still says 'no CUDA-capable device is detected' but that instance ended 2 h ago, "
                      "beyond the 1 h lookback, and everything has recovered since.")
def no_cuda_recovered() -> Cluster:
    c = base.healthy()
    plugin = c.find("pods", PLUGIN_POD, "gpu-resources")
    plugin["status"]["containerStatuses"] = [
        _status("nvidia-device-plugin-ctr", "mcr.microsoft.com/oss/v2/nvidia/k8s-device-plugin:v0.18.2-12",
                restarts=1, started_min=122, ready=True, last=(127, 123, 1, "Error"))]
    _pod_ready(plugin, True, 122)
    c.logs[PLUGIN_LOG_KEY + ".previous"] = _plugin_log(123)
    c.logs[PLUGIN_LOG_KEY] = (f"I{_klog(122)}:02.118 main.go:317] Retrieving plugins.\n"
                              f"I{_klog(122)}:02.512 server.go:195] Starting GRPC server for 'nvidia.com/gpu'\n"
                              f"I{_klog(122)}:02.514 server.go:139] Registered device plugin for 'nvidia.com/gpu' "
                              "with Kubelet\n")
    _vllm_restarted(c, restarts=1, started_min=119, died_min=121, ready=True, ready_since_min=117)
    c.k8s["events"].append(event(name=f"{VLLM_POD}.17f1", kind="Pod", obj_name=VLLM_POD, ns=base.WS_NS,
                                 reason="BackOff", type_="Warning", count=2, first_minutes_ago=121,
                                 minutes_ago=120, host=base.GPU_NODE,
                                 message=f"Back-off restarting failed container {base.WS} in pod "
                                         f"{VLLM_POD}_{base.WS_NS}"))
    ws = c.find("workspaces", base.WS, base.WS_NS)
    next(x for x in ws["status"]["conditions"] if x["type"] == "InferenceReady")["lastTransitionTime"] = \
        base.ts(minutes=117)
    return c


# ---- row 4: driver-conflict ----------------------------------------------------------------

OPERATOR_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "sku", "operator": "Exists", "effect": "NoSchedule"}]
DRIVER_IMAGE = "nvcr.io/nvidia/driver:550.127.08-ubuntu22.04"
DRIVER_POD = "nvidia-driver-daemonset-7xk9q"
DRIVER_LOG_KEY = f"{OPERATOR_NS}/{DRIVER_POD}/nvidia-driver-ctr"
DRIVER_OK_LOG = ("========== NVIDIA Software Installer ==========\n"
                 "Starting installation of NVIDIA driver version 550.127.08 for Linux kernel version "
                 "5.15.0-1079-azure\n"
                 "Loading NVIDIA driver kernel modules...\n"
                 "+ modprobe nvidia\n+ modprobe nvidia-uvm\n+ modprobe nvidia-modeset\n"
                 "Starting NVIDIA persistence daemon...\n"
                 "Done, now waiting for signal\n")
DRIVER_CLASH_LOG = ("Stopping NVIDIA persistence daemon...\n"
                    "Unloading NVIDIA driver kernel modules...\n"
                    "nvidia_modeset       1241088  0\n"
                    "nvidia_uvm           1536000  2\n"
                    "nvidia              56664064  18 nvidia_uvm,nvidia_modeset\n"
                    "Could not unload NVIDIA driver kernel modules, driver is in use\n")
# (DaemonSet, container, image, pod label app=, nodeSelector deploy label, pod suffix)
OPERATOR_PARTS = [
    ("nvidia-driver-daemonset", "nvidia-driver-ctr", DRIVER_IMAGE, "driver", "7xk9q"),
    ("nvidia-container-toolkit-daemonset", "nvidia-container-toolkit-ctr",
     "nvcr.io/nvidia/k8s/container-toolkit:v1.17.3-ubuntu20.04", "container-toolkit", "m2v8d"),
    ("nvidia-device-plugin-daemonset", "nvidia-device-plugin", "nvcr.io/nvidia/k8s-device-plugin:v0.17.0",
     "device-plugin", "h5q7w"),
    ("gpu-feature-discovery", "gpu-feature-discovery", "nvcr.io/nvidia/k8s-device-plugin:v0.17.0",
     "gpu-feature-discovery", "b9r4t"),
]


def _operator_pod(ds: str, ctr: str, image: str, suffix: str, *, age_hours: float = 70) -> Obj:
    return base.pod(f"{ds}-{suffix}", OPERATOR_NS, node_name=base.GPU_NODE, owner=("DaemonSet", ds),
                    labels={"app": ds, "app.kubernetes.io/part-of": "gpu-operator",
                            "controller-revision-hash": "7d4b9c6f5d"},
                    containers=[base.container(ctr, image)], tolerations=OPERATOR_TOLERATIONS,
                    age_hours=age_hours)


def _gpu_operator(c: Cluster, *, driver_label: str = "true") -> None:
    """NVIDIA GPU Operator (Helm, namespace gpu-operator) replacing the doc's device plugin.

    `driver_label` is what the operator put in the node's nvidia.com/gpu.deploy.driver label:
    "true" runs its driver pod there, "pre-installed" means it found the host's driver and skips it.
    """
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["metadata"]["name"] != PLUGIN_POD]
    c.k8s["daemonsets"] = [d for d in c.k8s["daemonsets"] if d["metadata"]["name"] != "nvidia-device-plugin-daemonset"]
    c.logs = {k: v for k, v in c.logs.items() if not k.startswith("gpu-resources/")}
    node = _gpu_node(c)
    node["metadata"]["labels"].update({
        "nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe",
        "nvidia.com/gpu.count": "1", "nvidia.com/gpu.deploy.driver": driver_label,
        "nvidia.com/gpu.deploy.container-toolkit": "true", "nvidia.com/gpu.deploy.device-plugin": "true",
        "nvidia.com/gpu.deploy.gpu-feature-discovery": "true", "nvidia.com/cuda.driver.major": "550"})
    for ds, ctr, image, deploy, suffix in OPERATOR_PARTS:
        runs = not (deploy == "driver" and driver_label != "true")
        c.k8s["daemonsets"].append(base.daemonset(
            ds, OPERATOR_NS, desired=int(runs), ready=int(runs), image=image, labels={"app": ds},
            tolerations=OPERATOR_TOLERATIONS, node_selector={f"nvidia.com/gpu.deploy.{deploy}": "true"}))
        if runs:
            c.k8s["pods"].append(_operator_pod(ds, ctr, image, suffix))
    c.k8s["pods"].append(base.pod(
        "gpu-operator-6b8c9d7f5-q2w3e", OPERATOR_NS, node_name=base.SYS_NODES[1],
        owner=("ReplicaSet", "gpu-operator-6b8c9d7f5"), labels={"app": "gpu-operator"},
        containers=[base.container("gpu-operator", "nvcr.io/nvidia/gpu-operator:v24.9.1")]))
    c.k8s["clusterpolicies"] = [{
        "apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "cluster-policy", "uid": base.uid("cluster-policy"), "creationTimestamp": base.ts(days=3),
                     "labels": {"app.kubernetes.io/managed-by": "Helm"}},
        "spec": {"operator": {"defaultRuntime": "containerd"},
                 "driver": {"enabled": True, "version": "550.127.08", "repository": "nvcr.io/nvidia"},
                 "toolkit": {"enabled": True}, "devicePlugin": {"enabled": True},
                 "gfd": {"enabled": True}, "mig": {"strategy": "single"},
                 "daemonsets": {"tolerations": OPERATOR_TOLERATIONS}},
        "status": {"state": "ready", "namespace": OPERATOR_NS},
    }]
    if driver_label == "true":
        c.logs[DRIVER_LOG_KEY] = DRIVER_OK_LOG


def _flapping(c: Cluster, *, times: int, first: float, last_down: float, last_up: float, why: str) -> None:
    """Node controller and kubelet report the GPU node going NotReady and back, `times` each."""
    node = _gpu_node(c)
    ready = next(x for x in node["status"]["conditions"] if x["type"] == "Ready")
    ready["lastTransitionTime"] = base.ts(minutes=last_up)
    c.k8s["events"] += [
        event(name=f"{base.GPU_NODE}.18e1", kind="Node", obj_name=base.GPU_NODE, ns="", reason="NodeNotReady",
              component="node-controller", count=times, first_minutes_ago=first, minutes_ago=last_down,
              message=f"Node {base.GPU_NODE} status is now: NodeNotReady"),
        event(name=f"{base.GPU_NODE}.18e2", kind="Node", obj_name=base.GPU_NODE, ns="", reason="NodeReady",
              component="kubelet", host=base.GPU_NODE, count=times, first_minutes_ago=first - 3,
              minutes_ago=last_up, message=f"Node {base.GPU_NODE} status is now: NodeReady"),
        event(name=f"{base.GPU_NODE}.18e3", kind="Node", obj_name=base.GPU_NODE, ns="", reason="ContainerGCFailed",
              type_="Warning", component="kubelet", host=base.GPU_NODE, count=times, first_minutes_ago=first + 0.5,
              minutes_ago=last_down + 0.5, message=why),
    ]


@scenario("driver-conflict/confirmed", confirmed=["driver-conflict", "no-cuda-device"],
          description="GPU Operator (with its driver DaemonSet) installed on pool gpua100, which has no gpuProfile "
                      "and so also gets the AKS-managed driver: the node went NotReady/Ready 4 times in 48 min, the "
                      "driver pod cannot unload the in-use modules, and vLLM's previous instance saw no CUDA "
                      "device.")
def driver_conflict() -> Cluster:
    c = base.healthy()
    _gpu_operator(c)
    _flapping(c, times=4, first=48, last_down=9, last_up=6,
              why="rpc error: code = DeadlineExceeded desc = context deadline exceeded")
    driver = c.find("pods", DRIVER_POD, OPERATOR_NS)
    driver["status"]["containerStatuses"] = [
        _status("nvidia-driver-ctr", DRIVER_IMAGE, restarts=5, started_min=8, ready=False, last=(11, 9, 1, "Error"))]
    _pod_ready(driver, False, 9)
    c.logs[DRIVER_LOG_KEY + ".previous"] = DRIVER_CLASH_LOG
    c.logs[DRIVER_LOG_KEY] = DRIVER_CLASH_LOG.replace("Stopping NVIDIA persistence daemon...\n", "")
    _vllm_restarted(c, restarts=4, started_min=5, died_min=8, ready=True, ready_since_min=3)
    _warn(c, name=f"{DRIVER_POD}.18e4", kind="Pod", obj_name=DRIVER_POD, ns=OPERATOR_NS, reason="BackOff",
          message=f"Back-off restarting failed container nvidia-driver-ctr in pod {DRIVER_POD}_{OPERATOR_NS}",
          count=7, first_minutes_ago=44, minutes_ago=8, host=base.GPU_NODE)
    _la_errors(c, _no_device_rows(4))
    return c


@scenario("driver-conflict/ruled-out", confirmed=[],
          description="GPU Operator installed correctly: pool gpua100 has gpuProfile.driver None, so the operator's "
                      "driver DaemonSet is the only driver source; the node has been Ready for 3 days.")
def driver_operator_only() -> Cluster:
    c = base.healthy()
    c.pool("gpua100")["properties"]["gpuProfile"] = {"driver": "None"}
    _gpu_operator(c)
    return c


@scenario("driver-conflict/preinstalled-driver", confirmed=[],
          description="Trap: the GPU Operator runs on the managed-driver pool, but it detected the host's driver "
                      "(node label nvidia.com/gpu.deploy.driver=pre-installed), so its driver DaemonSet schedules "
                      "no pod there: one driver source, no flapping.")
def driver_preinstalled() -> Cluster:
    c = base.healthy()
    c.pool("gpua100")["properties"]["gpuProfile"] = {"driver": "Install"}
    _gpu_operator(c, driver_label="pre-installed")
    return c


@scenario("driver-conflict/flap-other-cause", confirmed=[],
          description="The A100 node flapped NotReady/Ready 3 times in the last hour (container runtime "
                      "timeouts), but there is no GPU Operator driver: the managed driver is the only source, so "
                      "driver-conflict is ruled out by its cause.")
def driver_flap_other() -> Cluster:
    c = base.healthy()
    _flapping(c, times=3, first=52, last_down=14, last_up=12,
              why="rpc error: code = DeadlineExceeded desc = context deadline exceeded")
    return c
