"""The Kubernetes fixes beyond one cluster: a plan from a snapshot directory (no clients at all)
is the plan the live cluster gives, and every call they make is granted by deploy/ RBAC."""

from __future__ import annotations

import shutil

import pytest

from bot.model.plans import FixRefused
from tests.conftest import SCENARIOS
from tests.deploy_rbac import kube_permission, render, rule_grants
from tests.fix_kube_support import (
    COLD_START,
    DEVICE_PLUGIN,
    KV_BOUND,
    NS,
    SCALE_DOWN,
    WS,
    actuator,
    cluster,
    edited,
    plain_workload,
    snapshot_context,
)

CASES = [
    (
        "restart-device-plugin",
        DEVICE_PLUGIN,
        {
            "namespace": "gpu-resources",
            "pod": "nvidia-device-plugin-daemonset-x7k2p",
            "node": "aks-gpua100-12345678-vmss000000",
        },
    ),
    (
        "evict-pinning-pod",
        SCALE_DOWN,
        {
            "namespace": "kube-system",
            "pod": "ama-logs-rs-6f7d9c5b8-wq4zt",
            "node": "aks-gpua100-12345678-vmss000001",
        },
    ),
    (
        "cap-max-model-len",
        KV_BOUND,
        {"namespace": NS, "configmap": "llama-inference-config", "new_max_model_len": 4096},
    ),
]
PREWARM = {"namespace": NS, "workload": f"statefulset/{WS}"}
INFERENCESET = SCENARIOS / "cold-start" / "inferenceset"
KAITO_PREWARM = {"namespace": NS, "workload": "statefulset/llama-3-1-8b-0"}


def _shown(plan):
    """What a person sees of a plan; preconditions aside (a snapshot has no resourceVersion)."""
    return (plan.target, plan.target_key, plan.changes, plan.touches, plan.notes, plan.restore)


@pytest.mark.parametrize(("fix", "snapshot", "params"), CASES, ids=[c[0] for c in CASES])
def test_a_snapshot_plans_as_the_live_cluster_does(fix, snapshot, params, tmp_path):
    offline = actuator(fix).plan(snapshot_context(snapshot), params)
    with cluster(snapshot, tmp_path) as c:
        live = actuator(fix).plan(c.ctx, params)
    assert _shown(offline) == _shown(live)
    assert "resourceVersion" not in offline.preconditions  # the snapshot cannot know it
    with pytest.raises(FixRefused, match="cannot write to the cluster: this bot answers"):
        actuator(fix).apply(snapshot_context(snapshot), offline)


def test_snapshot_plans_of_the_pre_warms(tmp_path):
    with pytest.raises(FixRefused, match=r"KAITO.*pool-min-count"):
        actuator("prewarm-now").plan(snapshot_context(COLD_START), {**PREWARM, "replicas": 1})
    plain = edited(COLD_START, tmp_path, plain_workload("statefulsets", 0))
    offline = actuator("prewarm-schedule").plan(snapshot_context(plain), PREWARM)
    with cluster(plain, tmp_path) as c:
        live = actuator("prewarm-schedule").plan(c.ctx, PREWARM)
    assert _shown(offline) == _shown(live)
    assert [c.field for c in offline.changes] == [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "CronJob",
    ]


def test_a_snapshot_without_the_objects_refuses_to_plan(tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(SCALE_DOWN, partial)
    (partial / "kubernetes" / "pods.json").unlink()
    with pytest.raises(FixRefused, match=r"kubernetes/pods.json is not in the snapshot"):
        actuator("evict-pinning-pod").plan(snapshot_context(partial), CASES[1][2])


def test_every_call_the_fixes_make_is_granted_by_deploy_rbac(tmp_path):
    """The read ClusterRole plus the fix Roles (deploy/) cover every request of every fix's
    plan, apply and undo; a new call without its permission fails here, not in a cluster."""
    seen: set[tuple[str, str]] = set()
    for fix, snapshot, params in CASES:
        with cluster(snapshot, tmp_path) as c:
            plan = actuator(fix).plan(c.ctx, params)
            actuator(fix).apply(c.ctx, plan)
            if plan.reversible:
                actuator(fix).apply(c.ctx, actuator(fix).undo(c.ctx, plan))
            seen |= {(r.method, r.path) for r in c.api.requests}
    plain = edited(COLD_START, tmp_path, plain_workload("statefulsets", 0))
    for fix, params in (("prewarm-now", {**PREWARM, "replicas": 1}), ("prewarm-schedule", PREWARM)):
        with cluster(plain, tmp_path) as c:
            first = actuator(fix).plan(c.ctx, params)
            actuator(fix).apply(c.ctx, first)
            again = actuator(fix).plan(c.ctx, {**params, "replicas": 2})  # an update
            actuator(fix).apply(c.ctx, again)
            for plan in (again, first):
                actuator(fix).apply(c.ctx, actuator(fix).undo(c.ctx, plan))
            seen |= {(r.method, r.path) for r in c.api.requests}
    # A KAITO workload whose Workspace belongs to an InferenceSet: both pre-warms scale the set.
    for fix, params in (
        ("prewarm-now", {**KAITO_PREWARM, "replicas": 2}),
        ("prewarm-schedule", KAITO_PREWARM),
    ):
        with cluster(INFERENCESET, tmp_path) as c:
            plan = actuator(fix).plan(c.ctx, params)
            actuator(fix).apply(c.ctx, plan)
            actuator(fix).apply(c.ctx, actuator(fix).undo(c.ctx, plan))
            seen |= {(r.method, r.path) for r in c.api.requests}
    needed = {kube_permission(method, path) for method, path in seen}
    objects = render()
    granted = set()
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "Role"):
            granted |= rule_grants(obj["rules"])
    assert needed - granted == set()
    writes = {p for p in needed if p[2] not in ("get", "list")}
    assert ("", "pods", "delete") in writes and ("batch", "cronjobs", "update") in writes
    assert ("kaito.sh", "inferencesets/scale", "patch") in writes
