"""The pre-warms of a KAITO workload whose Workspace belongs to an InferenceSet, against the
Kubernetes API emulator with the real client: they scale the InferenceSet (KAITO's own replica
count, `spec.replicas` through its scale subresource), never the StatefulSet KAITO reconciles.

Fixture state is the cold-start/inferenceset scenario: InferenceSet default/llama-3-1-8b runs
Workspace llama-3-1-8b-0 (StatefulSet llama-3-1-8b-0); here it is scaled to zero overnight.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from bot.checks import _readiness, _workloads
from bot.model.plans import FixConflict, FixRefused
from tests.conftest import SCENARIOS
from tests.fix_kube_support import CLUSTER, NS, actuator, cluster, edited, snapshot_context

SCENARIO = SCENARIOS / "cold-start" / "inferenceset"
ISET, WS = "llama-3-1-8b", "llama-3-1-8b-0"
STS = f"statefulset/{WS}"
SCALE_PATH = f"/apis/kaito.sh/v1beta1/namespaces/{NS}/inferencesets/{ISET}/scale"
PREWARM = f"gpubot-prewarm-{ISET}"


def _scaled_to(replicas: int, version: str = "v1beta1"):
    def edit(docs):
        for item in docs["inferencesets"]["items"]:
            item["apiVersion"] = f"kaito.sh/{version}"
            item["spec"]["replicas"] = item["status"]["replicas"] = replicas
        docs["inferencesets"]["apiVersion"] = f"kaito.sh/{version}"

    return edit


@pytest.fixture
def overnight(tmp_path) -> Path:
    return edited(SCENARIO, tmp_path, _scaled_to(0))


def _iset_replicas(c) -> int:
    return int(c.read("inferencesets", ISET)["spec"]["replicas"])


def test_prewarm_now_of_a_kaito_workload_scales_its_inferenceset(overnight, tmp_path):
    fix = actuator("prewarm-now")
    with cluster(overnight, tmp_path) as c:
        version = c.read("inferencesets", ISET)["metadata"]["resourceVersion"]
        sts_before = c.read("statefulsets", WS)
        plan = fix.plan(c.ctx, {"namespace": NS, "workload": STS, "replicas": 1})
        assert plan.params["workload"] == f"inferenceset/{ISET}", "the plan names what it scales"
        assert [(x.subject, x.field, x.before, x.after) for x in plan.changes] == [
            (f"inferenceset {NS}/{ISET}", "spec.replicas", 0, 1)
        ]
        assert plan.touches == (f"kaito.sh/v1beta1 InferenceSet {NS}/{ISET}/scale",)
        assert plan.preconditions == {"resourceVersion": version}
        assert plan.target_key == f"prewarm-now/{CLUSTER}/{NS}/inferenceset/{ISET}"
        assert f"KAITO Workspace {NS}/{WS} of InferenceSet {NS}/{ISET}" in plan.notes[0]

        result = fix.apply(c.ctx, plan)
        [write] = c.writes()
        assert (write.method, write.path) == ("PATCH", SCALE_PATH)
        assert write.content_type == "application/merge-patch+json"
        assert write.body == {"metadata": {"resourceVersion": version}, "spec": {"replicas": 1}}
        assert result.written == (f"PATCH kaito.sh/v1beta1 InferenceSet {NS}/{ISET}/scale",)
        assert _iset_replicas(c) == 1
        assert c.read("statefulsets", WS)["spec"] == sts_before["spec"], "KAITO's, untouched"

        undo = fix.undo(c.ctx, plan)
        assert [(x.before, x.after) for x in undo.changes] == [(1, 0)]
        fix.apply(c.ctx, undo)
        assert _iset_replicas(c) == 0


def test_a_workspace_named_directly_is_warmed_through_its_set_too(overnight, tmp_path):
    with cluster(overnight, tmp_path) as c:
        plan = actuator("prewarm-now").plan(
            c.ctx, {"namespace": NS, "workload": f"workspace/{WS}", "replicas": 2}
        )
        assert plan.params["workload"] == f"inferenceset/{ISET}"
        assert [(x.before, x.after) for x in plan.changes] == [(0, 2)]


def test_an_inferenceset_served_only_at_v1alpha1_is_scaled_at_that_version(tmp_path):
    old = edited(SCENARIO, tmp_path, _scaled_to(0, version="v1alpha1"))
    fix = actuator("prewarm-now")
    with cluster(old, tmp_path) as c:
        plan = fix.plan(c.ctx, {"namespace": NS, "workload": f"inferenceset/{ISET}"})
        fix.apply(c.ctx, plan)
        assert [(w.method, w.path) for w in c.writes()] == [
            ("PATCH", SCALE_PATH.replace("v1beta1", "v1alpha1"))
        ]
        assert _iset_replicas(c) == 1


def test_prewarm_now_conflicts_when_the_set_was_scaled_since_the_plan(overnight, tmp_path):
    fix = actuator("prewarm-now")
    with cluster(overnight, tmp_path) as c:
        plan = fix.plan(c.ctx, {"namespace": NS, "workload": STS, "replicas": 1})
        client.CustomObjectsApi(c.client).patch_namespaced_custom_object_scale(
            "kaito.sh", "v1beta1", NS, "inferencesets", ISET, {"spec": {"replicas": 2}}
        )
        c.api.clear()
        with pytest.raises(FixConflict, match=r"changed since the plan.*nothing was written"):
            fix.apply(c.ctx, plan)
        assert _iset_replicas(c) == 2, "their change stands"


def test_prewarm_schedule_targets_the_inferenceset_scale_subresource(overnight, tmp_path):
    fix = actuator("prewarm-schedule")
    params = {"namespace": NS, "workload": STS, "time_zone": "Asia/Kolkata"}
    with cluster(overnight, tmp_path) as c:
        plan = fix.plan(c.ctx, params)
        assert plan.params["workload"] == f"inferenceset/{ISET}"
        assert plan.changes[1].after == [
            {
                "apiGroups": ["kaito.sh"],
                "resources": ["inferencesets/scale"],
                "resourceNames": [ISET],
                "verbs": ["get", "patch"],
            }
        ]
        fix.apply(c.ctx, plan)
        assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in c.writes()] == [
            ("POST", "serviceaccounts"),
            ("POST", "roles"),
            ("POST", "rolebindings"),
            ("POST", "cronjobs"),
        ]
        job = client.BatchV1Api(c.client).read_namespaced_cron_job(PREWARM, NS)
        (container,) = job.spec.job_template.spec.template.spec.containers
        assert container.command == [
            "kubectl",
            "patch",
            "inferencesets.kaito.sh",
            ISET,
            f"--namespace={NS}",
            "--subresource=scale",
            "--type=merge",
            '--patch={"spec":{"replicas":1}}',
        ]
        assert _iset_replicas(c) == 0, "nothing scales before the schedule fires"
        # The checks that offered it now see the workload pre-warmed (what verify re-runs).
        cronjob = c.read("cronjobs", PREWARM)
        assert _readiness.scales_up(cronjob, ISET, NS)
        assert _workloads.prewarms_for(NS, STS, [WS, ISET], [cronjob])

        fix.apply(c.ctx, fix.undo(c.ctx, plan))
        for plural in ("cronjobs", "rolebindings", "roles", "serviceaccounts"):
            assert c.read(plural, PREWARM) is None, plural


def test_the_snapshot_plans_the_inferenceset_pre_warm_as_the_cluster_does(overnight, tmp_path):
    params = {"namespace": NS, "workload": STS}
    offline = actuator("prewarm-schedule").plan(snapshot_context(overnight), params)
    with cluster(overnight, tmp_path) as c:
        live = actuator("prewarm-schedule").plan(c.ctx, params)
    assert (offline.target, offline.params, offline.changes, offline.touches, offline.notes) == (
        live.target,
        live.params,
        live.changes,
        live.touches,
        live.notes,
    )


def test_refusals_name_what_to_do_instead(overnight, tmp_path):
    fix = actuator("prewarm-now")

    def standalone(docs):
        for ws in docs["workspaces"]["items"]:
            ws["metadata"].pop("labels", None)

    def set_deleted(docs):
        docs["inferencesets"]["items"] = []

    with cluster(edited(overnight, tmp_path / "a", standalone), tmp_path) as c:
        with pytest.raises(FixRefused) as bare:
            fix.plan(c.ctx, {"namespace": NS, "workload": STS})
        assert "belongs to no InferenceSet" in str(bare.value)
        assert "pool-min-count" in str(bare.value)
        with pytest.raises(FixRefused, match="workspace default/nope not found"):
            fix.plan(c.ctx, {"namespace": NS, "workload": "workspace/nope"})
    with cluster(edited(overnight, tmp_path / "b", set_deleted), tmp_path) as c:
        with pytest.raises(FixRefused, match=rf"InferenceSet {NS}/{ISET}, which was not found"):
            fix.plan(c.ctx, {"namespace": NS, "workload": STS})
        assert not c.writes()
