"""restart-device-plugin, evict-pinning-pod and cap-max-model-len against the Kubernetes API
emulator with the real client, on the scenarios whose playbooks offer them."""

from __future__ import annotations

import pytest
from kubernetes import client

from bot.model.plans import FixConflict, FixFailed, FixRefused
from bot.sources.actuators.kube_model_len import edit_max_model_len
from tests.fix_kube_support import (
    CLUSTER,
    DEVICE_PLUGIN,
    KV_BOUND,
    NS,
    SCALE_DOWN,
    WS,
    actuator,
    cluster,
)

PLUGIN_NS = "gpu-resources"
SYSTEM_NODE = "aks-system-12345678-vmss000000"
PLUGIN_POD = "nvidia-device-plugin-daemonset-s0d4f"  # crashlooping on a system node
PINNING = ("kube-system", "ama-logs-rs-6f7d9c5b8-wq4zt", "aks-gpua100-12345678-vmss000001")
CONFIG = "llama-inference-config"


def _replace_pod(api_client: client.ApiClient, namespace: str, name: str) -> None:
    """What a controller does: the pod goes and a new one (new uid) takes its name."""
    core = client.CoreV1Api(api_client)
    old = api_client.sanitize_for_serialization(core.read_namespaced_pod(name, namespace))
    core.delete_namespaced_pod(name, namespace)
    old["metadata"] = {k: v for k, v in old["metadata"].items() if k in ("name", "labels")}
    old["metadata"]["ownerReferences"] = []
    core.create_namespaced_pod(namespace, old)


# ---- restart-device-plugin -----------------------------------------------------------------

PLUGIN = {"namespace": PLUGIN_NS, "pod": PLUGIN_POD, "node": SYSTEM_NODE}


def test_restart_device_plugin_deletes_the_pod_with_its_uid_as_precondition(tmp_path):
    fix = actuator("restart-device-plugin")
    with cluster(DEVICE_PLUGIN, tmp_path) as c:
        uid = c.read("pods", PLUGIN_POD, PLUGIN_NS)["metadata"]["uid"]
        plan = fix.plan(c.ctx, PLUGIN)
        assert [(x.subject, x.before, x.after) for x in plan.changes] == [
            (f"pod {PLUGIN_NS}/{PLUGIN_POD}", uid, None)
        ]
        assert plan.preconditions == {"uid": uid} and not plan.reversible
        assert plan.target_key == f"restart-device-plugin/{CLUSTER}/{PLUGIN_NS}/node/{SYSTEM_NODE}"
        assert any("recreates the pod" in n and "within seconds" in n for n in plan.notes)

        fix.apply(c.ctx, plan)
        [write] = c.writes()
        assert (write.method, write.path) == (
            "DELETE",
            f"/api/v1/namespaces/{PLUGIN_NS}/pods/{PLUGIN_POD}",
        )
        assert write.body["preconditions"] == {"uid": uid}
        assert c.read("pods", PLUGIN_POD, PLUGIN_NS) is None
        with pytest.raises(FixRefused, match="cannot be undone"):
            fix.undo(c.ctx, plan)


def test_restart_device_plugin_conflicts_when_the_pod_was_replaced(tmp_path):
    fix = actuator("restart-device-plugin")
    with cluster(DEVICE_PLUGIN, tmp_path) as c:
        plan = fix.plan(c.ctx, PLUGIN)
        _replace_pod(c.client, PLUGIN_NS, PLUGIN_POD)
        with pytest.raises(FixConflict, match="Precondition failed: UID"):
            fix.apply(c.ctx, plan)
        assert c.read("pods", PLUGIN_POD, PLUGIN_NS) is not None, "the new pod is left alone"


def test_restart_device_plugin_refusals(tmp_path):
    fix = actuator("restart-device-plugin")
    gpu_node = "aks-gpua100-12345678-vmss000000"
    with cluster(DEVICE_PLUGIN, tmp_path) as c:
        with pytest.raises(FixRefused, match=f"runs on {SYSTEM_NODE}, not on {gpu_node}"):
            fix.plan(c.ctx, {**PLUGIN, "node": gpu_node})
        with pytest.raises(FixRefused, match="not found"):
            fix.plan(c.ctx, {**PLUGIN, "pod": "nvidia-device-plugin-daemonset-gone"})
        kaito_pod = {"namespace": NS, "pod": f"{WS}-0", "node": gpu_node}
        with pytest.raises(FixRefused, match=r"StatefulSet .* not a DaemonSet"):
            fix.plan(c.ctx, kaito_pod)
        client.AppsV1Api(c.client).delete_namespaced_daemon_set(
            "nvidia-device-plugin-daemonset", PLUGIN_NS
        )
        c.api.clear()
        with pytest.raises(FixRefused, match="is gone: nothing would recreate"):
            fix.plan(c.ctx, PLUGIN)
        assert not c.writes()


# ---- evict-pinning-pod ---------------------------------------------------------------------

EVICT = dict(zip(("namespace", "pod", "node"), PINNING, strict=True))


def test_evict_pinning_pod_posts_one_eviction(tmp_path):
    fix = actuator("evict-pinning-pod")
    ns, pod, _ = PINNING
    with cluster(SCALE_DOWN, tmp_path) as c:
        uid = c.read("pods", pod, ns)["metadata"]["uid"]
        plan = fix.plan(c.ctx, EVICT)
        assert plan.touches == (f"policy/v1 Eviction {ns}/{pod}",)
        assert plan.effect == "eventual" and plan.preconditions == {"uid": uid}
        assert plan.target_key == f"evict-pinning-pod/{CLUSTER}/{ns}/pod/{pod}"
        assert any("ReplicaSet ama-logs-rs-6f7d9c5b8 recreates it" in n for n in plan.notes)
        fix.apply(c.ctx, plan)
        [write] = c.writes()
        assert (write.method, write.path) == (
            "POST",
            f"/api/v1/namespaces/{ns}/pods/{pod}/eviction",
        )
        assert write.body["deleteOptions"] == {"preconditions": {"uid": uid}}
        assert c.read("pods", pod, ns) is None


def test_evict_pinning_pod_respects_a_pdb(tmp_path):
    fix = actuator("evict-pinning-pod")
    ns, pod, _ = PINNING
    with cluster(SCALE_DOWN, tmp_path) as c:
        pdb = client.V1PodDisruptionBudget(
            metadata=client.V1ObjectMeta(name="ama-logs"),
            spec=client.V1PodDisruptionBudgetSpec(
                min_available=1,
                selector=client.V1LabelSelector(match_labels={"rsName": "ama-logs-rs"}),
            ),
            status=client.V1PodDisruptionBudgetStatus(
                current_healthy=1, desired_healthy=1, disruptions_allowed=0, expected_pods=1
            ),
        )
        client.PolicyV1Api(c.client).create_namespaced_pod_disruption_budget(ns, pdb)
        plan = fix.plan(c.ctx, EVICT)
        assert any("ama-logs covers it: 0 disruption(s)" in n for n in plan.notes)
        with pytest.raises(FixFailed, match="PodDisruptionBudget allows no disruption"):
            fix.apply(c.ctx, plan)
        assert c.read("pods", pod, ns) is not None


def test_evict_pinning_pod_conflict_and_refusals(tmp_path):
    fix = actuator("evict-pinning-pod")
    ns, pod, node = PINNING
    with cluster(SCALE_DOWN, tmp_path) as c:
        plan = fix.plan(c.ctx, EVICT)
        _replace_pod(c.client, ns, pod)
        with pytest.raises(FixConflict, match="UID"):
            fix.apply(c.ctx, plan)
        assert c.read("pods", pod, ns) is not None
        proxy = next(
            p["metadata"]["name"]
            for p in c.ctx.kube_state.list("pods", "kube-system", "k8s-app=kube-proxy")
            if p["spec"]["nodeName"] == node
        )
        with pytest.raises(FixRefused, match="DaemonSet kube-proxy"):
            fix.plan(c.ctx, {**EVICT, "pod": proxy})
        with pytest.raises(FixRefused, match="cannot be undone"):
            fix.undo(c.ctx, plan)


# ---- cap-max-model-len ---------------------------------------------------------------------

CAP = {
    "namespace": NS,
    "configmap": CONFIG,
    "workspace": WS,
    "current": 8192,
    "new_max_model_len": 4096,
}


def test_cap_max_model_len_edits_the_config_then_evicts_the_workspace_pods(tmp_path):
    fix = actuator("cap-max-model-len")
    with cluster(KV_BOUND, tmp_path) as c:
        before = c.read("configmaps", CONFIG)
        pods = sorted(
            p["metadata"]["name"]
            for p in c.ctx.kube_state.list("pods", NS, f"kaito.sh/workspace={WS}")
        )
        assert len(pods) == 3
        plan = fix.plan(c.ctx, CAP)
        first, text = plan.changes
        assert (first.field, first.before, first.after) == ("vllm.max-model-len", 8192, 4096)
        assert text.before == before["data"]["inference_config.yaml"]
        assert text.after == text.before.replace("max-model-len: 8192", "max-model-len: 4096")
        assert plan.preconditions == {"resourceVersion": before["metadata"]["resourceVersion"]}
        assert plan.touches[1:] == tuple(f"policy/v1 Eviction {NS}/{p}" for p in pods)

        fix.apply(c.ctx, plan)
        patch, *evictions = c.writes()
        assert (patch.method, patch.path, patch.content_type) == (
            "PATCH",
            f"/api/v1/namespaces/{NS}/configmaps/{CONFIG}",
            "application/merge-patch+json",
        )
        assert patch.body == {
            "metadata": {"resourceVersion": before["metadata"]["resourceVersion"]},
            "data": {"inference_config.yaml": text.after},
        }
        assert sorted(w.path.split("/")[-2] for w in evictions) == pods
        assert all(w.path.endswith("/eviction") for w in evictions)
        assert c.read("configmaps", CONFIG)["data"]["inference_config.yaml"] == text.after

        undo = fix.undo(c.ctx, plan)
        assert (undo.changes[0].before, undo.changes[0].after) == (4096, 8192)
        fix.apply(c.ctx, undo)
        assert c.read("configmaps", CONFIG)["data"] == before["data"], "restored byte for byte"


def test_cap_max_model_len_conflict_evicts_nothing(tmp_path):
    fix = actuator("cap-max-model-len")
    with cluster(KV_BOUND, tmp_path) as c:
        plan = fix.plan(c.ctx, CAP)
        theirs = "vllm:\n  max-model-len: 6144\n"
        client.CoreV1Api(c.client).patch_namespaced_config_map(
            CONFIG, NS, {"data": {"inference_config.yaml": theirs}}
        )
        c.api.clear()
        with pytest.raises(FixConflict, match="nothing was written"):
            fix.apply(c.ctx, plan)
        assert [w.method for w in c.writes()] == ["PATCH"], "refused, and no pod evicted"
        assert c.read("configmaps", CONFIG)["data"]["inference_config.yaml"] == theirs
        assert len(c.ctx.kube_state.list("pods", NS, f"kaito.sh/workspace={WS}")) == 3


def test_cap_max_model_len_refusals(tmp_path):
    fix = actuator("cap-max-model-len")
    with cluster(KV_BOUND, tmp_path) as c:
        with pytest.raises(FixRefused, match="would not lower it"):
            fix.plan(c.ctx, {**CAP, "new_max_model_len": 16384})
        with pytest.raises(FixRefused, match="not found"):
            fix.plan(c.ctx, {**CAP, "configmap": "nope"})
        with pytest.raises(FixRefused, match="bad parameter new_max_model_len"):
            fix.plan(c.ctx, {**CAP, "new_max_model_len": "short"})
        assert not c.writes()


# KAITO's own example (examples/inference/kaito_workspace_custom_config.yaml): comments and
# every other setting must survive the edit.
KAITO_EXAMPLE = """\
# Maximum number of steps to find the max available seq len fitting in the GPU memory.
max_probe_steps: 6

vllm:
  cpu-offload-gb: 0
  gpu-memory-utilization: 0.95
  swap-space: 4
  max-model-len: 131072
  tensor-parallel-size: 2

  max-seq-len-to-capture: 8192
  num-scheduler-steps: 1
  enable-chunked-prefill: true
  # see https://docs.vllm.ai/en/latest/serving/engine_args.html for more options.
"""


def test_the_edit_changes_one_line_of_kaitos_config_format():
    edited = edit_max_model_len(KAITO_EXAMPLE, 65536)
    changed = [
        (a, b)
        for a, b in zip(KAITO_EXAMPLE.splitlines(), edited.splitlines(), strict=True)
        if a != b
    ]
    assert changed == [("  max-model-len: 131072", "  max-model-len: 65536")]
    with pytest.raises(FixRefused, match="not a setting of the vllm: section"):
        edit_max_model_len("other:\n  max-model-len: 4096\nvllm:\n  swap-space: 4\n", 2048)
