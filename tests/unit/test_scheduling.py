"""Pure logic of the scheduling and serving rows, on real scheduler, kubelet and vLLM text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.checks import _scheduling as sch
from bot.checks import _serving as srv
from bot.engine.evidence import EvidenceCache
from bot.engine.loader import load_catalog
from bot.engine.runner import run_playbook
from bot.model.context import CheckContext
from bot.model.verdicts import Verdict
from bot.sources.snapshot import SnapshotSource
from bot.testing.runner import run_paths

NOW = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)
CTX = CheckContext(now=NOW)
ROOT = Path(__file__).resolve().parents[1]
MINE = ("pod-pending", "inference-crashloop", "mig-resource-mismatch", "noexecute-eviction")


def iso(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- FailedScheduling / NotTriggerScaleUp messages ----------------------------------------


def test_untolerated_taint_with_preemption_tail() -> None:
    msg = (
        "0/3 nodes are available: 1 node(s) had untolerated taint {sku: gpu}, 2 node(s) didn't "
        "match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is "
        "not helpful for scheduling."
    )
    got = sch.parse_failed_scheduling(msg)
    assert got is not None
    assert (got.available, got.total) == (0, 3)
    assert got.taints == [("sku", "gpu")]
    assert got.selector_mismatch == 2
    assert got.insufficient == []


def test_pre_125_taint_wording_and_node_selector() -> None:
    msg = (
        "0/3 nodes are available: 1 node(s) had taint {sku: gpu}, that the pod didn't tolerate, "
        "2 node(s) didn't match node selector."
    )
    got = sch.parse_failed_scheduling(msg)
    assert got is not None
    assert got.taints == [("sku", "gpu")]
    assert got.selector_mismatch == 2


def test_insufficient_gpu_and_mig_resources() -> None:
    msg = (
        "0/4 nodes are available: 1 Insufficient nvidia.com/mig-1g.10gb, 1 Insufficient "
        "nvidia.com/gpu, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 "
        "nodes are available: 2 No preemption victims found for incoming pod, 2 Preemption is "
        "not helpful for scheduling."
    )
    got = sch.parse_failed_scheduling(msg)
    assert got is not None
    assert got.insufficient == ["nvidia.com/mig-1g.10gb", "nvidia.com/gpu"]


def test_lifecycle_taint_with_empty_value_and_cpu_memory() -> None:
    msg = (
        "0/5 nodes are available: 1 node(s) had untolerated taint "
        "{node.kubernetes.io/unreachable: }, 2 Insufficient cpu, 2 Insufficient memory."
    )
    got = sch.parse_failed_scheduling(msg)
    assert got is not None
    assert got.taints == [("node.kubernetes.io/unreachable", "")]
    assert got.insufficient == ["cpu", "memory"]


@pytest.mark.parametrize(
    ("msg", "insufficient", "reasons"),
    [
        ("pod didn't trigger scale-up: 1 max node group size reached", [], 1),
        (
            "pod didn't trigger scale-up (it wouldn't fit if a new node is added): 1 Insufficient "
            "nvidia.com/gpu",
            ["nvidia.com/gpu"],
            1,
        ),
        (
            "pod didn't trigger scale-up: 1 node(s) had untolerated taint {sku: gpu}, 1 node(s) "
            "didn't match Pod's node affinity/selector",
            [],
            2,
        ),
    ],
)
def test_autoscaler_messages(msg: str, insufficient: list[str], reasons: int) -> None:
    got = sch.parse_failed_scheduling(msg)
    assert got is not None and got.total is None
    assert got.insufficient == insufficient
    assert len(got.reasons) == reasons


def test_other_messages_are_not_parsed() -> None:
    assert sch.parse_failed_scheduling("no nodes available to schedule pods") is None
    assert sch.parse_failed_scheduling("Successfully assigned default/x to aks-node") is None


# ---- taints, tolerations, selectors -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "taint"),
    [
        ("sku=gpu:NoSchedule", {"key": "sku", "value": "gpu", "effect": "NoSchedule"}),
        (
            "CriticalAddonsOnly=true:NoSchedule",
            {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"},
        ),
        ("dedicated:NoExecute", {"key": "dedicated", "effect": "NoExecute"}),
    ],
)
def test_pool_taints(text: str, taint: dict[str, str]) -> None:
    assert sch.parse_pool_taint(text) == taint
    assert sch.taint_str(taint) == text


def _pod(**spec: object) -> dict:
    return {"metadata": {"name": "p", "namespace": "ml"}, "spec": dict(spec)}


def test_blocking_taints_skip_lifecycle_and_tolerated() -> None:
    taints = [
        {"key": "sku", "value": "gpu", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
        {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"},
        {"key": "x", "value": "y", "effect": "PreferNoSchedule"},
    ]
    pod = _pod(
        tolerations=[{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    )
    assert [t["key"] for t in sch.blocking_taints(pod, taints)] == [
        "kubernetes.azure.com/scalesetpriority"
    ]
    assert sch.blocking_taints(_pod(tolerations=[{"operator": "Exists"}]), taints) == []


def test_selector_and_affinity_misses() -> None:
    labels = {"accelerator": "nvidia", "gpu-sku": "a100", "agentpool": "gpua100"}
    assert sch.selector_misses(_pod(nodeSelector={"gpu-sku": "a100"}), labels) == []
    assert sch.selector_misses(_pod(nodeSelector={"gpu-sku": "a100-80gb"}), labels) == [
        "gpu-sku=a100-80gb"
    ]
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "agentpool", "operator": "In", "values": ["gpuh100"]}
                        ]
                    },
                    {
                        "matchExpressions": [
                            {"key": "nvidia.com/mig.strategy", "operator": "Exists"}
                        ]
                    },
                ]
            }
        }
    }
    assert sch.selector_misses(_pod(affinity=affinity), labels) == ["agentpool In (gpuh100)"]
    assert sch.selector_misses(_pod(affinity=affinity), labels | {"agentpool": "gpuh100"}) == []


def test_pool_labels_add_what_aks_puts_on_gpu_nodes() -> None:
    pool = {
        "name": "gpua100",
        "properties": {"vmSize": "Standard_NC24ads_A100_v4", "nodeLabels": {"gpu-sku": "a100"}},
    }
    labels = sch.pool_labels(pool)
    assert labels["kubernetes.azure.com/accelerator"] == "nvidia"
    assert labels["agentpool"] == "gpua100"
    assert labels["gpu-sku"] == "a100"


def test_gpu_intent_needs_an_explicit_gpu_toleration() -> None:
    target = sch.Target(
        "n", {"accelerator": "nvidia"}, ({"key": "sku", "value": "gpu", "effect": "NoSchedule"},)
    )
    explicit = _pod(tolerations=[{"key": "sku", "operator": "Exists"}])
    wildcard = _pod(tolerations=[{"operator": "Exists"}])  # kube-proxy and friends
    assert sch.gpu_intent(explicit, [target], []) == ["tolerates sku=gpu:NoSchedule"]
    assert sch.gpu_intent(wildcard, [target], []) == []


def test_is_vllm_skips_the_kaito_controller_and_cpu_builds() -> None:
    controller = _pod(containers=[{"image": "mcr.microsoft.com/aks/kaito/workspace:0.6.0"}])
    cpu = _pod(containers=[{"image": "vllm-cpu:0.9.0", "args": ["--device", "cpu"]}])
    server = _pod(containers=[{"image": "vllm/vllm-openai:v0.9.0"}])
    assert not sch.is_vllm(controller)
    assert not sch.is_vllm(cpu)
    assert sch.is_vllm(server)


# ---- taint-manager evictions --------------------------------------------------------------


def _eviction_event(message: str, minutes: float, *, new_style: bool = False) -> dict:
    event = {
        "reason": "TaintManagerEviction",
        "message": message,
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "ws-0"},
    }
    if new_style:
        event |= {
            "eventTime": iso(minutes),
            "series": None,
            "firstTimestamp": None,
            "lastTimestamp": None,
        }
    else:
        event["lastTimestamp"] = iso(minutes)
    return event


def test_evictions_read_new_style_events_and_drop_cancelled_and_old() -> None:
    mark = "Marking for deletion Pod default/ws-0"
    assert [
        e.ref for e in sch.taint_evictions([_eviction_event(mark, 5, new_style=True)], [], CTX)
    ] == ["default/ws-0"]
    cancelled = [
        _eviction_event(mark, 5),
        _eviction_event("Cancelling deletion of Pod default/ws-0", 4),
    ]
    assert sch.taint_evictions(cancelled, [], CTX) == []
    assert sch.taint_evictions([_eviction_event(mark, 90)], [], CTX) == []


# ---- served port and inference.config -----------------------------------------------------


@pytest.mark.parametrize(
    ("log", "port"),
    [
        ("INFO:     Uvicorn running on http://0.0.0.0:5000 (Press CTRL+C to quit)\n", 5000),
        (
            "INFO 11-27 07:02:55 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:8000\n",
            8000,
        ),
        (
            "INFO 11-27 07:02:55 [api_server.py:1336] Starting vLLM API server 0 on http://0.0.0.0:8000\n",
            8000,
        ),
        ("INFO 11-27 07:01:02 inference_api.py:262] Starting server on port 5000\n", 5000),
        ("INFO:     Started server process [1]\n", None),
    ],
)
def test_listen_port(log: str, port: int | None) -> None:
    assert srv.listen_port(log) == port


@pytest.mark.parametrize(
    ("container", "port"),
    [
        ({"args": ["--model=x", "--port=5000"]}, 5000),
        ({"args": ["--model", "x", "--port", "8001"]}, 8001),
        ({"command": ["sh", "-c", "vllm serve x --port 8080 --tensor-parallel-size 2"]}, 8080),
        ({"args": ["--model=x"]}, None),
    ],
)
def test_arg_port(container: dict, port: int | None) -> None:
    assert srv.arg_port(container) == port


def test_named_probe_port_resolves_or_stays_a_name() -> None:
    container = {"ports": [{"name": "http", "containerPort": 5000}]}
    assert srv.resolve_port("http", container) == 5000
    assert srv.resolve_port("metrics", container) == "metrics"
    assert srv.resolve_port(8000, container) == 8000


def test_config_problems() -> None:
    good = (
        "max_probe_steps: 6\nvllm:\n  max_model_len: 8192\n  gpu-memory-utilization: 0.9\n"
        "  enable-chunked-prefill: true\n  some-new-flag: 1\n"
    )
    assert srv.config_problems(good) == []
    typo = srv.config_problems("vllm:\n  max-model-lenn: 4096\n")
    assert typo == [
        "vllm.max-model-lenn: 4096 is not a vLLM argument (did you mean max-model-len?)"
    ]
    bad_value = srv.config_problems(
        "vllm:\n  gpu-memory-utilization: 1.5\n  tensor-parallel-size: 0\n"
    )
    assert [p.split(":")[0] for p in bad_value] == [
        "vllm.gpu-memory-utilization",
        "vllm.tensor-parallel-size",
    ]
    assert "not valid YAML at line 3" in srv.config_problems("vllm:\n  a: 1\n b: 2\n")[0]
    assert "no `vllm:` mapping" in srv.config_problems("vLLM:\n  max-model-len: 4096\n")[0]


def test_config_errors_in_server_logs() -> None:
    log = (
        "usage: inference_api.py [-h] [--host HOST] [--port PORT]\n"
        "inference_api.py: error: unrecognized arguments: --max-model-lenn 4096\n"
        "api_server.py: error: argument --max-model-len: invalid int value: '4kk'\n"
        "ValueError: GPU memory utilization must be less than 1.0. Got 1.5.\n"
        "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens "
        "that can be stored in KV cache (62512).\n"
        "yaml.scanner.ScannerError: mapping values are not allowed here\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n"
    )
    got = srv.config_errors(log)
    assert got[0] == "inference_api.py: error: unrecognized arguments: --max-model-lenn 4096"
    assert any("invalid int value" in g for g in got)
    assert any(g.startswith("ValueError: GPU memory utilization") for g in got)
    assert not any("KV cache" in g for g in got)  # a sizing error is rows 5/6, not a bad config
    assert not any("CUDA out of memory" in g for g in got)
    assert any("ScannerError" in g for g in got)


# ---- playbooks over their scenarios -------------------------------------------------------


def test_playbook_tests_pass() -> None:
    catalog = load_catalog()
    files = [ROOT / "playbooks" / f"{pid}.test.yaml" for pid in MINE]
    report = run_paths(files, catalog=catalog)
    assert not [r for r in report.results if r.failures], report.text()
    assert not report.errors, report.errors


@pytest.mark.parametrize(
    "scenario",
    sorted(
        str(p.parent.relative_to(ROOT / "scenarios"))
        for pid in MINE
        for p in (ROOT / "scenarios" / pid).glob("*/expect.yaml")
    ),
)
def test_scenarios_give_their_expected_verdicts(scenario: str) -> None:
    catalog = load_catalog()
    source = SnapshotSource(ROOT / "scenarios" / scenario)
    expected = set(
        yaml.safe_load((ROOT / "scenarios" / scenario / "expect.yaml").read_text())["confirmed"]
    )
    ctx = CheckContext(now=source.now(), cluster=source.cluster.as_dict())
    cache = EvidenceCache(source)
    for pid in MINE:
        finding = run_playbook(catalog.playbooks[pid], cache, ctx)
        assert (finding.verdict == Verdict.CONFIRMED) == (pid in expected), (pid, finding.summary)
