"""GPU memory rows: OOM at load (5), OOM under load (6), KV-bound (11), time-slicing OOM (12).

Each scenario starts from the healthy cluster and breaks one thing the way a real cluster
shows it: vLLM's own log lines (dated, year-less, as vLLM prints them), container statuses
that agree with the logs, /metrics with the KV-cache gauge under the name the vLLM version
emits, Log Analytics rows from the seed's gpu-error-patterns query, GPU Operator objects.
"""

from __future__ import annotations

from datetime import timedelta

from tests.scenarios.builder import base
from tests.scenarios.builder.base import Cluster, Obj, condition, event, scenario

# ---- vLLM logs -------------------------------------------------------------------------------


def stamp(minutes_ago: float) -> str:
    """vLLM's log time: month-day and time, no year."""
    return (base.NOW - timedelta(minutes=minutes_ago)).strftime("%m-%d %H:%M:%S")


def vllm_boot(model: str, at: float, *, max_model_len: int = 8192, load_s: float = 40) -> list[str]:
    """A vLLM 0.9 (KAITO 0.6 base image) start-up up to the weight load, `at` minutes ago."""
    return [
        f"INFO {stamp(at)} [__init__.py:239] Automatically detected platform cuda.",
        f"INFO {stamp(at - 0.05)} [api_server.py:1043] vLLM API server version 0.9.0",
        f"INFO {stamp(at - 0.05)} [cli_args.py:325] non-default args: {{'model': '/workspace/vllm/weights', "
        f"'served_model_name': ['{model}'], 'port': 5000, 'max_model_len': {max_model_len}, "
        "'gpu_memory_utilization': 0.9, 'tensor_parallel_size': 1}",
        f"INFO {stamp(at - 0.2)} [config.py:717] This model supports multiple tasks: {{'generate'}}. "
        "Defaulting to 'generate'.",
        f"INFO {stamp(at - 0.25)} [core.py:58] Initializing a V1 LLM engine (v0.9.0) with config: "
        f"model='/workspace/vllm/weights', served_model_name={model}, dtype=torch.bfloat16, "
        f"max_seq_len={max_model_len}, tensor_parallel_size=1",
        f"INFO {stamp(at - 0.3)} [gpu_model_runner.py:1329] Starting to load model /workspace/vllm/weights...",
    ]


def vllm_ready(model: str, at: float, *, weights_gib: float, kv_tokens: int) -> list[str]:
    """Weights loaded, KV cache allocated, server up: the lines that mark 'ready'."""
    return [
        f"INFO {stamp(at - 0.5)} [loader.py:458] Loading weights took 24.87 seconds",
        f"INFO {stamp(at - 0.5)} [gpu_model_runner.py:1347] Model loading took {weights_gib:.4f} GiB and "
        "25.611874 seconds",
        f"INFO {stamp(at - 0.7)} [kv_cache_utils.py:634] GPU KV cache size: {kv_tokens:,} tokens",
        f"INFO {stamp(at - 0.9)} [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:5000",
        "INFO:     Started server process [1]",
        "INFO:     Waiting for application startup.",
        "INFO:     Application startup complete.",
        "INFO:     Uvicorn running on http://0.0.0.0:5000 (Press CTRL+C to quit)",
    ]


def traffic(at: float, *, running: int, waiting: int, kv: float) -> list[str]:
    return [
        'INFO:     10.244.0.31:40212 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
        'INFO:     10.244.0.31:40230 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
        f"INFO {stamp(at)} [loggers.py:116] Engine 000: Avg prompt throughput: 3120.4 tokens/s, "
        f"Avg generation throughput: 412.7 tokens/s, Running: {running} reqs, Waiting: {waiting} reqs, "
        f"GPU KV cache usage: {kv * 100:.1f}%, Prefix cache hit rate: 12.4%",
    ]


def oom_at_load(at: float, *, free_mib: float = 260.81, in_use_gib: float = 78.98) -> list[str]:
    """The engine dies loading shards: PyTorch's OOM, logged by EngineCore then re-raised."""
    oom = (f"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 448.00 MiB. GPU 0 has a total "
           f"capacity of 79.25 GiB of which {free_mib} MiB is free. Including non-PyTorch memory, this "
           f"process has {in_use_gib} GiB memory in use. Of the allocated memory 78.41 GiB is allocated by "
           "PyTorch, and 1.27 MiB is reserved by PyTorch but unallocated.")
    return [
        "Loading safetensors checkpoint shards:  43% Completed | 13/30 [00:41<00:54,  3.19s/it]",
        f"ERROR {stamp(at)} [core.py:515] EngineCore failed to start.",
        f"ERROR {stamp(at)} [core.py:515] Traceback (most recent call last):",
        f'ERROR {stamp(at)} [core.py:515]   File "/usr/local/lib/python3.12/dist-packages/vllm/model_executor/'
        'model_loader/default_loader.py", line 269, in load_weights',
        f"ERROR {stamp(at)} [core.py:515] {oom}",
        "Process EngineCore_0:",
        "Traceback (most recent call last):",
        oom,
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
    ]


def oom_serving(at: float, *, tried_gib: float = 2.49, free_gib: float = 1.12) -> list[str]:
    """The engine dies mid-batch: vLLM V1's fatal-error path, then uvicorn shuts down."""
    oom = (f"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate {tried_gib} GiB. GPU 0 has a total "
           f"capacity of 79.25 GiB of which {free_gib} GiB is free. Including non-PyTorch memory, this "
           "process has 78.11 GiB memory in use.")
    return [
        f"ERROR {stamp(at)} [core.py:502] EngineCore encountered a fatal error.",
        f"ERROR {stamp(at)} [core.py:502] Traceback (most recent call last):",
        f'ERROR {stamp(at)} [core.py:502]   File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/'
        'core.py", line 493, in run_engine_core',
        f"ERROR {stamp(at)} [core.py:502] {oom}",
        f"ERROR {stamp(at)} [async_llm.py:420] AsyncLLM output_handler failed.",
        "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) "
        "for the root cause.",
        "INFO:     Shutting down",
        "INFO:     Application shutdown complete.",
        "INFO:     Finished server process [1]",
    ]


def text(*parts: list[str]) -> str:
    return "\n".join(line for part in parts for line in part) + "\n"


# ---- container statuses ---------------------------------------------------------------------


def _cstatus(p: Obj) -> Obj:
    return p["status"]["containerStatuses"][0]


def crashloop(p: Obj, *, restarts: int, started: float, finished: float, reason: str = "Error",
              exit_code: int = 1) -> None:
    """Waiting in CrashLoopBackOff after the last run (`started`/`finished` minutes ago)."""
    st = _cstatus(p)
    st.update(ready=False, started=False, restartCount=restarts,
              state={"waiting": {"reason": "CrashLoopBackOff", "message": (
                  f"back-off 2m40s restarting failed container={st['name']} pod={p['metadata']['name']}_"
                  f"{p['metadata']['namespace']}({p['metadata']['uid']})")}},
              lastState={"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": base.ts(minutes=started),
                                        "finishedAt": base.ts(minutes=finished),
                                        "containerID": st["containerID"]}})
    created = p["metadata"]["creationTimestamp"]
    p["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": created},
        {"type": "Initialized", "status": "True", "lastTransitionTime": created},
        {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
         "message": f"containers with unready status: [{st['name']}]", "lastTransitionTime": base.ts(minutes=finished)},
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
         "message": f"containers with unready status: [{st['name']}]", "lastTransitionTime": base.ts(minutes=finished)},
    ]


def restarted(p: Obj, *, restarts: int, now_started: float, last_started: float, last_finished: float,
              reason: str = "Error", exit_code: int = 1) -> None:
    """Running again since `now_started` minutes ago after a run that ended `last_finished` ago."""
    st = _cstatus(p)
    st.update(restartCount=restarts, state={"running": {"startedAt": base.ts(minutes=now_started)}},
              lastState={"terminated": {"exitCode": exit_code, "reason": reason,
                                        "startedAt": base.ts(minutes=last_started),
                                        "finishedAt": base.ts(minutes=last_finished),
                                        "containerID": "containerd://" + base.uid(p["metadata"]["name"] + "old")
                                        .replace("-", "")}})
    for cond in p["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["lastTransitionTime"] = base.ts(minutes=now_started - 1)


def la_oom_rows(c: Cluster, rows: list[tuple[str, str, int]]) -> None:
    c.loganalytics["gpu-error-patterns"]["tables"][0]["rows"] = [list(r) for r in rows]


def ws_pod(c: Cluster, ws: str = base.WS) -> Obj:
    return c.find("pods", f"{ws}-0", base.WS_NS)


# ---- a second KAITO workspace on its own provisioned node -----------------------------------------

DEVICE_PLUGIN_LOG = (
    "I1127 05:38:12.402 main.go:317] Retrieving plugins.\n"
    "I1127 05:38:12.871 server.go:195] Starting GRPC server for 'nvidia.com/gpu'\n"
    "I1127 05:38:12.874 server.go:139] Registered device plugin for 'nvidia.com/gpu' with Kubelet\n"
)


def kaito_workspace(c: Cluster, *, name: str, preset: str, sku: str, claim: str, label: str, age_min: float,
                    config: str | None = None, memory: str = "160Gi", annotations: dict[str, str] | None = None,
                    ready: bool = True) -> Obj:
    """Workspace + NodeClaim + same-named agent pool + node + StatefulSet + Service + pod, as
    KAITO's gpu-provisioner creates them; returns the inference pod."""
    node_name = f"aks-{claim}-12345678-vmss000000"
    gpu = base.node(node_name, pool=claim, sku=sku, gpu=1, age_hours=(age_min - 4) / 60, taints=[base.GPU_TAINT],
                    extra_labels={"karpenter.sh/nodepool": "kaito", "kaito.sh/workspace": name,
                                  "kaito.sh/workspacenamespace": base.WS_NS, "kaito.sh/machine-type": "gpu",
                                  "kaito.sh/creation-timestamp": base.ts(minutes=age_min - 1).replace(":", "-"),
                                  "apps": label})
    c.k8s["nodes"].append(gpu)
    c.k8s["nodeclaims"].append({
        "apiVersion": "karpenter.sh/v1", "kind": "NodeClaim",
        "metadata": {"name": claim, "uid": base.uid(claim), "creationTimestamp": base.ts(minutes=age_min - 1),
                     "labels": {"karpenter.sh/nodepool": "kaito", "kaito.sh/workspace": name,
                                "kaito.sh/workspacenamespace": base.WS_NS, "apps": label},
                     "annotations": {"karpenter.sh/do-not-disrupt": "true"}},
        "spec": {"requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [sku]},
                                  {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}],
                 "taints": [base.GPU_TAINT], "resources": {"requests": {"storage": "300Gi"}},
                 "nodeClassRef": {"group": "karpenter.azure.com", "kind": "AKSNodeClass",
                                  "name": "image-family-ubuntu"}},
        "status": {"nodeName": node_name, "providerID": gpu["spec"]["providerID"], "conditions": [
            {"type": t, "status": "True", "reason": t, "lastTransitionTime": base.ts(minutes=age_min - m)}
            for t, m in (("Launched", 2), ("Registered", 4), ("Initialized", 5), ("Ready", 5))]},
    })
    c.azure["agent-pools"]["value"].append(
        base.agent_pool(claim, vm=sku, count=1, min_count=None, max_count=None, taints=["sku=gpu:NoSchedule"],
                        labels={"karpenter.sh/nodepool": "kaito", "kaito.sh/workspace": name, "apps": label,
                                "kaito.sh/machine-type": "gpu"}))
    conds = [
        condition("NodeClaimReady", "True", "installNodePluginsSuccess", minutes_ago=age_min - 5),
        condition("ResourceReady", "True", "workspaceResourceStatusSuccess", "workspace resource is ready",
                  minutes_ago=age_min - 6),
    ]
    ws = base.workspace(name, sku=sku, preset=preset, config=config, age_hours=age_min / 60, label_value=label,
                        conditions=conds)
    ws["status"]["workerNodes"] = [node_name]
    ws["metadata"]["annotations"].update(annotations or {})
    c.k8s["workspaces"].append(ws)
    sts = base.statefulset(name, ready=1 if ready else 0)
    sts["metadata"]["creationTimestamp"] = base.ts(minutes=age_min - 6)
    c.k8s["statefulsets"].append(sts)
    c.k8s["services"].append(base.service(name))
    p = base.inference_pod(name, node_name=node_name, age_hours=(age_min - 6) / 60,
                           node_selector={"apps": label})
    p["metadata"]["labels"]["apps"] = label
    ctr = p["spec"]["containers"][0]
    ctr["args"] = [a.replace("llama-3.1-8b-instruct", preset) for a in ctr["args"]]
    ctr["resources"]["requests"]["memory"] = ctr["resources"]["limits"]["memory"] = memory
    c.k8s["pods"].append(p)
    c.k8s["pods"].append(base.device_plugin_pod(node_name, suffix="r8d3m"))
    c.logs["gpu-resources/nvidia-device-plugin-daemonset-r8d3m/nvidia-device-plugin-ctr"] = DEVICE_PLUGIN_LOG
    c.k8s["pods"].append(base.daemonset_pod("kube-proxy", "kube-system", node_name,
                                            "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3", "p9kq"))
    for ds in c.k8s["daemonsets"]:
        st = ds["status"]
        for key in ("currentNumberScheduled", "desiredNumberScheduled", "numberAvailable", "numberReady",
                    "updatedNumberScheduled"):
            st[key] += 1
    c.k8s["events"] += [
        event(name=f"{name}-0.19b2", kind="Pod", obj_name=f"{name}-0", ns=base.WS_NS, reason="Pulled",
              message=f'Container image "{base.VLLM_IMAGE}" already present on machine', minutes_ago=age_min - 7,
              host=node_name),
    ]
    a100 = c.usage("standardNCADSA100v4Family")
    a100["currentValue"] += 24
    c.usage("cores")["currentValue"] += 24
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"].append([node_name, sku, 0])
    return p


# ---- row 5 ----------------------------------------------------------------------------------------

BIG = "workspace-llama-3-3-70b"


@scenario("oom-at-load/confirmed", confirmed=["oom-at-load"],
          description="llama-3.3-70b-instruct (4 GPUs / 320 GiB) created with KAITO's resource check bypassed "
                      "on one A100 80GB (Standard_NC24ads_A100_v4): every start dies with CUDA OOM while loading "
                      "shards, before the server is up; the pod crash-loops. The 8B workspace still serves.")
def oom_at_load_confirmed() -> Cluster:
    c = base.healthy()
    p = kaito_workspace(c, name=BIG, preset="llama-3.3-70b-instruct", sku=base.GPU_SKU, claim="ws7c1e2a9b3",
                        label="llama-3-3-70b", age_min=38, ready=False,
                        annotations={"kaito.sh/bypass-resource-checks": "true"})
    crashloop(p, restarts=5, started=4.5, finished=3.6)
    ws = c.find("workspaces", BIG)
    ws["status"]["conditions"].append(condition(
        "InferenceReady", "False", "ContainerCrashLoopBackOff",
        f"back-off 2m40s restarting failed container={BIG} pod={BIG}-0_default", minutes_ago=26))
    boot = vllm_boot("llama-3.3-70b-instruct", 4.5)
    c.logs[f"{base.WS_NS}/{BIG}-0/{BIG}"] = text(boot, oom_at_load(3.6))
    c.logs[f"{base.WS_NS}/{BIG}-0/{BIG}.previous"] = text(vllm_boot("llama-3.3-70b-instruct", 9.7),
                                                          oom_at_load(8.8, free_mib=262.44))
    c.k8s["events"] += [
        event(name=f"{BIG}-0.1c4e", kind="Pod", obj_name=f"{BIG}-0", ns=base.WS_NS, reason="BackOff",
              message=f"Back-off restarting failed container {BIG} in pod {BIG}-0_default({p['metadata']['uid']})",
              minutes_ago=1, type_="Warning", count=19, first_minutes_ago=27, host=p["spec"]["nodeName"]),
    ]
    la_oom_rows(c, [(f"{BIG}-0", oom_at_load(3.6)[4].split("] ", 1)[1], 12)])
    return c


@scenario("oom-at-load/ruled-out", confirmed=["oom-under-load"],
          description="qwen2.5-coder-32b-instruct (70 GiB) on one A100 80GB fits, loads and serves; it died with "
                      "CUDA OOM 12 min ago mid-batch, after the server was ready, with the KV cache at 99% (a "
                      "32k context): OOM under load, not at load.")
def oom_at_load_ruled_out() -> Cluster:
    c = base.healthy()
    name, model = "workspace-qwen-coder-32b", "qwen2.5-coder-32b-instruct"
    c.k8s["configmaps"].append(base.inference_config("qwen-inference-config", max_model_len=32768))
    p = kaito_workspace(c, name=name, preset=model, sku=base.GPU_SKU, claim="ws2e8f41d07", label="qwen-coder-32b",
                        age_min=26 * 60, config="qwen-inference-config")
    restarted(p, restarts=1, now_started=11, last_started=26 * 60 - 7, last_finished=12)
    c.find("workspaces", name)["status"]["conditions"] += [
        condition("InferenceReady", "True", "WorkspaceInferenceStatusSuccess",
                  "Inference has been deployed successfully", minutes_ago=9)]
    c.logs[f"{base.WS_NS}/{name}-0/{name}.previous"] = text(
        vllm_boot(model, 26 * 60 - 7, max_model_len=32768),
        vllm_ready(model, 26 * 60 - 7, weights_gib=61.0344, kv_tokens=41_472),
        traffic(14, running=7, waiting=0, kv=0.991), oom_serving(12, tried_gib=3.12, free_gib=0.87))
    c.logs[f"{base.WS_NS}/{name}-0/{name}"] = text(
        vllm_boot(model, 11, max_model_len=32768), vllm_ready(model, 11, weights_gib=61.0344, kv_tokens=41_472),
        traffic(1, running=6, waiting=0, kv=0.99))
    c.metrics[f"{base.WS_NS}/{name}-0"] = base.vllm_metrics(kv=0.99, running=6, waiting=0, model=model)
    c.probes[f"{base.WS_NS}/{name}"] = {"path": "/v1/models", "status": 200, "latency_ms": 97,
                                        "body": f'{{"object":"list","data":[{{"id":"{model}","object":"model"}}]}}'}
    la_oom_rows(c, [(f"{name}-0", oom_serving(12, tried_gib=3.12, free_gib=0.87)[3].split("] ", 1)[1], 2)])
    return c


# ---- row 6 ----------------------------------------------------------------------------------------

LLAMA = "llama-3.1-8b-instruct"


def _llama_oom_under_load(c: Cluster, *, oom_min: float, kv_then: float) -> None:
    """The 8B pod served for days, died with CUDA OOM mid-batch `oom_min` ago, and restarted."""
    p = ws_pod(c)
    restarted(p, restarts=1, now_started=oom_min - 1, last_started=70 * 60, last_finished=oom_min)
    c.logs[f"{base.WS_NS}/{base.WS}-0/{base.WS}.previous"] = base.VLLM_START_LOG + text(
        traffic(oom_min + 2, running=6, waiting=0, kv=kv_then), oom_serving(oom_min))
    c.logs[f"{base.WS_NS}/{base.WS}-0/{base.WS}"] = text(
        vllm_boot(LLAMA, oom_min - 1), vllm_ready(LLAMA, oom_min - 1, weights_gib=14.9889, kv_tokens=431_280))
    c.k8s["events"] += [
        event(name=f"{base.WS}-0.1d77", kind="Pod", obj_name=f"{base.WS}-0", ns=base.WS_NS, reason="Pulled",
              message=f'Container image "{base.VLLM_IMAGE}" already present on machine', minutes_ago=oom_min - 0.5,
              host=base.GPU_NODE, count=2, first_minutes_ago=70 * 60),
        event(name=f"{base.WS}-0.1d78", kind="Pod", obj_name=f"{base.WS}-0", ns=base.WS_NS, reason="Started",
              message=f"Started container {base.WS}", minutes_ago=oom_min - 1, host=base.GPU_NODE, count=2,
              first_minutes_ago=70 * 60),
    ]


@scenario("oom-under-load/confirmed", confirmed=["oom-under-load"],
          description="The llama 8B pod died with CUDA OOM mid-batch 9 min ago (previous log, after 'Application "
                      "startup complete'), restarted, and its KV cache is back at 98% with 6 long-context "
                      "requests running: KV pinned under load.")
def oom_under_load_confirmed() -> Cluster:
    c = base.healthy()
    _llama_oom_under_load(c, oom_min=9, kv_then=0.992)
    c.metrics[f"{base.WS_NS}/{base.WS}-0"] = base.vllm_metrics(kv=0.98, running=6, waiting=0)
    la_oom_rows(c, [(f"{base.WS}-0", oom_serving(9)[3].split("] ", 1)[1], 2)])
    return c


@scenario("oom-under-load/old-metric-name", confirmed=["oom-under-load"],
          description="As confirmed, on vLLM 0.9.0 (KAITO 0.6) which exports only the old name "
                      "vllm:gpu_cache_usage_perc (0.97).")
def oom_under_load_old_metric() -> Cluster:
    c = base.healthy()
    _llama_oom_under_load(c, oom_min=21, kv_then=0.985)
    c.metrics[f"{base.WS_NS}/{base.WS}-0"] = base.vllm_metrics(kv=0.97, running=5, waiting=0, old_name_only=True)
    return c


@scenario("oom-under-load/ruled-out", confirmed=[],
          description="The llama 8B pod OOMed under load 3 h ago (outside the 1 h lookback), restarted and has "
                      "served since with the KV cache at 52%: an old event about a recovered pod.")
def oom_under_load_ruled_out() -> Cluster:
    c = base.healthy()
    _llama_oom_under_load(c, oom_min=180, kv_then=0.99)
    c.metrics[f"{base.WS_NS}/{base.WS}-0"] = base.vllm_metrics(kv=0.52, running=4, waiting=0)
    return c


@scenario("oom-under-load/kv-not-pinned", confirmed=[],
          description="CUDA OOM mid-batch 14 min ago, but the KV cache now sits at 41%: the cause this row "
                      "names is not in place (something else spiked memory), so the row is ruled out.")
def oom_under_load_kv_low() -> Cluster:
    c = base.healthy()
    _llama_oom_under_load(c, oom_min=14, kv_then=0.44)
    c.metrics[f"{base.WS_NS}/{base.WS}-0"] = base.vllm_metrics(kv=0.41, running=5, waiting=0)
    return c


# ---- row 11 ---------------------------------------------------------------------------------------


def _three_replicas(c: Cluster) -> list[Obj]:
    """The 8B workspace scaled to 3 replicas 2 h ago, KAITO 0.6 style: a Deployment whose Service
    selects every replica, one GPU node each from the autoscaled gpua100 pool."""
    nodes = [base.GPU_NODE] + [base.GPU_NODE.replace("000000", f"00000{i}") for i in (1, 2)]
    for n in nodes[1:]:
        c.k8s["nodes"].append(base.node(n, pool="gpua100", sku=base.GPU_SKU, gpu=1, age_hours=2.1,
                                        taints=[base.GPU_TAINT],
                                        extra_labels={"apps": "llama-3-1-8b", "gpu-sku": "a100"}))
    rs = f"{base.WS}-6c8f9b7d5c"
    c.k8s["statefulsets"] = []
    c.k8s["deployments"] = [{
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": base.WS, "namespace": base.WS_NS, "uid": base.uid(base.WS + "deploy"),
                     "creationTimestamp": base.ts(hours=72), "generation": 2,
                     "labels": {"kaito.sh/workspace": base.WS},
                     "ownerReferences": [{"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace", "name": base.WS,
                                          "uid": base.uid(base.WS_NS + base.WS), "controller": True}]},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"kaito.sh/workspace": base.WS}},
                 "template": {"metadata": {"labels": {"kaito.sh/workspace": base.WS}},
                              "spec": {"containers": [base.container(base.WS, base.VLLM_IMAGE, gpu=1, ports=[5000],
                                                                     args=base.VLLM_ARGS, probe_port=5000)]}}},
        "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "updatedReplicas": 3,
                   "observedGeneration": 2},
    }]
    c.k8s["replicasets"] = [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": rs, "namespace": base.WS_NS, "uid": base.uid(rs), "creationTimestamp": base.ts(hours=72),
                     "labels": {"kaito.sh/workspace": base.WS, "pod-template-hash": "6c8f9b7d5c"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": base.WS,
                                          "uid": base.uid(base.WS + "deploy"), "controller": True}]},
        "spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3},
    }]
    c.k8s["services"][0]["spec"]["selector"] = {"kaito.sh/workspace": base.WS}
    ws = c.find("workspaces", base.WS)
    ws["resource"]["count"] = 3
    ws["status"]["workerNodes"] = nodes
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["metadata"]["name"] != f"{base.WS}-0"]
    pods = []
    for node_name, suffix, age in zip(nodes, ("x4k2p", "q9m7z", "h2t8w"), (70, 2, 2), strict=True):
        p = base.inference_pod(node_name=node_name, age_hours=age)
        name = f"{rs}-{suffix}"
        p["metadata"].update(name=name, uid=base.uid(base.WS_NS + name),
                             ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                                               "uid": base.uid(rs), "controller": True, "blockOwnerDeletion": True}])
        labels = p["metadata"]["labels"]
        labels.pop("statefulset.kubernetes.io/pod-name")
        labels.pop("controller-revision-hash")
        labels["pod-template-hash"] = "6c8f9b7d5c"
        pods.append(p)
        if node_name != base.GPU_NODE:
            c.k8s["pods"].append(base.device_plugin_pod(node_name, suffix=f"d{suffix[:4]}"))
            c.logs[f"gpu-resources/nvidia-device-plugin-daemonset-d{suffix[:4]}/nvidia-device-plugin-ctr"] = (
                DEVICE_PLUGIN_LOG)
            c.k8s["pods"].append(base.daemonset_pod("kube-proxy", "kube-system", node_name,
                                                    "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3",
                                                    f"k{suffix[:4]}"))
    c.k8s["pods"] += pods
    for ds in c.k8s["daemonsets"]:
        for key in ("currentNumberScheduled", "desiredNumberScheduled", "numberAvailable", "numberReady",
                    "updatedNumberScheduled"):
            ds["status"][key] += 2
    c.k8s["cronjobs"][0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] = [
        "kubectl", "scale", f"deployment/{base.WS}", "--replicas=1", "-n", base.WS_NS]
    # The events name the new pods; the two on new nodes pulled the image (fast: same-region ACR).
    c.k8s["events"] = [e for e in c.k8s["events"] if e["involvedObject"]["name"] != f"{base.WS}-0"]
    for p in pods:
        fresh = p["spec"]["nodeName"] != base.GPU_NODE
        message = (f'Successfully pulled image "{base.VLLM_IMAGE}" in 41.207s (41.207s including waiting). '
                   "Image size: 9876543210 bytes." if fresh
                   else f'Container image "{base.VLLM_IMAGE}" already present on machine')
        c.k8s["events"].append(event(name=f"{p['metadata']['name']}.1f0{int(fresh)}", kind="Pod",
                                     obj_name=p["metadata"]["name"], ns=base.WS_NS, reason="Pulled",
                                     message=message, minutes_ago=124 if fresh else 50,
                                     host=p["spec"]["nodeName"]))
    c.k8s["events"].append(event(name=f"{base.WS}.1e02", kind="Deployment", obj_name=base.WS, ns=base.WS_NS,
                                 reason="ScalingReplicaSet", message=f"Scaled up replica set {rs} to 3 from 1",
                                 minutes_ago=126, component="deployment-controller"))
    c.pool("gpua100")["properties"]["count"] = 3
    c.usage("standardNCADSA100v4Family")["currentValue"] += 48
    c.usage("cores")["currentValue"] += 48
    c.logs = {k: v for k, v in c.logs.items() if not k.startswith(f"{base.WS_NS}/{base.WS}-0/")}
    c.metrics = {}
    for p in pods:
        c.logs[f"{base.WS_NS}/{p['metadata']['name']}/{base.WS}"] = base.VLLM_START_LOG
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"] += [[n, base.GPU_SKU, 0] for n in nodes[1:]]
    return pods


@scenario("kv-cache-bound/confirmed", confirmed=["kv-cache-bound"],
          description="Scaled from 1 to 3 replicas and throughput did not move: every replica has ~37 requests "
                      "waiting with only ~12 running (max-num-seqs 256) and its KV cache at 98-99%.")
def kv_bound_confirmed() -> Cluster:
    c = base.healthy()
    pods = _three_replicas(c)
    for p, (kv, running, waiting) in zip(pods, ((0.99, 12, 37), (0.98, 11, 41), (0.99, 13, 35)), strict=True):
        c.metrics[f"{base.WS_NS}/{p['metadata']['name']}"] = base.vllm_metrics(kv=kv, running=running,
                                                                               waiting=waiting)
    return c


@scenario("kv-cache-bound/ruled-out", confirmed=[],
          description="Requests queue (9 waiting) but the KV cache is at 40% with the batch full at 256 "
                      "running: the replica is sequence-bound, more replicas would help; not KV-bound.")
def kv_bound_ruled_out() -> Cluster:
    c = base.healthy()
    c.metrics[f"{base.WS_NS}/{base.WS}-0"] = base.vllm_metrics(kv=0.40, running=256, waiting=9)
    return c


@scenario("kv-cache-bound/seq-bound", confirmed=[],
          description="KV cache at 97% and 22 waiting, but 64 running = the max-num-seqs 64 the inference config "
                      "sets: the batch limit, not memory, holds requests back.")
def kv_bound_seq_bound() -> Cluster:
    c = base.healthy()
    cm = c.find("configmaps", "llama-inference-config", base.WS_NS)
    cm["data"]["inference_config.yaml"] += "  max-num-seqs: 64\n"
    c.metrics[f"{base.WS_NS}/{base.WS}-0"] = base.vllm_metrics(kv=0.97, running=64, waiting=22)
    return c


# ---- row 12 ---------------------------------------------------------------------------------------

OPERATOR_NS = "gpu-operator"
EMBEDDER = "embedder-7d5f9c8b6-p4x2k"
GFD_BASE = {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "1", "nvidia.com/gpu.memory": "81920",
            "nvidia.com/gpu.family": "ampere", "nvidia.com/cuda.driver.major": "550",
            "nvidia.com/cuda.compute.major": "8", "nvidia.com/cuda.compute.minor": "0",
            "nvidia.com/mig.capable": "true", "nvidia.com/mig.strategy": "single",
            "nvidia.com/mig.config.state": "success",
            **{f"nvidia.com/gpu.deploy.{x}": "true" for x in (
                "driver", "container-toolkit", "device-plugin", "gpu-feature-discovery", "dcgm-exporter",
                "mig-manager", "operator-validator")}}


def _gpu_operator(c: Cluster, *, device_plugin_config: str | None, labels: dict[str, str],
                  allocatable: dict[str, int]) -> None:
    """The gpua100 pool moved to the GPU Operator the supported way: AKS driver off
    (gpuProfile.driver None), the user-installed device plugin removed, the operator's stack on."""
    c.pool("gpua100")["properties"]["gpuProfile"] = {"driver": "None"}
    c.k8s["daemonsets"] = [d for d in c.k8s["daemonsets"] if d["metadata"]["namespace"] != "gpu-resources"]
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["metadata"]["namespace"] != "gpu-resources"]
    c.logs = {k: v for k, v in c.logs.items() if not k.startswith("gpu-resources/")}
    sel = {"nvidia.com/gpu.deploy.%s": "true"}
    for ds, image, deploy in (
        ("nvidia-driver-daemonset", "nvcr.io/nvidia/driver:550.127.08-ubuntu22.04", "driver"),
        ("nvidia-container-toolkit-daemonset", "nvcr.io/nvidia/k8s/container-toolkit:v1.17.4-ubuntu20.04",
         "container-toolkit"),
        ("nvidia-device-plugin-daemonset", "nvcr.io/nvidia/k8s-device-plugin:v0.17.1", "device-plugin"),
        ("gpu-feature-discovery", "nvcr.io/nvidia/k8s-device-plugin:v0.17.1", "gpu-feature-discovery"),
    ):
        node_sel = {k % deploy: v for k, v in sel.items()}
        c.k8s["daemonsets"].append(base.daemonset(ds, OPERATOR_NS, desired=1, ready=1, image=image,
                                                  labels={"app": ds}, tolerations=[{"operator": "Exists"}],
                                                  node_selector=node_sel))
        p = base.daemonset_pod(ds, OPERATOR_NS, base.GPU_NODE, image, "g7x2m")
        p["metadata"]["labels"] = {"app": ds}
        c.k8s["pods"].append(p)
    c.k8s["pods"].append(base.pod("gpu-operator-6b8f9d7c4-w2n5q", OPERATOR_NS, node_name=base.SYS_NODES[1],
                                  owner=("ReplicaSet", "gpu-operator-6b8f9d7c4"),
                                  labels={"app.kubernetes.io/name": "gpu-operator"},
                                  containers=[base.container("gpu-operator", "nvcr.io/nvidia/gpu-operator:v24.9.2")]))
    c.logs[f"{OPERATOR_NS}/nvidia-device-plugin-daemonset-g7x2m/nvidia-device-plugin-daemonset"] = (
        "I1124 07:00:05.201 main.go:317] Retrieving plugins.\n"
        "I1124 07:00:05.802 server.go:195] Starting GRPC server for 'nvidia.com/gpu'\n"
        "I1124 07:00:05.804 server.go:139] Registered device plugin for 'nvidia.com/gpu' with Kubelet\n")
    device_plugin: Obj = {"enabled": True}
    if device_plugin_config:
        device_plugin["config"] = {"name": device_plugin_config, "default": "a100"}
    c.k8s["clusterpolicies"] = [{
        "apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "cluster-policy", "uid": base.uid("cluster-policy"), "creationTimestamp": base.ts(days=9),
                     "generation": 3},
        "spec": {"operator": {"defaultRuntime": "containerd"}, "driver": {"enabled": True},
                 "toolkit": {"enabled": True}, "devicePlugin": device_plugin, "gfd": {"enabled": True},
                 "mig": {"strategy": "single"}, "migManager": {"enabled": True}, "dcgmExporter": {"enabled": True}},
        "status": {"state": "ready", "namespace": OPERATOR_NS,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled",
                                   "lastTransitionTime": base.ts(days=9)}]},
    }]
    c.k8s["configmaps"].append({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "default-mig-parted-config", "namespace": OPERATOR_NS,
                     "uid": base.uid("default-mig-parted-config"), "creationTimestamp": base.ts(days=9)},
        "data": {"config.yaml": "version: v1\nmig-configs:\n  all-disabled:\n    - devices: all\n"
                                "      mig-enabled: false\n  all-3g.40gb:\n    - devices: all\n"
                                "      mig-enabled: true\n      mig-devices:\n        \"3g.40gb\": 2\n"}})
    gpu = c.find("nodes", base.GPU_NODE)
    gpu["metadata"]["labels"].update({**GFD_BASE, **labels})
    for field in ("allocatable", "capacity"):
        gpu["status"][field].pop("nvidia.com/gpu", None)
        gpu["status"][field].update({k: str(v) for k, v in allocatable.items()})


def _embedder(c: Cluster, *, gpu_resource: str = "nvidia.com/gpu") -> Obj:
    """A second tenant: the search team's sentence-transformers embedder, one GPU, same node."""
    image = "mlmodels.azurecr.io/search/embedder:2.3.1"
    ctr = base.container("embedder", image, ports=[8080], cpu="2", memory="16Gi",
                         extra_limits={gpu_resource: "1"}, probe_port=8080, probe_path="/healthz")
    p = base.pod(EMBEDDER, "search", node_name=base.GPU_NODE, owner=("ReplicaSet", "embedder-7d5f9c8b6"),
                 labels={"app": "embedder", "pod-template-hash": "7d5f9c8b6"}, age_hours=26,
                 tolerations=[base.GPU_TOLERATION], node_selector={"gpu-sku": "a100"}, containers=[ctr])
    c.k8s["pods"].append(p)
    c.k8s["deployments"].append({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "embedder", "namespace": "search", "uid": base.uid("search-embedder"),
                     "creationTimestamp": base.ts(hours=26), "generation": 1, "labels": {"app": "embedder"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "embedder"}},
                 "template": {"metadata": {"labels": {"app": "embedder"}}, "spec": {"containers": [ctr]}}},
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1},
    })
    c.k8s["replicasets"].append({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "embedder-7d5f9c8b6", "namespace": "search", "uid": base.uid("embedder-7d5f9c8b6"),
                     "creationTimestamp": base.ts(hours=26), "labels": {"app": "embedder"}},
        "spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
    })
    return p


def embedder_log(at: float) -> list[str]:
    return [
        "INFO:     Started server process [1]",
        "INFO:     Waiting for application startup.",
        f"2026-{stamp(at).replace(' ', 'T')}Z embedder: loaded BAAI/bge-large-en-v1.5 on cuda:0 (1.25 GiB)",
        "INFO:     Application startup complete.",
        "INFO:     Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)",
        'INFO:     10.244.0.44:51822 - "POST /embed HTTP/1.1" 200 OK',
    ]


def _oomkilled_embedder(c: Cluster) -> None:
    """The embedder was OOM-killed 6 min ago mid-batch and has restarted."""
    p = _embedder(c)
    restarted(p, restarts=3, now_started=5.5, last_started=38, last_finished=6, reason="OOMKilled", exit_code=137)
    c.logs[f"search/{EMBEDDER}/embedder.previous"] = text(embedder_log(38), [
        'INFO:     10.244.0.44:51830 - "POST /embed HTTP/1.1" 200 OK'] * 3)
    c.logs[f"search/{EMBEDDER}/embedder"] = text(embedder_log(5.5))


TIME_SLICING = {"nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe-SHARED", "nvidia.com/gpu.replicas": "4",
                "nvidia.com/gpu.sharing-strategy": "time-slicing", "nvidia.com/mig.config": "all-disabled"}


def _time_sliced(c: Cluster) -> None:
    _gpu_operator(c, device_plugin_config="time-slicing-config", labels=TIME_SLICING,
                  allocatable={"nvidia.com/gpu": 4})
    c.k8s["configmaps"].append({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "time-slicing-config", "namespace": OPERATOR_NS,
                     "uid": base.uid("time-slicing-config"), "creationTimestamp": base.ts(days=9)},
        "data": {"a100": "version: v1\nsharing:\n  timeSlicing:\n    resources:\n      - name: nvidia.com/gpu\n"
                         "        replicas: 4          # 1 physical GPU advertised as 4\n"}})


@scenario("time-slicing-oom/confirmed", confirmed=["time-slicing-oom"],
          description="GPU Operator time-slices the A100 ×4 (ClusterPolicy devicePlugin.config time-slicing-config, "
                      "node advertises 4 nvidia.com/gpu on a 1-GPU SKU); the llama pod and the search embedder "
                      "share the card and the embedder was OOMKilled 6 min ago.")
def time_slicing_confirmed() -> Cluster:
    c = base.healthy()
    _time_sliced(c)
    _oomkilled_embedder(c)
    return c


@scenario("time-slicing-oom/cuda-oom-log", confirmed=["time-slicing-oom"],
          description="Time-sliced A100 as confirmed; the embedder's previous log ends in torch CUDA OOM while "
                      "serving (another process holds 71 GiB of the shared card), exit 1. OOM under load shows, but "
                      "the embedder exports no vLLM metrics, so row 6 stays inconclusive.")
def time_slicing_cuda_log() -> Cluster:
    c = base.healthy()
    _time_sliced(c)
    p = _embedder(c)
    restarted(p, restarts=2, now_started=16, last_started=40, last_finished=17)
    oom = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.00 GiB. GPU 0 has a total capacity "
           "of 79.25 GiB of which 1.19 GiB is free. Process 11873 has 71.31 GiB memory in use. Including "
           "non-PyTorch memory, this process has 6.71 GiB memory in use.")
    c.logs[f"search/{EMBEDDER}/embedder.previous"] = text(embedder_log(40), [
        f"2026-{stamp(17).replace(' ', 'T')}Z embedder: batch of 512 failed", "Traceback (most recent call last):",
        '  File "/app/embedder/server.py", line 88, in embed', oom,
        'INFO:     10.244.0.44:51851 - "POST /embed HTTP/1.1" 500 Internal Server Error'])
    c.logs[f"search/{EMBEDDER}/embedder"] = text(embedder_log(16))
    la_oom_rows(c, [(EMBEDDER, oom, 1)])
    return c


@scenario("time-slicing-oom/ruled-out", confirmed=[],
          description="Same two tenants and the same OOMKilled embedder, but the A100 is MIG-partitioned "
                      "(single strategy, all-3g.40gb: 2 isolated instances advertised as nvidia.com/gpu) with no "
                      "time-slicing config: the OOM is the embedder's own 40 GB slice, not a co-tenant.")
def time_slicing_ruled_out() -> Cluster:
    c = base.healthy()
    _gpu_operator(c, device_plugin_config=None, allocatable={"nvidia.com/gpu": 2}, labels={
        "nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe-MIG-3g.40gb", "nvidia.com/gpu.count": "2",
        "nvidia.com/gpu.memory": "40192", "nvidia.com/gpu.replicas": "1", "nvidia.com/gpu.sharing-strategy": "none",
        "nvidia.com/mig.config": "all-3g.40gb", "nvidia.com/gpu.slices.ci": "3", "nvidia.com/gpu.slices.gi": "3"})
    _oomkilled_embedder(c)
    return c
