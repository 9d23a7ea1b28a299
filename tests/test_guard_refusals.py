"""Every way the guard says no: zero writes at the emulators, each refusal audited with its
reason, and no secret in any stored row. Against the loopback emulators with the real
actuators, on SQLite and on PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from bot.engine.tokens import TokenSigner
from bot.model.fixpolicy import Actor
from bot.store.db import Store
from tests.emulators.azure_api import Fault
from tests.emulators.kube_api import TOKEN as KUBE_TOKEN
from tests.guard_harness import (
    ALICE,
    BOB,
    CANARY,
    EVE,
    LENA,
    MALLORY,
    LiveCluster,
    audit_actions,
    offered,
    policy,
    refusals,
)


@pytest.fixture
def live(tmp_path, ca, monkeypatch, catalog):
    started: list[LiveCluster] = []

    def start(scenario: str) -> LiveCluster:
        cluster = LiveCluster.start(scenario, tmp_path, ca, monkeypatch, catalog)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


def quota_plan(cluster: LiveCluster, guard, actor=LENA):
    params = offered(cluster.diagnoser, "quota-exhausted", "request-quota")
    return guard.plan(
        cluster=cluster.name,
        fix="request-quota",
        params=params,
        actor=actor,
        playbook="quota-exhausted",
    )


def tampered(value: str) -> str:
    """The same token with its MAC altered, as a crafted payload would carry it."""
    head, mac = value.rsplit(".", 1)
    return f"{head}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"


def test_refusals_write_nothing_and_are_audited_with_reasons(live, store_url) -> None:
    cluster = live("quota-exhausted/confirmed")
    store = Store.open(store_url)
    guard = cluster.guard(store)
    planned = quota_plan(cluster, guard)
    confirm = planned.buttons["confirm"]

    cases = [
        ("unauthorized", lambda: guard.confirm(confirm, MALLORY), "not allowed to apply low-risk"),
        ("other team", lambda: guard.confirm(confirm, EVE), "not in this bot's Slack workspace"),
        ("forged", lambda: guard.confirm(tampered(confirm), LENA), "forged or altered"),
        (
            "other key",
            lambda: guard.confirm(TokenSigner(b"x" * 32).sign(confirm.split(".")[1]), LENA),
            "forged or altered",
        ),
        ("wrong purpose", lambda: guard.confirm(planned.buttons["cancel"], LENA), "does not match"),
        ("not a value", lambda: guard.confirm({"token": confirm}, LENA), "forged or altered"),
    ]
    for name, attempt, reason in cases:
        outcome = attempt()
        assert outcome.status == "refused" and reason in outcome.message, (name, outcome.message)
    assert cluster.writes() == [], "no refusal reaches the cluster"
    # Someone not allowed clicking does not use the button up for someone who is.
    applied = guard.confirm(confirm, LENA)
    assert applied.status == "applied", applied.message
    assert len(cluster.arm_writes()) == 1

    replayed = guard.confirm(confirm, LENA)
    assert replayed.status == "refused" and "already used by <@U0LENA>" in replayed.message
    assert len(cluster.arm_writes()) == 1, "a replayed value writes nothing"

    reasons = refusals(store)
    for _, _, reason in cases:
        assert any(reason in r for r in reasons), reason
    assert any("already used" in r for r in reasons)
    rows = store.ledger.audit_trail(action="refused")
    assert {r.actor for r in rows} >= {MALLORY.id, ALICE.id, LENA.id}
    assert all(r.reason for r in rows), "every refusal says why"
    _assert_no_secrets(store)


def test_expired_buttons_are_refused_and_write_nothing(live, tmp_path) -> None:
    cluster = live("quota-exhausted/confirmed")
    store = Store.open(f"sqlite:///{tmp_path / 'gpubot.db'}")
    guard = cluster.guard(store, policy(confirm_minutes=0.001))  # 60 ms to confirm
    planned = quota_plan(cluster, guard)
    time.sleep(0.3)
    outcome = guard.confirm(planned.buttons["confirm"], LENA)
    assert outcome.status == "refused" and "expired" in outcome.message
    assert cluster.writes() == []
    assert store.ledger.request(planned.request.id).status == "planned"
    assert any("expired" in r for r in refusals(store))


def test_requester_cannot_approve_their_own_high_risk_fix(live, tmp_path) -> None:
    cluster = live("cold-start/confirmed")
    store = Store.open(f"sqlite:///{tmp_path / 'gpubot.db'}")
    guard = cluster.guard(store)
    params = offered(cluster.diagnoser, "cold-start", "pool-min-count")
    planned = guard.plan(cluster=cluster.name, fix="pool-min-count", params=params, actor=ALICE)
    requested = guard.confirm(planned.buttons["confirm"], ALICE)
    assert requested.status == "requested"
    for actor, reason in (
        (ALICE, "cannot approve their own request"),
        (LENA, "not allowed to apply high-risk"),
        (Actor(BOB.id, team="T0OTHER"), "not in this bot's Slack workspace"),
    ):
        outcome = guard.approve(requested.buttons["approve"], actor)
        assert outcome.status == "refused" and reason in outcome.message, outcome.message
    by_id = guard.approve_request(requested.request.id, ALICE)  # the terminal's way: same rule
    assert by_id.status == "refused" and "cannot approve their own" in by_id.message
    assert cluster.writes() == []
    assert store.ledger.request(requested.request.id).status == "awaiting_approval"
    assert len(refusals(store)) == 4
    # The approval is still there for a second person.
    assert guard.approve(requested.buttons["approve"], BOB).status == "applied"
    assert len(cluster.arm_writes()) == 1


def test_etag_conflict_aborts_with_a_clear_message_and_no_write(live, tmp_path) -> None:
    cluster = live("scale-down-blocked/confirmed")
    store = Store.open(f"sqlite:///{tmp_path / 'gpubot.db'}")
    guard = cluster.guard(store)
    params = offered(cluster.diagnoser, "scale-down-blocked", "autoscaler-scale-down")
    planned = guard.plan(
        cluster=cluster.name, fix="autoscaler-scale-down", params=params, actor=ALICE
    )
    # Someone changes the managed cluster in the portal between the plan and the click.
    cluster.arm.edit_managed_cluster(
        lambda body: body["properties"]["autoScalerProfile"].update({"scan-interval": "20s"})
    )
    before = cluster.arm.load("azure/managed-cluster.json")
    outcome = guard.confirm(planned.buttons["confirm"], ALICE)
    assert outcome.status == "conflict", outcome.message
    assert "changed" in outcome.message.lower() and "nothing" in outcome.message.lower()
    assert [w for w in cluster.arm_writes() if w.status in (200, 201)] == []
    assert cluster.arm.load("azure/managed-cluster.json") == before, "the other change stands"
    assert ("conflict", ALICE.id) in audit_actions(store, planned.request.id)
    assert store.ledger.request(planned.request.id).status == "failed"
    # Nothing was written, so the target is free: a fresh plan over the new state applies.
    fresh = guard.plan(
        cluster=cluster.name, fix="autoscaler-scale-down", params=params, actor=ALICE
    )
    assert guard.confirm(fresh.buttons["confirm"], ALICE).status == "applied"


def test_failed_write_is_reported_audited_and_not_retried(live, tmp_path) -> None:
    cluster = live("quota-exhausted/confirmed")
    cluster.arm.inject("quota", Fault("status", status=403, method="PUT"))
    store = Store.open(f"sqlite:///{tmp_path / 'gpubot.db'}")
    guard = cluster.guard(store)
    planned = quota_plan(cluster, guard)
    outcome = guard.confirm(planned.buttons["confirm"], LENA)
    assert outcome.status == "failed", outcome.message
    assert len(cluster.arm_writes()) == 1, "one attempt, not a retry loop"
    assert ("failed", LENA.id) in audit_actions(store, planned.request.id)
    again = guard.confirm(planned.buttons["confirm"], LENA)
    assert again.status == "refused" and len(cluster.arm_writes()) == 1
    _assert_no_secrets(store)


def _assert_no_secrets(store: Store) -> None:
    """The ARM bearer token and the kubeconfig token appear in no stored row."""
    with store.engine.connect() as conn:
        for table in ("fix_requests", "fix_tokens", "fix_audit"):
            for row in conn.execute(text(f"SELECT * FROM {table}")).all():
                dumped = " ".join(str(v) for v in row)
                assert CANARY not in dumped and KUBE_TOKEN not in dumped, table


class _ApplyRaises:
    """The real request-quota actuator, except that its apply hits a bug: what an actuator
    fault looks like to the guard (not an SDK object: the guard's own collaborator)."""

    def __init__(self, real) -> None:
        self.real, self.fix = real, real.fix

    def plan(self, ctx, params):
        return self.real.plan(ctx, params)

    def undo(self, ctx, plan):
        return self.real.undo(ctx, plan)

    def apply(self, ctx, plan):
        raise RuntimeError(f"boom: Authorization: Bearer {CANARY}\nresponse headers: ...")


def test_an_actuator_bug_ends_failed_audited_masked_and_frees_the_target(live, tmp_path) -> None:
    from bot.sources.actuators import load_all

    cluster = live("quota-exhausted/confirmed")
    store = Store.open(f"sqlite:///{tmp_path / 'gpubot.db'}")
    actuators = {**load_all(), "request-quota": _ApplyRaises(load_all()["request-quota"])}
    broken = cluster.guard(store, actuators=actuators)
    outcome = broken.confirm(quota_plan(cluster, broken).buttons["confirm"], LENA)
    assert outcome.status == "failed" and outcome.message.startswith("RuntimeError: boom")
    assert CANARY not in outcome.message and "response headers" not in outcome.message
    assert store.ledger.request(outcome.request.id).status == "failed"
    assert cluster.writes() == []
    _assert_no_secrets(store)
    # Nothing was written, so the target's hold was released: a working guard applies at once.
    fixed = cluster.guard(store)
    applied = fixed.confirm(quota_plan(cluster, fixed).buttons["confirm"], LENA)
    assert applied.status == "applied", applied.message
