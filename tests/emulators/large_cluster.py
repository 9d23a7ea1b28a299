"""A big, plausible cluster for scale tests: N nodes (a quarter of them A100 GPU nodes),
M pods with realistic specs (DaemonSet pods on every node, a KAITO workspace pod and the device
plugin on each GPU node, GPU batch jobs, pending GPU pods, and web Deployments filling the rest).

    cluster = large_cluster(nodes=200, pods=10_000)
    cluster.write(tmp / "big")   # a snapshot directory the emulator can serve
"""

from __future__ import annotations

from tests.scenarios.builder import base
from tests.scenarios.builder.base import Cluster, container, node, pod

TEAMS = ("search", "ads", "recs", "fraud", "chat")
WEB_IMAGE = "mlmodels.azurecr.io/{team}/api:2026.11.{n}"
BATCH_IMAGE = "mlmodels.azurecr.io/{team}/embed-batch:1.4.2"


def gpu_node_name(i: int) -> str:
    return f"aks-gpua100-23456789-vmss{i:06x}"


def cpu_node_name(i: int) -> str:
    return f"aks-general-34567890-vmss{i:06x}"


def large_cluster(nodes: int = 200, pods: int = 10_000, *, pending: int = 30) -> Cluster:
    c = base.healthy()
    gpu_names = [gpu_node_name(i) for i in range(max(nodes // 4, 1))]
    cpu_names = [cpu_node_name(i) for i in range(max(nodes - len(gpu_names), 1))]
    c.k8s["nodes"] = [
        node(n, pool="general", sku="Standard_D16s_v5", age_hours=200 + i)
        for i, n in enumerate(cpu_names)
    ] + [
        node(n, pool="gpua100", sku=base.GPU_SKU, gpu=1, taints=[base.GPU_TAINT], age_hours=30 + i)
        for i, n in enumerate(gpu_names)
    ]
    out = []
    proxy_image = "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3"
    for i, n in enumerate(cpu_names + gpu_names):
        out.append(base.daemonset_pod("kube-proxy", "kube-system", n, proxy_image, f"k{i:05d}"))
    for i, n in enumerate(gpu_names):
        team = TEAMS[i % len(TEAMS)]
        out.append(base.device_plugin_pod(n, suffix=f"d{i:05d}"))
        out.append(base.inference_pod(f"workspace-{team}-{i:03d}", team, node_name=n))
    for i in range(pending):
        team = TEAMS[i % len(TEAMS)]
        gpu = container("embed", BATCH_IMAGE.format(team=team), gpu=1, cpu="8", memory="32Gi")
        out.append(
            pod(
                f"embed-batch-{team}-{i:04d}",
                team,
                node_name=None,
                phase="Pending",
                owner=("Job", f"embed-batch-{team}"),
                labels={"job-name": f"embed-batch-{team}"},
                containers=[gpu],
                age_hours=0.2,
            )
        )
    i = 0
    while len(out) < pods:
        team = TEAMS[i % len(TEAMS)]
        rs = f"api-{team}-7d9f8b6c5"
        web = container(
            "api",
            WEB_IMAGE.format(team=team, n=i % 28 + 1),
            ports=[8080],
            probe_port=8080,
            cpu="250m",
            memory="512Mi",
        )
        out.append(
            pod(
                f"{rs}-{i:06x}",
                team,
                node_name=cpu_names[i % len(cpu_names)],
                owner=("ReplicaSet", rs),
                labels={"app": f"api-{team}", "pod-template-hash": rs[-9:]},
                containers=[web],
                age_hours=20,
            )
        )
        i += 1
    c.k8s["pods"] = out
    c.logs, c.metrics, c.probes = {}, {}, {}
    return c
