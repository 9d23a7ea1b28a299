"""Every fix a diagnosis offers can be planned: no button that can only say no.

For each shipped snapshot (every scenario, and the demo), every playbook runs (triage and the
morning readiness rungs), and each FixOffer of each finding is planned by its registered
actuator through `snapshot_fix_context`, exactly as `gpubot fix plan --snapshot` and a
`--snapshot` bot do. A FixRefused (bad params included) or a plan that changes nothing (the
guard refuses those) means the offer is wrong: fix the playbook's params, the check's facts or
the actuator, not this test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.engine.runner import diagnose
from bot.model.plans import FixError
from bot.sources.actuators import load_all
from bot.sources.actuators.context import snapshot_fix_context
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT, SCENARIOS, scenario_dirs

DEMO = ROOT / "bot" / "data" / "demo"
SNAPSHOTS = [*scenario_dirs(), DEMO]
INFERENCESET = SCENARIOS / "cold-start" / "inferenceset"


def _offers_and_refusals(snapshot: Path, catalog) -> tuple[list[str], list[str]]:
    """("playbook fix params" of every offer, one line per offer that cannot be planned)."""
    source = SnapshotSource(snapshot)
    result = diagnose(list(catalog.playbooks.values()), source, runbook="all")
    ctx, actuators = snapshot_fix_context(source), load_all()
    offers, refused = [], []
    for finding in result.findings:
        for offer in finding.fixes:
            what = f"{finding.playbook}: {offer.id} {offer.params}"
            offers.append(what)
            try:
                plan = actuators[offer.id].plan(ctx, offer.params)
            except FixError as exc:
                refused.append(f"{what} -> {type(exc).__name__}: {exc}")
                continue
            if plan.noop:
                refused.append(f"{what} -> plans no change: {plan.target}")
    return offers, refused


@pytest.mark.parametrize("snapshot", SNAPSHOTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_offered_fix_plans(snapshot: Path, catalog) -> None:
    _, refused = _offers_and_refusals(snapshot, catalog)
    assert refused == [], "\n".join(refused)


def test_the_offers_are_not_vacuous(catalog) -> None:
    """The walk above sees real offers, among them a KAITO pre-warm through an InferenceSet."""
    offers, _ = _offers_and_refusals(INFERENCESET, catalog)
    assert "cold-start: prewarm-schedule" in "\n".join(offers)
    assert any("'workload': 'inferenceset/llama-3-1-8b'" in o for o in offers), offers


def test_an_offer_that_cannot_be_planned_is_caught(tmp_path, catalog) -> None:
    """Failure mode: the same snapshot without the InferenceSet the offer names -> refused."""
    broken = tmp_path / "inferenceset"
    shutil.copytree(INFERENCESET, broken)
    (broken / "kubernetes" / "inferencesets.json").unlink()
    _, refused = _offers_and_refusals(broken, catalog)
    assert refused, "a pre-warm of an InferenceSet the snapshot lacks must not plan"
    assert all("kubernetes/inferencesets.json is not in the snapshot" in r for r in refused)


def test_a_workspace_without_an_inferenceset_gets_advice_not_a_pre_warm(catalog) -> None:
    """The cold start of a stand-alone Workspace: no pre-warm button (its actuator refuses a
    Workspace's workload), and the diagnosis says what to do instead."""
    source = SnapshotSource(SCENARIOS / "cold-start" / "confirmed")
    (finding,) = diagnose([catalog.playbooks["cold-start"]], source).findings
    assert [f.id for f in finding.fixes] == ["pool-min-count"]
    text = " ".join(finding.diagnosis.split())
    assert "KAITO workspace default/workspace-llama-3-1-8b has no replica count" in text
    assert "run it from an InferenceSet" in text
    assert "keep a warm node with the pool's min-count of 1 (offered below" in text
    assert "Add a scheduled pre-warm" not in text
