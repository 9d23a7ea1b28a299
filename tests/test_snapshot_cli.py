"""The snapshot source and the `gpubot diagnose` command line, including bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.model.evidence import Question
from bot.sources.base import BadInput
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT

HEALTHY = ROOT / "tests/scenarios/healthy"
QUOTA = ROOT / "tests/scenarios/quota-exhausted/confirmed"


def _copy(tmp_path: Path, src: Path = HEALTHY) -> Path:
    dst = tmp_path / "snap"
    shutil.copytree(src, dst)
    return dst


# ---- the source answers with the API's semantics ---------------------------------------------


def test_field_and_label_selectors_match_the_api_semantics() -> None:
    src = SnapshotSource(HEALTHY)
    on_gpu = src.answer(
        Question.of(
            "kubernetes.list",
            {"resource": "pods", "field_selector": "spec.nodeName=aks-gpua100-12345678-vmss000000"},
        )
    )
    assert {p["metadata"]["name"] for p in on_gpu.data} >= {"workspace-llama-3-1-8b-0"}
    assert all(p["spec"]["nodeName"] == "aks-gpua100-12345678-vmss000000" for p in on_gpu.data)
    not_running = src.answer(
        Question.of(
            "kubernetes.list", {"resource": "pods", "field_selector": "status.phase!=Running"}
        )
    )
    assert not_running.available and not_running.data == []
    kaito = src.answer(
        Question.of(
            "kubernetes.list",
            {
                "resource": "pods",
                "namespace": "default",
                "label_selector": "kaito.sh/workspace in (workspace-llama-3-1-8b),apps",
            },
        )
    )
    assert [p["metadata"]["name"] for p in kaito.data] == ["workspace-llama-3-1-8b-0"]
    none = src.answer(
        Question.of(
            "kubernetes.list",
            {
                "resource": "pods",
                "label_selector": "!k8s-app,!kaito.sh/workspace,!name,!app.kubernetes.io/name",
            },
        )
    )
    assert none.data == []


def test_missing_file_is_unknown_and_empty_list_is_none(tmp_path) -> None:
    snap = _copy(tmp_path)
    (snap / "kubernetes/nodeclaims.json").unlink()
    src = SnapshotSource(snap)
    missing = src.answer(Question.of("kubernetes.list", {"resource": "nodeclaims"}))
    assert not missing.available and "nodeclaims.json is not in the snapshot" in missing.unavailable
    empty = src.answer(Question.of("kubernetes.list", {"resource": "poddisruptionbudgets"}))
    assert empty.available and empty.data == []


def test_log_analytics_rows_become_dicts() -> None:
    rows = (
        SnapshotSource(HEALTHY)
        .answer(Question.of("loganalytics.query", {"query": "gpu-node-hours"}))
        .data
    )
    assert rows == [
        {
            "Computer": "aks-gpua100-12345678-vmss000000",
            "InstanceType": "Standard_NC24ads_A100_v4",
            "IdleHours": 0,
        }
    ]


def test_metrics_are_parsed_with_prometheus_client() -> None:
    answer = SnapshotSource(HEALTHY).answer(Question.of("kubernetes.pod_metrics", {}))
    [pod] = answer.data
    names = {s["name"] for s in pod["samples"]}
    assert {
        "vllm:kv_cache_usage_perc",
        "vllm:gpu_cache_usage_perc",
        "vllm:num_requests_waiting",
    } <= names


@pytest.mark.parametrize(
    "captured_at", ["2026-11-27T07:40:00Z", "2026-11-27T13:10:00+05:30", "2026-11-27 07:40:00"]
)
def test_captured_at_in_any_offset_or_bare_yaml_timestamp(tmp_path, captured_at) -> None:
    snap = _copy(tmp_path)
    text = (snap / "snapshot.yaml").read_text().replace("'2026-11-27T07:40:00Z'", captured_at)
    (snap / "snapshot.yaml").write_text(text)
    assert SnapshotSource(snap).now().timestamp() == SnapshotSource(HEALTHY).now().timestamp()


# ---- bad input: one line naming the file, exit 2 -------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (
            lambda s: (s / "kubernetes/pods.json").write_text('{"items": [ {"metadata": '),
            "kubernetes/pods.json",
        ),
        (lambda s: (s / "azure/usages.json").write_text("[1, 2]"), "azure/usages.json"),
        (
            lambda s: (s / "kubernetes/nodes.json").write_text('{"kind": "NodeList"}'),
            "kubernetes/nodes.json",
        ),
        (
            lambda s: (s / "loganalytics/gpu-node-hours.json").write_text('{"tables": 3}'),
            "loganalytics/gpu-node-hours.json",
        ),
        (lambda s: (s / "snapshot.yaml").write_text("cluster: [\n"), "snapshot.yaml"),
        (lambda s: (s / "snapshot.yaml").write_text("cluster: {name: x}\n"), "captured_at"),
        (lambda s: (s / "snapshot.yaml").unlink(), "snapshot.yaml"),
        (
            lambda s: (s / "kubernetes/metrics/default/workspace-llama-3-1-8b-0.prom").write_text(
                "# TYPE vllm:x gauge\nvllm:x abc\n"
            ),
            "workspace-llama-3-1-8b-0.prom",
        ),
        (lambda s: (s / "kubernetes/pods.json").write_bytes(b"\xff\xfe{"), "kubernetes/pods.json"),
    ],
)
def test_unparsable_file_is_one_line_naming_it(tmp_path, run_cli, mutate, named) -> None:
    snap = _copy(tmp_path)
    mutate(snap)
    with pytest.raises(BadInput):
        SnapshotSource(snap)
    code, out, err = run_cli("diagnose", "--snapshot", str(snap), "--format", "json")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and named in err and err.startswith("gpubot: error: ")


def test_missing_directory(run_cli, tmp_path) -> None:
    code, out, err = run_cli("diagnose", "--snapshot", str(tmp_path / "nope"))
    assert code == 2 and "snapshot directory not found" in err and out == ""


@pytest.mark.parametrize(
    "args",
    [
        ["diagnose", "--snapshot", str(HEALTHY), "--workspace", "Bad_NS/x"],
        ["diagnose", "--snapshot", str(HEALTHY), "--format", "yaml"],
        ["diagnose", "--snapshot", str(HEALTHY), "--threshold", "stuck_minutes"],
    ],
)
def test_bad_arguments_are_usage_errors(run_cli, args) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(*args)
    assert exc.value.code == 2


def test_unknown_threshold_and_playbook_are_one_line_errors(run_cli) -> None:
    code, _, err = run_cli("diagnose", "--snapshot", str(HEALTHY), "--threshold", "stuck_hours=3")
    assert code == 2 and "stuck_hours" in err and err.count("\n") == 1
    code, _, err = run_cli("diagnose", "--snapshot", str(HEALTHY), "--playbook", "no-such-row")
    assert code == 2 and "no-such-row" in err


# ---- results ---------------------------------------------------------------------------------


def test_fail_on_confirmed_sets_the_exit_code(run_cli) -> None:
    code, out, _ = run_cli(
        "diagnose", "--snapshot", str(QUOTA), "--format", "json", "--fail-on", "confirmed"
    )
    assert code == 1 and json.loads(out)["findings"][0]["verdict"] == "confirmed"
    code, _, _ = run_cli(
        "diagnose", "--snapshot", str(HEALTHY), "--format", "json", "--fail-on", "confirmed"
    )
    assert code == 0


def test_thresholds_change_verdicts(run_cli) -> None:
    code, out, _ = run_cli(
        "diagnose",
        "--snapshot",
        str(QUOTA),
        "--format",
        "json",
        "--playbook",
        "quota-exhausted",
        "--threshold",
        "stuck_minutes=20",
    )
    assert code == 0 and json.loads(out)["findings"][0]["verdict"] == "ruled_out"


def test_workspace_scope_limits_workload_rows(run_cli) -> None:
    _, out, _ = run_cli(
        "diagnose",
        "--snapshot",
        str(QUOTA),
        "--format",
        "json",
        "--playbook",
        "quota-exhausted",
        "--workspace",
        "prod/other-workspace",
    )
    finding = json.loads(out)["findings"][0]
    assert finding["verdict"] == "ruled_out"


def test_demo_runs_as_an_installed_command_with_stdout_only_json() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "diagnose", "--demo", "--format", "json"],
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"] == "snapshot" and len({f["playbook"] for f in doc["findings"]}) >= 14
    assert any(f["verdict"] == "confirmed" for f in doc["findings"])
