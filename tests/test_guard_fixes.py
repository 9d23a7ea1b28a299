"""Each of the eight fixes end to end through the guard, against the loopback emulators with
the real actuators and the real clients: plan (nothing written), confirm (+ a second person's
approval for high risk), the exact request(s) reaching the emulator, verify re-running the
playbook after the test moves the emulated cluster on as the real one would, and undo where the
fix is reversible. Verification windows are zero and the sleep is the test's hook.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.model.fixpolicy import VerifyWindow
from bot.sources.kube_paths import RESOURCES
from bot.store.db import Store
from tests.guard_harness import (
    ALICE,
    BOB,
    LENA,
    LiveCluster,
    audit_actions,
    offered,
    policy,
)

WS = "workspace-llama-3-1-8b"


@pytest.fixture
def live(tmp_path, ca, monkeypatch, catalog):
    started: list[LiveCluster] = []

    def start(scenario: str, edit: Any = None) -> LiveCluster:
        cluster = LiveCluster.start(scenario, tmp_path, ca, monkeypatch, catalog, edit=edit)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'gpubot.db'}")


class Advance:
    """The verify sleep: the first call moves the cluster on (as it would while the bot waits);
    every call is counted so a test can tell the re-check ran after the change."""

    def __init__(self, change: Any = None) -> None:
        self.change, self.calls = change, 0

    def __call__(self, seconds: float) -> None:
        self.calls += 1
        if self.calls == 1 and self.change is not None:
            self.change()


def kube_delete(cluster: LiveCluster, plural: str, namespace: str | None, name: str) -> None:
    cluster.kube.store.delete(RESOURCES[plural], namespace, name)


def pods_on(cluster: LiveCluster, node: str) -> list[tuple[str, str]]:
    pods = cluster.kube.store.objects["pods"] or []
    return [
        (p["metadata"]["namespace"], p["metadata"]["name"])
        for p in pods
        if (p.get("spec") or {}).get("nodeName") == node
    ]


def scale_node_down(cluster: LiveCluster, node: str) -> None:
    """What the cluster autoscaler does to an idle node it may drain: pods go, then the node."""
    for namespace, name in pods_on(cluster, node):
        kube_delete(cluster, "pods", namespace, name)
    kube_delete(cluster, "nodes", None, node)


def provisioned(cluster: LiveCluster) -> None:
    """What KAITO does once the quota allows its node: the NodeClaim launches and every
    workspace condition turns True."""
    for plural in ("nodeclaims", "workspaces"):
        for obj in list(cluster.kube.store.objects[plural] or []):
            meta = obj["metadata"]
            conditions = [
                {"type": c["type"], "status": "True", "reason": "Succeeded"}
                for c in (obj.get("status") or {}).get("conditions") or []
            ]
            patch = {"status": {"conditions": conditions}}
            cluster.kube.store.patch(RESOURCES[plural], meta.get("namespace"), meta["name"], patch)


def apply(guard, planned, actor, approver=None):
    """Confirm a shown plan; high risk needs the second person's approval to apply."""
    assert planned.status == "planned", planned.message
    outcome = guard.confirm(planned.buttons["confirm"], actor)
    if outcome.status == "requested":
        assert approver is not None, "a high-risk fix needs an approver"
        outcome = guard.approve(outcome.buttons["approve"], approver)
    assert outcome.status == "applied", outcome.message
    return outcome


# ---- Azure: autoscaler profile, pool bounds, quota ----------------------------------------


def test_autoscaler_scale_down_put_with_if_match_then_verified_and_undone(live, store) -> None:
    cluster = live("scale-down-blocked/confirmed")
    guard = cluster.guard(store)
    params = offered(cluster.diagnoser, "scale-down-blocked", "autoscaler-scale-down")
    planned = guard.plan(
        cluster=cluster.name,
        fix="autoscaler-scale-down",
        params=params,
        actor=ALICE,
        playbook="scale-down-blocked",
    )
    assert cluster.writes() == [], "a plan writes nothing"
    fields = {c.field.rsplit(".", 1)[-1]: (c.before, c.after) for c in planned.plan.changes}
    assert fields["skip-nodes-with-system-pods"] == ("true", "false")

    applied = apply(guard, planned, ALICE)
    (put,) = cluster.arm_writes()
    assert put.method == "PUT" and put.path.lower().endswith("/managedclusters/aks-inference")
    assert put.headers.get("if-match"), "the write is conditioned on the ETag the plan read"
    profile = put.body["properties"]["autoScalerProfile"]
    assert profile["skip-nodes-with-system-pods"] == "false"
    assert profile["scale-down-unneeded-time"] == "5m"

    # Until the autoscaler's next scan removes the node, the symptom is still there.
    waiting = guard.verify(applied.request.id, sleep=Advance())
    assert waiting.status == "pending", waiting.message
    advance = Advance(lambda: scale_node_down(cluster, "aks-gpua100-12345678-vmss000001"))
    verified = guard.verify(applied.request.id, sleep=advance)
    assert advance.calls >= 1
    assert verified.status == "verified", verified.message

    undo = guard.plan_undo(applied.buttons["undo"], BOB)
    assert {c.field: c.after for c in undo.plan.changes} == {
        c.field: c.before for c in planned.plan.changes
    }
    apply(guard, undo, BOB)
    restored = cluster.arm_writes()[-1].body["properties"]["autoScalerProfile"]
    assert {k: restored.get(k) for k in fields} == {k: b for k, (b, _) in fields.items()}
    assert store.ledger.request(applied.request.id).status == "undone"
    assert [a for a, _ in audit_actions(store, applied.request.id)] == [
        "planned",
        "applying",
        "applied",
        "pending",
        "verified",
    ]


def test_pool_min_count_needs_a_second_person_then_verified_and_undone(live, store) -> None:
    cluster = live("cold-start/confirmed")
    guard = cluster.guard(store)
    params = offered(cluster.diagnoser, "cold-start", "pool-min-count")
    planned = guard.plan(
        cluster=cluster.name,
        fix="pool-min-count",
        params=params,
        actor=ALICE,
        playbook="cold-start",
    )
    requested = guard.confirm(planned.buttons["confirm"], ALICE)
    assert requested.status == "requested" and cluster.writes() == []
    applied = guard.approve(requested.buttons["approve"], BOB)
    assert applied.status == "applied", applied.message
    assert applied.request.requester == ALICE.id and applied.request.approver == BOB.id
    (put,) = cluster.arm_writes()
    assert put.path.lower().endswith("/agentpools/gpua100") and put.headers.get("if-match")
    assert put.body["properties"]["minCount"] == 1

    # The pool's floor is ARM state: the re-check reads it back at once.
    verified = guard.verify(applied.request.id, sleep=Advance())
    assert verified.status == "verified", verified.message

    undo = guard.plan_undo(applied.buttons["undo"], ALICE)
    requested = guard.confirm(undo.buttons["confirm"], ALICE)
    assert requested.status == "requested", "undoing a high-risk fix is high risk too"
    guard.approve(requested.buttons["approve"], BOB)
    assert cluster.arm_writes()[-1].body["properties"]["minCount"] == 0
    assert store.ledger.request(applied.request.id).status == "undone"


@pytest.mark.parametrize("granted", [True, False], ids=["granted-while-waiting", "window-ends"])
def test_request_quota_verified_once_granted_else_pending(live, store, granted) -> None:
    cluster = live("quota-exhausted/confirmed")
    cluster.arm.quota_desk.mode = "pending"  # routed to support: nothing changes at once
    window = VerifyWindow(delay_seconds=0, every_seconds=0.01, window_seconds=0.05)
    guard = cluster.guard(store, policy(verify=window))
    params = offered(cluster.diagnoser, "quota-exhausted", "request-quota")
    planned = guard.plan(
        cluster=cluster.name,
        fix="request-quota",
        params=params,
        actor=LENA,
        playbook="quota-exhausted",
    )
    applied = apply(guard, planned, LENA)
    (put,) = cluster.arm_writes()
    assert put.path.endswith(f"/providers/Microsoft.Quota/quotas/{params['family']}")
    assert put.body["properties"]["limit"]["value"] == params["new_limit"]
    assert "undo" not in applied.buttons, "a granted quota is not handed back"

    (quota_id,) = cluster.arm.quota_desk.requests

    def grant() -> None:
        cluster.arm.decide_quota_request(quota_id, granted=True)
        provisioned(cluster)

    verified = guard.verify(applied.request.id, sleep=Advance(grant if granted else None))
    if granted:
        assert verified.status == "verified", verified.message
    else:
        assert verified.status == "pending", verified.message
        assert "outside gpubot" in verified.message
    assert store.ledger.request(applied.request.id).verification == verified.status
    assert (verified.status, "gpubot") in audit_actions(store, applied.request.id)
    refused = guard.undo_request(applied.request.id, LENA)
    assert refused.status == "refused" and "undone" in refused.message


def _json(path) -> Any:
    return json.loads(path.read_text())


# ---- Kubernetes: pre-warms, device plugin, max-model-len, pinning pod ---------------------


def plain(replicas: int):
    """The scenario's inference StatefulSet run without KAITO (pre-warms never fight a
    controller), at `replicas`."""

    def edit(snapshot) -> None:
        path = snapshot / "kubernetes" / "statefulsets.json"
        doc = _json(path)
        for item in doc["items"]:
            if item["metadata"]["name"] == WS:
                item["metadata"].pop("ownerReferences", None)
                item["spec"]["replicas"] = replicas
        path.write_text(json.dumps(doc))

    return edit


def later(monkeypatch, cluster: LiveCluster, minutes: int) -> None:
    """Time passes: the live clock (GPUBOT_NOW) moves on."""
    now = datetime.fromisoformat(os.environ["GPUBOT_NOW"]) + timedelta(minutes=minutes)
    monkeypatch.setenv("GPUBOT_NOW", now.isoformat())


def kube_create(cluster: LiveCluster, plural: str, obj: dict) -> None:
    meta = obj["metadata"]
    cluster.kube.store.create(RESOURCES[plural], meta.get("namespace"), obj)


def healthy_copy(pod: dict, name: str) -> dict:
    """The pod its controller creates in place of `pod`: new name and uid, Running and Ready."""
    new = copy.deepcopy(pod)
    meta = new["metadata"]
    meta.update(name=name, creationTimestamp=os.environ["GPUBOT_NOW"].replace("+00:00", "Z"))
    for key in ("uid", "resourceVersion"):
        meta.pop(key, None)
    started = {"running": {"startedAt": meta["creationTimestamp"]}}
    new["status"] = {
        "phase": "Running",
        "startTime": meta["creationTimestamp"],
        "conditions": [{"type": t, "status": "True"} for t in ("Ready", "ContainersReady")],
        "containerStatuses": [
            {"name": c["name"], "ready": True, "restartCount": 0, "state": started}
            for c in new["spec"]["containers"]
        ],
    }
    return new


def test_prewarm_schedule_creates_cronjob_and_rbac_verified_next_morning_and_undone(
    live, store, monkeypatch
) -> None:
    # KAITO's own replica field is its InferenceSet's: the pre-warm scales that, never the
    # StatefulSet the Workspace controller owns.
    cluster = live("cold-start/inferenceset")
    guard = cluster.guard(store)
    params = offered(cluster.diagnoser, "cold-start", "prewarm-schedule")
    assert params["workload"] == "inferenceset/llama-3-1-8b"
    planned = guard.plan(
        cluster=cluster.name,
        fix="prewarm-schedule",
        params=params,
        actor=LENA,
        playbook="cold-start",
    )
    applied = apply(guard, planned, LENA)
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in cluster.kube_writes()] == [
        ("POST", "serviceaccounts"),
        ("POST", "roles"),
        ("POST", "rolebindings"),
        ("POST", "cronjobs"),
    ]
    cron = cluster.kube_writes()[-1].body
    assert cron["spec"]["schedule"] == "45 7 * * 1-5"

    # Today's cold start already happened; the pre-warm shows the next morning, when the node
    # it warmed is no longer a cold one.
    waiting = guard.verify(applied.request.id, sleep=Advance())
    assert waiting.status == "pending", waiting.message
    verified = guard.verify(
        applied.request.id, sleep=Advance(lambda: later(monkeypatch, cluster, 60))
    )
    assert verified.status == "verified", verified.message

    undo = guard.plan_undo(applied.buttons["undo"], LENA)
    apply(guard, undo, LENA)
    deleted = [(w.method, w.path.rsplit("/", 2)[-2]) for w in cluster.kube_writes()[4:]]
    assert sorted(deleted) == sorted(
        ("DELETE", p) for p in ("serviceaccounts", "roles", "rolebindings", "cronjobs")
    )
    assert store.ledger.request(applied.request.id).status == "undone"


def test_prewarm_now_scales_through_the_subresource_verified_when_the_endpoint_answers(
    live, store
) -> None:
    cluster = live("endpoint-not-answering/confirmed", edit=plain(0))
    guard = cluster.guard(store)
    params = {"namespace": "default", "workload": f"statefulset/{WS}", "replicas": 1}
    planned = guard.plan(
        cluster=cluster.name,
        fix="prewarm-now",
        params=params,
        actor=LENA,
        playbook="endpoint-not-answering",
    )
    applied = apply(guard, planned, LENA)
    (patch,) = cluster.kube_writes()
    assert (patch.method, patch.path) == (
        "PATCH",
        f"/apis/apps/v1/namespaces/default/statefulsets/{WS}/scale",
    )
    assert patch.body["spec"] == {"replicas": 1} and patch.body["metadata"]["resourceVersion"]

    waiting = guard.verify(applied.request.id, sleep=Advance())
    assert waiting.status == "pending", "the pod still loads its weights"

    def serving() -> None:  # the replica is up: the Service has an endpoint that answers
        probe = cluster.snapshot / "kubernetes" / "probes" / "default" / f"{WS}.json"
        models = {"object": "list", "data": [{"id": "llama-3.1-8b-instruct", "object": "model"}]}
        probe.write_text(json.dumps({"path": "/v1/models", "status": 200, "body": models}))

    verified = guard.verify(applied.request.id, sleep=Advance(serving))
    assert verified.status == "verified", verified.message

    undo = guard.plan_undo(applied.buttons["undo"], LENA)
    apply(guard, undo, LENA)
    assert cluster.kube_writes()[-1].body["spec"] == {"replicas": 0}


def test_restart_device_plugin_deletes_the_pod_verified_once_the_lookback_is_clean(
    live, store, monkeypatch
) -> None:
    cluster = live("no-cuda-device/confirmed")
    guard = cluster.guard(store, policy(allow={"medium": ["U0LENA"]}))
    params = offered(cluster.diagnoser, "no-cuda-device", "restart-device-plugin")
    planned = guard.plan(
        cluster=cluster.name,
        fix="restart-device-plugin",
        params=params,
        actor=LENA,
        playbook="no-cuda-device",
    )
    old = cluster.kube.store.get(RESOURCES["pods"], params["namespace"], params["pod"])
    applied = apply(guard, planned, LENA)
    (delete,) = cluster.kube_writes()
    assert (delete.method, delete.path) == (
        "DELETE",
        f"/api/v1/namespaces/{params['namespace']}/pods/{params['pod']}",
    )
    assert delete.body["preconditions"] == {"uid": old["metadata"]["uid"]}
    assert "undo" not in applied.buttons

    def recreated() -> None:  # the DaemonSet's new pod registers; the node advertises its GPU
        kube_create(cluster, "pods", healthy_copy(old, params["pod"][:-5] + "n3w0k"))
        node = params["node"]
        allocatable = cluster.kube.store.get(RESOURCES["nodes"], None, node)["status"]
        allocatable = {**allocatable["allocatable"], "nvidia.com/gpu": "1"}
        cluster.kube.store.patch(
            RESOURCES["nodes"], None, node, {"status": {"allocatable": allocatable}}
        )

    # The plugin is back at once, but the workload's crash is still in the lookback window.
    waiting = guard.verify(applied.request.id, sleep=Advance(recreated))
    assert waiting.status == "pending" and "cause is gone" in waiting.message, waiting.message

    def an_hour_on() -> None:
        later(monkeypatch, cluster, 70)
        path = cluster.snapshot / "loganalytics" / "gpu-error-patterns.json"
        doc = _json(path)
        doc["tables"][0]["rows"] = []
        path.write_text(json.dumps(doc))
        cluster.arm.store("loganalytics/gpu-error-patterns.json", doc)

    verified = guard.verify(applied.request.id, sleep=Advance(an_hour_on))
    assert verified.status == "verified", verified.message


class FakeClock:
    """Monotonic time that only the verify sleep moves: the window's arithmetic, not the
    machine's speed, decides how many re-checks run."""

    def __init__(self, sleep: Any) -> None:
        self.now, self.inner = 0.0, sleep

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.inner(seconds)

    def __call__(self) -> float:
        return self.now


def _cap_applied(live, store, fix_policy=None):
    """kv-cache-bound/confirmed with cap-max-model-len applied: the ConfigMap patched and every
    workload pod evicted. Returns the cluster, the guard, the applied outcome and the old pods."""
    cluster = live("kv-cache-bound/confirmed")
    guard = cluster.guard(store, fix_policy)
    params = offered(cluster.diagnoser, "kv-cache-bound", "cap-max-model-len")
    planned = guard.plan(
        cluster=cluster.name,
        fix="cap-max-model-len",
        params=params,
        actor=ALICE,
        playbook="kv-cache-bound",
    )
    pods = [p for p in cluster.kube.store.objects["pods"] if p["metadata"]["name"].startswith(WS)]
    applied = apply(guard, planned, ALICE, approver=BOB)
    return cluster, guard, applied, params, pods


def _new_name(pod: dict, i: int) -> str:
    return f"{pod['metadata']['name'].rsplit('-', 1)[0]}-r0ll{i}"


def starting(cluster: LiveCluster, pods: list[dict]) -> None:
    """The controller has recreated the evicted pods; they are still pulling and loading."""
    for i, pod in enumerate(pods):
        fresh = healthy_copy(pod, _new_name(pod, i))
        fresh["status"]["phase"] = "Pending"
        fresh["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
        for status in fresh["status"]["containerStatuses"]:
            status.update(ready=False, state={"waiting": {"reason": "ContainerCreating"}})
        kube_create(cluster, "pods", fresh)


def serving(cluster: LiveCluster, pods: list[dict]) -> None:
    """New pods on the capped config serve: the KV cache has room and nothing waits."""
    metrics = cluster.snapshot / "kubernetes" / "metrics" / "default"
    for i, pod in enumerate(pods):
        name = _new_name(pod, i)
        if any(p["metadata"]["name"] == name for p in cluster.kube.store.objects["pods"]):
            kube_delete(cluster, "pods", "default", name)
        kube_create(cluster, "pods", healthy_copy(pod, name))
        labels = '{engine="0",model_name="llama-3.1-8b-instruct"}'
        (metrics / f"{name}.prom").write_text(
            f"vllm:num_requests_running{labels} 24.0\n"
            f"vllm:num_requests_waiting{labels} 0.0\n"
            f"vllm:kv_cache_usage_perc{labels} 0.61\n"
        )


def test_cap_max_model_len_patches_the_config_and_evicts_verified_when_queues_drain(
    live, store
) -> None:
    cluster, guard, applied, params, pods = _cap_applied(live, store)
    patch, *evictions = cluster.kube_writes()
    assert (patch.method, patch.path) == (
        "PATCH",
        f"/api/v1/namespaces/default/configmaps/{params['configmap']}",
    )
    assert "max-model-len: 4096" in patch.body["data"]["inference_config.yaml"]
    assert sorted(w.path.split("/")[-2] for w in evictions) == sorted(
        p["metadata"]["name"] for p in pods
    )

    # The re-check runs after the rollout (the policy's delay).
    verified = guard.verify(applied.request.id, sleep=Advance(lambda: serving(cluster, pods)))
    assert verified.status == "verified", verified.message

    undo = guard.plan_undo(applied.buttons["undo"], ALICE)
    apply(guard, undo, ALICE, approver=BOB)
    restored = [w for w in cluster.kube_writes() if w.method == "PATCH"][-1]
    assert "max-model-len: 8192" in restored.body["data"]["inference_config.yaml"]


def test_cap_max_model_len_verify_is_not_verified_while_the_new_pods_do_not_serve(
    live, store
) -> None:
    """A verify window shorter than the rollout: with the pods evicted or still starting, the
    symptom step cannot see a queue, and says so instead of calling the symptom gone."""
    window = VerifyWindow(delay_seconds=30, every_seconds=60, window_seconds=120)
    cluster, guard, applied, _, pods = _cap_applied(live, store, policy(verify=window))

    clock = FakeClock(Advance())
    evicted = guard.verify(applied.request.id, sleep=clock.sleep, clock=clock)
    assert evicted.status == "inconclusive", evicted.message
    assert "wants 3 replicas and none is serving yet (no pod yet)" in evicted.message
    assert (
        evicted.message.startswith("Could not verify: ") and "Inconclusive:" not in evicted.message
    )

    clock = FakeClock(Advance(lambda: starting(cluster, pods)))
    rolling = guard.verify(applied.request.id, sleep=clock.sleep, clock=clock)
    assert rolling.status == "inconclusive", rolling.message
    assert "wants 3 replicas and none is serving yet" in rolling.message
    assert "Pending (ContainerCreating)" in rolling.message
    assert clock.inner.calls == 3, "the delay, then re-checks every 60 s until the window ends"
    assert store.ledger.request(applied.request.id).verification == "inconclusive"
    assert ("inconclusive", "gpubot") in audit_actions(store, applied.request.id)


def test_cap_max_model_len_verified_once_the_rolled_pods_serve_without_a_queue(live, store) -> None:
    window = VerifyWindow(delay_seconds=30, every_seconds=60, window_seconds=300)
    cluster, guard, applied, _, pods = _cap_applied(live, store, policy(verify=window))
    rollout = iter([lambda: starting(cluster, pods), lambda: serving(cluster, pods)])

    clock = FakeClock(lambda _seconds: next(rollout, lambda: None)())
    verified = guard.verify(applied.request.id, sleep=clock.sleep, clock=clock)
    assert verified.status == "verified", verified.message
    assert "no request waiting on 3 vLLM pods" in verified.message
    # The first re-check saw the pods starting and went on waiting: verified only on the second.
    assert clock.now == 30 + 60


def test_evict_pinning_pod_posts_an_eviction_verified_when_the_node_scales_down(
    live, store
) -> None:
    cluster = live("scale-down-blocked/safe-to-evict")
    guard = cluster.guard(store, policy(allow={"medium": ["U0LENA"]}))
    params = offered(cluster.diagnoser, "scale-down-blocked", "evict-pinning-pod")
    planned = guard.plan(
        cluster=cluster.name,
        fix="evict-pinning-pod",
        params=params,
        actor=LENA,
        playbook="scale-down-blocked",
    )
    applied = apply(guard, planned, LENA)
    (eviction,) = cluster.kube_writes()
    assert (eviction.method, eviction.path) == (
        "POST",
        f"/api/v1/namespaces/{params['namespace']}/pods/{params['pod']}/eviction",
    )
    assert eviction.body["deleteOptions"]["preconditions"]["uid"]

    waiting = guard.verify(applied.request.id, sleep=Advance())
    assert waiting.status == "pending", waiting.message
    advance = Advance(lambda: scale_node_down(cluster, params["node"]))
    verified = guard.verify(applied.request.id, sleep=advance)
    assert verified.status == "verified", verified.message
    assert guard.undo_request(applied.request.id, LENA).status == "refused"
