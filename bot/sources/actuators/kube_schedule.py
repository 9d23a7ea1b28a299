"""prewarm-schedule: a CronJob that scales the inference workload up before business hours.

The plan reads the four objects (kube_prewarm_objects) by name. Missing ones are created; a
gpubot CronJob already there is replaced with the new spec (PUT at the resourceVersion read);
gpubot RBAC objects that already say the same are kept. Anything of that name not labelled
as gpubot's is someone else's: refused, never overwritten.

Every change is one `Change` per object: its subject is "<kind> <ns>/<name>", and before/after
are the exact content (None = absent), so apply and undo act from the plan alone: create what
was absent, delete what becomes absent, replace the CronJob's spec. Preconditions name each
object the write depends on: "absent" (it must still not exist) or the resourceVersion read.
Before any write, apply checks all of them, so a concurrent change writes nothing.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import partial
from typing import Any

from kubernetes import client

from bot.model import kube
from bot.model.plans import ApplyResult, Change, FixConflict, FixPlan, FixRefused
from bot.sources.actuators import actuator
from bot.sources.actuators import kube_prewarm_objects as objects
from bot.sources.actuators.context import FixContext, KubeState
from bot.sources.actuators.kube_workloads import Workload, resolve_workload, split_workload
from bot.sources.actuators.kube_writes import (
    MANAGED_BY,
    Writer,
    kube_state,
    target_key,
    typed_params,
)

FIX = "prewarm-schedule"
ABSENT = "absent"
CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")


def _check_schedule(schedule: str, time_zone: str) -> None:
    fields = schedule.split()
    if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
        raise FixRefused(f"schedule {schedule!r}: expected five cron fields, e.g. 45 7 * * 1-5")
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise FixRefused(f"time zone {time_zone!r} is not an IANA zone name") from None


def _subject(kind: str, namespace: str, name: str) -> str:
    return f"{kind.lower()} {namespace}/{name}"


class _Reader:
    def __init__(self, state: KubeState, namespace: str, name: str) -> None:
        self.state, self.namespace, self.name = state, namespace, name

    def get(self, kind: str) -> dict[str, Any] | None:
        return self.state.get(objects.API[kind][1], self.namespace, self.name)


def _plan(ctx: FixContext, w: Workload, p: Any) -> FixPlan:
    name = objects.object_name(w.name)
    reader = _Reader(kube_state(ctx), w.namespace, name)
    changes, pre, created, previous_spec = [], {}, [], None
    for kind in objects.ORDER:
        existing, wanted = reader.get(kind), objects.desired(kind, w, p, name)
        subject = _subject(kind, w.namespace, name)
        if existing is not None and kube.labels(existing).get(MANAGED_BY) != "gpubot":
            raise FixRefused(f"{subject} exists and is not gpubot's: not overwriting it")
        if existing is None:
            changes.append(Change(subject=subject, field=kind, before=None, after=wanted))
            pre[kind], created = ABSENT, [*created, kind]
        elif kind == "CronJob":
            previous_spec = objects.content_of(kind, existing)
            changes.append(Change(subject=subject, field=kind, before=previous_spec, after=wanted))
            pre[kind] = _version(existing)
        elif kind != "ServiceAccount" and objects.content_of(kind, existing) != wanted:
            raise FixRefused(f"{subject} is gpubot's but grants something else: undo that first")
    return FixPlan(
        fix=FIX,
        cluster=ctx.cluster.name,
        target=f"pre-warm {w.subject} to {p.replicas} at '{p.schedule}' ({p.time_zone})",
        target_key=target_key(FIX, ctx.cluster.name, w.namespace, w.kind, w.name),
        # The params name what is scaled (a KAITO workload's InferenceSet, say): undo and the
        # precondition check find the objects by that name without resolving it again.
        params={**p.model_dump(), "workload": w.ref},
        changes=tuple(changes),
        touches=tuple(f"{objects.API[c.field][0]} {c.field} {w.namespace}/{name}" for c in changes),
        preconditions=pre,
        restore={"created": created, "cronjob_spec": previous_spec},
        effect="eventual",
        notes=(
            *w.notes,
            f"the first run is the next '{p.schedule}' in {p.time_zone}; it scales "
            f"{w.ref} to {p.replicas} and the autoscaler adds a GPU node if none is free",
            f"the Job runs {p.image} as ServiceAccount {name}, which may only get and patch "
            f"the scale of {w.ref}",
            "nothing here scales it down after hours: the workload keeps its replicas until "
            "someone (or a nightly job) scales it to zero",
        ),
    )


@actuator(FIX)
class PrewarmSchedule:
    fix = FIX

    def plan(self, ctx: FixContext, params: Any) -> FixPlan:
        p = typed_params(FIX, params)
        _check_schedule(p.schedule, p.time_zone)
        if p.replicas < 1:
            raise FixRefused(f"replicas {p.replicas}: a pre-warm scales to at least 1")
        return _plan(ctx, resolve_workload(kube_state(ctx), p.namespace, p.workload), p)

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult:
        p = typed_params(FIX, plan.params)
        writer = Writer(ctx)
        _check_preconditions(ctx, plan)
        for change in plan.changes:
            _write(writer, change, plan.preconditions[change.field], p.namespace)
        return ApplyResult(
            summary=f"{plan.target}: " + ", ".join(_verb(c) for c in plan.changes),
            written=tuple(writer.written),
        )

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan:
        if plan.restore is None:
            raise FixRefused(f"{plan.target}: nothing recorded to restore")
        p = typed_params(FIX, plan.params)
        namespace, name = p.namespace, objects.object_name(split_workload(p.workload)[1])
        reader = _Reader(kube_state(ctx), namespace, name)
        changes, pre = [], {}
        # Reverse order: the CronJob goes first, so it never runs without its permissions.
        for kind in reversed(objects.ORDER):
            if kind not in plan.restore["created"] and kind != "CronJob":
                continue
            now = reader.get(kind)
            if now is None:
                continue  # already gone: nothing to undo for it
            before = objects.content_of(kind, now)
            after = None if kind in plan.restore["created"] else plan.restore["cronjob_spec"]
            subject = _subject(kind, namespace, name)
            changes.append(Change(subject=subject, field=kind, before=before, after=after))
            pre[kind] = _version(now)
        return plan.model_copy(
            update={
                "target": f"undo: {plan.target}",
                "changes": tuple(changes),
                "touches": tuple(
                    f"{objects.API[c.field][0]} {c.field} {namespace}/{name}" for c in changes
                ),
                "preconditions": pre,
                "restore": None,
                "notes": (
                    "deletes what the pre-warm created, or puts back the CronJob spec it replaced",
                ),
                "undoes": None,
            }
        )


def _version(obj: dict[str, Any]) -> str:
    return str(kube.meta(obj).get("resourceVersion") or "")


def _verb(change: Change) -> str:
    if change.before is None:
        return f"created {change.subject}"
    if change.after is None:
        return f"deleted {change.subject}"
    return f"updated {change.subject}"


def _check_preconditions(ctx: FixContext, plan: FixPlan) -> None:
    """Every object as the plan saw it, before the first write: else nothing is written."""
    p = typed_params(FIX, plan.params)
    name = objects.object_name(split_workload(p.workload)[1])
    reader = _Reader(kube_state(ctx), p.namespace, name)
    for kind, wanted in plan.preconditions.items():
        now = reader.get(kind)
        version = None if now is None else _version(now)
        if (wanted == ABSENT) != (now is None) or (
            now is not None and wanted not in (ABSENT, version)
        ):
            seen = "absent" if now is None else f"resourceVersion {version}"
            raise FixConflict(
                f"{kind} {p.namespace}/{reader.name} changed since the plan (plan: {wanted}, "
                f"now: {seen}); nothing was written"
            )


def _write(writer: Writer, change: Change, precondition: str, namespace: str) -> None:
    kind = change.field
    api_version = objects.API[kind][0]
    name = change.subject.split("/", 1)[1]
    line = f"{api_version} {kind} {namespace}/{name}"
    fn = _method(writer.api, kind)
    if change.before is None:
        body = objects.body(kind, name, namespace, change.after)
        writer.call(f"POST {line}", partial(fn["create"], namespace, body))
    elif change.after is None:
        options = {"preconditions": {"resourceVersion": precondition}}
        writer.call(f"DELETE {line}", partial(fn["delete"], name, namespace, body=options))
    else:
        body = objects.body(kind, name, namespace, change.after)
        body["metadata"]["resourceVersion"] = precondition
        writer.call(f"PUT {line}", partial(fn["replace"], name, namespace, body))


def _method(api: Any, kind: str) -> dict[str, Any]:
    if kind == "ServiceAccount":
        core = client.CoreV1Api(api)
        return {
            "create": core.create_namespaced_service_account,
            "delete": core.delete_namespaced_service_account,
        }
    if kind == "CronJob":
        batch = client.BatchV1Api(api)
        return {
            "create": batch.create_namespaced_cron_job,
            "delete": batch.delete_namespaced_cron_job,
            "replace": batch.replace_namespaced_cron_job,
        }
    rbac = client.RbacAuthorizationV1Api(api)
    snake = "role" if kind == "Role" else "role_binding"
    return {
        "create": getattr(rbac, f"create_namespaced_{snake}"),
        "delete": getattr(rbac, f"delete_namespaced_{snake}"),
    }
