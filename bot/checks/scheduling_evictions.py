"""NoExecute evictions: pods the taint manager evicted, and the taint that evicted them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.checks import _evictions as eviction
from bot.checks import _evidence as evi
from bot.checks import _pending as pending
from bot.checks import _scheduling as sch
from bot.checks import azure as arm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import duration, names
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


@check(
    "scheduling.taint_evictions",
    inputs={"events": "kubernetes.list", "pods": "kubernetes.list"},
    optional=("pods",),
)
def taint_evictions(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """Pods were evicted by the taint manager (a NoExecute taint) within the lookback."""
    evictions = eviction.taint_evictions(ev["events"].data or [], evi.data(ev, "pods") or [], ctx)
    if evictions:
        lines = [
            f"{e.ref} evicted by the taint manager {duration(ctx.now - e.when)} ago ({e.how})"
            for e in evictions
        ]
        return StepResult.confirmed(*lines[:5], evicted=[e.ref for e in evictions])
    lookback = duration(ctx.thresholds.lookback)
    look_alikes = eviction.kubelet_evictions(
        ev["events"].data or [], evi.data(ev, "pods") or [], ctx
    )
    return StepResult.ruled_out(
        f"no TaintManagerEviction event nor DeletionByTaintManager pod in the last {lookback}",
        *look_alikes[:3],
        *evi.gaps(ev, "pods"),
    )


def _noexecute(w: pending.World) -> list[tuple[str, Obj]]:
    """(node, taint) for every NoExecute taint a pool or person put on a node (not node health)."""
    return [
        (kube.name(n), t)
        for n in w.nodes
        for t in kube.taints(n)
        if t.get("effect") == "NoExecute" and not sch.is_lifecycle(t)
    ]


def _template(e: eviction.Eviction, pods: list[Obj]) -> Obj | None:
    """The evicted pod, or the one its controller made to replace it (same tolerations)."""
    same = [p for p in pods if kube.namespace(p) == e.namespace and kube.name(p) == e.name]
    if same:
        return same[0]
    stem = e.name.rsplit("-", 1)[0]
    return next(
        (
            p
            for p in pods
            if kube.namespace(p) == e.namespace
            and kube.owner_name(p)
            and kube.name(p).rsplit("-", 1)[0] == stem
        ),
        None,
    )


def _added(taint: Obj) -> datetime | None:
    return kube.parse_time(taint.get("timeAdded"))


def _explain(
    e: eviction.Eviction, taints: list[tuple[str, Obj]], w: pending.World, ctx: CheckContext
) -> tuple[str, dict[str, Any]] | None:
    """The NoExecute taint that evicted this pod: on its node, untolerated, there in time."""
    tpl = _template(e, w.pods)
    for node, taint in taints:
        added = _added(taint)
        if (e.node and e.node != node) or (tpl is not None and kube.tolerates(tpl, taint)):
            continue
        if added is not None and added > e.when + timedelta(minutes=1):
            continue  # put there after this eviction: not its cause
        since = f" (added {duration(ctx.now - added)} ago)" if added else ""
        why = (
            f"which it does not tolerate (its tolerations: {sch.tolerations_text(tpl)})"
            if tpl
            else "put there before the eviction"
        )
        where = f"{node} carries {sch.taint_str(taint)}{since}{_pool_taint(node, taint, w)}"
        line = f"{e.ref}: {where}, {why}"
        pool = next((kube.pool_name(n) for n in w.nodes if kube.name(n) == node), None)
        return line, {"taint": sch.taint_str(taint), "node": node, "pool": pool or "?"}
    return None


@pending.check("scheduling.noexecute_taint")
def noexecute_taint(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A node carries a NoExecute taint that the evicted pods do not tolerate."""
    w = pending.world(ev, ctx)
    taints = _noexecute(w)
    if w.events is None:
        return StepResult.inconclusive(*evi.gaps(ev, "events"))
    evictions = eviction.taint_evictions(w.events, w.pods, ctx)
    now_there = "; ".join(f"{sch.taint_str(t)} on {n}" for n, t in taints) or "none"
    if not evictions:
        return StepResult.ruled_out(
            f"no taint-manager eviction to explain (NoExecute taints now: {now_there})"
        )
    hits, facts = [], {}
    for e in evictions:
        found = _explain(e, taints, w, ctx)
        if found is not None:
            hits.append(found[0])
            for key, value in found[1].items():
                facts.setdefault(key, value)
    if hits:
        return StepResult.confirmed(*hits[:5], evicted=[e.ref for e in evictions], **facts)
    return StepResult.ruled_out(
        f"no pool or user NoExecute taint explains the evictions of "
        f"{names([e.ref for e in evictions])} (NoExecute taints now: {now_there}); "
        "node.kubernetes.io/* evictions are node health: see driver-conflict, spot-eviction"
    )


def _pool_taint(node: str, taint: Obj, w: pending.World) -> str:
    pool = next((kube.pool_name(n) for n in w.nodes if kube.name(n) == node), None)
    for p in w.pools:
        if p.get("name") == pool and sch.taint_str(taint) in {
            sch.taint_str(sch.parse_pool_taint(x))
            for x in arm.pool_props(p).get("nodeTaints") or []
        }:
            return f", set on agent pool {pool} (nodeTaints)"
    return ""
