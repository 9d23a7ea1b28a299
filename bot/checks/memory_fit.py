"""Row 5's cause: the workspace preset needs more GPUs or GPU memory than its instance type has.

The pods that OOMed at load pick the workspaces judged (see _oom for how, and for why an
unread log keeps this from being ruled out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _oom as oom
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import GPU_SKUS, GpuSku, gpu_sku, preset_footprint
from bot.model.text import clip, names, plural
from bot.model.verdicts import StepResult

Obj = dict[str, Any]
LIST = "kubernetes.list"


WEBHOOK_WORDS = (
    "insufficient total gpu memory",
    "insufficient number of gpus",
    "insufficient per gpu memory",
)


@dataclass(frozen=True)
class Fit:
    workspace: str
    fits: bool | None  # None: unknown preset or SKU
    line: str
    facts: Obj


def _bigger(need_gpus: int, need_gib: float) -> GpuSku | None:
    """The smallest SKU in the table that holds the preset, per GPU and in total."""
    fitting = [
        s
        for s in GPU_SKUS.values()
        if s.gpus >= need_gpus
        and s.vram_gib_total >= need_gib
        and s.vram_gib_per_gpu >= need_gib / need_gpus
    ]
    return min(fitting, key=lambda s: (s.vram_gib_total, s.gpus, s.vcpus), default=None)


def _fit(ws: Obj, nodes: list[Obj] | None) -> Fit:
    ref = kube.ref(ws)
    preset = ((ws.get("inference") or {}).get("preset") or {}).get("name")
    sku_name = (ws.get("resource") or {}).get("instanceType")
    if not sku_name:  # bring-your-own nodes: the worker node's size
        workers = set((ws.get("status") or {}).get("workerNodes") or [])
        sku_name = next(
            (kube.instance_type(n) for n in nodes or [] if kube.name(n) in workers), None
        )
    need, have = preset_footprint(preset), gpu_sku(sku_name)
    if need is None or have is None:
        what = (
            f"preset {preset!r} has no known footprint"
            if need is None
            else f"instance type {sku_name!r} has no known VRAM"
        )
        return Fit(ref, None, f"workspace {ref}: {what}", {})
    fits = need.total_gib <= have.vram_gib_total and need.gpus <= have.gpus
    line = (
        f"workspace {ref}: preset {need.name} needs {plural(need.gpus, 'GPU')} / "
        f"{need.total_gib:g} GiB; {have.name} has {have.gpus} × {have.gpu_model} = "
        f"{have.vram_gib_total:g} GiB"
    )
    bigger = _bigger(need.gpus, need.total_gib)
    facts = {
        "workspace": ref,
        "preset": need.name,
        "sku": have.name,
        "need_gib": need.total_gib,
        "need_gpus": need.gpus,
        "have_gib": have.vram_gib_total,
        "have_gpus": have.gpus,
        "gpu_model": have.gpu_model,
        "bigger_sku": bigger.name if bigger else None,
    }
    return Fit(ref, fits, line + ("" if fits else " (too small)"), facts)


def _webhook_lines(workspaces: list[Obj], events: list[Obj] | None, ctx: CheckContext) -> list[str]:
    """KAITO's own sizing verdicts (webhook/condition messages) and a resource-check bypass."""
    out = []
    for ws in workspaces:
        if "kaito.sh/bypass-resource-checks" in kube.annotations(ws):
            out.append(
                f"workspace {kube.ref(ws)} carries kaito.sh/bypass-resource-checks: KAITO's GPU "
                "sizing check was skipped"
            )
        for cond in (ws.get("status") or {}).get("conditions") or []:
            if any(w in str(cond.get("message", "")).lower() for w in WEBHOOK_WORDS):
                out.append(f"workspace {kube.ref(ws)} {cond.get('type')}: {clip(cond['message'])}")
    window = ctx.now - ctx.thresholds.lookback
    for event in kube.recent_events(events or [], ctx.now, window):
        if any(w in kube.event_message(event).lower() for w in WEBHOOK_WORDS):
            out.append(f"event {event.get('reason')}: {clip(kube.event_message(event))}")
    return out


@check(
    "memory.preset_exceeds_sku",
    inputs={
        "workspaces": LIST,
        "logs": "kubernetes.pod_logs",
        "pods": LIST,
        "nodes": LIST,
        "events": LIST,
    },
    optional=("logs", "pods", "nodes", "events"),
)
def preset_exceeds_sku(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """The workspace preset's GPU count or memory exceeds what its instanceType has."""
    workspaces = [
        w for w in ev["workspaces"].data if ctx.scope.admits(kube.namespace(w), kube.name(w))
    ]
    pods = {kube.ref(p): p for p in oom.admitted_pods(evi.data(ev, "pods"), ctx)}

    def served(refs: frozenset[str] | None) -> list[Obj]:
        """The workspaces the pods serve (every workspace for None)."""
        if refs is None:
            return workspaces
        keys = {(kube.namespace(pods[r]), kube.workspace_of(pods[r])) for r in refs if r in pods}
        return [w for w in workspaces if (kube.namespace(w), kube.name(w)) in keys]

    def fits_of(judged: list[Obj]) -> list[Fit]:
        return [
            _fit(w, evi.data(ev, "nodes"))
            for w in judged
            if (w.get("inference") or {}).get("preset")
        ]

    c = oom.culprits(ev, ctx, "load")
    if c.certain:
        # Judge the workspaces whose pods OOM (at load); with no OOM, every workspace in scope.
        judged = served(c.known)
        if c.known and not judged:
            return StepResult.inconclusive(
                f"the pods that OOMed ({names(sorted(c.known))}) serve no KAITO preset: no "
                "footprint to compare with their GPU"
            )
        judged = judged or workspaces
    else:
        # Which pods OOMed is not fully known: an OOM placed at load still picks its workspace;
        # otherwise any pod that may have OOMed unseen could be the one.
        judged = served(c.placed) if c.placed else served(c.possible()) or workspaces
    fits = fits_of(judged)
    extra = _webhook_lines(judged, evi.data(ev, "events"), ctx)
    short = [f for f in fits if f.fits is False]
    if short:
        return StepResult.confirmed(*[f.line for f in short], *extra, **short[0].facts)
    if c.certain:
        if any(f.fits is None for f in fits) or not fits:
            reason = [f.line for f in fits if f.fits is None] or [
                "no workspace with a preset to size"
            ]
            return StepResult.inconclusive(*reason, *extra)
        return StepResult.ruled_out(*[f.line for f in fits[:3]], *extra)
    # Ruled out only if every pod that may have OOMed serves a preset that fits, and (when
    # no OOM is known, so the full evidence may judge every workspace) so does every one.
    possible = c.possible()
    if possible is None:
        return StepResult.inconclusive(
            *c.gaps, "which workspace's pods OOMed is unknown", *[f.line for f in fits[:2]]
        )
    unsized = sorted(r for r in possible if not fits_of(served(frozenset({r}))))
    checked = fits_of(workspaces if not c.known else served(possible))
    if unsized or not checked or any(f.fits is None for f in checked):
        why = [f.line for f in checked if f.fits is None]
        if unsized:
            why.append(f"{names(unsized)} may have OOMed and serve no KAITO preset to size")
        return StepResult.inconclusive(*c.gaps, *why, *[f.line for f in checked if f.fits][:2])
    return StepResult.ruled_out(*[f.line for f in checked[:3]], *extra)
