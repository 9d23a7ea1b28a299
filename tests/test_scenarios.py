"""Every shipped scenario diagnoses as DESIGN.md's CLI contract says, with its declared verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, scenario_dirs

CONTRACT_FINDING_KEYS = {"playbook", "row", "title", "verdict", "summary", "evidence", "fixes"}
ROW_IDS = {
    1: "quota-exhausted",
    2: "sku-unavailable",
    3: "no-cuda-device",
    4: "driver-conflict",
    5: "oom-at-load",
    6: "oom-under-load",
    7: "pod-pending",
    8: "inference-crashloop",
    9: "scale-down-blocked",
    10: "cold-start",
    11: "kv-cache-bound",
    12: "time-slicing-oom",
    13: "spot-eviction",
    14: "slow-image-pull",
}


@pytest.mark.parametrize(
    "snapshot", scenario_dirs(), ids=lambda p: str(p.relative_to(ROOT / "tests/scenarios"))
)
def test_scenario_verdicts_follow_the_contract(snapshot: Path, diagnose_json, catalog) -> None:
    expect = yaml.safe_load((snapshot / "expect.yaml").read_text())
    doc = diagnose_json(snapshot)
    assert set(doc) >= {"cluster", "source", "generated_at", "findings"}
    assert doc["source"] == "snapshot"
    ids = [f["playbook"] for f in doc["findings"]]
    assert sorted(ids) == sorted(catalog.runbook("triage").playbooks), "every playbook exactly once"
    for f in doc["findings"]:
        assert set(f) >= CONTRACT_FINDING_KEYS
        assert f["verdict"] in {"confirmed", "ruled_out", "inconclusive"}
        assert f["summary"] and "\n" not in f["summary"]
        for e in f["evidence"]:
            assert {"step", "verdict", "detail", "source"} <= set(e)
        for fix in f["fixes"]:
            assert {"id", "title", "risk", "requires_approval", "params"} <= set(fix)
    verdicts = [f["verdict"] for f in doc["findings"]]
    n_confirmed = verdicts.count("confirmed")
    assert verdicts[:n_confirmed] == ["confirmed"] * n_confirmed, "confirmed findings come first"
    confirmed = sorted(f["playbook"] for f in doc["findings"] if f["verdict"] == "confirmed")
    assert confirmed == sorted(expect["confirmed"]), expect["description"]
    for f in doc["findings"]:
        if f["verdict"] == "confirmed":
            assert f["evidence"], "a confirmed finding shows its evidence"


def test_every_row_id_is_in_triage_with_its_row(catalog) -> None:
    triage = catalog.runbook("triage").playbooks
    for row, pid in ROW_IDS.items():
        assert pid in triage
        assert catalog.playbooks[pid].spec.row == row


def test_each_row_has_a_confirmed_and_a_ruled_out_scenario() -> None:
    for pid in ROW_IDS.values():
        cases = {p.name for p in (ROOT / "tests/scenarios" / pid).iterdir() if p.is_dir()}
        assert "confirmed" in cases and "ruled-out" in cases, pid
        confirmed = yaml.safe_load(
            (ROOT / "tests/scenarios" / pid / "confirmed/expect.yaml").read_text()
        )
        ruled_out = yaml.safe_load(
            (ROOT / "tests/scenarios" / pid / "ruled-out/expect.yaml").read_text()
        )
        assert pid in confirmed["confirmed"] and pid not in ruled_out["confirmed"]


def test_partial_snapshot_never_rules_out_what_it_could_not_read(diagnose_json) -> None:
    doc = diagnose_json(ROOT / "tests/scenarios/partial")
    for f in doc["findings"]:
        for e in f["evidence"]:
            if "unavailable" in e["detail"] and (
                "azure/" in e["source"] or "loganalytics/" in e["source"]
            ):
                assert e["verdict"] == "inconclusive", (f["playbook"], e)


def test_committed_scenarios_match_their_builders() -> None:
    from tests.scenarios.builder.catalog import compare_all

    assert compare_all() == [], "run: python -m tests.scenarios.builder"
