"""`subset: gpu` leaves out only pods no GPU check reads, and changes no diagnosis.

Audit (which checks read the pod list, and why a plainly healthy CPU pod on a plain node never
changes what they say): scheduling rows read Pending pods, GPU/vLLM pods and the GPU pods
bound to GPU nodes; the NoExecute row reads evicted pods and their replacements (kept through
the TaintManagerEviction events); readiness and driver rows read DaemonSet pods that are not
Ready or sit on GPU nodes; memory rows read OOMKilled/restarted pods and GPU/KAITO pods; cost
rows read pods on GPU nodes; Spot rows read serving GPU pods and placements on Spot nodes
(tainted, so never plain); image rows look pods up only to see whether they still wait. The
one lookup the subset cannot serve is by Log Analytics pod name in a namespace-scoped run
(bot/sources/podsubset.py says so). The test below checks the claim on every scenario, with
healthy web pods added to it.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.engine.runner import diagnose
from bot.model.evidence import Question
from bot.render import json_out
from bot.sources import podsubset
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT, scenario_dirs
from tests.scenarios.builder import base

Obj = dict[str, Any]
PLAIN = base.node("aks-web-34567890-vmss000000", pool="web", sku="Standard_D16s_v5")
SUBSET = Question.of("kubernetes.list", {"resource": "pods", "subset": "gpu"})


def web_pod(i: int, node: str, **kw: Any) -> Obj:
    api = base.container("api", "contoso.azurecr.io/shop/api:1.4", ports=[8080], probe_port=8080)
    return base.pod(
        f"api-shop-7d9f8b6c5-{i:05x}",
        kw.pop("ns", "shop"),
        node_name=node,
        owner=("ReplicaSet", "api-shop-7d9f8b6c5"),
        labels={"app": "api-shop", "pod-template-hash": "7d9f8b6c5"},
        containers=kw.pop("containers", [api]),
        **kw,
    )


def facts(nodes: list[Obj] | None = None, events: list[Obj] | None = None) -> podsubset.Facts:
    return podsubset.Facts.of([PLAIN] if nodes is None else nodes, events or [])


def test_a_healthy_web_pod_on_a_plain_node_is_left_out() -> None:
    assert not podsubset.keeps(web_pod(1, "aks-web-34567890-vmss000000"), facts())


def _set(pod: Obj, path: str, value: Any) -> Obj:
    pod = copy.deepcopy(pod)
    *parents, last = path.split(".")
    target = pod
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return pod


HEALTHY = web_pod(1, "aks-web-34567890-vmss000000")
KEPT = {
    "pending": _set(HEALTHY, "status.phase", "Pending"),
    "succeeded": _set(HEALTHY, "status.phase", "Succeeded"),
    "evicted": _set(HEALTHY, "status.reason", "Evicted"),
    "terminating": _set(HEALTHY, "metadata.deletionTimestamp", base.ts(minutes=1)),
    "not ready": _set(HEALTHY, "status.conditions.3.status", "False"),
    "disruption target": _set(
        HEALTHY,
        "status.conditions.3",
        {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager"},
    ),
    "restarted": _set(HEALTHY, "status.containerStatuses.0.restartCount", 1),
    "was OOMKilled": _set(
        HEALTHY, "status.containerStatuses.0.lastState", {"terminated": {"reason": "OOMKilled"}}
    ),
    "waiting": _set(
        HEALTHY, "status.containerStatuses.0.state", {"waiting": {"reason": "ImagePullBackOff"}}
    ),
    "no container status": _set(HEALTHY, "status.containerStatuses", []),
    "unknown node": _set(HEALTHY, "spec.nodeName", "aks-gone-00000000-vmss000000"),
    "unscheduled": _set(HEALTHY, "spec.nodeName", None),
    "GPU request": _set(
        HEALTHY, "spec.containers.0.resources.limits", {"nvidia.com/gpu": "1", "memory": "1Gi"}
    ),
    "MIG request": _set(
        HEALTHY, "spec.containers.0.resources.limits", {"nvidia.com/mig-1g.10gb": "1"}
    ),
    "KAITO label": _set(HEALTHY, "metadata.labels", {"kaito.sh/workspace": "ws"}),
    "vLLM image": _set(HEALTHY, "spec.containers.0.image", "vllm/vllm-openai:v0.9.2"),
    "vLLM args": _set(HEALTHY, "spec.containers.0.args", ["--model", "x", "vllm"]),
    "GPU toleration": _set(
        HEALTHY, "spec.tolerations", [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
    ),
    "GPU node selector": _set(HEALTHY, "spec.nodeSelector", {"accelerator": "nvidia"}),
}


def test_a_blanket_toleration_is_no_gpu_sign() -> None:
    """kube-proxy and other DaemonSets tolerate everything; no check reads that of a running pod."""
    assert not podsubset.keeps(_set(HEALTHY, "spec.tolerations", [{"operator": "Exists"}]), facts())


@pytest.mark.parametrize("case", sorted(KEPT))
def test_a_pod_with_any_sign_of_gpu_or_trouble_is_kept(case: str) -> None:
    assert not podsubset.keeps(HEALTHY, facts())
    assert podsubset.keeps(KEPT[case], facts()), case


@pytest.mark.parametrize(
    "node",
    [
        base.node("aks-web-34567890-vmss000000", pool="web", sku="Standard_D16s_v5", ready=False),
        base.node(
            "aks-web-34567890-vmss000000",
            pool="web",
            sku="Standard_D16s_v5",
            taints=[{"key": "dedicated", "value": "web", "effect": "NoExecute"}],
        ),
        base.node("aks-web-34567890-vmss000000", pool="web", sku="Standard_D16s_v5", spot=True),
        base.node("aks-web-34567890-vmss000000", pool="gpu", sku=base.GPU_SKU, gpu=1),
    ],
    ids=["not ready", "tainted", "spot", "gpu"],
)
def test_a_healthy_pod_on_a_node_that_is_not_plain_is_kept(node: Obj) -> None:
    assert podsubset.keeps(HEALTHY, facts([node]))


def test_unknown_nodes_or_events_keep_every_pod() -> None:
    assert podsubset.keeps(HEALTHY, podsubset.Facts.of(None, []))
    assert podsubset.keeps(HEALTHY, podsubset.Facts.of([PLAIN], None))


def test_an_evicted_pods_replacement_is_kept_for_its_tolerations() -> None:
    marked = base.event(
        name="x.1",
        kind="Pod",
        obj_name="api-shop-7d9f8b6c5-0000f",
        ns="shop",
        reason="TaintManagerEviction",
        message="Marking for deletion Pod shop/api-shop-7d9f8b6c5-0000f",
        minutes_ago=5,
    )
    assert podsubset.keeps(HEALTHY, facts(events=[marked]))
    elsewhere = web_pod(2, "aks-web-34567890-vmss000000", ns="other")
    assert not podsubset.keeps(elsewhere, facts(events=[marked]))


# ---- the same diagnosis with and without the subset -------------------------------------------


class WholeList(SnapshotSource):
    """The snapshot source answering `subset: gpu` with every pod (what the checks used to get)."""

    def subset(self, pods: list[Obj]) -> list[Obj]:
        return pods


def _with_web_pods(snapshot: Path, out: Path) -> Path:
    """The scenario plus a plain web node, and healthy web and kube-proxy pods on it and on the
    scenario's own plain nodes."""
    shutil.copytree(snapshot, out)
    nodes_file, pods_file = out / "kubernetes/nodes.json", out / "kubernetes/pods.json"
    nodes = json.loads(nodes_file.read_text()) if nodes_file.exists() else None
    if nodes is None or not pods_file.exists():
        return out
    events_file = out / "kubernetes/events.json"
    events = json.loads(events_file.read_text())["items"] if events_file.exists() else []
    plain = sorted(podsubset.Facts.of(nodes["items"], events).plain)[:2]
    nodes["items"].append(PLAIN)
    nodes_file.write_text(json.dumps(nodes))
    pods = json.loads(pods_file.read_text())
    hosts = [*plain, "aks-web-34567890-vmss000000"]
    pods["items"] += [web_pod(i, hosts[i % len(hosts)]) for i in range(12)]
    proxy = "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.31.3"  # tolerates every taint
    pods["items"] += [
        base.daemonset_pod("kube-proxy-web", "kube-system", host, proxy, f"w{i}")
        for i, host in enumerate(hosts)
    ]
    pods_file.write_text(json.dumps(pods))
    return out


@pytest.mark.parametrize(
    "snapshot", scenario_dirs(), ids=lambda p: str(p.relative_to(ROOT / "tests/scenarios"))
)
def test_the_subset_gives_the_diagnosis_the_whole_list_gives(snapshot, catalog, tmp_path) -> None:
    busy = _with_web_pods(snapshot, tmp_path / "busy")
    playbooks = catalog.select(catalog.runbook("triage").playbooks)
    narrowed, whole = SnapshotSource(busy), WholeList(busy)
    subset, full = narrowed.answer(SUBSET), whole.answer(SUBSET)
    if full.available and (busy / "kubernetes/events.json").exists():
        assert len(subset.data) < len(full.data), "the added web pods are left out"
    got = json_out.document(diagnose(playbooks, narrowed, workers=2))
    want = json_out.document(diagnose(playbooks, whole, workers=2))
    assert got == want
