"""Each of the eight fixes end to end through the guard, against the loopback emulators with
the real actuators and the real clients: plan (nothing written), confirm (+ a second person's
approval for high risk), the exact request(s) reaching the emulator, verify re-running the
playbook after the test moves the emulated cluster on as the real one would, and undo where the
fix is reversible. Verification windows are zero and the sleep is the test's hook.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trustme

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


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


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
