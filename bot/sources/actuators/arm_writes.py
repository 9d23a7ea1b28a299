"""Conditional ARM writes shared by the Azure fixes: If-Match, conflicts, bounded LRO waits.

Every write here is a read-modify-write of a whole resource: the caller GETs the current body,
checks its ETag against the plan's, changes only the planned fields and PUTs it back with
`If-Match: <plan ETag>`, so a change made by anyone after the plan turns into a 412 and a
`FixConflict`, never into an overwrite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.model.fixes import FIXES
from bot.model.plans import FixConflict, FixFailed, FixPlan, FixRefused
from bot.sources.actuators.context import AzureState, FixContext


def fix_params(fix: str, params: Any) -> Any:
    """The catalogue's typed parameters of `fix`, from a model or a plain mapping."""
    model: type[BaseModel] = FIXES[fix].params
    if isinstance(params, model):
        return params
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "params"
        raise FixRefused(f"{fix}: {where}: {first['msg']}") from None


def azure_state(ctx: FixContext) -> AzureState:
    if ctx.azure_state is None:
        raise FixRefused(
            f"cluster {ctx.cluster.name}: Azure is not configured"
            + (f" ({ctx.read_only_reason})" if ctx.read_only_reason else "")
        )
    return ctx.azure_state


def writer(ctx: FixContext) -> Any:
    """The live `AzureSource` that writes, or the reason this context cannot write to Azure."""
    if not ctx.writable:
        raise FixRefused(str(ctx.read_only_reason))
    if ctx.azure is None or ctx.azure_state is None:
        raise FixRefused(f"cluster {ctx.cluster.name}: Azure is not configured for this bot")
    return ctx.azure


def plan_etag(plan: FixPlan, what: str) -> str:
    etag = plan.preconditions.get("etag")
    if not etag:
        # Without an ETag the write could overwrite a concurrent change: refuse, don't guess.
        raise FixRefused(
            f"the plan for {what} carries no ETag, so the write cannot be guarded against a "
            "concurrent change; plan it again from live state"
        )
    return etag


def check_unchanged(what: str, planned: str, current: str | None) -> None:
    if current != planned:
        raise FixConflict(
            f"{what} changed since the plan (ETag {planned} is now {current}): nothing was "
            "written; plan the fix again"
        )


def put_if_match(
    azure: Any, what: str, resource: str, etag: str, start: Callable[..., Any]
) -> tuple[str, dict[str, Any]]:
    """Run `start(etag=..., match_condition=...)` (an SDK `begin_create_or_update`) and wait a
    bounded time for the long-running operation. Returns (the request made, details)."""
    from azure.core import MatchConditions
    from azure.core.exceptions import HttpResponseError, ResourceModifiedError

    try:
        poller = start(etag=etag, match_condition=MatchConditions.IfNotModified)
    except ResourceModifiedError:
        raise _conflict(what, etag) from None
    except HttpResponseError as exc:
        if exc.status_code == 412:
            raise _conflict(what, etag) from None
        raise FixFailed(f"writing {what} failed: {azure.reason(exc)}") from None
    except Exception as exc:
        raise FixFailed(f"writing {what} failed: {azure.reason(exc)}") from None
    written = f"PUT {resource} (If-Match {etag})"
    try:
        poller.wait(timeout=azure.options.lro_wait)
        if not poller.done():
            # Accepted and still applying (an AKS update can run for many minutes): the
            # verification step, not this worker, waits for the outcome.
            return written, {"provisioningState": "InProgress", "accepted": True}
        result = poller.result()
    except Exception as exc:
        raise FixFailed(f"{what}: the accepted update failed: {azure.reason(exc)}") from None
    props = (result.as_dict() if hasattr(result, "as_dict") else dict(result or {})).get(
        "properties"
    ) or {}
    return written, {"provisioningState": props.get("provisioningState", "Succeeded")}


def _conflict(what: str, etag: str) -> FixConflict:
    return FixConflict(
        f"{what} changed since the plan (If-Match {etag} failed with 412): nothing was "
        "written; plan the fix again"
    )
