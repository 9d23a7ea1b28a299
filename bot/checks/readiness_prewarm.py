"""Readiness rung 6: each inference workload on a GPU pool that scales to zero has a pre-warm.

Readiness semantics (confirmed = the rung fails) are in bot/checks/readiness.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bot.checks import _evidence as evi
from bot.checks import _readiness as rd
from bot.checks import _workloads
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
    # A KAITO workload is pre-warmed through its InferenceSet: a CronJob scaling that counts.
    names = [n for n in (wl.name, wl.inferenceset) if n]
    jobs = [c for c in cronjobs if any(rd.scales_up(c, n, wl.namespace) for n in names)]
    where = f"pool {pool.get('name')} (minCount 0) hosts {wl.kind} {wl.namespace}/{wl.name}"
    item = {"pool": pool.get("name"), "namespace": wl.namespace, "workload": wl.ref}
    if not jobs:
        line = f"{where}: no CronJob scales {wl.name} up (a cold node on first use)"
        return False, line, {**item, "schedule": params.schedule, "time_zone": params.time_zone}
    spec = jobs[0].get("spec") or {}
    line = f"{where}: pre-warm " + ", ".join(_cronjob_line(c) for c in jobs)
    fact = {**item, "cronjob": kube.name(jobs[0]), "schedule": spec.get("schedule")}
    return True, line, {**fact, "time_zone": spec.get("timeZone")}


def _offers(missing: list[tuple[rd.Workload, Obj, Obj]]) -> tuple[dict[str, Any], list[str]]:
    """The fixes a failed rung can offer, and lines saying what each pre-warm scales or why it
    has none: a pre-warm only for what its actuator can scale; a warm node (pool minimum 1)
    where a Workspace has no InferenceSet, except on a System pool (it keeps its own floor)."""
    prewarms: dict[tuple[str, str], Obj] = {}
    keep_warm: set[str] = set()
    lines = []
    for wl, pool, fact in missing:
        target = _workloads.prewarm_target(
            wl.namespace,
            wl.ref,
            workspace=wl.workspace,
            inferenceset=wl.inferenceset,
            controller=wl.controller,
        )
        lines += [target.line] if target.line else []
        if target.target:
            prewarms[(wl.namespace, target.target)] = {**fact, **target.offer()}
            continue
        if wl.workspace and str(arm.pool_props(pool).get("mode", "")).lower() != "system":
            keep_warm.add(str(pool.get("name")))
    return {
        "prewarm_offers": [prewarms[k] for k in sorted(prewarms)],
        "keep_warm_pools": sorted(keep_warm),
    }, lines


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
    found = [
        (wl, pool, *_prewarm_of(pool, wl, ev["cronjobs"].data, params))
        for pool in cold
        for wl in workloads
        if rd.pool_hosts(pool, wl) and ctx.scope.admits(wl.namespace, wl.name)
    ]
    ok = [(line, fact) for _, _, warm, line, fact in found if warm]
    missing = [(wl, pool, line, fact) for wl, pool, warm, line, fact in found if not warm]
    offers, targets = _offers([(wl, pool, fact) for wl, pool, _, fact in missing])
    facts = {
        "prewarms": [f for _, f in ok],
        "missing": [f for *_, f in missing],
        **offers,
    }
    lines = [line for *_, line, _ in missing] + targets + [line for line, _ in ok] + unknown
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
