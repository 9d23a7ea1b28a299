"""Readiness rung 6: each inference workload on a GPU pool that scales to zero has a pre-warm.

Readiness semantics (confirmed = the rung fails) are in bot/checks/readiness.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bot.checks import _evidence as evi
from bot.checks import _readiness as rd
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import names
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


# ---- 6. pre-warm ----------------------------------------------------------------------------


class PrewarmParams(rd.RungParams):
    schedule: str = Field("45 7 * * 1-5", description="schedule proposed for a missing pre-warm")
    time_zone: str = Field("UTC", description="time zone proposed for a missing pre-warm")


def _cronjob_line(cj: Obj) -> str:
    spec = cj.get("spec") or {}
    zone = spec.get("timeZone") or "controller time zone, usually UTC"
    return f"{kube.ref(cj)} '{spec.get('schedule')}' ({zone})"


def _cold_pools(pools_body: Any) -> list[Obj]:
    """GPU pools the autoscaler may take to zero nodes."""
    return [
        p
        for p in rd.gpu_pools(pools_body)
        if arm.pool_props(p).get("enableAutoScaling")
        and int(arm.pool_props(p).get("minCount") or 0) == 0
    ]


def _prewarm_of(
    pool: Obj, wl: rd.Workload, cronjobs: list[Obj], params: PrewarmParams
) -> tuple[bool, str, Obj]:
    """(pre-warmed, evidence line, facts) for one workload on a pool that scales to zero."""
    jobs = [c for c in cronjobs if rd.scales_up(c, wl.name, wl.namespace)]
    where = f"pool {pool.get('name')} (minCount 0) hosts {wl.kind} {wl.namespace}/{wl.name}"
    item = {"pool": pool.get("name"), "namespace": wl.namespace, "workload": wl.ref}
    if not jobs:
        line = f"{where}: no CronJob scales {wl.name} up (a cold node on first use)"
        return False, line, {**item, "schedule": params.schedule, "time_zone": params.time_zone}
    spec = jobs[0].get("spec") or {}
    line = f"{where}: pre-warm " + ", ".join(_cronjob_line(c) for c in jobs)
    fact = {**item, "cronjob": kube.name(jobs[0]), "schedule": spec.get("schedule")}
    return True, line, {**fact, "time_zone": spec.get("timeZone")}


@check(
    "readiness.prewarm_in_place",
    inputs={
        "agent_pools": "azure.agent_pools",
        "cronjobs": "kubernetes.list",
        "workspaces": "kubernetes.list",
        "statefulsets": "kubernetes.list",
        "deployments": "kubernetes.list",
    },
    optional=("workspaces", "statefulsets", "deployments"),
    params=PrewarmParams,
)
def prewarm_in_place(ev: evi.Evidence, params: PrewarmParams, ctx: CheckContext) -> StepResult:
    """Each inference workload on a GPU pool that scales to zero has a CronJob scaling it up."""
    kinds = ("workspaces", "statefulsets", "deployments")
    workloads = rd.inference_workloads(*(evi.data(ev, n) for n in kinds))
    unknown = [evi.why_unread(ev, n) for n in kinds if not ev[n].available]
    cold = _cold_pools(ev["agent_pools"].data)
    found: list[tuple[bool, str, Obj]] = [
        _prewarm_of(pool, wl, ev["cronjobs"].data, params)
        for pool in cold
        for wl in workloads
        if rd.pool_hosts(pool, wl) and ctx.scope.admits(wl.namespace, wl.name)
    ]
    ok, missing = [x for x in found if x[0]], [x for x in found if not x[0]]
    facts = {"prewarms": [f for _, _, f in ok], "missing": [f for _, _, f in missing]}
    lines = [line for _, line, _ in missing + ok] + unknown
    if missing:
        return StepResult.confirmed(*lines, **facts)
    # A workload that could not be listed may sit on a scale-to-zero pool without a pre-warm;
    # only when no pool scales to zero does that not matter.
    if unknown and cold:
        return StepResult.inconclusive(
            "cannot tell what the scale-to-zero pools host", *lines, **facts
        )
    if not ok:
        warm = [str(p.get("name")) for p in rd.gpu_pools(ev["agent_pools"].data) if p not in cold]
        note = f"; pools {names(warm)} keep a minimum node" if warm else ""
        return StepResult.ruled_out(
            "no GPU pool that scales to zero hosts an inference workload" + note, **facts
        )
    return StepResult.ruled_out(*lines, **facts)
