"""Reading CUDA OOMs for the GPU-memory rows (5, 6 and 12): which pods OOMed, in which phase,
and which pods may have OOMed unseen.

The vLLM container log tells load from serving: an OOM before the server-ready lines happened
while loading weights / allocating the KV cache, after them while serving. Log Analytics rows,
`OOMKilled` and KAITO's `ContainerOOMKilled` say an OOM happened but not when in the pod's
life, so they only support (or, alone, leave the row inconclusive).

Evidence, not guesses: removing evidence may only move a step towards inconclusive. So an
unread log (the pod's, or the previous instance's of a container that restarted within the
lookback), unreadable Log Analytics or workspaces keep the OOM symptoms from being ruled out;
the cause steps rule out only if every pod that may have OOMed unseen would be ruled out too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _vllm as vllm
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, names, parse_time

Obj = dict[str, Any]


def admitted_pods(pods: list[Obj] | None, ctx: CheckContext) -> list[Obj]:
    return [p for p in pods or [] if ctx.scope.admits(kube.namespace(p), kube.workspace_of(p))]


# ---- OOM signs: logs, OOM kills, Log Analytics, KAITO -----------------------------------------


@dataclass
class OomPicture:
    """CUDA OOMs within the lookback, and OOM signs no log can place in the pod's life."""

    hits: list[vllm.OomHit] = field(default_factory=list)
    old: list[vllm.OomHit] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)  # OOMKilled / LA / KAITO, no log OOM
    missing: dict[str, str] = field(default_factory=dict)  # ns/pod -> which log is missing
    suspects: set[str] = field(default_factory=set)  # ns/pod of the unplaced OOM signs
    instances: int = 0

    def of(self, phase: str) -> list[vllm.OomHit]:
        return [h for h in self.hits if h.oom.phase == phase]

    def culprits(self, phase: str) -> set[str]:
        """The pods a cause step should judge: those that OOMed in this phase, else those
        with OOM signs no log places (they may have), else none (judge every pod)."""
        return {h.ref for h in self.of(phase)} or self.suspects


def la_oom_rows(rows: list[Obj] | None) -> dict[str, tuple[int, str]]:
    """PodName -> (count, first message) of the gpu-error-patterns rows that are CUDA OOMs."""
    out: dict[str, tuple[int, str]] = {}
    for row in rows or []:
        message = str(row.get("LogMessage") or "")
        if vllm.is_oom(message):
            pod = str(row.get("PodName") or "?")
            count, first = out.get(pod, (0, message))
            out[pod] = (count + int(row.get("count_") or 1), first)
    return out


def _workspace_oomkilled(workspaces: list[Obj] | None, ctx: CheckContext) -> list[str]:
    """ns/name of workspaces whose InferenceReady KAITO classified as ContainerOOMKilled."""
    out = []
    for ws in workspaces or []:
        cond = kube.condition(ws, "InferenceReady") or {}
        since = parse_time(cond.get("lastTransitionTime"))
        if (
            cond.get("reason") == "ContainerOOMKilled"
            and cond.get("status") != "True"
            and (since is None or vllm.recent(since, ctx.now, ctx.thresholds.lookback))
            and ctx.scope.admits(kube.namespace(ws), kube.name(ws))
        ):
            out.append(kube.ref(ws))
    return out


def killed(pod: Obj, term: Obj, ctx: CheckContext) -> str:
    ended = parse_time(term.get("finishedAt"))
    when = (
        f"{int((ctx.now - ended).total_seconds() // 60)} min ago" if ended else "at an unknown time"
    )
    exit_code = term.get("exitCode")
    return f"{kube.ref(pod)} container {term.get('container')} OOMKilled {when} (exit {exit_code})"


def unread_logs(
    logs: list[Obj], pods: Mapping[tuple[str, str], Obj], ctx: CheckContext
) -> dict[str, str]:
    """ns/pod -> what of its log is missing: the log of a pod that ran, or the previous
    instance's log of a container that restarted within the lookback (a source lists a
    previous log only when it has one)."""
    out: dict[str, str] = {}
    read = {
        (e.get("namespace"), e.get("pod"), e.get("container"), bool(e.get("previous")))
        for e in logs
    }
    for e in logs:
        key = (e.get("namespace"), e.get("pod"))
        pod = pods.get(key)
        if pod is None or e.get("previous"):
            continue
        ref = f"{key[0]}/{key[1]}"
        if e.get("text") is None:
            if vllm.ran_since(pod, str(e.get("container")), ctx.now - ctx.thresholds.lookback):
                out[ref] = f"{ref}: log not captured"
        elif (*key, e.get("container"), True) not in read and vllm.previous_expected(
            pod, str(e.get("container")), ctx.now, ctx.thresholds.lookback
        ):
            out.setdefault(ref, f"{ref}: the previous instance's log not captured")
    return out


def oom_picture(ev: evi.Evidence, ctx: CheckContext) -> OomPicture:
    """Read `logs` and `pods` (and optional `errors`, `workspaces`) for CUDA OOMs in scope."""
    pods = admitted_pods(evi.data(ev, "pods"), ctx)
    refs = {(kube.namespace(p), kube.name(p)): p for p in pods}
    logs = [e for e in evi.data(ev, "logs") or [] if (e.get("namespace"), e.get("pod")) in refs]
    pic = OomPicture(instances=sum(1 for e in logs if e.get("text")))
    for hit in vllm.oom_hits(logs, pods, ctx.now):
        recent = vllm.recent(hit.when, ctx.now, ctx.thresholds.lookback)
        (pic.hits if recent else pic.old).append(hit)
    pic.missing = unread_logs(logs, refs, ctx)
    _add_unplaced(pic, pods, ev, ctx)
    return pic


def _add_unplaced(pic: OomPicture, pods: list[Obj], ev: evi.Evidence, ctx: CheckContext) -> None:
    """OOM signs that say an OOM happened but not whether at load or while serving."""
    placed = {h.ref for h in pic.hits}
    for pod, term in vllm.oom_killed(pods, ctx.now, ctx.thresholds.lookback):
        if kube.ref(pod) not in placed:
            pic.suspects.add(kube.ref(pod))
            pic.unplaced.append(
                f"{killed(pod, term, ctx)}; no log line says whether at load or while serving"
            )
    by_name = {kube.name(p): kube.ref(p) for p in pods}
    logged = {h.ref for h in pic.hits + pic.old}
    for pod, (count, message) in la_oom_rows(evi.data(ev, "errors")).items():
        # Rows name the pod only: outside a scoped run a pod not in the list still counts.
        # The pod's own log, when it shows any OOM, dates it better than the query's hour.
        ref = by_name.get(pod)
        if ref not in logged and (ref is not None or not ctx.scope.namespace):
            pic.suspects |= {ref} if ref else set()
            pic.unplaced.append(
                f"Log Analytics: {count}× '{clip(message, 120)}' from pod {pod} in the last hour"
            )
    if not pic.hits:
        for ws in _workspace_oomkilled(evi.data(ev, "workspaces"), ctx):
            pic.unplaced.append(f"workspace {ws} InferenceReady=False ContainerOOMKilled")
            pic.suspects |= {
                kube.ref(p) for p in pods if f"{kube.namespace(p)}/{kube.workspace_of(p)}" == ws
            }


def pods_that_ran(ev: evi.Evidence, ctx: CheckContext) -> list[str]:
    """GPU/KAITO pods in scope with a container that ran within the lookback (whose logs
    could show a recent OOM)."""
    pods = kube.inference_pods(admitted_pods(evi.data(ev, "pods"), ctx))
    since = ctx.now - ctx.thresholds.lookback
    return [
        kube.ref(p)
        for p in pods
        if vllm.has_run(p)
        and any(vllm.ran_since(p, str(c.get("name")), since) for c in kube.container_statuses(p))
    ]


@dataclass(frozen=True)
class Culprits:
    """The pods whose OOM a cause step judges, and what could not be read to know them.

    Read in full, the culprits are the pods whose log places an OOM in the phase, else the
    pods with OOM signs no log places, else none (the step judges every pod). When logs, Log
    Analytics or the workspaces are missing, `unread` holds the pods that may be culprits
    unseen (None: any pod, the pod list itself is unknown) and `gaps` says which source.
    """

    placed: frozenset[str]
    suspects: frozenset[str]
    unread: frozenset[str] | None
    gaps: tuple[str, ...]

    @property
    def known(self) -> frozenset[str]:
        return self.placed or self.suspects

    @property
    def certain(self) -> bool:
        return self.unread is not None and not self.unread

    def possible(self) -> frozenset[str] | None:
        """Every pod that the full evidence could name a culprit; None when any could be."""
        return None if self.unread is None else self.known | self.unread


def culprits(ev: evi.Evidence, ctx: CheckContext, phase: str) -> Culprits:
    if evi.data(ev, "pods") is None:
        return Culprits(frozenset(), frozenset(), None, (evi.gap(ev, "pods") or "pods not read",))
    pic = oom_picture(ev, ctx)
    placed = frozenset(h.ref for h in pic.of(phase))
    ran = frozenset(pods_that_ran(ev, ctx))
    unread: set[str] = set()
    gaps = []
    if gap := evi.gap(ev, "logs"):
        if ran:
            unread |= ran
            gaps.append(f"{gap} ({names(sorted(ran))} ran)")
    elif pic.missing:
        unread |= set(pic.missing)
        gaps += list(pic.missing.values())[:3]
    if not placed and ran:
        # Log Analytics rows and KAITO's ContainerOOMKilled name suspects among the pods.
        for name in ("errors", "workspaces"):
            if gap := evi.gap(ev, name):
                unread |= ran
                gaps.append(gap)
    return Culprits(placed, frozenset(pic.suspects), frozenset(unread), tuple(gaps))
