"""`request-quota`: file a quota increase for a VM family (or the regional totals) with
Microsoft.Quota, at scope subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}.

Azure grants some requests at once and routes others to support (hours to days), so the
apply never waits: it files the request and returns its id and status, and `request_status`
reads the status later. The plan shows the limit before/after, the usage, and whether the
new limit leaves room for the autoscaler's next node of the family's GPU pools (the seed:
"always quota at least one node above steady-state"). A quota has no ETag; the write is
conditioned on the limit the plan saw, so a limit raised meanwhile is never lowered.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.model.domain import gpu_sku, looks_like_gpu_sku
from bot.model.plans import (
    ApplyResult,
    Change,
    FixConflict,
    FixError,
    FixFailed,
    FixPlan,
    FixRefused,
)
from bot.sources.actuators import actuator
from bot.sources.actuators.arm_writes import azure_state, fix_params, writer
from bot.sources.actuators.context import AzureState, FixContext

FIX = "request-quota"
REGIONAL, SPOT = "cores", "lowprioritycores"  # Total Regional vCPUs / low-priority vCPUs


def scope(ctx: FixContext) -> str:
    # No leading slash: the SDK's URL template is "/{scope}/providers/Microsoft.Quota/...".
    return (
        f"subscriptions/{ctx.cluster.subscription_id}/providers/Microsoft.Compute/"
        f"locations/{ctx.cluster.location}"
    )


def _sku_facts(state: AzureState, size: str) -> tuple[str | None, int | None]:
    """(family, vCPUs) of a VM size: the region's SKU list first, the seed's table after."""
    arm, table = state.vm_sku(size) or {}, gpu_sku(size)
    caps = {str(c.get("name")).lower(): str(c.get("value")) for c in arm.get("capabilities") or []}
    vcpus = caps.get("vcpus")
    return (
        arm.get("family") or (table.family if table else None),
        int(vcpus) if vcpus and vcpus.isdigit() else (table.vcpus if table else None),
    )


def _next_node(state: AzureState, family: str) -> tuple[int, str, str] | None:
    """(vCPUs, VM size, pool) of the largest GPU node a pool drawing on `family` may add."""
    wanted, found = family.lower(), []
    for pool in state.agent_pools():
        props = pool.get("properties") or {}
        size = str(props.get("vmSize") or "")
        if not looks_like_gpu_sku(size):
            continue
        spot = str(props.get("scaleSetPriority", "")).lower() == "spot"
        sku_family, vcpus = _sku_facts(state, size)
        draws = (
            spot
            if wanted == SPOT
            else (not spot and wanted == REGIONAL)
            or (not spot and sku_family is not None and sku_family.lower() == wanted)
        )
        if draws and vcpus:
            found.append((vcpus, size, str(pool.get("name"))))
    return max(found) if found else None


def _headroom(state: AzureState, family: str, used: int, new_limit: int) -> str:
    try:
        node = _next_node(state, family)
    except FixError as exc:  # headroom is advice: a failed read is said, not fatal
        return f"headroom for the next node not checked: {exc}"
    if node is None:
        return (
            f"no GPU agent pool draws on {family} yet, so headroom for the next node is not "
            "checked (KAITO creates its pool when it provisions)"
        )
    vcpus, size, pool = node
    free = new_limit - used
    if free >= vcpus:
        return (
            f"leaves {free} vCPUs free: room for {free // vcpus} more {size} node(s) "
            f"({vcpus} vCPUs each, pool {pool})"
        )
    return (
        f"leaves only {free} vCPUs free: NOT enough for the autoscaler's next {size} node "
        f"({vcpus} vCPUs, pool {pool}); ask for at least {used + vcpus}"
    )


def _usage(ctx: FixContext, family: str) -> tuple[str, int, int]:
    """(family as Azure spells it, limit, current usage)."""
    usage = azure_state(ctx).usage(family)
    if usage is None:
        raise FixRefused(f"no quota named {family} in the usages of {ctx.cluster.location}")
    name = str((usage.get("name") or {}).get("value") or family)
    return name, int(usage.get("limit") or 0), int(usage.get("currentValue") or 0)


@actuator(FIX)
class RequestQuota:
    fix = FIX

    def plan(self, ctx: FixContext, params: Any) -> FixPlan:
        p = fix_params(FIX, params)
        where = ctx.cluster.location
        if not (ctx.cluster.subscription_id and where):
            raise FixRefused(f"cluster {ctx.cluster.name}: subscription_id and location needed")
        if p.location and p.location.lower() != where.lower():
            raise FixRefused(
                f"quota for {p.location} asked, but cluster {ctx.cluster.name} "
                f"is in {where}: its quota is the one this bot reads"
            )
        family, limit, used = _usage(ctx, p.family)
        if p.new_limit < limit:
            raise FixRefused(
                f"new limit {p.new_limit} is below the current {limit}: "
                "request-quota only raises a limit"
            )
        return FixPlan(
            fix=FIX,
            cluster=ctx.cluster.name,
            target=f"{family} vCPU quota in {where}",
            target_key=f"{FIX}/{ctx.cluster.subscription_id}/{where}/{family}".lower(),
            params={**p.model_dump(), "family": family, "location": where},
            changes=(
                Change(
                    subject=f"quota {family} in {where}",
                    field="limit",
                    before=limit,
                    after=p.new_limit,
                ),
            ),
            touches=(f"Microsoft.Quota/quotas/{family} at {scope(ctx)}",),
            preconditions={"limit": str(limit)},
            restore=None,  # a granted quota is not handed back by undo
            effect="eventual",
            notes=(
                f"usage {used} of {limit} vCPUs",
                _headroom(azure_state(ctx), family, used, p.new_limit),
                "Azure grants some requests at once and sends others to support (hours to "
                "days): verification stays pending until the limit is raised",
            ),
        )

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan:
        raise FixRefused("a quota request cannot be undone from here")

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult:
        azure = writer(ctx)
        family, new_limit = str(plan.params["family"]), int(plan.params["new_limit"])
        _, limit, _ = _usage(ctx, family)
        if str(limit) != plan.preconditions.get("limit"):
            raise FixConflict(
                f"the {family} limit changed since the plan ({plan.preconditions.get('limit')} "
                f"-> {limit}): nothing was requested; plan the fix again"
            )
        body = {
            "properties": {
                "limit": {"limitObjectType": "LimitValue", "value": new_limit},
                "name": {"value": family},
            }
        }
        initial: dict[str, Any] = {}

        def keep_answer(response: Any) -> None:
            initial["response"] = response  # the last one: a retried PUT's first try lost

        try:
            # polling=False: a request can wait days for support; its status is read later.
            azure.client("quota").quota.begin_create_or_update(
                resource_name=family,
                scope=scope(ctx),
                create_quota_request=body,
                polling=False,
                raw_response_hook=keep_answer,
            )
        except Exception as exc:
            raise FixFailed(f"quota request for {family} failed: {azure.reason(exc)}") from None
        request_id, status = _outcome(initial.get("response"))
        return ApplyResult(
            summary=f"quota request for {family} in {ctx.cluster.location}: {limit} -> "
            f"{new_limit} vCPUs ({status}{f', request {request_id}' if request_id else ''})",
            written=(f"PUT Microsoft.Quota/quotas/{family} at {scope(ctx)}",),
            details={
                "request_id": request_id,
                "status": status,
                "scope": scope(ctx),
                "family": family,
                "requested_limit": new_limit,
            },
        )


def _outcome(pipeline_response: Any) -> tuple[str | None, str]:
    """(request id, status) of the PUT's answer: the id is the last segment of its Location
    (operationsStatus/{id} or quotaRequests/{id}); 200 = decided now, 202 = accepted."""
    if pipeline_response is None:
        return None, "Accepted"
    response = pipeline_response.http_response
    location = response.headers.get("Location") or ""
    request_id = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1] or None
    if response.status_code == 202:
        return request_id, "Accepted"
    try:
        props = (response.json() or {}).get("properties") or {}
    except ValueError:
        props = {}
    return request_id, str(props.get("provisioningState") or "Succeeded")


def request_status(ctx: FixContext, details: dict[str, Any]) -> str:
    """The provisioningState of a filed request (Accepted, InProgress, Succeeded, Failed,
    Invalid), read through `quota_request_status.get`; what the guard polls while pending."""
    request_id = details.get("request_id")
    if not request_id:
        return str(details.get("status") or "unknown")  # decided in the PUT's own answer
    if ctx.azure is None:
        raise FixRefused(f"cluster {ctx.cluster.name}: Azure is not configured for this bot")
    try:
        got = ctx.azure.client("quota").quota_request_status.get(
            id=str(request_id), scope=str(details.get("scope") or scope(ctx))
        )
    except Exception as exc:
        raise FixFailed(
            f"reading quota request {request_id} failed: {ctx.azure.reason(exc)}"
        ) from None
    props = got.as_dict().get("properties") or {}
    return str(props.get("provisioningState") or "unknown")
