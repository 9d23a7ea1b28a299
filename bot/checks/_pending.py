"""What every check of a Pending GPU pod reads once: the pods, the GPU nodes and pools it could
land on, the scheduler's events, and the GPU pods stuck past the threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _sched_events as scheduler
from bot.checks import _scheduling as sch
from bot.checks import azure as arm
from bot.checks import registry
from bot.checks.registry import CheckFn
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import duration
from bot.model.verdicts import StepResult

Obj = dict[str, Any]
INPUTS = {
    "pods": "kubernetes.list",
    "nodes": "kubernetes.list",
    "events": "kubernetes.list",
    "agent_pools": "azure.agent_pools",
}
OPTIONAL = ("events", "agent_pools")


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    """Register a check of a Pending GPU pod over INPUTS (events and agent pools optional)."""
    return registry.check(name, inputs=INPUTS, optional=OPTIONAL)


@dataclass(frozen=True)
class World:
    """What every scheduling check reads, once: pods, nodes, GPU targets, events, stuck pods."""

    pods: list[Obj]
    nodes: list[Obj]
    pools: list[Obj]
    targets: list[sch.Target]
    events: list[Obj] | None
    stuck: list[tuple[Obj, datetime]]
    pools_known: bool  # ARM agent pools were read (so "no GPU pool" is a fact, not a gap)

    @property
    def stuck_requesting_gpu(self) -> list[tuple[Obj, datetime]]:
        """The stuck pods that request a GPU resource (the others only look like GPU pods)."""
        return [(p, s) for p, s in self.stuck if kube.requests_gpu(p)]


def world(ev: evi.Evidence, ctx: CheckContext) -> World:
    pods, nodes = ev["pods"].data or [], ev["nodes"].data or []
    pools = arm.agent_pools(evi.data(ev, "agent_pools"))
    targets = sch.gpu_targets(nodes, pools)
    stuck = sch.stuck_gpu_pods(pods, targets, nodes, ctx)
    known = evi.data(ev, "agent_pools") is not None
    return World(pods, nodes, pools, targets, evi.data(ev, "events"), stuck, known)


def line(pod: Obj, since: datetime, ctx: CheckContext) -> str:
    return f"{kube.ref(pod)} Pending {duration(ctx.now - since)}"


def said(w: World, pod: Obj, ctx: CheckContext) -> str:
    """The scheduler's last word on this pod, quoted, or why there is none."""
    if w.events is None:
        return "events not readable"
    last = scheduler.last_failure(w.events, pod, ctx)
    if last is None:
        return f"no FailedScheduling event in the last {duration(ctx.thresholds.lookback)}"
    return "scheduler: " + scheduler.event_quote(last[0], ctx)


def no_targets(ev: evi.Evidence, w: World, what: str) -> StepResult:
    """No GPU node and no GPU pool: nothing to compare with, unless ARM says there is none."""
    if w.pools_known:
        return StepResult.ruled_out(
            f"no GPU node and no GPU agent pool exist, so {what} cannot be what blocks the pod"
        )
    return StepResult.inconclusive(
        f"no GPU node, and the agent pools are unreadable, to compare {what} with",
        *evi.gaps(ev, "agent_pools"),
    )


def none_stuck(ctx: CheckContext) -> StepResult:
    return StepResult.ruled_out(
        f"no GPU pod has been Pending unscheduled for {duration(ctx.thresholds.stuck)} or more"
    )


def stuck_and_targets(ev: evi.Evidence, ctx: CheckContext, what: str) -> World | StepResult:
    """The world when a stuck GPU pod and a GPU node or pool to compare its `what` with exist;
    else the verdict saying there is nothing to judge."""
    w = world(ev, ctx)
    if not w.stuck:
        return none_stuck(ctx)
    if not w.targets:
        return no_targets(ev, w, what)
    return w
