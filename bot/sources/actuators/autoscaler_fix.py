"""`autoscaler-scale-down`: make the managed cluster's autoscaler give idle GPU nodes back sooner.

A read-modify-write of `properties.autoScalerProfile` (the seed's table: unneeded time and
delay after add 10m -> 5m, skip-nodes-with-system-pods true -> false), PUT with the plan's
ETag in If-Match. The profile is cluster-wide and only acts at the autoscaler's next scan,
so the effect is "eventual".
"""

from __future__ import annotations

import re
from typing import Any

from bot.model.domain import AUTOSCALER_DEFAULTS
from bot.model.fixes import AutoscalerScaleDownParams
from bot.model.plans import ApplyResult, Change, FixPlan, FixRefused
from bot.sources.actuators import actuator
from bot.sources.actuators.arm_writes import (
    azure_state,
    check_unchanged,
    fix_params,
    plan_etag,
    put_if_match,
    writer,
)
from bot.sources.actuators.context import FixContext

FIX = "autoscaler-scale-down"
PREFIX = "autoScalerProfile."
# Profile key -> parameter. AKS takes these durations only as whole minutes ("5m").
KEYS = {
    "scale-down-unneeded-time": "scale_down_unneeded_time",
    "scale-down-delay-after-add": "scale_down_delay_after_add",
    "skip-nodes-with-system-pods": "skip_nodes_with_system_pods",
}
_MINUTES = re.compile(r"[0-9]+m")


def _profile(body: dict[str, Any]) -> dict[str, Any]:
    return dict((body.get("properties") or {}).get("autoScalerProfile") or {})


def _value(profile: dict[str, Any], key: str) -> str | None:
    value = profile.get(key)
    return None if value in (None, "") else str(value)


def _targets(params: AutoscalerScaleDownParams) -> dict[str, str]:
    out = {}
    for key, attr in KEYS.items():
        value = getattr(params, attr)
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif _MINUTES.fullmatch(str(value)):
            out[key] = str(value)
        else:
            raise FixRefused(f"{key} {value!r}: AKS takes whole minutes, such as 5m")
    return out


def _subject(ctx: FixContext) -> str:
    return f"managed cluster {ctx.cluster.name}"


def _resource(ctx: FixContext) -> str:
    return f"Microsoft.ContainerService/managedClusters/{ctx.cluster.name}"


@actuator(FIX)
class AutoscalerScaleDown:
    fix = FIX

    def plan(self, ctx: FixContext, params: Any) -> FixPlan:
        p = fix_params(FIX, params)
        body, etag = azure_state(ctx).managed_cluster()
        profile = _profile(body)
        changes = tuple(
            Change(subject=_subject(ctx), field=PREFIX + key, before=_value(profile, key), after=v)
            for key, v in _targets(p).items()
        )
        notes = [
            f"{key} is unset today: AKS uses its default {AUTOSCALER_DEFAULTS[key]}"
            for key in KEYS
            if _value(profile, key) is None
        ]
        return self._plan(ctx, p.model_dump(), changes, etag, profile, notes)

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan:
        if plan.restore is None:
            raise FixRefused(f"{FIX}: the plan records no before-state to restore")
        body, etag = azure_state(ctx).managed_cluster()
        profile = _profile(body)
        changes, notes = [], []
        for key, before in plan.restore["autoScalerProfile"].items():
            after = before
            if before is None:
                # The key was unset: write AKS's default explicitly, which is what "unset"
                # meant, rather than rely on how a PUT without the key is merged.
                after = AUTOSCALER_DEFAULTS[key]
                notes.append(f"{key} was unset before the fix: undo sets AKS's default {after}")
            changes.append(
                Change(
                    subject=_subject(ctx),
                    field=PREFIX + key,
                    before=_value(profile, key),
                    after=after,
                )
            )
        return self._plan(ctx, plan.params, tuple(changes), etag, profile, notes)

    def _plan(
        self,
        ctx: FixContext,
        params: dict[str, Any],
        changes: tuple[Change, ...],
        etag: str | None,
        profile: dict[str, Any],
        notes: list[str],
    ) -> FixPlan:
        scan = _value(profile, "scan-interval") or "10s"
        return FixPlan(
            fix=FIX,
            cluster=ctx.cluster.name,
            target=f"cluster autoscaler profile of {_subject(ctx)}",
            target_key=f"{FIX}/{ctx.cluster.subscription_id}/{ctx.cluster.resource_group}/"
            f"{ctx.cluster.name}",
            params=params,
            changes=changes,
            touches=(_resource(ctx),),
            preconditions={"etag": etag} if etag else {},
            restore={
                "autoScalerProfile": {
                    c.field.removeprefix(PREFIX): _value(profile, c.field.removeprefix(PREFIX))
                    for c in changes
                }
            },
            effect="eventual",
            notes=(
                "cluster-wide: applies to every autoscaling pool, not only the GPU pools",
                f"takes effect at the cluster autoscaler's next scan (scan-interval {scan})",
                *notes,
            ),
        )

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult:
        from azure.mgmt.containerservice.models import ManagedCluster

        azure = writer(ctx)
        what = _subject(ctx)
        etag = plan_etag(plan, what)
        body, current = azure_state(ctx).managed_cluster()
        check_unchanged(what, etag, current)
        props = body.setdefault("properties", {})
        profile = props["autoScalerProfile"] = _profile(body)
        for change in plan.changes:
            key = change.field.removeprefix(PREFIX)
            if change.after is None:
                profile.pop(key, None)
            else:
                profile[key] = change.after
        aks = azure.client("aks").managed_clusters
        written, details = put_if_match(
            azure,
            what,
            _resource(ctx),
            etag,
            lambda **cond: aks.begin_create_or_update(
                ctx.cluster.resource_group, ctx.cluster.name, ManagedCluster(body), **cond
            ),
        )
        moved = ", ".join(
            f"{c.field.removeprefix(PREFIX)} {c.before or 'unset'} -> {c.after}"
            for c in plan.changes
            if c.before != c.after
        )
        return ApplyResult(
            summary=f"{what} autoscaler profile: {moved or 'unchanged'}",
            written=(written,),
            details=details,
        )
