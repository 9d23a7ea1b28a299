"""Pure logic of rows 2-4: log timestamps and patterns, instance bounds, plugin state, driver
sources, flap counting and SKU restrictions, over inputs shaped like the real ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.checks import _drivers_logs as driver_logs
from bot.checks import _drivers_nodes as driver_nodes
from bot.checks import drivers, skus
from bot.model.context import CheckContext
from bot.model.evidence import Answer, Question

NOW = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)
NODE = "aks-gpua100-12345678-vmss000000"


def _t(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _answer(kind: str, data, params=None) -> Answer:
    return Answer(Question.of(kind, params or {}), data)


# ---- log lines -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "RuntimeError: CUDA error: no CUDA-capable device is detected",
        "torch.cuda.DeferredCudaCallError: CUDA call failed lazily at initialization with error: "
        "CUDA error: no CUDA-capable device is detected",
        "RuntimeError: Failed to initialize NVML: Driver/library version mismatch",
        "NVMLError_LibraryNotFound: NVML Shared Library Not Found; Failed to initialize NVML",
        "RuntimeError: No CUDA GPUs are available",
        "RuntimeError: Found no NVIDIA driver on your system. Please check that you have a GPU",
        "RuntimeError: CUDA driver initialization failed, you might not have a CUDA gpu.",
    ],
)
def test_no_device_family_matches(line: str) -> None:
    assert driver_logs.matches_no_device(line)


@pytest.mark.parametrize(
    "line",
    [
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        "INFO 11-27 07:37:12 [__init__.py:239] Automatically detected platform cuda.",
        "NVML library version: 550.127",
    ],
)
def test_other_gpu_lines_do_not_match(line: str) -> None:
    assert not driver_logs.matches_no_device(line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "2026-11-27T07:31:02.123456789Z RuntimeError: x",
            datetime(2026, 11, 27, 7, 31, 2, tzinfo=UTC),
        ),
        ("2026-11-27T09:01:02+01:30 x", datetime(2026, 11, 27, 7, 31, 2, tzinfo=UTC)),
        ("2026-11-27 07:31:02,881 - ERROR - boom", datetime(2026, 11, 27, 7, 31, 2, tzinfo=UTC)),
        (
            "ERROR 11-27 07:37:21 [core.py:515] EngineCore failed to start.",
            datetime(2026, 11, 27, 7, 37, 21, tzinfo=UTC),
        ),
        (
            "(EngineCore_0 pid=211) ERROR 11-27 07:37:21 [core.py:515] x",
            datetime(2026, 11, 27, 7, 37, 21, tzinfo=UTC),
        ),
        (
            "E1127 07:33:58.109871       1 factory.go:112] Failed to initialize NVML",
            datetime(2026, 11, 27, 7, 33, 58, tzinfo=UTC),
        ),
        ("RuntimeError: CUDA error: no CUDA-capable device is detected", None),
        ('INFO:     10.244.0.12:51234 - "GET /v1/models HTTP/1.1" 200 OK', None),
    ],
)
def test_line_time_reads_the_formats_pods_print(line: str, expected) -> None:
    assert driver_logs.line_time(line, NOW) == expected


def test_yearless_stamps_after_now_belong_to_last_year() -> None:
    new_year = datetime(2027, 1, 1, 0, 10, tzinfo=UTC)
    assert driver_logs.line_time("ERROR 12-31 23:58:00 [core.py:1] x", new_year) == datetime(
        2026, 12, 31, 23, 58, tzinfo=UTC
    )
    assert driver_logs.line_time("E0230 01:00:00.0 1 x.go:1] impossible date", NOW) is None


TRACEBACK = (
    "INFO 11-27 07:37:12 [__init__.py:239] Automatically detected platform cuda.\n"
    "ERROR 11-27 07:37:21 [core.py:515] EngineCore failed to start.\n"
    "ERROR 11-27 07:37:21 [core.py:515] Traceback (most recent call last):\n"
    '  File "/usr/local/lib/python3.12/dist-packages/torch/cuda/__init__.py", line 399\n'
    "RuntimeError: CUDA error: no CUDA-capable device is detected\n"
)


def test_a_traceback_line_takes_the_stamps_around_it() -> None:
    [hit] = driver_logs.scan(TRACEBACK, NOW, end=NOW - timedelta(minutes=2))
    assert hit.line == "RuntimeError: CUDA error: no CUDA-capable device is detected"
    assert hit.earliest == datetime(2026, 11, 27, 7, 37, 21, tzinfo=UTC)
    assert hit.latest == NOW - timedelta(minutes=2)  # no stamp after it: the instance's end
    assert hit.age(NOW - timedelta(hours=1)) == "recent"


def test_an_unstamped_log_is_bounded_by_its_instance() -> None:
    text = "RuntimeError: No CUDA GPUs are available\n"
    old = driver_logs.scan(text, NOW, NOW - timedelta(hours=3), NOW - timedelta(hours=2))[0]
    assert old.age(NOW - timedelta(hours=1)) == "old"
    unknown = driver_logs.scan(text, NOW, NOW - timedelta(days=3), NOW)[0]
    assert unknown.age(NOW - timedelta(hours=1)) == "unknown"
    assert unknown.when(NOW) == "between 11-24 07:40Z and 11-27 07:40Z"
    assert driver_logs.scan(text, NOW)[0].when(NOW) == "time not in the log"
    assert driver_logs.scan(text, NOW, end=NOW - timedelta(minutes=8))[0].when(NOW) == (
        "before 07:32:00Z, 8 min ago"
    )


def _vllm_pod(state: dict, last: dict | None = None) -> dict:
    status = {"name": "ws", "restartCount": 3, "state": state}
    if last is not None:
        status["lastState"] = {"terminated": last}
    return {
        "metadata": {"name": "ws-0", "namespace": "default"},
        "status": {"containerStatuses": [status]},
    }


def test_instance_bounds_follow_container_statuses() -> None:
    last = {"exitCode": 1, "reason": "Error", "startedAt": _t(9), "finishedAt": _t(8)}
    running = _vllm_pod({"running": {"startedAt": _t(5)}}, last)
    assert driver_logs.instance_bounds(running, "ws", False, NOW) == (
        NOW - timedelta(minutes=5),
        NOW,
    )
    assert driver_logs.instance_bounds(running, "ws", True, NOW) == (
        NOW - timedelta(minutes=9),
        NOW - timedelta(minutes=8),
    )
    waiting = _vllm_pod({"waiting": {"reason": "CrashLoopBackOff"}}, last)
    # Which dead instance is "previous" while waiting varies: only the end bound is safe.
    assert driver_logs.instance_bounds(waiting, "ws", True, NOW) == (
        None,
        NOW - timedelta(minutes=8),
    )
    assert driver_logs.instance_bounds(None, "ws", True, NOW) == (None, None)
    assert driver_logs.instance_bounds(None, "ws", False, NOW) == (None, NOW)


# ---- device plugin ---------------------------------------------------------------------------


def _plugin(labels: dict, name: str = "nvidia-device-plugin-daemonset-x7k2p", **status) -> dict:
    base = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "ctr", "restartCount": 0, "state": {"running": {}}}],
    }
    base.update(status)
    return {
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
        "spec": {"nodeName": NODE},
        "status": base,
    }


def test_device_plugin_is_found_by_name_or_either_label() -> None:
    assert driver_nodes.is_device_plugin(_plugin({}))
    assert driver_nodes.is_device_plugin(
        _plugin({"name": "nvidia-device-plugin-ds"}, name="gpu-plugin-abc")
    )
    assert driver_nodes.is_device_plugin(
        _plugin({"app": "nvidia-device-plugin-daemonset"}, name="plugin-abc")
    )
    assert not driver_nodes.is_device_plugin(
        _plugin({"app": "nvidia-dcgm-exporter"}, name="nvidia-dcgm-exporter-abc")
    )


def test_plugin_trouble_names_crashloop_with_last_exit() -> None:
    pod = _plugin(
        {},
        containerStatuses=[
            {
                "name": "ctr",
                "restartCount": 9,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {
                    "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": _t(6)}
                },
            }
        ],
    )
    assert driver_nodes.plugin_trouble(pod, NOW) == (
        "CrashLoopBackOff, 9 restarts, last exit 1 (Error) 6 min ago"
    )
    not_ready = _plugin(
        {}, conditions=[{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
    )
    assert (
        driver_nodes.plugin_trouble(not_ready, NOW) == "Running but not Ready (ContainersNotReady)"
    )
    assert driver_nodes.plugin_trouble(_plugin({}, phase="Pending"), NOW) == "phase Pending"
    assert driver_nodes.plugin_trouble(_plugin({}), NOW) is None


def _node(
    allocatable: str | None,
    *,
    sku: str = "Standard_NC24ads_A100_v4",
    labels=None,
    taints=None,
    age_min: float = 600,
) -> dict:
    alloc = {"cpu": "23660m"}
    if allocatable is not None:
        alloc["nvidia.com/gpu"] = allocatable
    return {
        "metadata": {
            "name": NODE,
            "creationTimestamp": _t(age_min),
            "labels": {
                "node.kubernetes.io/instance-type": sku,
                "agentpool": "gpua100",
                "kubernetes.azure.com/accelerator": "nvidia",
                **(labels or {}),
            },
        },
        "spec": {"taints": taints or []},
        "status": {
            "allocatable": alloc,
            "capacity": {"nvidia.com/gpu": "1"},
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": _t(4000)}],
        },
    }


def _ctx() -> CheckContext:
    return CheckContext(now=NOW, cluster={"location": "eastus2"})


def test_gpu_node_with_nothing_advertised_is_a_dead_plugin_even_without_a_pod() -> None:
    ev = {
        "nodes": _answer("kubernetes.list", [_node("0")], {"resource": "nodes"}),
        "gpu_pods": _answer("kubernetes.pods_on_gpu_nodes", []),
    }
    result = drivers.device_plugin_down(ev, None, _ctx())
    assert result.verdict == "confirmed"
    assert (
        "advertises no nvidia.com/gpu in allocatable (capacity 1); no device-plugin pod"
        in result.lines[0]
    )
    assert result.facts["restart"] == []


def test_missing_plugin_pod_while_gpus_are_advertised_is_not_a_cause() -> None:
    ev = {
        "nodes": _answer("kubernetes.list", [_node("1")], {"resource": "nodes"}),
        "gpu_pods": _answer("kubernetes.pods_on_gpu_nodes", []),
    }
    result = drivers.device_plugin_down(ev, None, _ctx())
    assert result.verdict == "ruled_out"
    assert result.lines == (f"{NODE}: no device-plugin pod seen; advertises 1 nvidia.com/gpu",)


def test_a_node_still_joining_is_not_judged() -> None:
    ev = {
        "nodes": _answer("kubernetes.list", [_node(None, age_min=2)], {"resource": "nodes"}),
        "gpu_pods": _answer("kubernetes.pods_on_gpu_nodes", []),
    }
    result = drivers.device_plugin_down(ev, None, _ctx())
    assert result.verdict == "inconclusive"
    assert "joined 2 min ago" in result.lines[0]


def test_arm_gpus_capability_decides_a_sku_the_table_lacks() -> None:
    node = _node(None, sku="Standard_NC8ads_A10_v4")
    body = {
        "value": [
            {
                "resourceType": "virtualMachines",
                "name": "Standard_NC8ads_A10_v4",
                "capabilities": [{"name": "GPUs", "value": "1"}],
            }
        ]
    }
    assert driver_nodes.expected_gpus(node, body) == 1
    assert driver_nodes.expected_gpus(node, None) is None


# ---- driver sources --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "managed", "words"),
    [
        (None, True, "has no gpuProfile.driver: AKS installs its managed driver by default"),
        ({"driver": "Install"}, True, "gpuProfile.driver Install"),
        ({"driver": "None"}, False, "gpuProfile.driver None: self-managed"),
        ({"nvidia": {"managementMode": "Managed"}}, True, "has no gpuProfile.driver"),
        ({"driver": "Maybe"}, None, "unknown value"),
    ],
)
def test_managed_driver_reads_gpu_profile(profile, managed, words) -> None:
    props = {"vmSize": "Standard_NC24ads_A100_v4"}
    if profile is not None:
        props["gpuProfile"] = profile
    got, line = driver_nodes.managed_driver({"name": "gpua100", "properties": props})
    assert got is managed and words in line


def _driver_ds(selector: dict, desired: int = 1, tolerations=None) -> dict:
    return {
        "metadata": {"name": "nvidia-driver-daemonset", "namespace": "gpu-operator"},
        "spec": {
            "template": {
                "spec": {
                    "nodeSelector": selector,
                    "tolerations": tolerations or [{"operator": "Exists"}],
                }
            }
        },
        "status": {"desiredNumberScheduled": desired},
    }


def test_driver_daemonset_reaches_a_node_by_pod_or_by_selector() -> None:
    ds = _driver_ds({"nvidia.com/gpu.deploy.driver": "true"})
    node = _node("1", labels={"nvidia.com/gpu.deploy.driver": "true"})
    pod = {
        "metadata": {
            "name": "nvidia-driver-daemonset-7xk9q",
            "namespace": "gpu-operator",
            "ownerReferences": [
                {"kind": "DaemonSet", "name": "nvidia-driver-daemonset", "controller": True}
            ],
        },
        "spec": {"nodeName": NODE},
        "status": {"containerStatuses": [{"restartCount": 2}]},
    }
    assert driver_nodes.daemonset_on_node(ds, node, [pod]) == (
        "runs gpu-operator/nvidia-driver-daemonset-7xk9q (2 restarts)"
    )
    assert "nodeSelector (nvidia.com/gpu.deploy.driver=true)" in driver_nodes.daemonset_on_node(
        ds, node, None
    )
    preinstalled = _node("1", labels={"nvidia.com/gpu.deploy.driver": "pre-installed"})
    assert driver_nodes.daemonset_on_node(ds, preinstalled, []) is None
    assert driver_nodes.daemonset_on_node(_driver_ds({}, desired=0), node, []) is None


def test_a_taint_the_driver_daemonset_does_not_tolerate_keeps_it_off() -> None:
    ds = _driver_ds({}, tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}])
    tainted = _node("1", taints=[{"key": "sku", "value": "gpu", "effect": "NoSchedule"}])
    assert driver_nodes.daemonset_on_node(ds, tainted, None) is None


# ---- flapping --------------------------------------------------------------------------------


def test_flap_events_count_series_and_ignore_other_nodes_and_old_ones() -> None:
    events = [
        {
            "reason": "NodeNotReady",
            "involvedObject": {"kind": "Node", "name": NODE},
            "count": 3,
            "lastTimestamp": _t(10),
        },
        # events.k8s.io style: only eventTime and series
        {
            "reason": "NodeReady",
            "regarding": {"kind": "Node", "name": NODE},
            "eventTime": _t(40),
            "series": {"count": 2, "lastObservedTime": _t(7)},
            "lastTimestamp": None,
        },
        {
            "reason": "NodeReady",
            "involvedObject": {"kind": "Node", "name": "aks-system-1"},
            "count": 5,
            "lastTimestamp": _t(5),
        },
        {
            "reason": "NodeNotReady",
            "involvedObject": {"kind": "Node", "name": NODE},
            "count": 9,
            "lastTimestamp": _t(200),
        },
    ]
    got = driver_nodes.flap_events(events, NODE, NOW, NOW - timedelta(hours=1))
    assert got == {"NodeNotReady": 3, "NodeReady": 2}


def test_a_node_that_just_went_not_ready_is_the_symptom_without_events() -> None:
    node = _node("1")
    node["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "Unknown",
            "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.",
            "lastTransitionTime": _t(3),
        }
    ]
    ev = {
        "nodes": _answer("kubernetes.list", [node], {"resource": "nodes"}),
        "events": Answer.missing(Question.of("kubernetes.list", {"resource": "events"}), "403"),
    }
    result = drivers.node_flapping(ev, None, _ctx())
    assert result.verdict == "confirmed"
    assert (
        "Ready=Unknown since 3 min (NodeStatusUnknown: Kubelet stopped posting node status.)"
        in result.lines[0]
    )


def test_a_node_not_ready_for_hours_is_not_flapping() -> None:
    node = _node("1")
    node["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "False",
            "reason": "KubeletNotReady",
            "lastTransitionTime": _t(300),
        }
    ]
    ev = {
        "nodes": _answer("kubernetes.list", [node], {"resource": "nodes"}),
        "events": _answer("kubernetes.list", [], {"resource": "events"}),
    }
    assert drivers.node_flapping(ev, None, _ctx()).verdict == "ruled_out"


# ---- SKU restrictions ------------------------------------------------------------------------


def _sku(restrictions: list[dict], zones=("1", "2", "3")) -> dict:
    return {
        "resourceType": "virtualMachines",
        "name": "Standard_NC24ads_A100_v4",
        "locations": ["eastus2"],
        "locationInfo": [{"location": "eastus2", "zones": list(zones)}],
        "restrictions": restrictions,
    }


def _pool(zones: list[str] | None) -> dict:
    props = {"vmSize": "Standard_NC24ads_A100_v4"}
    if zones:
        props["availabilityZones"] = zones
    return {"name": "gpua100", "properties": props}


def test_a_location_restriction_for_another_region_does_not_apply() -> None:
    demand = skus.Demand("Standard_NC24ads_A100_v4", "workspace default/ws")
    other = {
        "type": "Location",
        "values": ["westus2"],
        "restrictionInfo": {"locations": ["westus2"]},
        "reasonCode": "NotAvailableForSubscription",
    }
    assert skus.judge_region(demand, _sku([other]), "eastus2") is None
    here = dict(
        other, values=["eastus2"], restrictionInfo={"locations": ["eastus2"]}, reasonCode="QuotaId"
    )
    judged = skus.judge_region(demand, _sku([here]), "EastUS2")
    assert judged is not None and judged.blocked
    assert "Location restriction QuotaId in EastUS2" in judged.line


def test_zone_restriction_blocks_only_a_pool_pinned_to_restricted_zones() -> None:
    zone1 = {
        "type": "Zone",
        "values": ["eastus2"],
        "restrictionInfo": {"locations": ["eastus2"], "zones": ["1"]},
        "reasonCode": "NotAvailableForSubscription",
    }
    entry = _sku([zone1])
    pinned = skus.judge_zones(
        skus.Demand("Standard_NC24ads_A100_v4", "x", (_pool(["1"]),)), entry, "eastus2", True
    )
    assert pinned.blocked and pinned.facts["allowed_zones"] == ["2", "3"]
    both = skus.judge_zones(
        skus.Demand("Standard_NC24ads_A100_v4", "x", (_pool(["1", "2"]),)), entry, "eastus2", True
    )
    assert not both.blocked and "pins zone(s) 1, 2: allowed" in both.line
    unpinned = skus.judge_zones(
        skus.Demand("Standard_NC24ads_A100_v4", "x", (_pool(None),)), entry, "eastus2", True
    )
    assert not unpinned.blocked and not unpinned.unknown
    unread = skus.judge_zones(skus.Demand("Standard_NC24ads_A100_v4", "x"), entry, "eastus2", False)
    assert unread.unknown and "zone pinning unknown" in unread.line


def test_a_pinned_zone_the_region_does_not_offer_blocks() -> None:
    judged = skus.judge_zones(
        skus.Demand("Standard_NC24ads_A100_v4", "x", (_pool(["3"]),)),
        _sku([], zones=("1", "2")),
        "eastus2",
        True,
    )
    assert judged.blocked and judged.facts["reason"] == "zone(s) 3 not in locationInfo"
