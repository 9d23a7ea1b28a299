"""Morning readiness: the rungs' parsers, the scenarios' verdicts, alert routes, the report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.checks import _readiness as rd
from bot.checks.readiness import _idle_by_node, gpu_demand
from bot.engine.loader import load_catalog
from bot.engine.runner import diagnose
from bot.model.playbook import RunbookSpec
from bot.model.verdicts import Verdict
from bot.render import morning
from bot.slack.alerts import Alert, is_probably_alert, route
from bot.sources.snapshot import SnapshotSource
from tests.scenarios.builder import base, catalog
from tests.scenarios.builder import readiness as scenarios

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "scenarios"


@pytest.fixture(scope="module")
def cat() -> Any:
    return load_catalog()


# ---- device-plugin logs ----------------------------------------------------------------------


def test_no_driver_log_names_the_first_reason_and_what_it_means() -> None:
    assert rd.plugin_log_problem(scenarios.NO_DRIVER_LOG) == (
        "'Incompatible strategy detected auto' (no NVIDIA driver or container toolkit on the node)"
    )


def test_kubelet_socket_log_keeps_the_socket_path() -> None:
    problem = rd.plugin_log_problem(scenarios.KUBELET_SOCK_LOG)
    assert problem is not None
    assert problem.startswith("'Could not register device plugin: rpc error")
    assert "kubelet.sock: connect: no such file or directory" in problem
    assert problem.endswith("(lost its registration with the kubelet)")


def test_nvml_failure_is_a_driver_mismatch() -> None:
    log = (
        "I1127 07:01:02.000001       1 main.go:356] Retrieving plugins.\n"
        "E1127 07:01:02.000301       1 main.go:177] Failed to initialize NVML: "
        "Driver/library version mismatch\n"
    )
    assert rd.plugin_log_problem(log) == (
        "'Failed to initialize NVML: Driver/library version mismatch' "
        "(driver and library do not match)"
    )


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        base.healthy().logs[
            "gpu-resources/nvidia-device-plugin-daemonset-x7k2p/nvidia-device-plugin-ctr"
        ],
    ],
)
def test_healthy_or_missing_plugin_log_says_nothing(text: str | None) -> None:
    assert rd.plugin_log_problem(text) is None


# ---- node names, probes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "pool"),
    [
        ("aks-gpua100-12345678-vmss000000", "gpua100"),
        ("aks-ws8b21c0e4a-45678901-vmss000000", "ws8b21c0e4a"),
        ("aks-nodepool1-31718369-vmss00000a", "nodepool1"),
        ("aks-gpua100-12345678-0", None),  # availability-set node: no VMSS suffix
        ("gke-ml-gpu-pool-1a2b3c4d-xyz1", None),
        ("", None),
    ],
)
def test_pool_from_aks_node_name(node: str, pool: str | None) -> None:
    assert rd.pool_from_node_name(node) == pool


@pytest.mark.parametrize(
    ("body", "models"),
    [
        (
            '{"object":"list","data":[{"id":"llama-3.1-8b-instruct","object":"model"}]}',
            ["llama-3.1-8b-instruct"],
        ),
        (
            {"object": "list", "data": [{"id": "phi-4"}, {"id": "phi-4-lora"}]},
            ["phi-4", "phi-4-lora"],
        ),
        ('{"object":"list","data":[]}', []),
        ("<html>502 Bad Gateway</html>", []),
        (None, []),
        ('["not", "an", "object"]', []),
    ],
)
def test_model_ids_in_a_models_body(body: Any, models: list[str]) -> None:
    assert rd.probe_models(body) == models


def test_probe_error_reads_the_api_server_status_message() -> None:
    probe = scenarios._no_endpoints("workspace-phi-4")
    assert rd.probe_error(probe) == 'no endpoints available for service "workspace-phi-4"'
    assert rd.probe_error({"error": "context deadline exceeded"}) == "context deadline exceeded"
    assert rd.probe_error({"body": "upstream connect error"}) == "upstream connect error"
    assert rd.probe_error({}) == ""


# ---- pre-warm --------------------------------------------------------------------------------

WS = "workspace-llama-3-1-8b"


def _cronjob(
    command: list[str], args: list[str] | None = None, *, suspend: bool = False
) -> dict[str, Any]:
    cj = base.cronjob("prewarm", "default", schedule="45 7 * * 1-5", command=command)
    if args:
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] = args
    cj["spec"]["suspend"] = suspend
    return cj


@pytest.mark.parametrize(
    ("command", "args", "suspend", "expected"),
    [
        (
            ["kubectl", "scale", f"statefulset/{WS}", "--replicas=1", "-n", "default"],
            None,
            False,
            True,
        ),
        (
            ["kubectl", "-n", "default", "scale", f"deploy/{WS}", "--replicas", "2"],
            None,
            False,
            True,
        ),
        (["/bin/sh", "-c"], [f"kubectl scale statefulset {WS} --replicas=1"], False, True),
        (["kubectl", "scale", f"statefulset/{WS}", "--replicas=0"], None, False, False),
        (["kubectl", "scale", f"statefulset/{WS}", "--replicas=1"], None, True, False),
        (["kubectl", "scale", f"statefulset/{WS}-canary", "--replicas=1"], None, False, False),
        (
            ["kubectl", "patch", f"statefulset/{WS}", "-p", '{"spec":{"replicas":1}}'],
            None,
            False,
            False,
        ),
        (["kubectl", "scale", "--replicas=1", f"workspace/{WS}"], None, False, True),
    ],
)
def test_cronjob_scales_the_workload_up(
    command: list[str], args: list[str] | None, suspend: bool, expected: bool
) -> None:
    assert rd.scales_up(_cronjob(command, args, suspend=suspend), WS) is expected


@pytest.mark.parametrize(
    ("cronjob_ns", "command", "expected"),
    [
        ("default", ["kubectl", "scale", f"statefulset/{WS}", "--replicas=1"], True),
        ("ops", ["kubectl", "-n", "default", "scale", f"statefulset/{WS}", "--replicas=1"], True),
        (
            "ops",
            ["kubectl", "scale", f"statefulset/{WS}", "--namespace=default", "--replicas=1"],
            True,
        ),
        ("ops", ["kubectl", "scale", f"statefulset/{WS}", "--replicas=1"], False),  # scales ops/...
        (
            "ops",
            ["kubectl", "-n", "default-canary", "scale", f"statefulset/{WS}", "--replicas=1"],
            False,
        ),
    ],
)
def test_a_cronjob_elsewhere_counts_when_it_names_the_namespace(
    cronjob_ns: str, command: list[str], expected: bool
) -> None:
    cj = base.cronjob("wake", cronjob_ns, schedule="45 7 * * 1-5", command=command)
    assert rd.scales_up(cj, WS, "default") is expected


def _pool(labels: dict[str, str], name: str = "gpua100") -> dict[str, Any]:
    return base.agent_pool(name, vm=base.GPU_SKU, count=1, min_count=0, max_count=4, labels=labels)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"apps": "llama-3-1-8b"}, True),
        ({"apps": "llama-3-1-8b", "gpu-sku": "a100"}, True),
        ({"apps": "phi-4"}, False),
        ({"kubernetes.azure.com/agentpool": "gpua100"}, True),
        ({"node.kubernetes.io/instance-type": base.GPU_SKU}, True),
        ({}, False),  # selects nothing in particular: proves nothing about this pool
    ],
)
def test_pool_hosts_a_workload_by_its_node_labels(selector: dict[str, str], expected: bool) -> None:
    pool = _pool({"accelerator": "nvidia", "gpu-sku": "a100", "apps": "llama-3-1-8b"})
    assert rd.pool_hosts(pool, rd.Workload("default", WS, "statefulset", selector)) is expected


def test_inference_workloads_take_the_kind_that_runs_each_workspace() -> None:
    c = base.healthy()
    tuning = base.workspace("workspace-tuning", config=None)
    tuning.pop("inference")
    tuning["tuning"] = {"method": "qlora"}
    cpu_only = {
        "metadata": {"name": "api", "namespace": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "api"}]}}},
    }
    out = rd.inference_workloads(c.k8s["workspaces"] + [tuning], c.k8s["statefulsets"], [cpu_only])
    assert out == [rd.Workload("default", WS, "statefulset", {"apps": "llama-3-1-8b"}, WS)]
    assert rd.inference_workloads(c.k8s["workspaces"], [], [])[0].ref == f"workspace/{WS}"


def test_inference_workloads_know_the_inferenceset_and_other_controllers() -> None:
    c = base.healthy()
    ws = c.k8s["workspaces"][0]
    ws["metadata"]["labels"] = {"inferenceset.kaito.sh/created-by": "llama"}
    operated = {
        "metadata": {
            "name": "vllm",
            "namespace": "ml",
            "ownerReferences": [{"kind": "LLMService", "name": "chat", "controller": True}],
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "vllm", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
                    ]
                }
            }
        },
    }
    kaito, other = rd.inference_workloads(c.k8s["workspaces"], c.k8s["statefulsets"], [operated])
    assert (kaito.workspace, kaito.inferenceset, kaito.controller) == (WS, "llama", None)
    assert (other.workspace, other.inferenceset, other.controller) == (
        None,
        None,
        "LLMService chat",
    )


def test_daemonset_kinds() -> None:
    c = base.healthy()
    plugin = c.k8s["daemonsets"][1]
    operator_plugin = base.daemonset(
        "nvidia-device-plugin-daemonset",
        "gpu-operator",
        desired=1,
        ready=1,
        image="nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
        labels={"app": "nvidia-device-plugin-daemonset"},
        tolerations=[],
    )
    mps = base.daemonset(
        "nvidia-device-plugin-mps-control-daemon",
        "gpu-operator",
        desired=0,
        ready=0,
        image="nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
        labels={"app": "nvidia-device-plugin-mps-control-daemon"},
        tolerations=[],
    )
    driver = base.daemonset(
        "nvidia-driver-daemonset",
        "gpu-operator",
        desired=1,
        ready=0,
        image="nvcr.io/nvidia/driver:570.124.06",
        labels={"app": "nvidia-driver-daemonset"},
        tolerations=[],
    )
    assert [rd.is_plugin_daemonset(d) for d in (plugin, operator_plugin, mps, driver)] == [
        True,
        True,
        False,
        False,
    ]
    assert [rd.is_driver_daemonset(d) for d in (plugin, driver)] == [False, True]
    assert rd.ds_counts(driver) == (1, 0)


# ---- quota demand, idle rows -----------------------------------------------------------------


def test_gpu_demand_counts_gpu_pools_that_can_have_nodes_and_workspaces() -> None:
    c = base.healthy()
    pools = c.azure["agent-pools"]
    pools["value"].append(
        base.agent_pool(
            "gpuold", vm="Standard_NC4as_T4_v3", count=0, min_count=None, max_count=None
        )
    )
    pools["value"].append(
        base.agent_pool("gpuspot", vm=base.GPU_SKU, count=0, min_count=0, max_count=3, spot=True)
    )
    demand = gpu_demand(pools, c.k8s["workspaces"])
    assert demand == [
        (base.GPU_SKU, False, "pool gpua100"),
        (base.GPU_SKU, True, "pool gpuspot"),
        (base.GPU_SKU, False, f"workspace default/{WS}"),
    ]


def test_idle_rows_sum_per_node_and_keep_the_first_known_sku() -> None:
    rows = [
        {"Computer": "aks-gpubatch-23456789-vmss000000", "InstanceType": "", "IdleHours": 3},
        {
            "Computer": "aks-gpubatch-23456789-vmss000000",
            "InstanceType": "Standard_NC48ads_A100_v4",
            "IdleHours": "11",
        },
        {"Computer": "", "InstanceType": "Standard_NC48ads_A100_v4", "IdleHours": 5},
    ]
    assert _idle_by_node(rows) == {
        "aks-gpubatch-23456789-vmss000000": ("Standard_NC48ads_A100_v4", 14.0)
    }


# ---- scenarios -------------------------------------------------------------------------------


def _mine() -> list[base.Scenario]:
    return [s for s in catalog.load().values() if s.build.__module__ == scenarios.__name__]


@pytest.mark.parametrize("scenario", _mine(), ids=lambda s: s.path)
def test_scenario_fails_exactly_its_declared_rungs(scenario: base.Scenario, cat: Any) -> None:
    runbook = cat.runbook("morning-readiness")
    got = diagnose(
        cat.select(runbook.playbooks), SnapshotSource(SCENARIOS / scenario.path), workers=1
    )
    failing = {f.playbook for f in got.findings if f.verdict == Verdict.CONFIRMED}
    unknown = {f.playbook for f in got.findings if f.verdict == Verdict.INCONCLUSIVE}
    assert failing == set(scenarios.READINESS[scenario.path])
    assert unknown == set()  # every scenario ships the evidence each rung needs


@pytest.mark.parametrize("scenario", _mine(), ids=lambda s: s.path)
def test_scenario_confirms_exactly_its_declared_rows(scenario: base.Scenario, cat: Any) -> None:
    """Of the triage rows merged so far, exactly the declared ones confirm."""
    triage = cat.runbook("triage").playbooks
    got = diagnose(cat.select(triage), SnapshotSource(SCENARIOS / scenario.path), workers=1)
    confirmed = {f.playbook for f in got.findings if f.verdict == Verdict.CONFIRMED}
    assert confirmed == set(scenario.confirmed) & set(triage)


@pytest.mark.parametrize("scenario", _mine(), ids=lambda s: s.path)
def test_committed_scenario_matches_its_builder(scenario: base.Scenario) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        catalog.write(scenario, Path(tmp))
        assert (
            catalog._diff(Path(tmp) / scenario.path, SCENARIOS / scenario.path, scenario.path) == []
        )


# ---- alert routes ----------------------------------------------------------------------------


def _full_routes() -> RunbookSpec:
    return RunbookSpec.model_validate(
        yaml.safe_load((ROOT / "runbooks" / "alert-routes.yaml").read_text())
    )


ROWS = [
    "quota-exhausted",
    "sku-unavailable",
    "no-cuda-device",
    "driver-conflict",
    "oom-at-load",
    "oom-under-load",
    "pod-pending",
    "inference-crashloop",
    "scale-down-blocked",
    "cold-start",
    "kv-cache-bound",
    "time-slicing-oom",
    "spot-eviction",
    "slow-image-pull",
]


def _routed(
    name: str = "",
    labels: dict[str, str] | None = None,
    text: str = "",
    source: str = "alertmanager",
) -> list[str]:
    """What the Slack/webhook router runs for this alert under the full routes."""
    alert = Alert(source, name, "firing", {"alertname": name, **(labels or {})}, text)
    return route(alert, _full_routes())


@pytest.mark.parametrize(
    ("name", "labels", "first", "absent"),
    [
        (
            "KubePodCrashLooping",
            {"namespace": "gpu-resources", "pod": "nvidia-device-plugin-daemonset-x7k2p"},
            ["device-plugin-unhealthy", "gpu-not-advertised", "no-cuda-device", "driver-conflict"],
            [],
        ),
        (
            "KubePodCrashLooping",
            {"namespace": "default", "pod": "workspace-phi-4-0"},
            ["inference-crashloop", "oom-at-load"],
            ["device-plugin-unhealthy"],
        ),
        (
            "KubeDaemonSetRolloutStuck",
            {"daemonset": "nvidia-device-plugin-daemonset"},
            ["device-plugin-unhealthy"],
            [],
        ),
        ("GPUMissing", {"node": "aks-gpua100-12345678-vmss000000"}, ["gpu-not-advertised"], []),
        (
            "DCGM_FI_DEV_XID_ERRORS",
            {"gpu": "0", "err_code": "79"},
            ["no-cuda-device", "driver-conflict", "gpu-not-advertised"],
            ["quota-exhausted"],
        ),
        ("DCGM_FI_DEV_FB_USED", {}, ["oom-under-load", "kv-cache-bound"], []),
        (
            "KaitoWorkspaceNotReady",
            {"namespace": "default", "workspace": "workspace-phi-3"},
            ["quota-exhausted", "sku-unavailable"],
            [],
        ),
        ("KubeNodeNotReady", {"node": "aks-gpua100-12345678-vmss000000"}, ["driver-conflict"], []),
        ("KubeStatefulSetReplicasMismatch", {"statefulset": WS}, ["pod-pending"], []),
        ("vLLMKVCacheUsageHigh", {}, ["kv-cache-bound", "oom-under-load"], []),
    ],
)
def test_alerts_route_to_the_rows_that_can_confirm_them(
    name: str, labels: dict[str, str], first: list[str], absent: list[str]
) -> None:
    ids = _routed(name, labels)
    assert ids[: len(first)] == first
    assert not set(absent) & set(ids)
    assert ids != ROWS  # matched, not the fallback


def test_kaito_alert_adds_the_workspace_rung_and_the_annotation_text() -> None:
    ids = _routed(
        "KaitoWorkspaceNotReady", {"workspace": "workspace-phi-3"}, "ResourceReady False for 10m"
    )
    assert "workspace-not-ready" in ids and "driver-conflict" in ids


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("KubeQuotaExceeded", "alertmanager"),
        ("KubeDaemonSetRolloutStuck", "alertmanager"),
        ("Disk space low on build agents", "azure-monitor"),
    ],
)
def test_unrelated_alerts_run_the_full_triage(name: str, source: str) -> None:
    labels = {"daemonset": "kube-proxy"} if "DaemonSet" in name else {"namespace": "ml"}
    assert _routed(name, labels, source=source) == ROWS


def test_azure_monitor_quota_rule() -> None:
    ids = _routed(
        "GPU quota usage above 90 percent",
        source="azure-monitor",
        text="GPU quota usage above 90 percent\nstandardNCADSA100v4Family in eastus2",
    )
    assert ids == ["quota-exhausted", "quota-no-headroom"]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("RuntimeError: CUDA error: no CUDA-capable device is detected", "no-cuda-device"),
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "oom-at-load"),
        (
            'Back-off pulling image "mlmodels.azurecr.io/llama:1": ImagePullBackOff',
            "slow-image-pull",
        ),
        (
            "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, "
            "2 node(s) had untolerated taint",
            "pod-pending",
        ),
        (
            "Operation could not be completed as it results in exceeding approved "
            "standardNCADSA100v4Family Cores quota",
            "quota-exhausted",
        ),
        ("our first request every morning is slow again", "cold-start"),
        (
            '/v1/models returns 503: no endpoints available for service "workspace-phi-4"',
            "endpoint-not-answering",
        ),
    ],
)
def test_plain_text_posts_route_on_error_signatures(text: str, first: str) -> None:
    alert = Alert("text", "", "firing", {}, text)
    assert is_probably_alert(alert, _full_routes())
    assert _routed(text=text, source="text")[0] == first


@pytest.mark.parametrize(
    "text",
    [
        "good morning team",
        "should we try time-slicing on the dev pool?",
        "the KV cache talk was great",
        "is anyone looking at spot pricing?",
    ],
)
def test_everyday_chatter_is_not_an_alert(text: str) -> None:
    assert not is_probably_alert(Alert("text", "", "firing", {}, text), _full_routes())


def test_every_routed_playbook_is_loaded(cat: Any) -> None:
    assert set(cat.runbook("alert-routes").all_playbook_ids()) <= set(cat.playbooks)


def test_full_routes_name_only_known_rows_and_readiness_ids() -> None:
    full = _full_routes()
    assert full.fallback == ROWS  # the full triage, in the seed's row order
    assert set(full.all_playbook_ids()) <= set(ROWS) | set(morning.LADDER)


# ---- the morning report ----------------------------------------------------------------------


def _morning(cat: Any, scenario: str) -> Any:
    runbook = cat.runbook("morning-readiness")
    return diagnose(
        cat.select(runbook.playbooks), SnapshotSource(SCENARIOS / scenario), runbook=runbook.id
    )


def test_runbook_ladder_order_and_rungs_match_the_renderer(cat: Any) -> None:
    runbook = cat.runbook("morning-readiness")
    assert tuple(runbook.playbooks) == morning.LADDER
    assert {p: cat.playbooks[p].spec.rung for p in runbook.playbooks} == morning.RUNGS
    assert all(cat.playbooks[p].spec.kind == "readiness" for p in runbook.playbooks)
    assert runbook.schedule is not None and runbook.schedule.timezone == "Asia/Kolkata"


def test_all_ready_morning(cat: Any) -> None:
    text = morning.render(_morning(cat, "morning/all-ready"), order=list(morning.LADDER))
    lines = text.splitlines()
    assert lines[0] == "GPU readiness · aks-inference · eastus2 · 2026-11-27 07:40 UTC"
    assert lines[1] == "Ready: all 7 rungs pass"
    rung_lines = [line for line in lines if line and line[0] in "✅❌❔"]
    assert [line.split(" · ")[0] for line in rung_lines] == [
        f"✅ {morning.RUNGS[p]}" for p in morning.LADDER
    ]
    assert (
        "✅ endpoint /v1/models answering · default/workspace-llama-3-1-8b /v1/models: 200 in 84 ms"
        in text
    )
    assert (
        "   ✅ gpua100: statefulset/workspace-llama-3-1-8b (default) warmed by prewarm-llama "
        "'45 7 * * 1-5' (Asia/Kolkata)" in text
    )
    assert "→" not in text


def test_not_ready_morning(cat: Any) -> None:
    text = morning.render(_morning(cat, "morning/not-ready"), order=list(morning.LADDER))
    assert "Needs attention: 7 of 7 rungs fail" in text
    assert (
        "❌ GPU advertised on GPU nodes · GPU not advertised on 1/3 GPU nodes: "
        "aks-gpubatch-23456789-vmss000000" in text
    )
    assert '503 in 4 ms: no endpoints available for service "workspace-phi-4"' in text
    assert (
        "   ❌ standardNCADSA100v4Family 96/96 vCPUs: room for 0 more Standard_NC48ads_A100_v4"
        in text
    )
    assert (
        "   → Request a GPU family quota increase "
        "(family=standardNCADSA100v4Family, location=eastus2, new_limit=192)" in text
    )
    assert "   ❌ gpua100: statefulset/workspace-llama-3-1-8b (default) has no pre-warm" in text
    assert "❌ idle GPU node-hours yesterday · 14 node-hours in the last 24 h ≈ ₹8,540" in text
    assert (
        "   aks-gpubatch-23456789-vmss000000 (Standard_NC48ads_A100_v4, pool gpubatch): "
        "14 h ≈ ₹8,540" in text
    )
    assert (
        "   → Change the GPU pool's autoscaler minimum (pool=gpubatch, min_count=0, max_count=2)"
        in text
    )


def test_unknown_rungs_say_what_could_not_be_read(cat: Any) -> None:
    text = morning.render(_morning(cat, "partial"))
    assert "Not sure: 3 of 7 rungs could not be checked" in text
    assert "❔ idle GPU node-hours yesterday · loganalytics/gpu-node-hours unavailable" in text


def test_order_is_the_callers_and_unlisted_findings_come_last(cat: Any) -> None:
    d = _morning(cat, "morning/all-ready")
    text = morning.render(d, order=["idle-gpu-spend", "gpu-not-advertised"])
    marks = [line for line in text.splitlines() if line.startswith("✅")]
    assert marks[0].startswith("✅ idle GPU node-hours yesterday")
    assert marks[1].startswith("✅ GPU advertised on GPU nodes")
    assert len(marks) == 7


def test_color_paints_only_the_marks(cat: Any) -> None:
    text = morning.render(_morning(cat, "morning/not-ready"), color=True)
    assert "\033[31m❌\033[0m GPU advertised on GPU nodes" in text
    assert "\033[32m✅\033[0m Total Regional vCPUs" in text
    plain = morning.render(_morning(cat, "morning/not-ready"))
    assert "\033[" not in plain


def test_readiness_playbook_test_files_pass(cat: Any) -> None:
    from bot.testing.runner import run_paths

    files = [ROOT / "tests" / "playbooks" / f"{p}.test.yaml" for p in morning.LADDER]
    report = run_paths(files, catalog=cat)
    assert report.ok, report.text()
    assert len(report.results) >= 7 * 5
