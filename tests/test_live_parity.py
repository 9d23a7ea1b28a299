"""Issue 3 parity, end to end through the command line: for every scenario, `gpubot diagnose
--config` against the loopback Kubernetes and Azure emulators gives the offline diagnosis, and
`gpubot collect` of the emulated cluster diagnoses the same again."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, scenario_dirs
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator

CANARY = "azure-token-canary-not-a-secret"
UNAVAILABLE = re.compile(r"(\S+ unavailable: ).*")
MS = re.compile(r"\b\d+ ms\b")


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """Verdicts and evidence lines; each source words "unavailable" its own way, and probe
    latency is measured live, so those two are compared by shape."""
    out = {}
    for f in doc["findings"]:
        steps = {}
        for e in f["evidence"]:
            lines = [MS.sub("<n> ms", UNAVAILABLE.sub(r"\1<reason>", line)) for line in e["lines"]]
            steps[e["step"]] = (
                e["verdict"],
                lines if "unavailable" not in e["detail"] else len(lines),
            )
        fixes = [(x["id"], json.dumps(x["params"], sort_keys=True)) for x in f["fixes"]]
        out[f["playbook"]] = (f["verdict"], steps, fixes)
    return out


def _config(snapshot: Path, path: Path) -> Path:
    cluster = yaml.safe_load((snapshot / "snapshot.yaml").read_text())["cluster"]
    path.write_text(yaml.safe_dump({"clusters": [{**cluster, "kube_context": "emulator"}]}))
    return path


@pytest.mark.parametrize(
    "snapshot", scenario_dirs(), ids=lambda p: str(p.relative_to(ROOT / "tests/scenarios"))
)
def test_live_diagnosis_and_collect_equal_offline(
    snapshot, ca, tmp_path, monkeypatch, run_cli
) -> None:
    _, offline_out, _ = run_cli("diagnose", "--snapshot", str(snapshot), "--format", "json")
    want = comparable(json.loads(offline_out))
    with (
        KubeApiEmulator(snapshot, missing_crd_status=403, latency_cap=0.2) as kube,
        AzureEmulator(snapshot, token=CANARY, ca=ca) as azure,
    ):
        monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
        for name, value in azure.env().items():
            monkeypatch.setenv(name, value)
        config = _config(snapshot, tmp_path / "gpubot.yaml")
        code, live_out, err = run_cli("diagnose", "--config", str(config), "--format", "json")
        assert code == 0, err
        live = json.loads(live_out)
        assert live["source"] == "live"
        assert comparable(live) == want
        code, _, err = run_cli(
            "collect", "--config", str(config), "--out", str(tmp_path / "bundle")
        )
        assert code == 0, err
        assert CANARY not in err
    assert not kube.writes, "diagnosis and collect never write to the cluster"
    bundle = tmp_path / "bundle"
    for path in bundle.rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace")
    _, again, err = run_cli("diagnose", "--snapshot", str(bundle), "--format", "json")
    assert comparable(json.loads(again)) == want, err
    assert (bundle / "COLLECTED.md").is_file()
