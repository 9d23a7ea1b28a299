"""Live configuration: the file, environment overrides, strictness, cluster choice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.settings import AKS_USER, ConfigError, live_env, load_config
from bot.sources.base import BadInput

ONE = """\
clusters:
  - name: aks-inference
    subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: rg-ml
    location: eastus2
    log_analytics_workspace_id: 11111111-2222-3333-4444-555555555555
    kube_context: aks-user
thresholds:
  stuck_minutes: 15
slack:
  channels: [C0123456789]
"""
TWO = """\
clusters:
  - name: aks-a
    location: eastus2
  - name: aks-b
    location: westus3
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GPUBOT_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gpubot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_with_one_cluster_is_the_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ONE))
    cluster = config.cluster()
    assert cluster.name == "aks-inference"
    assert cluster.kube_context == AKS_USER
    assert cluster.info().log_analytics_workspace_id == "11111111-2222-3333-4444-555555555555"
    assert config.thresholds.stuck_minutes == 15
    assert config.thresholds.kv_cache_ratio == 0.95  # untouched defaults stay
    assert config.slack.channels == ["C0123456789"]
    assert config.cluster("aks-inference") is cluster


def test_gpubot_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUBOT_CONFIG", str(write(tmp_path, ONE)))
    assert load_config(None).cluster().name == "aks-inference"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUBOT_CLUSTERS__1__LOCATION", "swedencentral")
    monkeypatch.setenv("GPUBOT_THRESHOLDS__KV_CACHE_RATIO", "0.9")
    config = load_config(write(tmp_path, TWO))
    assert [c.location for c in config.clusters] == ["eastus2", "swedencentral"]
    assert config.thresholds.kv_cache_ratio == 0.9


def test_clusters_from_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUBOT_CLUSTERS", '[{"name": "aks-env", "location": "eastus2"}]')
    assert load_config(None).cluster().name == "aks-env"


def test_unknown_key_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, ONE.replace("    kube_context:", "    kube_contxt:"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:7: clusters.0.kube_contxt: unknown key"
    assert isinstance(err.value, BadInput)  # the CLI prints one line and exits 2


def test_unknown_top_level_key_and_bad_threshold(tmp_path: Path) -> None:
    path = write(tmp_path, ONE + "slak: {}\n")
    with pytest.raises(ConfigError, match=r"gpubot.yaml:12: slak: unknown key"):
        load_config(path)
    path = write(tmp_path, ONE.replace("  channels:", "  chanels:"))
    with pytest.raises(ConfigError, match=r"gpubot.yaml:11: slack.chanels: unknown key"):
        load_config(path)
    path = write(tmp_path, ONE.replace("stuck_minutes: 15", "stuck_minutes: soon"))
    with pytest.raises(ConfigError, match=r"gpubot.yaml:9: thresholds.stuck_minutes: .*number"):
        load_config(path)


def test_unknown_key_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUBOT_THRESHOLDS__STUCK_MINUTS", "15")
    with pytest.raises(ConfigError, match="environment GPUBOT_THRESHOLDS__STUCK_MINUTS: unknown"):
        load_config(write(tmp_path, ONE))
    monkeypatch.delenv("GPUBOT_THRESHOLDS__STUCK_MINUTS")
    monkeypatch.setenv("GPUBOT_CLUSTERS__5__LOCATION", "x")
    with pytest.raises(ConfigError, match="list entry 5"):
        load_config(write(tmp_path, ONE))


def test_unknown_cluster_name_lists_the_names(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TWO))
    with pytest.raises(ConfigError, match=r"unknown cluster 'aks-c' \(configured: aks-a, aks-b\)"):
        config.cluster("aks-c")
    with pytest.raises(ConfigError, match=r"several clusters configured \(aks-a, aks-b\)"):
        config.cluster()
    assert config.cluster("aks-b").location == "westus3"


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match=r"gpubot.yaml:3: invalid YAML"):
        load_config(write(tmp_path, "clusters:\n  - name: [\n"))
    with pytest.raises(ConfigError, match="no clusters configured"):
        load_config(write(tmp_path, "thresholds: {}\n"))
    with pytest.raises(ConfigError, match="no clusters configured"):
        load_config(None)
    with pytest.raises(ConfigError, match="appears more than once"):
        load_config(write(tmp_path, "clusters: [{name: a}, {name: a}]\n"))


def test_live_env_defaults_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = live_env()
    assert env.arm_endpoint == "https://management.azure.com"
    assert env.logs_endpoint == "https://api.loganalytics.io/v1"
    assert env.ca_bundle is None and env.azure_token is None and env.now is None
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    monkeypatch.setenv("GPUBOT_ARM_ENDPOINT", "https://127.0.0.1:4443")
    monkeypatch.setenv("GPUBOT_CA_BUNDLE", str(ca))
    monkeypatch.setenv("GPUBOT_AZURE_TOKEN", "canary-secret")
    monkeypatch.setenv("GPUBOT_NOW", "2026-11-27T09:10:00+05:30")
    env = live_env()
    assert env.arm_endpoint == "https://127.0.0.1:4443"
    assert env.now == datetime(2026, 11, 27, 3, 40, tzinfo=UTC)
    assert "canary-secret" not in repr(env)
    monkeypatch.setenv("GPUBOT_NOW", "yesterday")
    with pytest.raises(ConfigError, match="GPUBOT_NOW"):
        live_env()
    monkeypatch.setenv("GPUBOT_NOW", "2026-11-27T07:40:00Z")
    monkeypatch.setenv("GPUBOT_CA_BUNDLE", str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match="GPUBOT_CA_BUNDLE"):
        live_env()
