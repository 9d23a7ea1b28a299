"""prewarm-now and prewarm-schedule against the Kubernetes API emulator, with the real client.

Fixture state is the cold-start scenario (the seed's 07:45 weekday example): its workload is a
KAITO StatefulSet, which the pre-warms refuse (KAITO has no replica field to change); the
happy paths run on the same workload made plain (no owner), scaled to zero overnight.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from bot.checks import _readiness
from bot.model.plans import FixConflict, FixRefused
from tests.fix_kube_support import (
    CLUSTER,
    COLD_START,
    KV_BOUND,
    NS,
    WS,
    actuator,
    cluster,
    edited,
    plain_workload,
)

STS = f"statefulset/{WS}"
PREWARM = f"gpubot-prewarm-{WS}"
MANAGED = {"app.kubernetes.io/managed-by": "gpubot", "app.kubernetes.io/component": "prewarm"}


@pytest.fixture
def plain(tmp_path):
    return edited(COLD_START, tmp_path, plain_workload("statefulsets", 0))


# ---- prewarm-now ---------------------------------------------------------------------------


def test_prewarm_now_plans_applies_and_undoes_through_the_scale_subresource(plain, tmp_path):
    fix = actuator("prewarm-now")
    with cluster(plain, tmp_path) as c:
        version = c.read("statefulsets", WS)["metadata"]["resourceVersion"]
        plan = fix.plan(c.ctx, {"namespace": NS, "workload": STS, "replicas": 2})
        assert [(x.subject, x.field, x.before, x.after) for x in plan.changes] == [
            (f"statefulset {NS}/{WS}", "spec.replicas", 0, 2)
        ]
        assert plan.touches == (f"apps/v1 StatefulSet {NS}/{WS}/scale",)
        assert plan.preconditions == {"resourceVersion": version}
        assert plan.target_key == f"prewarm-now/{CLUSTER}/{NS}/statefulset/{WS}"
        assert plan.reversible and not c.writes()

        result = fix.apply(c.ctx, plan)
        [write] = c.writes()
        assert (write.method, write.path) == (
            "PATCH",
            f"/apis/apps/v1/namespaces/{NS}/statefulsets/{WS}/scale",
        )
        assert write.content_type == "application/merge-patch+json"
        assert write.body == {"metadata": {"resourceVersion": version}, "spec": {"replicas": 2}}
        assert client.AppsV1Api(c.client).read_namespaced_stateful_set(WS, NS).spec.replicas == 2
        assert "0 -> 2" in result.summary

        undo = fix.undo(c.ctx, plan)
        assert [(x.before, x.after) for x in undo.changes] == [(2, 0)]
        assert undo.preconditions["resourceVersion"] != version  # read now, not replayed
        fix.apply(c.ctx, undo)
        assert c.read("statefulsets", WS)["spec"]["replicas"] == 0


def test_prewarm_now_scales_a_plain_deployment_too(tmp_path):
    snapshot = edited(KV_BOUND, tmp_path, plain_workload("deployments", 1))
    with cluster(snapshot, tmp_path) as c:
        plan = actuator("prewarm-now").plan(
            c.ctx, {"namespace": NS, "workload": f"deploy/{WS}", "replicas": 3}
        )
        actuator("prewarm-now").apply(c.ctx, plan)
        assert [w.path for w in c.writes()] == [
            f"/apis/apps/v1/namespaces/{NS}/deployments/{WS}/scale"
        ]
        assert c.read("deployments", WS)["spec"]["replicas"] == 3


def test_prewarm_now_conflicts_when_the_workload_changed_since_the_plan(plain, tmp_path):
    fix = actuator("prewarm-now")
    with cluster(plain, tmp_path) as c:
        plan = fix.plan(c.ctx, {"namespace": NS, "workload": STS, "replicas": 1})
        # Someone else scales it between the plan and the click.
        client.AppsV1Api(c.client).patch_namespaced_stateful_set_scale(
            WS, NS, {"spec": {"replicas": 3}}
        )
        with pytest.raises(FixConflict, match=r"changed since the plan.*nothing was written"):
            fix.apply(c.ctx, plan)
        assert c.read("statefulsets", WS)["spec"]["replicas"] == 3, "their change stands"


def test_prewarm_now_refuses_a_kaito_workload_missing_targets_and_scale_downs(plain, tmp_path):
    fix = actuator("prewarm-now")
    with cluster(COLD_START, tmp_path) as c:
        with pytest.raises(FixRefused) as kaito:
            fix.plan(c.ctx, {"namespace": NS, "workload": STS, "replicas": 1})
        assert "KAITO Workspace default/workspace-llama-3-1-8b" in str(kaito.value)
        assert "pool-min-count" in str(kaito.value)
        with pytest.raises(FixRefused, match="no replica field"):
            fix.plan(c.ctx, {"namespace": NS, "workload": f"workspace/{WS}", "replicas": 1})
        with pytest.raises(FixRefused, match="not found"):
            fix.plan(c.ctx, {"namespace": NS, "workload": "statefulset/nope", "replicas": 1})
        with pytest.raises(FixRefused, match="expected kind/name"):
            fix.plan(c.ctx, {"namespace": NS, "workload": WS, "replicas": 1})
        assert not c.writes()
    with cluster(plain, tmp_path) as c:
        fix.apply(c.ctx, fix.plan(c.ctx, {"namespace": NS, "workload": STS, "replicas": 2}))
        with pytest.raises(FixRefused, match="never scales down"):
            fix.plan(c.ctx, {"namespace": NS, "workload": STS, "replicas": 1})


# ---- prewarm-schedule ----------------------------------------------------------------------

SCHEDULE = {
    "namespace": NS,
    "workload": STS,
    "schedule": "45 7 * * 1-5",
    "time_zone": "Asia/Kolkata",
}


def test_prewarm_schedule_creates_the_cronjob_and_least_privilege_rbac(plain, tmp_path):
    fix = actuator("prewarm-schedule")
    with cluster(plain, tmp_path) as c:
        plan = fix.plan(c.ctx, SCHEDULE)
        assert [(x.field, x.before) for x in plan.changes] == [
            ("ServiceAccount", None),
            ("Role", None),
            ("RoleBinding", None),
            ("CronJob", None),
        ]
        role, cron = plan.changes[1].after, plan.changes[3].after
        assert role == [
            {
                "apiGroups": ["apps"],
                "resources": ["statefulsets/scale"],
                "resourceNames": [WS],
                "verbs": ["get", "patch"],
            }
        ]
        assert (cron["schedule"], cron["timeZone"]) == ("45 7 * * 1-5", "Asia/Kolkata")
        assert plan.preconditions == dict.fromkeys(
            ("ServiceAccount", "Role", "RoleBinding", "CronJob"), "absent"
        )
        assert plan.target_key == f"prewarm-schedule/{CLUSTER}/{NS}/statefulset/{WS}"

        fix.apply(c.ctx, plan)
        assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in c.writes()] == [
            ("POST", "serviceaccounts"),
            ("POST", "roles"),
            ("POST", "rolebindings"),
            ("POST", "cronjobs"),
        ], "RBAC first, so the Job never runs without its permission"
        assert all(w.body["metadata"]["labels"] == MANAGED for w in c.writes())
        job = client.BatchV1Api(c.client).read_namespaced_cron_job(PREWARM, NS)
        assert (job.spec.schedule, job.spec.time_zone) == ("45 7 * * 1-5", "Asia/Kolkata")
        pod = job.spec.job_template.spec.template.spec
        assert pod.service_account_name == PREWARM
        (container,) = pod.containers
        assert container.image == "registry.k8s.io/kubectl:v1.31.3"  # the param's default
        binding = client.RbacAuthorizationV1Api(c.client).read_namespaced_role_binding(PREWARM, NS)
        assert (binding.role_ref.name, binding.subjects[0].name) == (PREWARM, PREWARM)
        # The morning readiness rung recognises it as a pre-warm of this workload.
        assert _readiness.scales_up(c.read("cronjobs", PREWARM), WS, NS)


def test_prewarm_schedule_undo_deletes_what_it_created(plain, tmp_path):
    fix = actuator("prewarm-schedule")
    with cluster(plain, tmp_path) as c:
        plan = fix.plan(c.ctx, {**SCHEDULE, "image": "registry.example/kubectl:1.31"})
        fix.apply(c.ctx, plan)
        assert (
            c.read("cronjobs", PREWARM)["spec"]["jobTemplate"]["spec"]["template"]["spec"][
                "containers"
            ][0]["image"]
            == "registry.example/kubectl:1.31"
        )
        c.api.clear()
        undo = fix.undo(c.ctx, plan)
        assert [(x.field, x.after) for x in undo.changes] == [
            ("CronJob", None),
            ("RoleBinding", None),
            ("Role", None),
            ("ServiceAccount", None),
        ]
        fix.apply(c.ctx, undo)
        assert [w.method for w in c.writes()] == ["DELETE"] * 4
        assert all("resourceVersion" in w.body["preconditions"] for w in c.writes())
        for plural in ("cronjobs", "rolebindings", "roles", "serviceaccounts"):
            assert c.read(plural, PREWARM) is None, plural


def test_prewarm_schedule_updates_its_own_cronjob_and_undo_restores_the_spec(plain, tmp_path):
    fix = actuator("prewarm-schedule")
    with cluster(plain, tmp_path) as c:
        fix.apply(c.ctx, fix.plan(c.ctx, SCHEDULE))
        original = c.read("cronjobs", PREWARM)["spec"]
        assert fix.plan(c.ctx, SCHEDULE).noop, "the same pre-warm again changes nothing"
        c.api.clear()
        plan = fix.plan(c.ctx, {**SCHEDULE, "schedule": "30 7 * * 1-5", "replicas": 2})
        [change] = plan.changes
        assert (change.before["schedule"], change.after["schedule"]) == (
            "45 7 * * 1-5",
            "30 7 * * 1-5",
        )
        fix.apply(c.ctx, plan)
        [put] = c.writes()
        assert put.method == "PUT" and put.body["metadata"]["resourceVersion"]
        assert c.read("cronjobs", PREWARM)["spec"]["schedule"] == "30 7 * * 1-5"
        fix.apply(c.ctx, fix.undo(c.ctx, plan))
        assert c.read("cronjobs", PREWARM)["spec"] == original
        assert c.read("roles", PREWARM) is not None, "undoing the update keeps the RBAC"


def test_prewarm_schedule_conflict_writes_nothing(plain, tmp_path):
    fix = actuator("prewarm-schedule")
    with cluster(plain, tmp_path) as c:
        plan = fix.plan(c.ctx, SCHEDULE)
        sa = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=PREWARM, labels=MANAGED))
        client.CoreV1Api(c.client).create_namespaced_service_account(NS, sa)
        c.api.clear()
        with pytest.raises(FixConflict, match=r"ServiceAccount .* changed since the plan"):
            fix.apply(c.ctx, plan)
        assert not c.writes()
        assert c.read("cronjobs", PREWARM) is None


def test_prewarm_schedule_refusals(plain, tmp_path):
    fix = actuator("prewarm-schedule")
    with (
        cluster(COLD_START, tmp_path) as c,
        pytest.raises(FixRefused, match=r"KAITO.*pool-min-count"),
    ):
        fix.plan(c.ctx, SCHEDULE)
    with cluster(plain, tmp_path) as c:
        with pytest.raises(FixRefused, match="IANA"):
            fix.plan(c.ctx, {**SCHEDULE, "time_zone": "Mars/Olympus"})
        with pytest.raises(FixRefused, match="five cron fields"):
            fix.plan(c.ctx, {**SCHEDULE, "schedule": "TZ=UTC 45 7 * * 1-5"})
        theirs = client.V1CronJob(
            metadata=client.V1ObjectMeta(name=PREWARM),
            spec=client.V1CronJobSpec(
                schedule="0 8 * * *",
                job_template=client.V1JobTemplateSpec(
                    spec=client.V1JobSpec(
                        template=client.V1PodTemplateSpec(
                            spec=client.V1PodSpec(
                                containers=[client.V1Container(name="x", image="busybox")]
                            )
                        )
                    )
                ),
            ),
        )
        client.BatchV1Api(c.client).create_namespaced_cron_job(NS, theirs)
        c.api.clear()
        with pytest.raises(FixRefused, match="not gpubot's"):
            fix.plan(c.ctx, SCHEDULE)
        assert not c.writes()
