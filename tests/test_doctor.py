"""`gpubot doctor` against the emulators: a denied permission is reported with the exact rule
to add; a healthy installation passes; Slack's auth.test and scopes are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.sources.kube_access import READS, Permission
from tests.conftest import scenario_dirs
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.azure_api import Fault as AzureFault
from tests.emulators.kube_api import SSAR_PATH, KubeApiEmulator
from tests.emulators.slack_api import FakeSlack
from tests.test_live_parity import _config

SNAPSHOT = scenario_dirs()[0]


@pytest.fixture
def kube(tmp_path, monkeypatch):
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "GPUBOT_SLACK_API_URL", "GPUBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    with KubeApiEmulator(SNAPSHOT) as emulator:
        monkeypatch.setenv("KUBECONFIG", str(emulator.write_kubeconfig(tmp_path / "kubeconfig")))
        yield emulator


def _doctor(run_cli, tmp_path: Path, *, azure: bool = False) -> tuple[int, str]:
    config = _config(SNAPSHOT, tmp_path / "gpubot.yaml")
    if not azure:  # Kubernetes only: no Azure credential lookup (it would probe IMDS)
        doc = yaml.safe_load(config.read_text())
        for cluster in doc["clusters"]:
            cluster.pop("subscription_id", None)
        config.write_text(yaml.safe_dump(doc))
    code, out, _ = run_cli("doctor", "--config", str(config))
    return code, out


def test_all_allowed_passes_and_asks_one_review_per_permission(kube, run_cli, tmp_path) -> None:
    code, out = _doctor(run_cli, tmp_path)
    assert code == 0, out
    assert "FAIL" not in out
    assert "API server v1.31.3" in out
    reviews = kube.seen("POST", SSAR_PATH)
    assert len(reviews) == len(READS)
    asked = {
        (
            r.body["spec"]["resourceAttributes"]["group"],
            r.body["spec"]["resourceAttributes"]["resource"],
            r.body["spec"]["resourceAttributes"]["verb"],
        )
        for r in reviews
    }
    assert ("", "pods", "get") in asked  # pods/log is resource pods, subresource log
    assert all(r.method in ("GET", "POST") for r in kube.requests)
    assert {r.path for r in kube.writes} == {SSAR_PATH}, "doctor writes nothing but reviews"


def test_a_denied_permission_is_reported_with_the_rule_to_add(kube, run_cli, tmp_path) -> None:
    kube.deny = {("", "pods/log", "get"), ("kaito.sh", "workspaces", "list")}
    code, out = _doctor(run_cli, tmp_path)
    assert code == 1
    lines = out.splitlines()
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 2, out
    assert any("may get pods/log" in line and "denied" in line for line in fails)
    assert any("may list workspaces.kaito.sh" in line for line in fails)
    assert (
        'fix: add to ClusterRole gpubot-read: - apiGroups: [""]  resources: ["pods/log"]  '
        'verbs: ["get"]'
    ) in out
    assert 'apiGroups: ["kaito.sh"]  resources: ["workspaces"]  verbs: ["list"]' in out
    assert out.rstrip().endswith("2 failed")


def test_unreachable_api_server_and_bad_config_fail_with_a_fix(
    kube, run_cli, tmp_path, monkeypatch
) -> None:
    kube.stop()
    code, out = _doctor(run_cli, tmp_path)
    assert code == 1
    assert "API server unreachable" in out and "fix:" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters: []\n")
    code, out, _ = run_cli("doctor", "--config", str(bad))
    assert code == 1
    assert "FAIL  configuration" in out and "fix: pass --config FILE" in out


def test_slack_auth_test_and_scopes(kube, run_cli, tmp_path, monkeypatch) -> None:
    with FakeSlack() as slack:
        monkeypatch.setenv("GPUBOT_SLACK_API_URL", slack.url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-doctor-test")
        code, out = _doctor(run_cli, tmp_path)
        assert code == 0, out
        assert "PASS  slack auth.test" in out and "gpubot-test" in out
        assert "PASS  slack scopes" in out
        assert "xoxb-doctor-test" not in out
        assert [c.method for c in slack.of("auth.test")] == ["auth.test"]


def test_azure_reachable_and_refused(kube, run_cli, tmp_path, monkeypatch) -> None:
    with AzureEmulator(SNAPSHOT, token="doctor-azure-token") as azure:
        for name, value in azure.env().items():
            monkeypatch.setenv(name, value)
        code, out = _doctor(run_cli, tmp_path, azure=True)
        assert code == 0, out
        assert "PASS  azure aks-inference" in out
        assert [r.route for r in azure.requests] == ["managed_cluster"]
        azure.inject("managed_cluster", AzureFault("status", status=403))
        code, out = _doctor(run_cli, tmp_path, azure=True)
        assert code == 1
        assert "FAIL  azure aks-inference" in out
        assert "fix: assign the gpubot custom role" in out
        assert "doctor-azure-token" not in out


def test_permission_rule_text() -> None:
    perm = Permission("apps", "deployments", "list")
    assert perm.rule() == '- apiGroups: ["apps"]  resources: ["deployments"]  verbs: ["list"]'
