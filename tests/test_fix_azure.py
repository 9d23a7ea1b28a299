"""Issue 5: the autoscaler-scale-down and pool-min-count actuators, with the real
azure-mgmt-containerservice client against the loopback ARM emulator (If-Match, 412, 403)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import trustme

from bot.model.plans import Change, FixConflict, FixFailed, FixRefused
from bot.sources.actuators import ACTUATORS
from bot.sources.actuators import azure_fixes as _registered  # noqa: F401
from tests.azure_fix_harness import (
    CANARY,
    SCENARIOS,
    AzureFixHarness,
    assert_put_body,
    offered,
    snapshot_context,
    snapshot_json,
)
from tests.emulators.azure_api import Fault

BLOCKED = SCENARIOS / "scale-down-blocked" / "confirmed"
COLD = SCENARIOS / "cold-start" / "confirmed"
MC, POOLS = "azure/managed-cluster.json", "azure/agent-pools.json"
MC_READ_ONLY = {"id", "name", "type", "properties.provisioningState", "properties.fqdn"}
POOL_READ_ONLY = {"id", "name", "type", "properties.provisioningState"}
PROFILE = "properties.autoScalerProfile."
AUTOSCALER, POOL = ACTUATORS["autoscaler-scale-down"], ACTUATORS["pool-min-count"]


@pytest.fixture
def azure(ca: trustme.CA, monkeypatch: pytest.MonkeyPatch):
    harness = AzureFixHarness(ca, monkeypatch)
    yield harness
    harness.stop()


def _pool(body: dict, name: str) -> dict:
    return next(p for p in body["value"] if p["name"] == name)


# ---- autoscaler-scale-down -------------------------------------------------------------------


def test_autoscaler_plan_apply_undo_round_trip(azure, diagnose_json) -> None:
    params = offered(diagnose_json, BLOCKED, "scale-down-blocked", "autoscaler-scale-down")
    emu, ctx = azure.live(BLOCKED)
    plan = AUTOSCALER.plan(ctx, params)
    subject = "managed cluster aks-inference"
    assert plan.changes == (
        Change(subject=subject, field="autoScalerProfile.scale-down-unneeded-time",
               before="10m", after="5m"),
        Change(subject=subject, field="autoScalerProfile.scale-down-delay-after-add",
               before="10m", after="5m"),
        Change(subject=subject, field="autoScalerProfile.skip-nodes-with-system-pods",
               before="true", after="false"),
    )  # fmt: skip
    first_etag = emu.etag("managedClusters/aks-inference")
    assert plan.preconditions == {"etag": first_etag}
    assert plan.effect == "eventual" and plan.reversible and not plan.noop
    assert any("scan-interval 10s" in n for n in plan.notes)
    assert emu.writes() == []  # planning never writes

    result = AUTOSCALER.apply(ctx, plan)
    (put,) = emu.writes()
    assert put.route == "managed_cluster" and put.status == 200
    assert put.headers["if-match"] == first_etag
    original = snapshot_json(BLOCKED, MC)
    assert_put_body(
        put.body,
        original,
        {
            PROFILE + "scale-down-unneeded-time": "5m",
            PROFILE + "scale-down-delay-after-add": "5m",
            PROFILE + "skip-nodes-with-system-pods": "false",
        },
        MC_READ_ONLY,
    )
    assert "scale-down-unneeded-time 10m -> 5m" in result.summary
    assert result.written == (
        f"PUT Microsoft.ContainerService/managedClusters/aks-inference (If-Match {first_etag})",
    )
    assert result.details["provisioningState"] == "Succeeded"

    back = AUTOSCALER.undo(ctx, plan)
    assert [(c.before, c.after) for c in back.changes] == [
        ("5m", "10m"),
        ("5m", "10m"),
        ("false", "true"),
    ]
    assert (
        back.preconditions
        == {"etag": emu.etag("managedClusters/aks-inference")}
        != {"etag": first_etag}
    )
    AUTOSCALER.apply(ctx, back)
    now, _ = ctx.azure_state.managed_cluster()
    assert now["properties"]["autoScalerProfile"] == original["properties"]["autoScalerProfile"]
    assert [w.headers["if-match"] for w in emu.writes()] == [first_etag, back.preconditions["etag"]]


def test_undo_writes_aks_default_for_a_key_that_was_unset(azure, tmp_path: Path) -> None:
    snapshot = shutil.copytree(BLOCKED, tmp_path / "unset")
    body = snapshot_json(snapshot, MC)
    del body["properties"]["autoScalerProfile"]["scale-down-delay-after-add"]
    (snapshot / MC).write_text(json.dumps(body))
    emu, ctx = azure.live(snapshot)
    plan = AUTOSCALER.plan(ctx, {})
    assert plan.changes[1].before is None and plan.changes[1].after == "5m"
    assert any("scale-down-delay-after-add is unset today" in n for n in plan.notes)
    AUTOSCALER.apply(ctx, plan)
    back = AUTOSCALER.undo(ctx, plan)
    assert (back.changes[1].before, back.changes[1].after) == ("5m", "10m")
    assert any("was unset before the fix" in n for n in back.notes)
    AUTOSCALER.apply(ctx, back)
    profile = ctx.azure_state.managed_cluster()[0]["properties"]["autoScalerProfile"]
    assert profile["scale-down-delay-after-add"] == "10m"
    assert emu.writes()[-1].body["properties"]["autoScalerProfile"][
        "scale-down-delay-after-add"
    ] == ("10m")


def test_concurrent_change_is_a_conflict_and_nothing_is_written(azure) -> None:
    emu, ctx = azure.live(BLOCKED)
    plan = AUTOSCALER.plan(ctx, {})
    emu.edit_managed_cluster(
        lambda body: body["properties"]["autoScalerProfile"].update({"scan-interval": "20s"})
    )
    with pytest.raises(FixConflict, match="changed since the plan") as err:
        AUTOSCALER.apply(ctx, plan)
    assert "nothing was written" in str(err.value)
    assert emu.writes() == []
    profile = ctx.azure_state.managed_cluster()[0]["properties"]["autoScalerProfile"]
    assert profile["scan-interval"] == "20s" and profile["scale-down-unneeded-time"] == "10m"


def test_change_between_read_and_write_is_refused_by_if_match(azure) -> None:
    emu, ctx = azure.live(BLOCKED)
    plan = AUTOSCALER.plan(ctx, {})

    def someone_else_writes(rec) -> None:
        if rec.method == "GET":  # right after the apply's own read: the ETag moves
            emu.after_answer.clear()
            emu.edit_managed_cluster(lambda body: body["properties"].update(dnsPrefix="other"))

    emu.after_answer["managed_cluster"] = someone_else_writes
    with pytest.raises(FixConflict, match="412"):
        AUTOSCALER.apply(ctx, plan)
    (put,) = emu.writes()
    assert put.status == 412 and put.headers["if-match"] == plan.preconditions["etag"]
    now = ctx.azure_state.managed_cluster()[0]["properties"]
    assert now["dnsPrefix"] == "other" and now["autoScalerProfile"]["scale-down-unneeded-time"] == (
        "10m"
    )


def test_snapshot_plan_needs_no_client_and_never_applies() -> None:
    ctx = snapshot_context(BLOCKED)
    plan = AUTOSCALER.plan(ctx, {"scale_down_unneeded_time": "7m"})
    assert [(c.before, c.after) for c in plan.changes] == [
        ("10m", "7m"),
        ("10m", "5m"),
        ("true", "false"),
    ]
    assert plan.preconditions == {}  # a snapshot has no ETag
    with pytest.raises(FixRefused, match="answers from a snapshot"):
        AUTOSCALER.apply(ctx, plan)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"scale_down_unneeded_time": "300s"}, "AKS takes whole minutes"),
        ({"scale_down_delay_after_add": "5 minutes"}, "AKS takes whole minutes"),
        ({"skip_nodes_with_system_pods": "maybe"}, "skip_nodes_with_system_pods"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_autoscaler_bad_parameters_are_refused(params, message) -> None:
    with pytest.raises(FixRefused, match=message):
        AUTOSCALER.plan(snapshot_context(BLOCKED), params)


# ---- pool-min-count ---------------------------------------------------------------------------


def test_pool_min_count_plan_apply_undo(azure, diagnose_json) -> None:
    params = offered(diagnose_json, COLD, "cold-start", "pool-min-count")
    assert params == {"pool": "gpua100", "min_count": 1, "max_count": None}
    emu, ctx = azure.live(COLD)
    plan = POOL.plan(ctx, params)
    assert [(c.subject, c.field, c.before, c.after) for c in plan.changes] == [
        ("agent pool gpua100", "minCount", 0, 1),
        ("agent pool gpua100", "maxCount", 4, 4),
    ]
    key = "managedClusters/aks-inference/agentPools/gpua100"
    assert plan.preconditions == {"etag": emu.etag(key)}
    assert plan.restore == {"minCount": 0, "maxCount": 4}

    result = POOL.apply(ctx, plan)
    (put,) = emu.writes()
    assert put.route == "agent_pool" and put.path.endswith("/agentPools/gpua100")
    assert put.headers["if-match"] == plan.preconditions["etag"]
    original = _pool(snapshot_json(COLD, POOLS), "gpua100")
    assert_put_body(put.body, original, {"properties.minCount": 1}, POOL_READ_ONLY)
    assert result.summary == "agent pool gpua100: minCount 0 -> 1, maxCount 4 -> 4"

    back = POOL.undo(ctx, plan)
    assert [(c.field, c.before, c.after) for c in back.changes] == [
        ("minCount", 1, 0),
        ("maxCount", 4, 4),
    ]
    POOL.apply(ctx, back)
    now, _ = ctx.azure_state.agent_pool("gpua100")
    assert (now["properties"]["minCount"], now["properties"]["maxCount"]) == (0, 4)
    assert len(emu.writes()) == 2


def test_hand_scaled_pool_gets_the_autoscaler_and_undo_removes_it(azure, tmp_path) -> None:
    snapshot = shutil.copytree(COLD, tmp_path / "manual")
    pools = snapshot_json(snapshot, POOLS)
    props = _pool(pools, "gpua100")["properties"]
    for key in ("enableAutoScaling", "minCount", "maxCount"):
        props.pop(key)
    (snapshot / POOLS).write_text(json.dumps(pools))
    emu, ctx = azure.live(snapshot)
    with pytest.raises(FixRefused, match="scaled by hand"):
        POOL.plan(ctx, {"pool": "gpua100", "min_count": 0})
    plan = POOL.plan(ctx, {"pool": "gpua100", "min_count": 0, "max_count": 2})
    assert [(c.field, c.before, c.after) for c in plan.changes] == [
        ("enableAutoScaling", None, True),
        ("minCount", None, 0),
        ("maxCount", None, 2),
    ]
    assert any("turns the cluster autoscaler on" in n for n in plan.notes)
    POOL.apply(ctx, plan)
    POOL.apply(ctx, POOL.undo(ctx, plan))
    undo_put = emu.writes()[-1].body["properties"]
    assert not {"enableAutoScaling", "minCount", "maxCount"} & set(undo_put)
    assert undo_put["count"] == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pool": "gpua100", "min_count": 5}, "min_count 5 is above max_count 4"),
        ({"pool": "gpua100", "min_count": 3, "max_count": 2}, "above max_count 2"),
        ({"pool": "gpua100", "min_count": -1}, "must be 0 or more"),
        ({"pool": "system", "min_count": 0}, "System pool"),
        ({"pool": "gpuh100", "min_count": 0}, "agent pool gpuh100 not found"),
        ({"min_count": 0}, "pool"),
    ],
)
def test_pool_min_count_refusals(params, message) -> None:
    with pytest.raises(FixRefused, match=message):
        POOL.plan(snapshot_context(COLD), params)


def test_pool_conflict_writes_nothing(azure) -> None:
    emu, ctx = azure.live(COLD)
    plan = POOL.plan(ctx, {"pool": "gpua100", "min_count": 1})
    emu.edit_agent_pool("gpua100", lambda pool: pool["properties"].update(maxCount=6))
    with pytest.raises(FixConflict, match="agent pool gpua100 changed since the plan"):
        POOL.apply(ctx, plan)
    assert emu.writes() == []


@pytest.mark.parametrize("fix", ["autoscaler-scale-down", "pool-min-count"])
def test_api_refusal_is_fix_failed_without_the_token(azure, fix, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    emu, ctx = azure.live(COLD)
    params = {"pool": "gpua100", "min_count": 1} if fix == "pool-min-count" else {}
    plan = ACTUATORS[fix].plan(ctx, params)
    route = "agent_pool" if fix == "pool-min-count" else "managed_cluster"
    emu.inject(route, Fault("status", 403, method="PUT"))
    with pytest.raises(FixFailed, match="403 AuthorizationFailed") as err:
        ACTUATORS[fix].apply(ctx, plan)
    assert CANARY not in str(err.value) and "Bearer" not in str(err.value)
    assert CANARY not in caplog.text  # azure-core's request logging redacts the header
    assert [w.status for w in emu.writes()] == [403]  # refused once, not retried
