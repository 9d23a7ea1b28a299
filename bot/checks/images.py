"""Row 14: the image pull takes many minutes; the registry's region, when known, names why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _pulls
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import duration
from bot.model.verdicts import StepResult

Obj = dict[str, Any]
PULL_INPUTS = {"events": "kubernetes.list", "pods": "kubernetes.list"}
# Anything after `Pulling` that means the pull is over, for better or worse.
PULL_DONE = (
    "Pulled",
    "Failed",
    "ErrImagePull",
    "BackOff",
    "ErrImageNeverPull",
    "Created",
    "Started",
)
STILL_CREATING = ("ContainerCreating", "PodInitializing")


@dataclass(frozen=True)
class SlowPull:
    pod: str  # ns/name
    node: str | None
    image: str
    took: timedelta  # the pull including time queued, or so far for a pull still running
    detail: str
    size_bytes: int | None = None
    running: bool = False
    took_text: str = ""  # kubelet's own duration text for a finished pull

    @property
    def registry(self) -> str:
        return _pulls.registry_host(self.image)

    def line(self, now_ago: str) -> str:
        where = f" on {self.node}" if self.node else ""
        if self.running:
            return f"{self.pod}{where}: still pulling {self.image} after {duration(self.took)}"
        return f"{self.pod}{where}: pulled {self.image} in {self.detail} ({now_ago} ago)"


def _key(event: Obj) -> tuple[str, str]:
    obj = kube.involved(event)
    return str(obj.get("namespace") or kube.namespace(event)), str(obj.get("name"))


def finished_pulls(events: list[Obj], ctx: CheckContext) -> list[tuple[SlowPull, datetime]]:
    """Every `Pulled` event with a duration in the lookback, slow or not."""
    out = []
    for e in kube.recent_events(
        events, ctx.now, ctx.now - ctx.thresholds.lookback, reasons=("Pulled",)
    ):
        pull = _pulls.parse_pulled(kube.event_message(e))
        if pull is None:
            continue  # "already present on machine"
        host = (e.get("source") or {}).get("host")
        out.append(
            (
                SlowPull(
                    "/".join(_key(e)),
                    host,
                    pull.image,
                    pull.total,
                    _took(pull),
                    pull.size_bytes,
                    took_text=pull.total_text,
                ),
                kube.event_time(e) or ctx.now,
            )
        )
    return out


def _took(pull: _pulls.Pull) -> str:
    text = pull.pull_text
    if pull.total - pull.pull >= timedelta(seconds=1):
        text += f" ({pull.total_text} including waiting for other pulls)"
    if pull.size_bytes:
        text += f", {_pulls.gigabytes(pull.size_bytes)}"
    return text


def running_pulls(events: list[Obj], pods: list[Obj] | None, ctx: CheckContext) -> list[SlowPull]:
    """`Pulling` past the slow threshold with nothing after it for that pod. With pods read,
    the pod must still be creating (the pull may have started before the lookback)."""
    done: dict[tuple[str, str], datetime] = {}
    for e in events:
        when = kube.event_time(e)
        if e.get("reason") in PULL_DONE and when is not None:
            done[_key(e)] = max(done.get(_key(e), when), when)
    live = {(kube.namespace(p), kube.name(p)): p for p in pods or []}
    out = []
    for e in events:
        image, key = _pulls.pulling_image(kube.event_message(e)), _key(e)
        started = kube.parse_time(e.get("firstTimestamp")) or kube.event_time(e)
        if e.get("reason") != "Pulling" or image is None or started is None:
            continue
        if ctx.now - started < ctx.thresholds.slow_pull or done.get(key, started) > started:
            continue
        pod = live.get(key)
        if pods is not None and (pod is None or kube.waiting_reason(pod) not in STILL_CREATING):
            continue
        if pods is None and ctx.now - started > ctx.thresholds.lookback:
            continue
        host = (e.get("source") or {}).get("host")
        out.append(SlowPull("/".join(key), host, image, ctx.now - started, "", running=True))
    return out


@dataclass(frozen=True)
class Pulls:
    slow: list[SlowPull]
    fast: list[SlowPull]
    ago: dict[str, str]  # pod -> how long ago its pull finished


def read_pulls(ev: evi.Evidence, ctx: CheckContext) -> Pulls:
    pods = evi.data(ev, "pods")
    owners = {(kube.namespace(p), kube.name(p)): kube.workspace_of(p) for p in pods or []}

    def admitted(pull: SlowPull) -> bool:
        ns, _, name = pull.pod.partition("/")
        return ctx.scope.admits(ns, owners.get((ns, name)))

    done = [(p, t) for p, t in finished_pulls(ev["events"].data, ctx) if admitted(p)]
    slow = [p for p, _ in done if p.took >= ctx.thresholds.slow_pull]
    slow += [p for p in running_pulls(ev["events"].data, pods, ctx) if admitted(p)]
    fast = [p for p, _ in done if p.took < ctx.thresholds.slow_pull]
    return Pulls(slow, fast, {p.pod: duration(ctx.now - t) for p, t in done})


@check("images.slow_pull", inputs=PULL_INPUTS, optional=("pods",))
def slow_pull(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """An image pull took (or has been running for) at least the slow-pull threshold."""
    pulls, limit = read_pulls(ev, ctx), duration(ctx.thresholds.slow_pull)
    if pulls.slow:
        slow = sorted(pulls.slow, key=lambda p: p.took, reverse=True)
        first = slow[0]
        return StepResult.confirmed(
            *(p.line(pulls.ago.get(p.pod, "")) + f" (>= {limit})" for p in slow[:5]),
            slow_image=first.image,
            slow_registry=first.registry,
            slow_pod=first.pod,
            slow_node=first.node or "its node",
            slow_took=first.took_text or f"{duration(first.took)} so far",
            slow_size=_pulls.gigabytes(first.size_bytes) if first.size_bytes else None,
        )
    lookback = duration(ctx.thresholds.lookback)
    if not pulls.fast:
        return StepResult.ruled_out(
            f"no image was pulled in the last {lookback} and none is still pulling past {limit}"
        )
    slowest = max(pulls.fast, key=lambda p: p.took)
    return StepResult.ruled_out(
        f"{len(pulls.fast)} image pull(s) in the last {lookback}, all under {limit}; slowest: "
        + slowest.line(pulls.ago.get(slowest.pod, ""))
    )


@check(
    "images.registry_region",
    inputs={**PULL_INPUTS, "registries": "azure.registries"},
    optional=("pods",),
)
def registry_region(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """Where the slow image came from: a cross-region ACR, a same-region one, or outside Azure."""
    pulls = read_pulls(ev, ctx)
    if not pulls.slow:
        return StepResult.ruled_out("no slow pull to attribute to a registry")
    here = _region(ctx.cluster.get("location"))
    if not here:
        return StepResult.inconclusive(
            "the cluster's location is unknown (snapshot.yaml cluster.location)"
        )
    registries = list((ev["registries"].data or {}).get("value") or [])
    lines, causes, unknown = [], [], []
    for host in dict.fromkeys(p.registry for p in pulls.slow):
        size = next((p.size_bytes for p in pulls.slow if p.registry == host and p.size_bytes), None)
        line, cause = _attribute(host, here, registries, size)
        lines.append(line)
        (causes if cause else unknown).append(cause or line)
    if any(c.startswith(("cross-region", "external")) for c in causes):
        return StepResult.confirmed(*lines, registry_cause=causes[0])
    if causes and not unknown:
        return StepResult.ruled_out(*lines, registry_cause=causes[0])
    return StepResult.inconclusive(*lines)


def _region(value: object) -> str:
    """ARM writes `eastus2`, portals `East US 2`: compare them as one."""
    return str(value or "").replace(" ", "").lower()


def _attribute(
    host: str, here: str, registries: list[Obj], size: int | None
) -> tuple[str, str | None]:
    """(evidence line, cause or None when the region stays unknown)."""
    if not host.endswith(".azurecr.io"):
        return (
            f"{host} is not an Azure Container Registry: the image crosses the internet; "
            f"import it into an ACR in {here}",
            f"external registry {host}",
        )
    acr = next(
        (
            r
            for r in registries
            if _region((r.get("properties") or {}).get("loginServer")) == host
            or f"{str(r.get('name', '')).lower()}.azurecr.io" == host
        ),
        None,
    )
    if acr is None:
        return f"{host} is not among this subscription's registries: its region is unknown", None
    there = _region(acr.get("location"))
    if there != here:
        return (
            f"{host} is in {there}, the cluster in {here}: every pull crosses regions "
            f"(ACR geo-replication is not visible in the registry list)",
            f"cross-region ACR ({there} vs {here})",
        )
    big = f" ({_pulls.gigabytes(size)})" if size else ""
    return (
        f"{host} is in {there}, same region as the cluster: a cold node cache or a large "
        f"image{big}",
        f"same-region registry: cold cache / large image{big}",
    )
