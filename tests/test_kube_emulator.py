"""The loopback Kubernetes API emulator itself, driven by the real `kubernetes` client: writes
(patch, scale, eviction, create/delete) are applied and recorded, discovery works for the
dynamic client, and auth, 404s and selectors behave as an API server's do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

from tests.conftest import SCENARIOS
from tests.emulators.kube_api import KubeApiEmulator

HEALTHY = SCENARIOS / "healthy"
WS, NS = "workspace-llama-3-1-8b", "default"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[KubeApiEmulator, client.ApiClient]]:
    with KubeApiEmulator(HEALTHY) as emulator:
        kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig")
        yield emulator, config.new_client_from_config(config_file=str(kubeconfig))


def test_strategic_merge_patch_replaces_lists_and_is_recorded(api) -> None:
    emulator, api_client = api
    apps = client.AppsV1Api(api_client)
    toleration = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    body = {"spec": {"template": {"spec": {"tolerations": [toleration]}}}}
    apps.patch_namespaced_stateful_set(WS, NS, body)
    after = apps.read_namespaced_stateful_set(WS, NS)
    assert [t.key for t in after.spec.template.spec.tolerations] == ["sku"]
    assert after.spec.template.spec.containers[0].name == WS, "maps merge, untouched keys stay"
    [write] = emulator.writes
    assert (
        write.method == "PATCH" and write.path == f"/apis/apps/v1/namespaces/{NS}/statefulsets/{WS}"
    )
    assert write.body == body
    assert write.content_type in (
        "application/strategic-merge-patch+json",
        "application/merge-patch+json",
    )


def test_merge_patch_null_deletes(api) -> None:
    _, api_client = api
    batch = client.BatchV1Api(api_client)
    batch.patch_namespaced_cron_job("prewarm-llama", NS, {"spec": {"suspend": True}})
    assert batch.read_namespaced_cron_job("prewarm-llama", NS).spec.suspend is True
    batch.patch_namespaced_cron_job("prewarm-llama", NS, {"spec": {"timeZone": None}})
    assert batch.read_namespaced_cron_job("prewarm-llama", NS).spec.time_zone is None


def test_scale_subresource(api) -> None:
    emulator, api_client = api
    apps = client.AppsV1Api(api_client)
    assert apps.read_namespaced_stateful_set_scale(WS, NS).spec.replicas == 1
    apps.patch_namespaced_stateful_set_scale(WS, NS, {"spec": {"replicas": 0}})
    assert apps.read_namespaced_stateful_set_scale(WS, NS).spec.replicas == 0
    assert apps.read_namespaced_stateful_set(WS, NS).spec.replicas == 0
    scale = client.V1Scale(
        metadata=client.V1ObjectMeta(name=WS, namespace=NS), spec=client.V1ScaleSpec(replicas=2)
    )
    apps.replace_namespaced_stateful_set_scale(WS, NS, scale)
    assert apps.read_namespaced_stateful_set(WS, NS).spec.replicas == 2
    assert [w.method for w in emulator.writes] == ["PATCH", "PUT"]


def _eviction(name: str) -> client.V1Eviction:
    return client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=NS))


def test_eviction_deletes_the_pod_unless_a_pdb_forbids_it(api) -> None:
    emulator, api_client = api
    core, policy = client.CoreV1Api(api_client), client.PolicyV1Api(api_client)
    pod = f"{WS}-0"
    pdb = client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="llama-pdb"),
        spec=client.V1PodDisruptionBudgetSpec(
            min_available=1,
            selector=client.V1LabelSelector(match_labels={"kaito.sh/workspace": WS}),
        ),
        status=client.V1PodDisruptionBudgetStatus(
            current_healthy=1, desired_healthy=1, disruptions_allowed=0, expected_pods=1
        ),
    )
    policy.create_namespaced_pod_disruption_budget(NS, pdb)
    with pytest.raises(ApiException) as blocked:
        core.create_namespaced_pod_eviction(pod, NS, _eviction(pod))
    assert blocked.value.status == 429 and "disruption budget" in blocked.value.body
    policy.delete_namespaced_pod_disruption_budget("llama-pdb", NS)
    core.create_namespaced_pod_eviction(pod, NS, _eviction(pod))
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_pod(pod, NS)
    assert gone.value.status == 404
    assert [w.path.rsplit("/", 1)[-1] for w in emulator.writes if w.method == "POST"] == [
        "poddisruptionbudgets",
        "eviction",
        "eviction",
    ]


def test_create_conflict_and_delete(api) -> None:
    _, api_client = api
    core = client.CoreV1Api(api_client)
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="gpubot-note"), data={"k": "v"})
    core.create_namespaced_config_map(NS, cm)
    with pytest.raises(ApiException) as twice:
        core.create_namespaced_config_map(NS, cm)
    assert twice.value.status == 409
    names = [c.metadata.name for c in core.list_namespaced_config_map(NS).items]
    assert "gpubot-note" in names
    core.delete_namespaced_config_map("gpubot-note", NS)
    assert "gpubot-note" not in [c.metadata.name for c in core.list_namespaced_config_map(NS).items]


def test_selectors_and_not_found(api) -> None:
    _, api_client = api
    core = client.CoreV1Api(api_client)
    on_gpu = core.list_pod_for_all_namespaces(
        field_selector="spec.nodeName=aks-gpua100-12345678-vmss000000"
    ).items
    assert sorted(p.metadata.name for p in on_gpu) == [
        "kube-proxy-p2xz",
        "nvidia-device-plugin-daemonset-x7k2p",
        f"{WS}-0",
    ]
    assert [
        p.metadata.name
        for p in core.list_namespaced_pod(
            "kube-system", label_selector="k8s-app in (kube-dns, metrics-server)"
        ).items
    ] == ["coredns-6f9b7c9d8-abcde", "metrics-server-7d9f8b6c5-fghij"]
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("nope", NS)
    assert missing.value.status == 404 and 'pods \\"nope\\" not found' in missing.value.body


def test_json_patch_is_refused_not_misapplied(api) -> None:
    _, api_client = api
    with pytest.raises(ApiException) as refused:
        client.AppsV1Api(api_client).patch_namespaced_stateful_set(
            WS, NS, [{"op": "replace", "path": "/spec/replicas", "value": 3}]
        )
    assert refused.value.status == 415


def test_wrong_token_is_401(tmp_path: Path) -> None:
    with KubeApiEmulator(HEALTHY, token="another-test-token") as emulator:
        kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig")
        kubeconfig.write_text(kubeconfig.read_text().replace("another-test-token", "wrong"))
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        with pytest.raises(ApiException) as denied:
            core.list_node()
        assert denied.value.status == 401


def test_discovery_serves_the_dynamic_client(api, tmp_path: Path) -> None:
    _, api_client = api
    dyn = dynamic.DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))
    workspaces = dyn.resources.get(api_version="kaito.sh/v1beta1", kind="Workspace")
    assert [w.metadata.name for w in workspaces.get().items] == [WS]
    nodes = dyn.resources.get(api_version="v1", kind="Node")
    assert len(nodes.get().items) == 3
    with pytest.raises(dynamic.exceptions.ResourceNotFoundError):
        dyn.resources.get(api_version="kaito.sh/v1alpha1", kind="Workspace")


def test_optimistic_concurrency_as_the_api_server(api) -> None:
    """A stale resourceVersion on PATCH, PUT or the scale subresource, and a delete or eviction
    precondition that does not match, are 409 Conflict and change nothing."""
    emulator, api_client = api
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    sts = apps.read_namespaced_stateful_set(WS, NS)
    stale = sts.metadata.resource_version
    assert stale, "every object has a resourceVersion, even when its fixture has none"
    apps.patch_namespaced_stateful_set(WS, NS, {"metadata": {"labels": {"team": "ml"}}})
    writes = [
        lambda: apps.patch_namespaced_stateful_set_scale(
            WS, NS, {"metadata": {"resourceVersion": stale}, "spec": {"replicas": 5}}
        ),
        lambda: apps.patch_namespaced_stateful_set(
            WS, NS, {"metadata": {"resourceVersion": stale}, "spec": {"replicas": 5}}
        ),
        lambda: apps.replace_namespaced_stateful_set(WS, NS, sts),
    ]
    for write in writes:
        with pytest.raises(ApiException) as conflict:
            write()
        assert conflict.value.status == 409 and "has been modified" in conflict.value.body
    assert apps.read_namespaced_stateful_set(WS, NS).spec.replicas == 1
    pod = f"{WS}-0"
    wrong = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-this-pod"))
    with pytest.raises(ApiException) as deleted:
        core.delete_namespaced_pod(pod, NS, body=wrong)
    assert deleted.value.status == 409 and "Precondition failed: UID" in deleted.value.body
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod), delete_options=wrong)
    with pytest.raises(ApiException) as evicted:
        core.create_namespaced_pod_eviction(pod, NS, eviction)
    assert evicted.value.status == 409
    assert core.read_namespaced_pod(pod, NS).metadata.name == pod
    right = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(uid=core.read_namespaced_pod(pod, NS).metadata.uid)
    )
    assert core.delete_namespaced_pod(pod, NS, body=right).metadata.name == pod
    assert [w.method for w in emulator.writes].count("DELETE") == 2


def test_fix_only_kinds_start_empty_and_are_discoverable(api, tmp_path: Path) -> None:
    _, api_client = api
    rbac = client.RbacAuthorizationV1Api(api_client)
    assert rbac.list_namespaced_role(NS).items == []
    role = client.V1Role(
        metadata=client.V1ObjectMeta(name="r"),
        rules=[
            client.V1PolicyRule(
                api_groups=["apps"], resources=["statefulsets/scale"], verbs=["patch"]
            )
        ],
    )
    rbac.create_namespaced_role(NS, role)
    with pytest.raises(ApiException) as twice:
        rbac.create_namespaced_role(NS, role)
    assert twice.value.status == 409 and "already exists" in twice.value.body
    dyn = dynamic.DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))
    roles = dyn.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="Role")
    assert [r.metadata.name for r in roles.get(namespace=NS).items] == ["r"]
