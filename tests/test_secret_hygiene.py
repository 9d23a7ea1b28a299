"""Issue 8 secret hygiene: canary secrets planted in every input (environment tokens, the
kubeconfig token, the Azure token, a pod env value and a ConfigMap no playbook reads) never
appear in any output: CLI stdout/stderr for every format, `collect` files, logs at DEBUG,
exception text."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import trustme
import yaml

from tests.conftest import ROOT
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator

SCENARIO = ROOT / "tests/scenarios/healthy"
CANARIES = {
    "SLACK_BOT_TOKEN": "xoxb-canary-slack-bot-7f3a",
    "SLACK_SIGNING_SECRET": "canary-signing-secret-91c2",
    "GPUBOT_WEBHOOK_SECRET": "canary-webhook-secret-5d0e",
}
AZURE_TOKEN = "canary-azure-token-2b8f"
KUBE_TOKEN = "canary-kube-token-c41d"
POD_ENV = "canary-pod-env-password-8e17"
CONFIGMAP = "canary-configmap-value-66aa"
ALL = [*CANARIES.values(), AZURE_TOKEN, KUBE_TOKEN, POD_ENV, CONFIGMAP]


def _plant(tmp):
    snap = tmp / "snap"
    shutil.copytree(SCENARIO, snap)
    pods_file = snap / "kubernetes/pods.json"
    pods = json.loads(pods_file.read_text())
    for pod in pods["items"]:
        for container in pod["spec"]["containers"]:
            container.setdefault("env", []).append({"name": "DB_PASSWORD", "value": POD_ENV})
    pods_file.write_text(json.dumps(pods))
    cms_file = snap / "kubernetes/configmaps.json"
    cms = json.loads(cms_file.read_text())
    cms["items"].append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "unread-settings", "namespace": "default"},
            "data": {"password": CONFIGMAP},
        }
    )
    cms_file.write_text(json.dumps(cms))
    return snap


def test_canaries_never_reach_any_output(tmp_path, monkeypatch, run_cli, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    snap = _plant(tmp_path)
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    outputs: list[str] = []
    with (
        KubeApiEmulator(snap, missing_crd_status=403, latency_cap=0.2, token=KUBE_TOKEN) as kube,
        AzureEmulator(snap, token=AZURE_TOKEN, ca=trustme.CA()) as azure,
    ):
        monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
        for name, value in azure.env().items():
            monkeypatch.setenv(name, value)
        cluster = yaml.safe_load((snap / "snapshot.yaml").read_text())["cluster"]
        config = tmp_path / "gpubot.yaml"
        config.write_text(yaml.safe_dump({"clusters": [{**cluster, "kube_context": "emulator"}]}))
        for fmt in ("text", "json", "slack"):
            code, out, err = run_cli("diagnose", "--config", str(config), "--format", fmt)
            assert code == 0, err
            outputs += [out, err]
        code, out, err = run_cli("collect", "--config", str(config), "--out", str(tmp_path / "b"))
        assert code == 0, err
        outputs += [out, err]
        # an unreachable API: the error path's text too
        monkeypatch.setenv("GPUBOT_ARM_ENDPOINT", "https://127.0.0.1:9")
        code, out, err = run_cli("diagnose", "--config", str(config), "--format", "json")
        outputs += [out, err]
        assert kube.seen("GET", ".*/pods"), "the planted pods were read"
    for path in (tmp_path / "b").rglob("*"):
        if path.is_file():
            outputs.append(path.read_text(errors="replace"))
    outputs.append(caplog.text)
    outputs += [str(r.exc_info[1]) for r in caplog.records if r.exc_info and r.exc_info[1]]
    leaked = [c for c in ALL if any(c in text for text in outputs)]
    assert not leaked, f"canaries in output: {leaked}"


def test_snapshot_diagnosis_of_planted_secrets_shows_none(tmp_path, run_cli) -> None:
    snap = _plant(tmp_path)
    for fmt in ("text", "json", "slack"):
        code, out, err = run_cli("diagnose", "--snapshot", str(snap), "--format", fmt)
        assert code in (0, 1), err
        assert POD_ENV not in out + err and CONFIGMAP not in out + err


@pytest.fixture(autouse=True)
def _no_config(monkeypatch) -> None:
    monkeypatch.delenv("GPUBOT_CONFIG", raising=False)
