"""What the scheduler and the autoscaler said about a pod: FailedScheduling / NotTriggerScaleUp
messages parsed, and the pod's recent events quoted, the same way in every check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, duration

Obj = dict[str, Any]

_HEAD = re.compile(r"^\s*(\d+)/(\d+) nodes are available:?\s*")
_ITEM = re.compile(r"(\d+) (.*?)(?=, \d+ |$)")
_TAINT = re.compile(r"had (?:untolerated )?taint \{([^}]*)\}")
_INSUFFICIENT = re.compile(r"Insufficient (\S+?)[,.]?$")


@dataclass(frozen=True)
class SchedulingFailure:
    """`0/3 nodes are available: 1 node(s) had untolerated taint {sku: gpu}, 2 ...`."""

    available: int | None
    total: int | None
    reasons: tuple[tuple[int, str], ...] = ()

    @property
    def taints(self) -> list[tuple[str, str]]:
        """(key, value) of every taint the scheduler said was not tolerated."""
        out = []
        for _, text in self.reasons:
            match = _TAINT.search(text)
            if match:
                key, _, value = match.group(1).partition(":")
                out.append((key.strip(), value.strip()))
        return out

    @property
    def insufficient(self) -> list[str]:
        """Resources the scheduler found short (`nvidia.com/gpu`, `cpu`, ...)."""
        out = []
        for _, text in self.reasons:
            match = _INSUFFICIENT.search(text.strip())
            if match:
                out.append(match.group(1))
        return out

    @property
    def selector_mismatch(self) -> int:
        """Nodes that failed the pod's nodeSelector / node affinity."""
        return sum(n for n, text in self.reasons if "didn't match" in text and "selector" in text)


def parse_failed_scheduling(message: str) -> SchedulingFailure | None:
    """Parse a FailedScheduling / NotTriggerScaleUp message; None if it is neither shape.

    The preemption tail (`. preemption: 0/3 nodes ...`) repeats the counts for the
    preemption pass and is dropped. Old (<1.25) taint wording is read too.
    """
    text = message.split(" preemption:", 1)[0].strip()
    head = _HEAD.match(text)
    if head:
        available, total = int(head.group(1)), int(head.group(2))
        text = text[head.end() :]
    elif text.startswith("pod didn't trigger scale-up"):
        available = total = None
        text = re.sub(r"^pod didn't trigger scale-up[^:]*:\s*", "", text)
    else:
        return None
    text = text.rstrip(". ")
    reasons = tuple((int(n), item.strip()) for n, item in _ITEM.findall(text))
    return SchedulingFailure(available, total, reasons)


def pod_events(
    events: list[Obj] | None,
    pod: Obj,
    ctx: CheckContext,
    reasons: tuple[str, ...] = ("FailedScheduling",),
) -> list[Obj]:
    """This pod's events of these reasons within the lookback, oldest first."""
    if not events:
        return []
    window = ctx.now - ctx.thresholds.lookback
    mine = [
        e
        for e in kube.recent_events(events, ctx.now, window, reasons=reasons)
        if kube.involved(e).get("name") == kube.name(pod)
        and kube.involved(e).get("namespace", kube.namespace(pod)) == kube.namespace(pod)
    ]
    return sorted(mine, key=lambda e: kube.event_time(e) or ctx.now)


def event_quote(event: Obj, ctx: CheckContext, limit: int = 200) -> str:
    """`FailedScheduling x9, last 2 min ago: "0/3 nodes are available: ..."`.

    The scheduler's preemption tail repeats the counts and is left out of the quote.
    """
    when = kube.event_time(event)
    ago = f", last {duration(ctx.now - when)} ago" if when else ""
    message = kube.event_message(event).split(" preemption:", 1)[0]
    return f"{event.get('reason')} x{kube.event_count(event)}{ago}: '{clip(message, limit)}'"


def last_failure(
    events: list[Obj] | None, pod: Obj, ctx: CheckContext
) -> tuple[Obj, SchedulingFailure] | None:
    for event in reversed(pod_events(events, pod, ctx)):
        parsed = parse_failed_scheduling(kube.event_message(event))
        if parsed is not None:
            return event, parsed
    return None
