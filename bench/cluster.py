"""Synthetic clusters for the benchmark, in the snapshot layout the emulators serve.

Extends tests/emulators/large_cluster.py: a chosen number of GPU nodes (not a quarter of the
nodes) and a realistic event stream (scheduling, pulls, probe failures, GPU XID warnings).
Every KAITO workspace pod has a log, a /metrics page and a Service answering its probe, so
the per-pod and per-service reads a triage fans out to are really made (without them the
emulator refuses the first read and the fan-out stops there). ARM bodies and Log Analytics
tables come from the healthy base cluster the builder writes.

    python -m bench.cluster --nodes 5000 --pods 150000 --gpu-nodes 200 --events 20000 OUT
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.emulators import large_cluster as lc
from tests.scenarios.builder import base
from tests.scenarios.builder.base import Cluster

REASONS = (
    ("Scheduled", "Normal", "Successfully assigned {ns}/{pod} to {node}", "default-scheduler"),
    ("Pulled", "Normal", "Container image already present on machine", "kubelet"),
    ("Started", "Normal", "Started container api", "kubelet"),
    (
        "Unhealthy",
        "Warning",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
        "kubelet",
    ),
    ("BackOff", "Warning", "Back-off restarting failed container api", "kubelet"),
)


def synthetic_cluster(
    nodes: int = 5_000, pods: int = 150_000, gpu_nodes: int = 200, events: int = 20_000
) -> Cluster:
    """`nodes` in total, `gpu_nodes` of them A100 nodes; `pods` pods; `events` events."""
    gpu_nodes = max(1, min(gpu_nodes, nodes - 1))
    c = lc.large_cluster(nodes=gpu_nodes * 4, pods=pods)
    gpu = [n for n in c.k8s["nodes"] if "gpua100" in n["metadata"]["name"]]
    cpu_names = [lc.cpu_node_name(i) for i in range(nodes - len(gpu))]
    cpu = [
        base.node(n, pool="general", sku="Standard_D16s_v5", age_hours=200 + i % 500)
        for i, n in enumerate(cpu_names)
    ]
    c.k8s["nodes"] = cpu + gpu
    for i, n in enumerate(c.k8s["nodes"]):  # what a real kubelet reports, so clients parse it
        info = n.setdefault("status", {}).setdefault("nodeInfo", {})
        for key in ("bootID", "machineID", "systemUUID"):
            info.setdefault(key, f"{i:08x}-{key.lower()}-0000-0000-{i:012x}")
        info.setdefault("kubeProxyVersion", "v1.31.3")
    # spread the web pods over every CPU node, not only the first quarter
    for i, p in enumerate(x for x in c.k8s["pods"] if x["metadata"]["name"].startswith("api-")):
        p["spec"]["nodeName"] = cpu_names[i % len(cpu_names)]
    web = [p for p in c.k8s["pods"] if p["metadata"]["name"].startswith("api-")]
    out = list(c.k8s.get("events", []))
    for i in range(max(0, events - len(out))):
        reason, type_, message, component = REASONS[i % len(REASONS)]
        p = web[i % len(web)] if web else c.k8s["pods"][0]
        ns, pod, node = p["metadata"]["namespace"], p["metadata"]["name"], p["spec"].get("nodeName")
        out.append(
            base.event(
                name=f"{pod}.{i:08x}",
                kind="Pod",
                obj_name=pod,
                ns=ns,
                reason=reason,
                message=message.format(ns=ns, pod=pod, node=node),
                minutes_ago=1 + i % 180,
                type_=type_,
                component=component,
                host=node,
            )
        )
    c.k8s["events"] = out
    _serving_reads(c)
    return c


def _serving_reads(c: Cluster) -> None:
    """A log, metrics and a Service with a probe answer for every KAITO workspace pod, copied
    from the healthy cluster's one workspace (vLLM start-up log, vLLM /metrics, /v1/models)."""
    healthy = base.healthy()
    log = next(t for k, t in healthy.logs.items() if k.startswith(f"{base.WS_NS}/{base.WS}"))
    prom = next(iter(healthy.metrics.values()))
    probe = next(iter(healthy.probes.values()))
    services = list(c.k8s.get("services", []))
    for pod in c.k8s["pods"]:
        ws = pod["metadata"].get("labels", {}).get("kaito.sh/workspace")
        if not ws or not pod["spec"].get("nodeName"):
            continue
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        for container in pod["spec"]["containers"]:
            c.logs[f"{ns}/{name}/{container['name']}"] = log
        c.metrics[f"{ns}/{name}"] = prom
        if not any(
            s["metadata"]["name"] == ws and s["metadata"]["namespace"] == ns for s in services
        ):
            services.append(base.service(ws, ns))
            c.probes[f"{ns}/{ws}"] = probe
    c.k8s["services"] = services


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--nodes", type=int, default=5_000)
    ap.add_argument("--pods", type=int, default=150_000)
    ap.add_argument("--gpu-nodes", type=int, default=200)
    ap.add_argument("--events", type=int, default=20_000)
    a = ap.parse_args()
    synthetic_cluster(a.nodes, a.pods, a.gpu_nodes, a.events).write(a.out)
    print(a.out)


if __name__ == "__main__":
    main()
