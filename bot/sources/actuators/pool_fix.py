"""`pool-min-count`: set a GPU agent pool's autoscaler floor and ceiling (scale to zero, or keep
one node warm), through agent pools create-or-update with the plan's ETag in If-Match.

Refused: min above max, a negative min, a System pool taken to 0 (AKS keeps system pods on
at least one node). A pool scaled by hand is switched to the autoscaler only when the offer
names a max_count (so the ceiling is a decision, not a guess); otherwise it is refused with
what to do instead. Node counts follow through the autoscaler, hence effect "eventual".
"""

from __future__ import annotations

from typing import Any

from bot.model.fixes import PoolMinCountParams
from bot.model.plans import ApplyResult, Change, FixConflict, FixPlan, FixRefused
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

FIX = "pool-min-count"
FIELDS = ("enableAutoScaling", "minCount", "maxCount")


def _subject(pool: str) -> str:
    return f"agent pool {pool}"


def _resource(ctx: FixContext, pool: str) -> str:
    return f"Microsoft.ContainerService/managedClusters/{ctx.cluster.name}/agentPools/{pool}"


def _read(ctx: FixContext, name: str) -> tuple[dict[str, Any], str | None]:
    pool, etag = azure_state(ctx).agent_pool(name)
    if pool is None:
        raise FixRefused(f"agent pool {name} not found in cluster {ctx.cluster.name}")
    return pool, etag


def _props(pool: dict[str, Any]) -> dict[str, Any]:
    return dict(pool.get("properties") or {})


def _bounds(name: str, props: dict[str, Any], p: PoolMinCountParams) -> tuple[int, list[str]]:
    """The new max, and the notes a person should read; refuses what AKS or sense forbids."""
    autoscaling = bool(props.get("enableAutoScaling"))
    count = props.get("count")
    if p.min_count < 0:
        raise FixRefused(f"min_count {p.min_count}: must be 0 or more")
    if not autoscaling and p.max_count is None:
        raise FixRefused(
            f"agent pool {name} is scaled by hand (count {count}), not by the autoscaler: "
            "offer a max_count to turn the autoscaler on with min..max, or scale it by hand"
        )
    new_max = p.max_count if p.max_count is not None else int(props.get("maxCount") or 0)
    if p.min_count > new_max:
        raise FixRefused(f"min_count {p.min_count} is above max_count {new_max}")
    if new_max < 1:
        raise FixRefused(f"max_count {new_max}: the autoscaler needs a ceiling of at least 1")
    if str(props.get("mode", "")).lower() == "system" and p.min_count == 0:
        raise FixRefused(
            f"agent pool {name} is a System pool: AKS keeps system pods on at least one node, "
            "so its minimum cannot be 0"
        )
    notes = []
    if not autoscaling:
        notes.append(
            f"agent pool {name} is scaled by hand today (count {count}): this turns the "
            f"cluster autoscaler on with min {p.min_count}, max {new_max}"
        )
    if isinstance(count, int) and count < p.min_count:
        notes.append(
            f"the autoscaler adds {p.min_count - count} {props.get('vmSize')} node(s) to reach "
            "the new minimum; they bill from then"
        )
    if isinstance(count, int) and count > new_max:
        notes.append(f"{count - new_max} node(s) above the new maximum are removed")
    if p.min_count == 0:
        notes.append(
            "idle nodes leave after scale-down-unneeded-time; the first request after that "
            "pays a cold start (3-6 min)"
        )
    return new_max, notes


@actuator(FIX)
class PoolMinCount:
    fix = FIX

    def plan(self, ctx: FixContext, params: Any) -> FixPlan:
        p = fix_params(FIX, params)
        pool, etag = _read(ctx, p.pool)
        props = _props(pool)
        new_max, notes = _bounds(p.pool, props, p)
        after = {"enableAutoScaling": True, "minCount": p.min_count, "maxCount": new_max}
        changes = [
            Change(subject=_subject(p.pool), field=f, before=props.get(f), after=after[f])
            for f in FIELDS
            # Only a hand-scaled pool changes mode; an autoscaling one shows min and max.
            if f != "enableAutoScaling" or not props.get("enableAutoScaling")
        ]
        return self._plan(ctx, p.model_dump(), pool, etag, tuple(changes), notes)

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan:
        if plan.restore is None:
            raise FixRefused(f"{FIX}: the plan records no before-state to restore")
        name = str(plan.params["pool"])
        pool, etag = _read(ctx, name)
        props = _props(pool)
        changes = tuple(
            Change(
                subject=_subject(name),
                field=c.field,
                before=props.get(c.field),
                after=plan.restore[c.field],
            )
            for c in plan.changes
        )
        return self._plan(ctx, plan.params, pool, etag, changes, [])

    def _plan(
        self,
        ctx: FixContext,
        params: dict[str, Any],
        pool: dict[str, Any],
        etag: str | None,
        changes: tuple[Change, ...],
        notes: list[str],
    ) -> FixPlan:
        props, name = _props(pool), str(params["pool"])
        return FixPlan(
            fix=FIX,
            cluster=ctx.cluster.name,
            target=f"autoscaler bounds of {_subject(name)} ({props.get('vmSize')}, "
            f"{props.get('count')} node(s) now)",
            target_key=f"{FIX}/{ctx.cluster.subscription_id}/{ctx.cluster.resource_group}/"
            f"{ctx.cluster.name}/{name}",
            params=params,
            changes=changes,
            touches=(_resource(ctx, name),),
            preconditions={"etag": etag} if etag else {},
            restore={c.field: props.get(c.field) for c in changes},
            effect="eventual",
            notes=tuple(notes),
        )

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult:
        from azure.mgmt.containerservice.models import AgentPool

        azure = writer(ctx)
        name = str(plan.params["pool"])
        what = _subject(name)
        etag = plan_etag(plan, what)
        pool, current = azure_state(ctx).agent_pool(name)
        if pool is None:
            raise FixConflict(f"{what} was deleted since the plan: nothing was written")
        check_unchanged(what, etag, current)
        props = pool["properties"] = _props(pool)
        for change in plan.changes:
            if change.after is None:
                props.pop(change.field, None)  # back to "not set", e.g. a hand-scaled pool
            else:
                props[change.field] = change.after
        pools = azure.client("aks").agent_pools
        written, details = put_if_match(
            azure,
            what,
            _resource(ctx, name),
            etag,
            lambda **cond: pools.begin_create_or_update(
                ctx.cluster.resource_group, ctx.cluster.name, name, AgentPool(pool), **cond
            ),
        )
        moved = ", ".join(f"{c.field} {c.before} -> {c.after}" for c in plan.changes)
        return ApplyResult(summary=f"{what}: {moved}", written=(written,), details=details)
