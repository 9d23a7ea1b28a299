"""Issue 6: the deploy/ manifests validate, hold no secrets, and their RBAC (and the Azure
custom role) cover exactly the calls the code makes, derived from a recorded emulator run."""

from __future__ import annotations

import json
import re
from typing import Any

import kubernetes_validate
import pytest
import trustme

from bot.sources.kube_access import READS
from bot.sources.kube_paths import RESOURCES
from tests.conftest import ROOT, scenario_dirs
from tests.deploy_rbac import ARM_ACTIONS, arm_action, kube_permission, render, rule_grants
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator
from tests.test_live_parity import _config

SECRET_ENV = {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "GPUBOT_DATABASE_URL", "GPUBOT_WEBHOOK_SECRET"}
# Token shapes that must never appear in a manifest: Slack tokens, URLs with a password.
LITERAL_SECRET = re.compile(r"xox[abposr]-|xapp-|://[^/\s:@]+:[^/\s@]+@")
# What guarded fixes need beyond the read role (tests/test_fix_kube.py records their calls);
# the fix Roles may grant these and nothing else.
FIX_WRITES = {
    ("apps", "statefulsets/scale", "get"),  # held so gpubot may grant it to a pre-warm Role
    ("apps", "statefulsets/scale", "patch"),
    ("apps", "deployments/scale", "get"),
    ("apps", "deployments/scale", "patch"),
    ("kaito.sh", "inferencesets", "list"),  # a KAITO workload's InferenceSet, read by name
    ("kaito.sh", "inferencesets/scale", "get"),  # held so gpubot may grant it, as above
    ("kaito.sh", "inferencesets/scale", "patch"),
    ("batch", "cronjobs", "create"),
    ("batch", "cronjobs", "update"),
    ("batch", "cronjobs", "delete"),
    ("", "serviceaccounts", "list"),  # the pre-warm's own RBAC objects, read by name
    ("", "serviceaccounts", "create"),
    ("", "serviceaccounts", "delete"),
    ("rbac.authorization.k8s.io", "roles", "list"),
    ("rbac.authorization.k8s.io", "roles", "create"),
    ("rbac.authorization.k8s.io", "roles", "delete"),
    ("rbac.authorization.k8s.io", "rolebindings", "list"),
    ("rbac.authorization.k8s.io", "rolebindings", "create"),
    ("rbac.authorization.k8s.io", "rolebindings", "delete"),
    ("", "pods", "delete"),
    ("", "pods/eviction", "create"),
    ("", "configmaps", "patch"),
}
ARM_FIX_ACTIONS = {
    "Microsoft.ContainerService/managedClusters/write",
    "Microsoft.ContainerService/managedClusters/agentPools/write",
    "Microsoft.Quota/quotas/write",
    "Microsoft.Quota/quotaRequests/read",
}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


def _kinds(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in _kinds(objects, kind) if o["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[set[tuple[str, str]], set[tuple[str, str | None]]]:
    """Every (method, path) the Kubernetes emulator and (method, route) the Azure emulator saw
    while `gpubot diagnose --config` ran over every scenario."""
    from bot.cli.main import main

    ca, tmp = trustme.CA(), tmp_path_factory.mktemp("recorded")
    kube_calls: set[tuple[str, str]] = set()
    arm_calls: set[tuple[str, str | None]] = set()
    mp = pytest.MonkeyPatch()
    try:
        for snapshot in scenario_dirs():
            with (
                KubeApiEmulator(snapshot, missing_crd_status=403, latency_cap=0.2) as kube,
                AzureEmulator(snapshot, token="deploy-test-token", ca=ca) as azure,
            ):
                mp.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp / "kubeconfig")))
                for name, value in azure.env().items():
                    mp.setenv(name, value)
                config = _config(snapshot, tmp / "gpubot.yaml")
                assert main(["diagnose", "--config", str(config), "--format", "json"]) == 0
            kube_calls |= {(r.method, r.path) for r in kube.requests}
            arm_calls |= {(r.method, r.route) for r in azure.requests}
    finally:
        mp.undo()
    return kube_calls, arm_calls


# ---- every object validates; no secrets ----------------------------------------------------


def test_every_object_validates_against_the_kubernetes_schema(objects) -> None:
    version = kubernetes_validate.latest_version()
    assert len(objects) >= 14
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    import yaml

    listed = set(yaml.safe_load((ROOT / "deploy/kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in (ROOT / "deploy").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_no_secret_objects_and_no_literal_secret_values(objects) -> None:
    assert not _kinds(objects, "Secret")
    for obj in objects:
        assert not LITERAL_SECRET.search(json.dumps(obj)), obj["metadata"]["name"]
    for kind in ("Deployment", "CronJob"):
        for obj in _kinds(objects, kind):
            spec = obj["spec"]
            pod = spec["jobTemplate"]["spec"]["template"] if kind == "CronJob" else spec["template"]
            for c in pod["spec"]["containers"]:
                for env in c.get("env", []):
                    if env["name"] in SECRET_ENV:
                        assert "value" not in env, env["name"]
                        assert env["valueFrom"]["secretKeyRef"]["name"] == "gpubot-secrets"


def test_no_rbac_rule_anywhere_touches_secrets(objects) -> None:
    for obj in _kinds(objects, "ClusterRole") + _kinds(objects, "Role"):
        for rule in obj["rules"]:
            assert not any(r.split("/")[0] == "secrets" for r in rule["resources"]), obj
            assert "*" not in rule["resources"] and "*" not in rule["verbs"], obj


def test_deployment_is_hardened_and_shaped_as_the_issue_asks(objects) -> None:
    dep = _one(objects, "Deployment", "gpubot")
    pod = dep["spec"]["template"]
    assert dep["spec"]["replicas"] == 2
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    spec = pod["spec"]
    assert spec["terminationGracePeriodSeconds"] == 90
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (c,) = spec["containers"]
    assert c["args"][0] == "serve" and "--http" not in c["args"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["requests"] and c["resources"]["limits"]
    env = {e["name"]: e for e in c["env"]}
    assert env["GPUBOT_CONFIG"]["value"] == "/etc/gpubot/gpubot.yaml"
    assert set(env) >= SECRET_ENV
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert mounts == {"/etc/gpubot", "/tmp"}
    sa = _one(objects, "ServiceAccount", "gpubot")
    assert "azure.workload.identity/client-id" in sa["metadata"]["annotations"]
    pdb = _one(objects, "PodDisruptionBudget", "gpubot")
    assert pdb["spec"]["selector"] == dep["spec"]["selector"]


def test_config_map_is_a_valid_gpubot_configuration(objects, tmp_path) -> None:
    from bot.settings import load_config

    cm = _one(objects, "ConfigMap", "gpubot-config")
    path = tmp_path / "gpubot.yaml"
    path.write_text(cm["data"]["gpubot.yaml"])
    assert load_config(path).clusters[0].name == "my-aks-cluster"


def test_morning_cronjob(objects) -> None:
    cron = _one(objects, "CronJob", "gpubot-morning")
    assert cron["spec"]["schedule"] == "30 7 * * 1-5"
    assert cron["spec"]["timeZone"] == "Asia/Kolkata"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (c,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["check", "morning", "--post", "$(CHANNEL)"]
    assert "CHANNEL" in {e["name"] for e in c["env"]}


def test_service_and_network_policy(objects) -> None:
    svc = _one(objects, "Service", "gpubot")
    assert [p["port"] for p in svc["spec"]["ports"]] == [8080]
    netpol = _one(objects, "NetworkPolicy", "gpubot")
    ingress_ports = {p["port"] for r in netpol["spec"]["ingress"] for p in r["ports"]}
    egress_ports = {
        (p["protocol"], p["port"]) for r in netpol["spec"]["egress"] for p in r["ports"]
    }
    assert ingress_ports == {8080}
    assert egress_ports == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 5432)}
    assert set(netpol["spec"]["policyTypes"]) == {"Ingress", "Egress"}


# ---- Kubernetes RBAC = what the code calls --------------------------------------------------


def test_permission_mapping() -> None:
    assert kube_permission("GET", "/api/v1/nodes?limit=500") == ("", "nodes", "list")
    assert kube_permission("GET", "/api/v1/namespaces/a/pods/p/log") == ("", "pods/log", "get")
    assert kube_permission("GET", "/api/v1/namespaces/a/pods/p:5000/proxy/metrics") == (
        "",
        "pods/proxy",
        "get",
    )
    assert kube_permission("GET", "/apis/kaito.sh/v1beta1/namespaces/a/workspaces") == (
        "kaito.sh",
        "workspaces",
        "list",
    )
    assert kube_permission("PATCH", "/apis/apps/v1/namespaces/a/statefulsets/s/scale") == (
        "apps",
        "statefulsets/scale",
        "patch",
    )
    assert kube_permission("POST", "/api/v1/namespaces/a/pods/p/eviction") == (
        "",
        "pods/eviction",
        "create",
    )
    assert kube_permission("GET", "/api/v1/namespaces/a") == ("", "namespaces", "get")


def _code_reads() -> set[tuple[str, str, str]]:
    """What the live Kubernetes source can ask, from its code (bot/sources/kube_access.READS:
    list on every kind in RESOURCES, get on pod logs and the pod/service metrics proxies)."""
    return {(p.group, p.resource, p.verb) for p in READS}


def test_reads_cover_every_known_kind() -> None:
    assert {r.plural for r in RESOURCES.values()} <= {p for _, p, _ in _code_reads()}


def test_read_cluster_role_covers_every_recorded_call_and_nothing_else(objects, recorded) -> None:
    kube_calls, _ = recorded
    used = {kube_permission(method, path) for method, path in kube_calls}
    assert all(verb in ("get", "list") for _, _, verb in used), "diagnosis never writes"
    role = _one(objects, "ClusterRole", "gpubot-read")
    granted = rule_grants(role["rules"])
    assert used - granted == set(), f"missing from gpubot-read: {sorted(used - granted)}"
    # Beyond the recorded run, only what the code can call (kinds no scenario exercised).
    assert granted == _code_reads() | used, sorted(granted ^ (_code_reads() | used))
    assert {verb for _, _, verb in granted} <= {"get", "list"}
    binding = _one(objects, "ClusterRoleBinding", "gpubot-read")
    assert binding["roleRef"]["name"] == "gpubot-read"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "gpubot", "namespace": "gpubot"}
    ]


def test_only_the_fix_roles_write_and_only_what_fixes_touch(objects) -> None:
    writes: set[tuple[str, str, str]] = set()
    for role in _kinds(objects, "Role"):
        writes |= rule_grants(role["rules"])
        bindings = [
            b
            for b in _kinds(objects, "RoleBinding")
            if b["roleRef"]["name"] == role["metadata"]["name"]
            and b["metadata"]["namespace"] == role["metadata"]["namespace"]
        ]
        assert bindings, f"Role {role['metadata']['name']} is bound in its namespace"
    assert writes == FIX_WRITES
    device = _one(objects, "Role", "gpubot-fixes-device-plugin")
    assert rule_grants(device["rules"]) == {("", "pods", "delete")}
    assert _kinds(objects, "ClusterRole") == [_one(objects, "ClusterRole", "gpubot-read")]


# ---- Azure custom role = what the code calls ------------------------------------------------


def test_azure_role_covers_every_recorded_arm_call(recorded) -> None:
    _, arm_calls = recorded
    role = json.loads((ROOT / "azure/gpubot-role.json").read_text())
    actions = set(role["Actions"])
    assert not role["DataActions"] and not role["NotActions"]
    assert all("*" not in a for a in actions)
    used = {arm_action(method, route) for method, route in arm_calls}
    assert used, "the live run reached ARM"
    assert used - actions == set(), f"missing from the role: {sorted(used - actions)}"
    # Reads the code can make (every emulated route) plus the writes fixes make; nothing else.
    assert actions == set(ARM_ACTIONS.values()) | ARM_FIX_ACTIONS
    assert actions - used <= set(ARM_ACTIONS.values()) | ARM_FIX_ACTIONS
