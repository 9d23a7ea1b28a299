"""Pure logic behind rows 9, 10, 13 and 14: kubelet pull messages, Go durations, the
autoscaler's eviction rules, idle-since, pre-warm matching and Spot node identification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.checks import _cost, nodes
from bot.model.context import CheckContext
from bot.model.evidence import Answer, Question

NOW = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)
NODE = "aks-gpua100-12345678-vmss000001"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7m12.513s", 432.513),
        ("1h2m3.5s", 3723.5),
        ("350ms", 0.35),
        ("1.2s", 1.2),
        ("10m", 600),
        ("0s", 0),
        ("1h30m", 5400),
        ("250µs", 0.00025),
        ("600", 600),  # max-graceful-termination-sec is written as bare seconds
        (" 5m ", 300),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    parsed = _cost.parse_go_duration(text)
    assert parsed is not None
    assert parsed.total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "5x", "1h30", "m5", "7m 12s", None])
def test_not_go_durations(text: str | None) -> None:
    assert _cost.parse_go_duration(text) is None


def test_pulled_message_kubelet_1_30_with_size() -> None:
    msg = (
        'Successfully pulled image "mlmodels.azurecr.io/llama:1" in 7m12.513s '
        "(7m12.513s including waiting). Image size: 18412345678 bytes."
    )
    pull = _cost.parse_pulled(msg)
    assert pull is not None
    assert pull.image == "mlmodels.azurecr.io/llama:1"
    assert pull.pull == timedelta(minutes=7, seconds=12.513)
    assert pull.total == pull.pull
    assert pull.size_bytes == 18412345678
    assert (pull.pull_text, pull.total_text) == ("7m12.513s", "7m12.513s")


def test_pulled_message_with_queueing_counts_the_wait() -> None:
    msg = (
        'Successfully pulled image "mcr.microsoft.com/aks/kaito/kaito-base:0.0.9" in 2m1.5s '
        "(6m40.002s including waiting). Image size: 9876543210 bytes."
    )
    pull = _cost.parse_pulled(msg)
    assert pull is not None
    assert pull.pull == timedelta(minutes=2, seconds=1.5)
    assert pull.total == timedelta(minutes=6, seconds=40.002)


def test_pulled_message_old_kubelet() -> None:
    pull = _cost.parse_pulled('Successfully pulled image "x" in 1.2s')
    assert pull is not None
    assert (pull.image, pull.total, pull.size_bytes) == ("x", timedelta(seconds=1.2), None)


def test_pulled_message_sub_second_and_hours() -> None:
    fast = _cost.parse_pulled(
        'Successfully pulled image "busybox:1.36" in 350ms (350ms including waiting)'
    )
    slow = _cost.parse_pulled(
        'Successfully pulled image "big:1" in 1h2m3.5s (1h2m3.5s including waiting)'
    )
    assert fast is not None and fast.total == timedelta(milliseconds=350)
    assert slow is not None and slow.total == timedelta(hours=1, minutes=2, seconds=3.5)


@pytest.mark.parametrize(
    "msg",
    [
        'Container image "mcr.microsoft.com/aks/kaito/kaito-base:0.0.9" already present on machine',
        'Pulling image "mlmodels.azurecr.io/llama:1"',
        'Failed to pull image "mlmodels.azurecr.io/llama:1": rpc error: code = NotFound',
        "",
    ],
)
def test_not_a_finished_pull(msg: str) -> None:
    assert _cost.parse_pulled(msg) is None


def test_pulling_image() -> None:
    assert (
        _cost.pulling_image('Pulling image "vllm/vllm-openai:v0.9.0"') == "vllm/vllm-openai:v0.9.0"
    )
    assert _cost.pulling_image("Started container x") is None


@pytest.mark.parametrize(
    ("image", "host"),
    [
        ("mlmodels.azurecr.io/llama:1", "mlmodels.azurecr.io"),
        ("MLModels.azurecr.io/kaito/llama@sha256:abc", "mlmodels.azurecr.io"),
        ("mcr.microsoft.com/aks/kaito/kaito-base:0.0.9", "mcr.microsoft.com"),
        ("vllm/vllm-openai:v0.9.0", "docker.io"),
        ("busybox", "docker.io"),
        ("localhost:5000/x:1", "localhost:5000"),
        ("localhost/x", "localhost"),
    ],
)
def test_registry_host(image: str, host: str) -> None:
    assert _cost.registry_host(image) == host


# ---- the autoscaler's eviction rules --------------------------------------------------------

PROFILE = _cost.profile_from({"properties": {"autoScalerProfile": {}}})  # AKS defaults


def pod(
    name: str, ns: str = "ml-tools", *, owner: str | None = "ReplicaSet", **extra: object
) -> dict:
    meta: dict = {
        "name": name,
        "namespace": ns,
        "labels": extra.pop("labels", {}),
        "annotations": extra.pop("annotations", {}),
    }
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": f"{name}-owner", "controller": True}]
    spec = {"nodeName": NODE, "containers": [{"name": "c", "image": "x"}], **extra}
    return {"metadata": meta, "spec": spec, "status": {"phase": "Running"}}


def test_profile_defaults_follow_aks() -> None:
    assert PROFILE.unneeded == timedelta(minutes=10)
    assert PROFILE.skip_system_pods is True
    assert PROFILE.skip_local_storage is False
    assert PROFILE.max_grace_seconds == 600
    assert _cost.profile_from(None, "403").missing == "403"


def test_daemonset_pods_are_never_blamed_unless_annotated() -> None:
    ds = pod("kube-proxy-x", "kube-system", owner="DaemonSet")
    assert not _cost.pin_reasons(ds, PROFILE, []).reasons
    ds["metadata"]["annotations"] = {_cost.SAFE_TO_EVICT: "false"}
    assert _cost.pin_reasons(ds, PROFILE, []).reasons == [
        f'annotated {_cost.SAFE_TO_EVICT}: "false"'
    ]


def test_safe_to_evict_true_overrides_every_rule() -> None:
    bare = pod("debug", "kube-system", owner=None, annotations={_cost.SAFE_TO_EVICT: "true"})
    assert not _cost.pin_reasons(bare, PROFILE, None).reasons
    assert not _cost.pin_reasons(bare, PROFILE, None).unknown


def test_kube_system_pod_pins_only_with_skip_system_pods() -> None:
    rs = pod("ama-logs-rs-1", "kube-system")
    pins = _cost.pin_reasons(rs, PROFILE, [])
    assert pins.system_pod and pins.reasons
    off = _cost.profile_from(
        {"properties": {"autoScalerProfile": {"skip-nodes-with-system-pods": "false"}}}
    )
    assert not _cost.pin_reasons(rs, off, []).reasons
    unknown = _cost.pin_reasons(rs, _cost.Profile(missing="403"), [])
    assert not unknown.reasons and "skip-nodes-with-system-pods unknown" in unknown.unknown[0]


def test_kube_system_pod_with_a_permissive_pdb_does_not_pin() -> None:
    rs = pod("metrics-server-1", "kube-system", labels={"k8s-app": "metrics-server"})
    pdb = {
        "metadata": {"name": "ms", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "metrics-server"}}},
        "status": {"disruptionsAllowed": 1},
    }
    assert not _cost.pin_reasons(rs, PROFILE, [pdb]).reasons


def test_strict_pdb_with_match_expressions_pins() -> None:
    p = pod("cache-0", labels={"app": "cache", "tier": "hot"})
    pdb = {
        "metadata": {"name": "cache", "namespace": "ml-tools"},
        "spec": {
            "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["hot"]}]}
        },
        "status": {"disruptionsAllowed": 0},
    }
    assert _cost.pin_reasons(p, PROFILE, [pdb]).reasons == [
        "PodDisruptionBudget cache allows 0 disruptions"
    ]
    pdb["spec"]["selector"] = None  # a null selector selects nothing
    assert not _cost.pin_reasons(p, PROFILE, [pdb]).reasons


def test_local_storage_respects_the_profile_and_the_safe_list() -> None:
    p = pod(
        "w",
        volumes=[{"name": "scratch", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
    )
    assert not _cost.pin_reasons(
        p, PROFILE, []
    ).reasons  # AKS default: skip-nodes-with-local-storage false
    strict = _cost.profile_from(
        {"properties": {"autoScalerProfile": {"skip-nodes-with-local-storage": "true"}}}
    )
    assert "local storage (scratch)" in _cost.pin_reasons(p, strict, []).reasons[0]
    p["metadata"]["annotations"] = {_cost.SAFE_LOCAL_VOLUMES: "scratch"}
    assert not _cost.pin_reasons(p, strict, []).reasons


def test_grace_period_longer_than_the_autoscaler_waits() -> None:
    p = pod("slow", terminationGracePeriodSeconds=3600)
    assert _cost.pin_reasons(p, PROFILE, []).reasons == [
        "terminationGracePeriodSeconds 3600 > max-graceful-termination-sec 600"
    ]


def test_unread_pdbs_leave_a_controller_pod_unknown() -> None:
    pins = _cost.pin_reasons(pod("cache-7c9d-x1"), PROFILE, None)
    assert not pins.reasons and pins.unknown == [
        "ml-tools/cache-7c9d-x1: PodDisruptionBudgets not read"
    ]


# ---- idle since -----------------------------------------------------------------------------


def gpu_node(name: str = NODE, created: str = "2026-11-26T23:40:00Z") -> dict:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "labels": {"node.kubernetes.io/instance-type": "Standard_NC24ads_A100_v4"},
        }
    }


def gpu_pod(phase: str, finished: str | None = None) -> dict:
    status: dict = {"phase": phase}
    if finished:
        status["containerStatuses"] = [
            {"name": "c", "state": {"terminated": {"finishedAt": finished}}}
        ]
    return {
        "metadata": {"name": "eval", "namespace": "ml-eval"},
        "spec": {
            "nodeName": NODE,
            "containers": [
                {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
            ],
        },
        "status": status,
    }


def test_idle_since_the_last_gpu_pod_finished() -> None:
    [idle] = _cost.idle_gpu_nodes([gpu_node()], [gpu_pod("Succeeded", "2026-11-27T01:28:00Z")])
    assert idle.idle(NOW) == timedelta(hours=6, minutes=12)
    assert idle.since_why == "GPU pod ml-eval/eval finished"


def test_idle_since_creation_and_busy_nodes() -> None:
    [idle] = _cost.idle_gpu_nodes([gpu_node()], [])
    assert idle.since_why == "created" and idle.idle(NOW) == timedelta(hours=8)
    assert _cost.idle_gpu_nodes([gpu_node()], [gpu_pod("Running")]) == []
    deleting = gpu_node()
    deleting["metadata"]["deletionTimestamp"] = "2026-11-27T07:39:00Z"
    assert _cost.idle_gpu_nodes([deleting], []) == []


# ---- pre-warm matching ----------------------------------------------------------------------


def cronjob(command: list[str], ns: str = "default", labels: dict | None = None) -> dict:
    return {
        "metadata": {"name": "cj", "namespace": ns, "labels": labels or {}},
        "spec": {
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"command": command}]}}}}
        },
    }


WL = "statefulset/workspace-llama-3-1-8b"


@pytest.mark.parametrize(
    ("command", "ns", "matches"),
    [
        (["kubectl", "scale", WL, "--replicas=1", "-n", "default"], "default", True),
        (["sh", "-c", "kubectl scale sts workspace-llama-3-1-8b --replicas=1"], "default", True),
        (["kubectl", "scale", WL, "--replicas=1", "--namespace=default"], "ops", True),
        (["kubectl", "scale", WL, "--replicas=1"], "ops", False),  # scales the name in ops
        (["kubectl", "scale", f"{WL}-v2", "--replicas=1"], "default", False),
        (["kubectl", "rollout", "restart", WL], "default", False),  # not a scale-up
    ],
)
def test_prewarm_matching(command: list[str], ns: str, matches: bool) -> None:
    found = _cost.prewarms_for("default", WL, ["workspace-llama-3-1-8b"], [cronjob(command, ns)])
    assert bool(found) is matches


def test_gpubot_labelled_prewarm_in_the_namespace() -> None:
    mine = cronjob([], labels={_cost.MANAGED_BY: "gpubot"})
    assert _cost.prewarms_for("default", WL, [], [mine])
    assert not _cost.prewarms_for("other", WL, [], [mine])


def test_workload_of() -> None:
    sts = {"metadata": {"name": "ws-0", "ownerReferences": [{"kind": "StatefulSet", "name": "ws"}]}}
    dep = {
        "metadata": {
            "name": "vllm-7d9f8-abcde",
            "labels": {"pod-template-hash": "7d9f8"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "vllm-7d9f8"}],
        }
    }
    bare = {"metadata": {"name": "debug"}}
    assert [_cost.workload_of(p) for p in (sts, dep, bare)] == [
        "statefulset/ws",
        "deployment/vllm",
        "pod/debug",
    ]


# ---- Spot -----------------------------------------------------------------------------------


def test_spot_nodes_are_known_by_label_or_by_their_pool_once_gone() -> None:
    pools = [
        {"name": "gpuspot", "properties": {"scaleSetPriority": "Spot"}},
        {"name": "gpua100", "properties": {}},
    ]
    live = {"aks-gpua100-12345678-vmss000000": {"metadata": {"labels": {}}}}
    fleet = nodes.Fleet(nodes=live, pools=pools, spot_claims=set())
    assert fleet.spot("aks-gpuspot-23456789-vmss000000") is True
    assert fleet.spot("aks-gpua100-12345678-vmss000000") is False
    assert fleet.spot("aks-other-11111111-vmss000000") is False
    assert nodes.Fleet(nodes={}, pools=None, spot_claims=set()).spot("aks-gpuspot-1-vmss0") is None


@pytest.mark.parametrize(
    ("message", "spot"),
    [
        ("VM event scheduled: Preempt", True),
        ("Spot interruption warning was triggered", True),
        ("Node will be evicted: Spot capacity reclaimed", True),
        ("Node aks-x status is now: NodeNotReady", False),
        ("Spot node registered", False),
    ],
)
def test_spot_words(message: str, spot: bool) -> None:
    assert nodes._spot_words(message) is spot


def test_pod_placement_before_the_eviction_wins_over_the_replacement() -> None:
    """A StatefulSet pod keeps its name: the replacement's Scheduled event must not be blamed."""
    before = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    after = datetime(2026, 11, 27, 7, 21, tzinfo=UTC)
    placements = [(before, "aks-gpuspot-1-vmss000000"), (after, "aks-gpuspot-1-vmss000001")]
    assert (
        nodes._placed(placements, datetime(2026, 11, 27, 7, 14, tzinfo=UTC))
        == "aks-gpuspot-1-vmss000000"
    )
    assert nodes._placed(placements, datetime(2026, 11, 27, 6, 0, tzinfo=UTC)) is None


def test_pod_losses_ignore_plain_rollouts_on_spot() -> None:
    """`Killing` on a Spot node that was not preempted is a rollout, not an eviction."""
    event = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"},
        "reason": "Killing",
        "message": "Stopping container c",
        "source": {"host": "aks-spot-1-vmss0"},
        "lastTimestamp": "2026-11-27T07:30:00Z",
    }
    ev = {"events": Answer(Question.of("kubernetes.list", {"resource": "events"}), [event])}
    fleet = nodes.Fleet(
        nodes={
            "aks-spot-1-vmss0": {
                "metadata": {"labels": {"kubernetes.azure.com/scalesetpriority": "spot"}}
            }
        },
        pools=[],
        spot_claims=set(),
    )
    ctx = CheckContext(now=NOW)
    assert nodes.pod_losses(ev, fleet, set(), ctx) == []
    assert len(nodes.pod_losses(ev, fleet, {"aks-spot-1-vmss0"}, ctx)) == 1


def test_serving_pods_exclude_batch_jobs_even_for_kaito_tuning() -> None:
    gpu = {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}
    serving = {
        "metadata": {
            "labels": {"kaito.sh/workspace": "ws"},
            "ownerReferences": [{"kind": "StatefulSet", "name": "ws"}],
        },
        "spec": {},
    }
    tuning = {
        "metadata": {
            "labels": {"kaito.sh/workspace": "tune-phi-3"},
            "ownerReferences": [{"kind": "Job", "name": "tune-phi-3"}],
        },
        "spec": gpu,
    }
    vllm = {
        "metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "vllm-1"}]},
        "spec": gpu,
    }
    cpu = {"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "web-1"}]}, "spec": {}}
    assert [_cost.is_serving(p) for p in (serving, tuning, vllm, cpu)] == [True, False, True, False]
