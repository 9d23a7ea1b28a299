"""prewarm-now: scale the inference workload up to N replicas through its scale subresource.

One PATCH of `.../scale`, conditioned on the resourceVersion the plan read: if anyone scaled or
edited the workload since, the API server answers 409 and nothing changes. Undo scales back
to the replica count the plan saw. For a KAITO workload the scaled object is its Workspace's
InferenceSet (kube_workloads); the plan's params then name it, so apply and undo act on it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from kubernetes import client

from bot.model.plans import ApplyResult, Change, FixPlan, FixRefused
from bot.sources.actuators import actuator
from bot.sources.actuators.context import FixContext
from bot.sources.actuators.kube_workloads import (
    SCALABLE,
    Workload,
    resolve_workload,
    split_workload,
)
from bot.sources.actuators.kube_writes import (
    MERGE_PATCH,
    Writer,
    kube_state,
    target_key,
    typed_params,
)

FIX = "prewarm-now"


def scale_plan(ctx: FixContext, fix: str, w: Workload, replicas: int, params: Any) -> FixPlan:
    return FixPlan(
        fix=fix,
        cluster=ctx.cluster.name,
        target=f"{w.subject}: {w.replicas} -> {replicas} replicas",
        target_key=target_key(fix, ctx.cluster.name, w.namespace, w.kind, w.name),
        params=params,
        changes=(
            Change(subject=w.subject, field="spec.replicas", before=w.replicas, after=replicas),
        ),
        touches=(w.touched,),
        preconditions={"resourceVersion": w.resource_version} if w.resource_version else {},
        restore={"replicas": w.replicas},
        effect="eventual",
        notes=(*w.notes, *_notes(w.replicas, replicas)),
    )


def _notes(before: int, after: int) -> tuple[str, ...]:
    hpa = "a HorizontalPodAutoscaler targeting this workload, if any, may change the count again"
    if after > before:
        return (
            "each new replica needs a free GPU: when the pool has none, the cluster autoscaler "
            "adds a node first (3-6 minutes: VM boot, driver, image pull, weight load)",
            hpa,
        )
    return (
        "the autoscaler releases a GPU node left idle only after its scale-down-unneeded-time",
        hpa,
    )


def apply_scale(ctx: FixContext, plan: FixPlan) -> ApplyResult:
    """PATCH the scale subresource to the plan's after-value, at the plan's resourceVersion."""
    writer = Writer(ctx)
    version = plan.preconditions.get("resourceVersion")
    if not version:
        raise FixRefused("the plan carries no resourceVersion: refusing an unconditional scale")
    (change,) = plan.changes
    p = plan.params
    kind, name = split_workload(str(p["workload"]))
    plural, kind_name = SCALABLE[kind]
    # The API version the plan read the object at: `touches` is "<apiVersion> <Kind> ns/x/scale".
    api_version = plan.touches[0].split(" ", 1)[0]
    body = {"metadata": {"resourceVersion": version}, "spec": {"replicas": change.after}}
    if plural == "inferencesets":
        group, _, served = api_version.rpartition("/")
        custom = client.CustomObjectsApi(writer.api)
        request = partial(
            custom.patch_namespaced_custom_object_scale,
            group,
            served,
            p["namespace"],
            plural,
            name,
            body,
            _content_type=MERGE_PATCH,
        )
    else:
        apps = client.AppsV1Api(writer.api)
        method = (
            apps.patch_namespaced_stateful_set_scale
            if plural == "statefulsets"
            else apps.patch_namespaced_deployment_scale
        )
        request = partial(method, name, p["namespace"], body, _content_type=MERGE_PATCH)
    writer.call(f"PATCH {api_version} {kind_name} {p['namespace']}/{name}/scale", request)
    return ApplyResult(
        summary=f"{change.subject} scaled {change.before} -> {change.after}",
        written=tuple(writer.written),
    )


@actuator(FIX)
class PrewarmNow:
    fix = FIX

    def plan(self, ctx: FixContext, params: Any) -> FixPlan:
        p = typed_params(FIX, params)
        w = resolve_workload(kube_state(ctx), p.namespace, p.workload)
        if p.replicas < 1:
            raise FixRefused(f"replicas {p.replicas}: a pre-warm scales to at least 1")
        if p.replicas < w.replicas:
            raise FixRefused(
                f"{w.subject} already runs {w.replicas} replicas: a pre-warm never scales down"
            )
        # The params name what the plan scales (a KAITO workload's InferenceSet, say), so the
        # stored plan's apply and undo never resolve the workload again.
        return scale_plan(ctx, FIX, w, p.replicas, {**p.model_dump(), "workload": w.ref})

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult:
        return apply_scale(ctx, plan)

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan:
        if plan.restore is None:
            raise FixRefused(f"{plan.target}: nothing recorded to restore")
        p = typed_params(FIX, plan.params)
        w = resolve_workload(kube_state(ctx), p.namespace, p.workload)
        return scale_plan(ctx, FIX, w, int(plan.restore["replicas"]), plan.params)
