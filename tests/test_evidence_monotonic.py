"""What the bot could not read never confirms or rules anything out.

For every scenario, delete one snapshot file (or one logs/metrics/probes folder) at a time and
diagnose again: a verdict may only stay as it was or become inconclusive. A change to confirmed
or ruled_out would mean a check treated "not known" as evidence.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.engine.runner import diagnose
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT, scenario_dirs

FOLDERS = ("logs", "metrics", "probes")


def _removable(snapshot: Path) -> list[str]:
    out = set()
    for path in snapshot.rglob("*"):
        rel = path.relative_to(snapshot).parts
        if not path.is_file() or rel[-1] in ("snapshot.yaml", "expect.yaml"):
            continue
        out.add("/".join(rel[:2]) if len(rel) > 2 and rel[1] in FOLDERS else "/".join(rel))
    return sorted(out)


@pytest.fixture(scope="module")
def playbooks(catalog):
    return catalog.select(catalog.runbook("triage").playbooks) + catalog.select(
        catalog.runbook("morning-readiness").playbooks
    )


@pytest.mark.parametrize(
    "snapshot", scenario_dirs(), ids=lambda p: str(p.relative_to(ROOT / "tests/scenarios"))
)
def test_removing_evidence_only_makes_verdicts_inconclusive(snapshot, playbooks, tmp_path) -> None:
    before = {f.playbook: f.verdict for f in diagnose(playbooks, SnapshotSource(snapshot)).findings}
    flips = []
    for removed in _removable(snapshot):
        copy = tmp_path / removed.replace("/", "_")
        shutil.copytree(snapshot, copy)
        victim = copy / removed
        shutil.rmtree(victim) if victim.is_dir() else victim.unlink()
        for f in diagnose(playbooks, SnapshotSource(copy)).findings:
            if f.verdict not in (before[f.playbook], "inconclusive"):
                flips.append(f"-{removed}: {f.playbook} {before[f.playbook]} -> {f.verdict}")
        shutil.rmtree(copy)
    assert flips == []
