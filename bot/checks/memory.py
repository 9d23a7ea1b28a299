"""GPU memory rows: OOM at load (5), OOM under load (6), KV-bound throughput (11) and
co-tenant OOMs under time-slicing (12).

The vLLM container log tells load from serving: an OOM before the server-ready lines happened
while loading weights / allocating the KV cache, after them while serving. Log Analytics rows,
`OOMKilled` and KAITO's `ContainerOOMKilled` say an OOM happened but not when in the pod's
life, so they only support (or, alone, leave the row inconclusive).

Evidence, not guesses: removing evidence may only move a step towards inconclusive. So an
unread log (the pod's, or the previous instance's of a container that restarted within the
lookback), unreadable Log Analytics or workspaces keep the OOM symptoms from being ruled out;
the cause steps rule out only if every pod that may have OOMed unseen would be ruled out too;
and an unreadable ConfigMap, workspace or pod never stands in for vLLM's default batch limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.checks import _gpushare as share
from bot.checks import _vllm as vllm
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.domain import GPU_SKUS, GpuSku, gpu_sku, preset_footprint
from bot.model.evidence import Answer
from bot.model.text import clip, names, parse_time, plural
from bot.model.verdicts import StepResult, Verdict

Obj = dict[str, Any]
LIST = "kubernetes.list"
WEBHOOK_WORDS = (
    "insufficient total gpu memory",
    "insufficient number of gpus",
    "insufficient per gpu memory",
)


def _data(ev: Mapping[str, Answer], name: str) -> Any:
    answer = ev.get(name)
    return answer.data if answer is not None and answer.available else None


def _unavailable(ev: Mapping[str, Answer], name: str) -> str:
    return f"{ev[name].source} unavailable: {ev[name].unavailable}"


def _gap(ev: Mapping[str, Answer], name: str) -> str | None:
    """`<source> unavailable: <why>` when the input was asked for and could not be read."""
    answer = ev.get(name)
    if answer is None or answer.available:
        return None
    return f"{answer.source} unavailable: {answer.unavailable}"


def _admitted_pods(pods: list[Obj] | None, ctx: CheckContext) -> list[Obj]:
    return [p for p in pods or [] if ctx.scope.admits(kube.namespace(p), kube.workspace_of(p))]


# ---- OOM reading shared by rows 5, 6 and 12 -------------------------------------------------


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


def _la_oom_rows(rows: list[Obj] | None) -> dict[str, tuple[int, str]]:
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


def _killed(pod: Obj, term: Obj, ctx: CheckContext) -> str:
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


def oom_picture(ev: Mapping[str, Answer], ctx: CheckContext) -> OomPicture:
    """Read `logs` and `pods` (and optional `errors`, `workspaces`) for CUDA OOMs in scope."""
    pods = _admitted_pods(_data(ev, "pods"), ctx)
    refs = {(kube.namespace(p), kube.name(p)): p for p in pods}
    logs = [e for e in _data(ev, "logs") or [] if (e.get("namespace"), e.get("pod")) in refs]
    pic = OomPicture(instances=sum(1 for e in logs if e.get("text")))
    for hit in vllm.oom_hits(logs, pods, ctx.now):
        recent = vllm.recent(hit.when, ctx.now, ctx.thresholds.lookback)
        (pic.hits if recent else pic.old).append(hit)
    pic.missing = unread_logs(logs, refs, ctx)
    _add_unplaced(pic, pods, ev, ctx)
    return pic


def _add_unplaced(
    pic: OomPicture, pods: list[Obj], ev: Mapping[str, Answer], ctx: CheckContext
) -> None:
    """OOM signs that say an OOM happened but not whether at load or while serving."""
    placed = {h.ref for h in pic.hits}
    for pod, term in vllm.oom_killed(pods, ctx.now, ctx.thresholds.lookback):
        if kube.ref(pod) not in placed:
            pic.suspects.add(kube.ref(pod))
            pic.unplaced.append(
                f"{_killed(pod, term, ctx)}; no log line says whether at load or while serving"
            )
    by_name = {kube.name(p): kube.ref(p) for p in pods}
    logged = {h.ref for h in pic.hits + pic.old}
    for pod, (count, message) in _la_oom_rows(_data(ev, "errors")).items():
        # Rows name the pod only: outside a scoped run a pod not in the list still counts.
        # The pod's own log, when it shows any OOM, dates it better than the query's hour.
        ref = by_name.get(pod)
        if ref not in logged and (ref is not None or not ctx.scope.namespace):
            pic.suspects |= {ref} if ref else set()
            pic.unplaced.append(
                f"Log Analytics: {count}× '{clip(message, 120)}' from pod {pod} in the last hour"
            )
    if not pic.hits:
        for ws in _workspace_oomkilled(_data(ev, "workspaces"), ctx):
            pic.unplaced.append(f"workspace {ws} InferenceReady=False ContainerOOMKilled")
            pic.suspects |= {
                kube.ref(p) for p in pods if f"{kube.namespace(p)}/{kube.workspace_of(p)}" == ws
            }


def _supporting(pic: OomPicture, ev: Mapping[str, Answer]) -> list[str]:
    """Log Analytics counts for the pods whose logs showed the OOM."""
    la = _la_oom_rows(_data(ev, "errors"))
    return [
        f"Log Analytics: {la[p][0]}× CUDA OOM from {p} in the last hour"
        for p in sorted({h.pod for h in pic.hits})
        if p in la
    ]


def _ran(ev: Mapping[str, Answer], ctx: CheckContext) -> list[str]:
    """GPU/KAITO pods in scope with a container that ran within the lookback (whose logs
    could show a recent OOM)."""
    pods = kube.inference_pods(_admitted_pods(_data(ev, "pods"), ctx))
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


def culprits(ev: Mapping[str, Answer], ctx: CheckContext, phase: str) -> Culprits:
    if _data(ev, "pods") is None:
        return Culprits(frozenset(), frozenset(), None, (_gap(ev, "pods") or "pods not read",))
    pic = oom_picture(ev, ctx)
    placed = frozenset(h.ref for h in pic.of(phase))
    ran = frozenset(_ran(ev, ctx))
    unread: set[str] = set()
    gaps = []
    if gap := _gap(ev, "logs"):
        if ran:
            unread |= ran
            gaps.append(f"{gap} ({names(sorted(ran))} ran)")
    elif pic.missing:
        unread |= set(pic.missing)
        gaps += list(pic.missing.values())[:3]
    if not placed and ran:
        # Log Analytics rows and KAITO's ContainerOOMKilled name suspects among the pods.
        for name in ("errors", "workspaces"):
            if gap := _gap(ev, name):
                unread |= ran
                gaps.append(gap)
    return Culprits(placed, frozenset(pic.suspects), frozenset(unread), tuple(gaps))


def _hit_lines(hits: list[vllm.OomHit], ctx: CheckContext) -> list[str]:
    """The latest OOM of each pod (up to 3), noting when earlier instances died the same way."""
    by_pod: dict[str, list[vllm.OomHit]] = {}
    for hit in hits:
        by_pod.setdefault(hit.ref, []).append(hit)
    lines = []
    for mine in list(by_pod.values())[:3]:
        latest = max(mine, key=lambda h: h.when or ctx.now - 100 * ctx.thresholds.lookback)
        again = (
            "; the instance before died the same way" if len({h.previous for h in mine}) > 1 else ""
        )
        lines.append(latest.line(ctx.now) + again)
    return lines


def _symptom_gaps(ev: Mapping[str, Answer], pic: OomPicture, ran: list[str]) -> list[str]:
    """Sources whose absence leaves an OOM possible that nothing read shows."""
    gaps = []
    if (gap := _gap(ev, "logs")) and ran:
        gaps.append(f"{gap} ({names(ran)} ran)")
    if gap := _gap(ev, "errors"):
        # Its rows are the only trace of an OOM in a replaced pod or a rotated log.
        gaps.append(f"{gap}: OOMs of replaced pods or rotated logs not checked")
    if not pic.hits and (gap := _gap(ev, "workspaces")):
        gaps.append(f"{gap}: KAITO's ContainerOOMKilled not checked")
    return gaps


def _oom_symptom(ev: Mapping[str, Answer], ctx: CheckContext, phase: str) -> StepResult:
    pic = oom_picture(ev, ctx)  # without logs: the OOM kills, Log Analytics rows, KAITO's word
    other = "serving" if phase == "load" else "load"
    window = f"{ctx.thresholds.lookback_minutes:g} min"
    mine = pic.of(phase)
    if mine:
        return StepResult.confirmed(
            *_hit_lines(mine, ctx),
            *_supporting(pic, ev),
            oom_pods=sorted({h.ref for h in mine}),
            oom_message=clip(mine[0].oom.message, 200),
        )
    ran = _ran(ev, ctx)
    gaps = _symptom_gaps(ev, pic, ran)
    if pic.unplaced or pic.missing or gaps:
        return StepResult.inconclusive(
            *pic.unplaced[:3],
            *list(pic.missing.values())[:3],
            *[h.line(ctx.now) for h in pic.of(other)[:1]],
            *gaps,
        )
    if not ev["logs"].available or (not pic.instances and not ran):
        # With no GPU/KAITO pod ever started there is no log to read and nothing to OOM.
        return StepResult.ruled_out(
            f"no GPU or KAITO pod has started a container (none ran in the last {window}): "
            "nothing to OOM"
        )
    old = [f"not counted (before the last {window}): {h.line(ctx.now)}" for h in pic.old[:1]]
    if pic.of(other):
        when = "while serving (under load)" if other == "serving" else "at load"
        return StepResult.ruled_out(f"CUDA OOM only {when}: {pic.of(other)[0].line(ctx.now)}", *old)
    logs = plural(pic.instances, "container log")
    return StepResult.ruled_out(
        f"no CUDA OOM in {logs} of GPU/KAITO pods (current and previous instances) in the last "
        f"{window}",
        *old,
    )


OOM_INPUTS = {
    "logs": "kubernetes.pod_logs",
    "pods": LIST,
    "workspaces": LIST,
    "errors": "loganalytics.query",
}


@check("memory.oom_at_load", inputs=OOM_INPUTS, optional=("logs", "workspaces", "errors"))
def oom_at_load(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A GPU pod hit CUDA OOM before its server was ready (loading weights), within the lookback."""
    return _oom_symptom(ev, ctx, "load")


@check("memory.oom_under_load", inputs=OOM_INPUTS, optional=("logs", "workspaces", "errors"))
def oom_under_load(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A GPU pod hit CUDA OOM after its server was ready (while serving), within the lookback."""
    return _oom_symptom(ev, ctx, "serving")


# ---- row 5: the preset does not fit the instance type -----------------------------------------


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
def preset_exceeds_sku(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """The workspace preset's GPU count or memory exceeds what its instanceType has."""
    workspaces = [
        w for w in ev["workspaces"].data if ctx.scope.admits(kube.namespace(w), kube.name(w))
    ]
    pods = {kube.ref(p): p for p in _admitted_pods(_data(ev, "pods"), ctx)}

    def served(refs: frozenset[str] | None) -> list[Obj]:
        """The workspaces the pods serve (every workspace for None)."""
        if refs is None:
            return workspaces
        keys = {(kube.namespace(pods[r]), kube.workspace_of(pods[r])) for r in refs if r in pods}
        return [w for w in workspaces if (kube.namespace(w), kube.name(w)) in keys]

    def fits_of(judged: list[Obj]) -> list[Fit]:
        return [
            _fit(w, _data(ev, "nodes")) for w in judged if (w.get("inference") or {}).get("preset")
        ]

    c = culprits(ev, ctx, "load")
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
    extra = _webhook_lines(judged, _data(ev, "events"), ctx)
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


# ---- rows 6 and 11: the KV cache --------------------------------------------------------------


def _is_vllm(pod: Obj | None) -> bool:
    """KAITO workspace pods and pods whose image or command names vLLM serve /metrics."""
    if pod is None:
        return True  # pods not readable: judge every metrics entry
    if kube.workspace_of(pod):
        return True
    words = " ".join(
        str(w)
        for c in kube.containers(pod)
        for w in [c.get("image", "")] + (c.get("command") or []) + (c.get("args") or [])
    )
    return "vllm" in words.lower()


def _ready(pod: Obj) -> bool:
    return kube.condition_status(pod, "Ready") == "True"


def serving_metrics(
    ev: Mapping[str, Answer], ctx: CheckContext, *, only_vllm: bool = True
) -> tuple[list[vllm.PodMetrics] | None, dict[str, Obj]]:
    """Metrics of the (vLLM) pods in scope, and the pods by ns/name (empty if unreadable).

    None when /metrics could not be read while a vLLM pod may be serving; an empty list
    when /metrics is missing but the pods show nothing Ready to serve.
    """
    pods = {kube.ref(p): p for p in _data(ev, "pods") or []}
    if not ev["metrics"].available:
        serving = [
            p
            for p in pods.values()
            if ctx.scope.admits(kube.namespace(p), kube.workspace_of(p))
            and _is_vllm(p)
            and _ready(p)
        ]
        return (None if serving or _data(ev, "pods") is None else []), pods
    out = []
    for entry in ev["metrics"].data or []:
        pod = pods.get(f"{entry.get('namespace')}/{entry.get('pod')}")
        ws = kube.workspace_of(pod) if pod else None
        wanted = not only_vllm or not pods or _is_vllm(pod)
        # A pod that is not Ready serves nothing: no /metrics from it is expected.
        idle = pod is not None and entry.get("samples") is None and not _ready(pod)
        if ctx.scope.admits(entry.get("namespace"), ws) and wanted and not idle:
            out.append(vllm.pod_metrics(entry))
    return out, pods


def _no_metrics(ev: Mapping[str, Answer]) -> StepResult:
    return StepResult.inconclusive(f"{_unavailable(ev, 'metrics')} while a vLLM pod is Ready")


def _caps(
    pinned: list[vllm.PodMetrics], pods: dict[str, Obj], ev: Mapping[str, Answer]
) -> tuple[list[Obj], list[str]]:
    """cap-max-model-len offers (one per ConfigMap) for the pods whose KV cache is pinned."""
    offers: dict[str, Obj] = {}
    lines: dict[str, str] = {}
    for pm in pinned:
        cfg = vllm.workspace_config(
            pods.get(pm.ref) or {}, _data(ev, "workspaces"), _data(ev, "configmaps")
        )
        key = f"{cfg.namespace}/{cfg.configmap or cfg.workspace}" if cfg else None
        if cfg is None or key in lines:
            continue
        if cfg.configmap and (gap := _gap(ev, "configmaps")):
            lines[key] = f"ConfigMap {key} not read ({gap}): no cap offered"
            continue
        params, lines[key] = vllm.cap_offer(cfg)
        if params:
            offers[key] = params
    return list(offers.values()), list(lines.values())


KV_INPUTS = {
    "metrics": "kubernetes.pod_metrics",
    "pods": LIST,
    "logs": "kubernetes.pod_logs",
    "workspaces": LIST,
    "configmaps": LIST,
}


@check(
    "memory.kv_cache_pinned",
    inputs=KV_INPUTS,
    optional=("metrics", "pods", "logs", "workspaces", "configmaps"),
)
def kv_cache_pinned(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """vLLM's KV-cache usage (either metric name) is at or above the threshold now."""
    metrics, pods = serving_metrics(ev, ctx)
    if metrics is None:
        return _no_metrics(ev)
    every = {m.ref: m for m in serving_metrics(ev, ctx, only_vllm=False)[0] or []}
    thr = ctx.thresholds.kv_cache_ratio
    c = culprits(ev, ctx, "serving")
    # The pods that OOMed while serving are the ones that matter; with none, every vLLM pod.
    if c.certain:
        judged = [m for ref, m in every.items() if ref in c.known]
        if c.known and not judged:
            return StepResult.inconclusive(f"no /metrics for {names(sorted(c.known))}, which OOMed")
        judged = judged or metrics
    else:
        # Which pods OOMed is not fully known: an OOM placed while serving still picks its pod;
        # otherwise any pod that may have OOMed unseen could be the one.
        possible = c.placed or c.possible()
        judged = [m for ref, m in every.items() if possible is None or ref in possible]
        if not c.placed:
            judged += [m for m in metrics if m not in judged]
    pinned = [m for m in judged if m.kv is not None and m.kv >= thr]
    if pinned:
        caps, cfg_lines = _caps(pinned, pods, ev)
        top = max(pinned, key=lambda m: m.kv or 0)
        return StepResult.confirmed(
            *[f"{m.describe()}: at or above {thr:.0%}" for m in pinned[:3]],
            *cfg_lines,
            kv_pct=round((top.kv or 0) * 100),
            kv_metric=top.kv_metric,
            kv_pods=[m.ref for m in pinned],
            caps=caps,
        )
    if not c.certain:
        # Ruled out only if every pod that may have OOMed, and (when no OOM is known, so the
        # full evidence may judge every vLLM pod) every vLLM pod, reads below the threshold.
        possible = c.possible()
        if possible is None:
            return StepResult.inconclusive(
                *c.gaps, "which pods OOMed is unknown", *[m.describe() for m in judged[:2]]
            )
        unread = sorted(r for r in possible if r not in every)
        judged = [every[r] for r in sorted(possible) if r in every]
        judged += [m for m in metrics if not c.known and m.ref not in possible]
        if unread:
            return StepResult.inconclusive(
                *c.gaps,
                f"no /metrics for {names(unread)}, which may have OOMed",
                *[m.describe() for m in judged[:2]],
            )
    unknown = [m for m in judged if m.kv is None]
    if unknown or not judged:
        lines = [m.describe() for m in unknown[:3]] or ["no vLLM pod's /metrics to read"]
        known = [m.describe() for m in judged if m.kv is not None]
        return StepResult.inconclusive(*lines, *known[:2], *c.gaps)
    return StepResult.ruled_out(*[f"{m.describe()}: below {thr:.0%}" for m in judged[:3]])


def _replicas(ev: Mapping[str, Answer], refs: list[str]) -> list[str]:
    """`StatefulSet default/ws: 3/3 ready` for the KAITO workloads of the queueing pods."""
    workloads = [("StatefulSet", w) for w in _data(ev, "statefulsets") or []]
    workloads += [("Deployment", w) for w in _data(ev, "deployments") or []]
    out = []
    for kind, w in workloads:
        ws = kube.labels(w).get(kube.WORKSPACE_LABEL) or kube.name(w)
        if any(ref.startswith(f"{kube.namespace(w)}/{ws}") for ref in refs):
            ready = (w.get("status") or {}).get("readyReplicas", 0)
            wanted = (w.get("spec") or {}).get("replicas", 1)
            out.append(f"{kind} {kube.ref(w)}: {ready}/{wanted} replicas ready")
    return out


@check(
    "memory.requests_queueing",
    inputs={
        "metrics": "kubernetes.pod_metrics",
        "pods": LIST,
        "statefulsets": LIST,
        "deployments": LIST,
    },
    optional=("metrics", "pods", "statefulsets", "deployments"),
)
def requests_queueing(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """Requests are waiting (vllm:num_requests_waiting > 0) on the serving pods."""
    metrics, _ = serving_metrics(ev, ctx)
    if metrics is None:
        return _no_metrics(ev)
    queueing = [m for m in metrics if (m.waiting or 0) > 0]
    if queueing:
        replicas = _replicas(ev, [m.ref for m in queueing])
        return StepResult.confirmed(
            *[m.describe() for m in queueing[:4]],
            *replicas,
            waiting=int(sum(m.waiting or 0 for m in queueing)),
            queueing_pods=[m.ref for m in queueing],
            replicas=replicas,
        )
    unknown = [m for m in metrics if m.waiting is None]
    if unknown:
        return StepResult.inconclusive(*[m.describe() for m in unknown[:3]])
    if not metrics:
        return StepResult.ruled_out("no vLLM pod is serving, so nothing is queueing")
    return StepResult.ruled_out(
        f"no request waiting on {plural(len(metrics), 'vLLM pod')}: "
        + "; ".join(m.describe() for m in metrics[:3])
    )


def _max_num_seqs(pod: Obj | None, ev: Mapping[str, Answer]) -> tuple[int | None, str]:
    """vLLM's batch limit for the pod: the inference config, its args, else vLLM's default.

    None (and why) when the pod, its workspace or its ConfigMap could not be read: the
    default only stands in when what was read sets no limit.
    """
    if pod is None:
        return None, f"max-num-seqs unknown ({_gap(ev, 'pods') or 'the pod is not in the list'})"
    workspaces, configmaps = _data(ev, "workspaces"), _data(ev, "configmaps")
    if kube.workspace_of(pod) and workspaces is None and (gap := _gap(ev, "workspaces")):
        return None, f"max-num-seqs unknown ({gap})"
    cfg = vllm.workspace_config(pod, workspaces, configmaps)
    if cfg is not None and cfg.configmap and configmaps is None:
        gap = _gap(ev, "configmaps") or "ConfigMaps not read"
        return None, f"max-num-seqs unknown (ConfigMap {cfg.namespace}/{cfg.configmap}: {gap})"
    if cfg is not None and (limit := vllm.config_int(cfg.section, "max-num-seqs")) is not None:
        return limit, f"max-num-seqs {limit} (ConfigMap {cfg.namespace}/{cfg.configmap})"
    if (limit := vllm.arg_int(pod, "--max-num-seqs")) is not None:
        return limit, f"--max-num-seqs={limit}"
    return vllm.DEFAULT_MAX_NUM_SEQS, f"max-num-seqs {vllm.DEFAULT_MAX_NUM_SEQS} (vLLM default)"


def _kv_judgement(
    m: vllm.PodMetrics, pod: Obj | None, ev: Mapping[str, Answer], thr: float
) -> tuple[bool | None, str]:
    """(KV-bound?, why) for one pod; None when its metrics or its batch limit do not say."""
    if m.kv is None or m.running is None:
        return None, m.describe()
    if m.kv < thr:
        return False, f"{m.describe()}: KV cache below {thr:.0%}, not KV-bound"
    limit, why = _max_num_seqs(pod, ev)
    if limit is None:
        return None, f"{m.describe()}: KV cache full, but {why}: KV- or sequence-bound?"
    if m.running >= limit:
        return False, f"{m.describe()}: batch full at {why}: sequence-bound, not KV-bound"
    return True, f"{m.describe()}: KV cache full while {m.running:g} running < {why}: KV-bound"


@check(
    "memory.kv_bound",
    inputs={
        "metrics": "kubernetes.pod_metrics",
        "pods": LIST,
        "workspaces": LIST,
        "configmaps": LIST,
    },
    optional=("metrics", "pods", "workspaces", "configmaps"),
)
def kv_bound(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """KV cache at or above the threshold while running requests stay below max-num-seqs."""
    metrics, pods = serving_metrics(ev, ctx)
    if metrics is None:
        return _no_metrics(ev)
    # The queueing pods are the ones whose throughput is flat; with none, every vLLM pod.
    judged = [m for m in metrics if (m.waiting or 0) > 0] or metrics
    thr = ctx.thresholds.kv_cache_ratio
    verdicts = [(m, *_kv_judgement(m, pods.get(m.ref), ev, thr)) for m in judged]
    bound = [(m, line) for m, is_bound, line in verdicts if is_bound]
    if bound:
        caps, cfg_lines = _caps([m for m, _ in bound], pods, ev)
        top = max((m for m, _ in bound), key=lambda m: m.kv or 0)
        return StepResult.confirmed(
            *[line for _, line in bound[:3]],
            *cfg_lines,
            kv_pct=round((top.kv or 0) * 100),
            running=int(top.running or 0),
            kv_pods=[m.ref for m, _ in bound],
            caps=caps,
        )
    unknown = [line for _, is_bound, line in verdicts if is_bound is None]
    known = [line for _, is_bound, line in verdicts if is_bound is False]
    if unknown or not judged:
        return StepResult.inconclusive(
            *(unknown[:3] or ["no vLLM pod's /metrics to read"]), *known[:2]
        )
    return StepResult.ruled_out(*known[:3])


# ---- row 12: co-tenants on a time-sliced GPU ---------------------------------------------------


def _tenants(pods: list[Obj], node: str) -> list[Obj]:
    """GPU pods bound to the node and not finished: the ones sharing its GPUs."""
    return [
        p
        for p in pods
        if kube.node_name(p) == node
        and kube.requests_gpu(p)
        and kube.phase(p) in ("Running", "Pending")
    ]


def _recent_ooms(pods: list[Obj], logs: list[Obj], ctx: CheckContext) -> list[tuple[Obj, str]]:
    """(pod, line) for the first OOM kill or logged CUDA OOM of each pod within the lookback."""
    out = [
        (pod, _killed(pod, term, ctx))
        for pod, term in vllm.oom_killed(pods, ctx.now, ctx.thresholds.lookback)
    ]
    by_ref = {kube.ref(p): p for p in pods}
    for hit in vllm.oom_hits(logs, pods, ctx.now):
        if vllm.recent(hit.when, ctx.now, ctx.thresholds.lookback) and hit.ref in by_ref:
            out.append((by_ref[hit.ref], hit.line(ctx.now)))
    first: dict[str, tuple[Obj, str]] = {}
    for pod, line in out:
        first.setdefault(kube.ref(pod), (pod, line))
    return list(first.values())


def cotenant_ooms(
    ev: Mapping[str, Answer], ctx: CheckContext
) -> tuple[dict[str, list[str]], list[str]]:
    """(node -> lines, for nodes where an OOMed GPU pod has a GPU co-tenant; OOMed pods alone).

    Co-tenancy is per node, so a scoped run looks at the nodes its pods run on and every GPU
    pod there, whatever its namespace.
    """
    pods = list(_data(ev, "pods") or [])
    in_scope = {kube.node_name(p) for p in _admitted_pods(pods, ctx)}
    shared: dict[str, list[str]] = {}
    alone = []
    for pod, line in _recent_ooms(pods, _data(ev, "logs") or [], ctx):
        node = kube.node_name(pod)
        if not node or node not in in_scope:
            continue
        tenants = _tenants(pods, node)
        if len(tenants) < 2:
            alone.append(f"{line}, but it is the only GPU pod on {node}")
            continue
        who = names([kube.ref(t) for t in tenants])
        shared.setdefault(node, [f"{node}: {len(tenants)} GPU pods share the node ({who})"])
        shared[node].append(line)
    return shared, alone


def _unseen_ooms(ev: Mapping[str, Answer], ctx: CheckContext) -> list[str]:
    """Why a co-tenant's CUDA OOM could have gone unseen: the logs were unavailable while a
    GPU pod ran, or the log of a pod sharing its node with another GPU pod was not captured."""
    if gap := _gap(ev, "logs"):
        return [f"{gap}: CUDA OOMs not checked"] if _ran(ev, ctx) else []
    pods = list(_data(ev, "pods") or [])
    in_scope = {kube.node_name(p) for p in _admitted_pods(pods, ctx)}
    by_key = {(kube.namespace(p), kube.name(p)): p for p in pods}
    unread = []
    for ref, line in unread_logs(_data(ev, "logs") or [], by_key, ctx).items():
        ns, name = ref.split("/", 1)
        node = kube.node_name(by_key[(ns, name)])
        if node and node in in_scope and len(_tenants(pods, node)) > 1:
            unread.append(f"{line} (it shares {node})")
    return [*unread[:3], "CUDA OOMs in them not checked"] if unread else []


@check(
    "memory.cotenant_oom", inputs={"pods": LIST, "logs": "kubernetes.pod_logs"}, optional=("logs",)
)
def cotenant_oom(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """A GPU pod sharing its node with another GPU pod was OOM-killed or hit CUDA OOM recently."""
    shared, alone = cotenant_ooms(ev, ctx)
    if shared:
        lines = [ln for node_lines in shared.values() for ln in node_lines]
        return StepResult.confirmed(*lines[:5], oom_nodes=sorted(shared))
    # OOM kills were read, CUDA OOMs in logs were not (which matters only if a GPU pod ran).
    if unseen := _unseen_ooms(ev, ctx):
        return StepResult.inconclusive(*unseen, *alone[:2])
    if alone:
        return StepResult.ruled_out(*alone[:3])
    window = f"{ctx.thresholds.lookback_minutes:g} min"
    return StepResult.ruled_out(f"no GPU pod OOM-killed or logging CUDA OOM in the last {window}")


def _slicing_verdict(
    configs: list[share.Slicing], used: set[str], nodes: list[share.NodeShare], read: str
) -> StepResult:
    """Time-slicing on the given GPU nodes: a config they do not isolate away, or GFD's labels."""
    signs = [f"{n.node}: {', '.join(n.signs)}" for n in nodes if n.signs]
    over = [n.over for n in nodes if n.over]
    isolated = [f"{n.node}: {', '.join(n.isolated)}" for n in nodes if n.isolated and not n.signs]
    all_isolated = bool(nodes) and len(isolated) == len(nodes) and not over
    caps = [n.mig_capable for n in nodes if n.mig_capable is not None]
    facts = {"mig_capable": bool(caps) and all(caps), "nodes": [n.node for n in nodes]}
    config_lines = [c.line(used) for c in configs]
    if signs or (configs and not all_isolated):
        return StepResult.confirmed(*config_lines[:2], *signs[:3], *over[:2], **facts)
    if over:
        return StepResult.inconclusive(
            *over[:2], "no timeSlicing config or GFD sharing label explains it", **facts
        )
    checked = (
        f"no device-plugin config time-slices a GPU in {read}"
        if not configs
        else f"{config_lines[0]}, but the nodes do not use it"
    )
    return StepResult.ruled_out(checked, *isolated[:3], **facts)


@check(
    "memory.time_slicing",
    inputs={
        "configmaps": LIST,
        "clusterpolicies": LIST,
        "nodes": LIST,
        "pods": LIST,
        "logs": "kubernetes.pod_logs",
    },
    optional=("clusterpolicies", "nodes", "pods", "logs"),
)
def time_slicing(ev: Mapping[str, Answer], params: Any, ctx: CheckContext) -> StepResult:
    """The GPUs are time-sliced: a device-plugin timeSlicing config or GFD sharing labels."""
    configs = share.slicing_configs(ev["configmaps"].data)
    used = share.policy_configs(_data(ev, "clusterpolicies"))
    read = plural(len(ev["configmaps"].data), "ConfigMap")
    if gap := _gap(ev, "nodes"):
        # GFD's labels and MIG layouts are on the nodes: a config alone neither shows the
        # nodes use it nor, absent, that no node is time-sliced.
        return StepResult.inconclusive(
            f"{configs[0].line(used)}, but whether the GPU nodes use it is unknown"
            if configs
            else f"no device-plugin config time-slices a GPU in {read}",
            f"{gap}: GFD sharing labels and MIG layouts not checked",
        )
    gpu_nodes = kube.gpu_nodes(_data(ev, "nodes") or [])
    shared = cotenant_ooms(ev, ctx)[0] if _data(ev, "pods") is not None else {}
    # The nodes where co-tenants OOMed decide; with none, every GPU node.
    judged = [n for n in gpu_nodes if not shared or kube.name(n) in shared]
    result = _slicing_verdict(configs, used, [share.node_sharing(n) for n in judged], read)
    unseen = _unseen_ooms(ev, ctx) if shared else []
    if result.verdict is Verdict.RULED_OUT and unseen:
        # Co-tenants on other nodes may have OOMed unseen: rule out only if no node slices.
        wide = _slicing_verdict(configs, used, [share.node_sharing(n) for n in gpu_nodes], read)
        if wide.verdict is not Verdict.RULED_OUT:
            return StepResult.inconclusive(
                *result.lines[:2],
                *unseen,
                f"other GPU nodes are time-sliced: {wide.lines[0]}",
                **result.facts,
            )
    return result
