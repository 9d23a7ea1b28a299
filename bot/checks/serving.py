"""Row 8: InferenceReady False with the pod crash-looping: wrong port/probe or bad config.

The served port is read from what the server said (`Uvicorn running on http://0.0.0.0:5000`)
before what it was told (`--port=5000`): a log line is what actually happened. An OOM crash
loop is rows 5/6, so memory errors are never taken for a bad config here.
"""

from __future__ import annotations

from typing import Any

from bot.checks import _evidence as evi
from bot.checks import _sched_events as scheduler
from bot.checks import _serving as srv
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import duration, parse_time, plural
from bot.model.verdicts import StepResult

Obj = dict[str, Any]
WS_INPUTS = {"workspaces": "kubernetes.list", "pods": "kubernetes.list"}
PROBE_FAILURES = ("Unhealthy",)


def _workspaces(ev: evi.Evidence, ctx: CheckContext) -> list[Obj]:
    return [
        w for w in ev["workspaces"].data or [] if ctx.scope.admits(kube.namespace(w), kube.name(w))
    ]


def _signs(pod: Obj, events: list[Obj] | None, ctx: CheckContext) -> list[str]:
    """What says this pod is not serving: CrashLoopBackOff, a recent exit, probe failures."""
    out = []
    if kube.waiting_reason(pod) == "CrashLoopBackOff":
        out.append(f"CrashLoopBackOff, {plural(kube.restart_count(pod), 'restart')}")
    term = srv.recent_termination(pod, ctx)
    if term is not None:
        ago = srv.when_text(parse_time(term.get("finishedAt")), ctx.now)
        out.append(f"last exit code {term.get('exitCode')} ({term.get('reason')}) {ago}")
    for event in scheduler.pod_events(events, pod, ctx, reasons=PROBE_FAILURES)[-2:]:
        out.append(scheduler.event_quote(event, ctx, limit=160))
    return out


def _calm(pod: Obj, ctx: CheckContext) -> str:
    """`pod x Running, 1 restart (last exit 3 h ago)`: why restarts long ago do not count."""
    finished = [parse_time(t.get("finishedAt")) for t in kube.last_termination(pod)]
    last = max((f for f in finished if f is not None), default=None)
    since = f" (last exit {srv.when_text(last, ctx.now)})" if last else ""
    return (
        f"pod {kube.name(pod)} {kube.waiting_reason(pod) or kube.phase(pod)}, "
        f"{plural(kube.restart_count(pod), 'restart')}{since}"
    )


@check(
    "serving.inference_crashloop",
    inputs={**WS_INPUTS, "events": "kubernetes.list"},
    optional=("events",),
)
def inference_crashloop(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A workspace is not InferenceReady and its pod crash-loops, restarts or fails probes."""
    events, pods = evi.data(ev, "events"), ev["pods"].data or []
    hits, ok, facts = [], [], {}
    for ws in _workspaces(ev, ctx):
        cond = kube.condition(ws, "InferenceReady") or {}
        status = f"InferenceReady={cond.get('status', 'absent')}"
        if cond.get("status") == "True":
            ok.append(
                f"workspace {kube.ref(ws)} {status}; "
                + (", ".join(_calm(p, ctx) for p in srv.workspace_pods(ws, pods)) or "no pod")
            )
            continue
        found = [(p, s) for p in srv.workspace_pods(ws, pods) if (s := _signs(p, events, ctx))]
        for pod, signs in found:
            hits.append(
                f"workspace {kube.ref(ws)} {status} ({cond.get('reason', '?')}): pod "
                f"{kube.name(pod)} {'; '.join(signs)}"
            )
            facts.setdefault("workspace", kube.ref(ws))
            facts.setdefault("pod", kube.ref(pod))
        if not found:
            states = [
                f"{kube.name(p)} {kube.waiting_reason(p) or kube.phase(p)}"
                for p in srv.workspace_pods(ws, pods)
            ]
            ok.append(
                f"workspace {kube.ref(ws)} {status} but no crash loop, restart or probe "
                f"failure in the last {duration(ctx.thresholds.lookback)} "
                f"(pods: {', '.join(states) or 'none yet'})"
            )
    if hits:
        return StepResult.confirmed(*hits[:5], **facts)
    if not ok:
        return StepResult.ruled_out("no KAITO workspace in scope")
    return StepResult.ruled_out(*ok[:5], *evi.gaps(ev, "events"))


def _served(pod: Obj, container: Obj, logs: list[Obj] | None) -> tuple[int | None, str]:
    """The port the server listens on and where that was read."""
    for entry in srv.pod_logs(logs, pod):
        if entry.get("container") == container.get("name"):
            port = srv.listen_port(entry.get("text"))
            if port is not None:
                return port, f'log: "Uvicorn running on http://0.0.0.0:{port}"'
    port = srv.arg_port(container)
    return port, f"--port={port} in its args"


def _service_mismatches(pod: Obj, c: Obj, server: int, services: list[Obj]) -> list[str]:
    """Service ports meant for inference (`http`, 80, or the only one) that miss the server."""
    out = []
    for svc in services:
        selector = (svc.get("spec") or {}).get("selector") or {}
        if (
            kube.namespace(svc) != kube.namespace(pod)
            or not selector
            or any(kube.labels(pod).get(k) != v for k, v in selector.items())
        ):
            continue
        ports = (svc.get("spec") or {}).get("ports") or []
        for sp in ports:
            if sp.get("name") == "http" or sp.get("port") == 80 or len(ports) == 1:
                target = srv.resolve_port(sp.get("targetPort", sp.get("port")), c)
                if target != server:
                    out.append(
                        f"Service {kube.ref(svc)} port {sp.get('port')} -> targetPort "
                        f"{sp.get('targetPort')}, but the server listens on {server}"
                    )
    return out


@check(
    "serving.probe_port_mismatch",
    inputs={**WS_INPUTS, "services": "kubernetes.list", "pod_logs": "kubernetes.pod_logs"},
    optional=("services", "pod_logs"),
)
def probe_port_mismatch(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """A probe (or the Service) targets a port the model server does not listen on."""
    logs, services = evi.data(ev, "pod_logs"), evi.data(ev, "services") or []
    hits, ok, unknown, facts = [], [], [], {}
    for ws in _workspaces(ev, ctx):
        for pod in srv.workspace_pods(ws, ev["pods"].data or []):
            for c in kube.containers(pod):
                server, how = _served(pod, c, logs)
                if server is None:
                    unknown.append(
                        f"{kube.ref(pod)}: listening port unknown (no 'Uvicorn running on' "
                        "log line, no --port)"
                    )
                    continue
                for kind, port, path in srv.probes(c):
                    target = srv.resolve_port(port, c)
                    line = f"{kube.ref(pod)}: {kind} probe {path or ''} on port {port}".replace(
                        "  ", " "
                    )
                    if target != server:
                        named = f" (= {target})" if str(target) != str(port) else ""
                        hits.append(f"{line}{named}, but the server listens on {server} ({how})")
                        facts.setdefault("pod", kube.ref(pod))
                        facts.setdefault("probe_port", target)
                        facts.setdefault("server_port", server)
                    else:
                        ok.append(f"{line} matches the served port ({how})")
                hits += _service_mismatches(pod, c, server, services)
    if hits:
        return StepResult.confirmed(*hits[:5], **facts)
    if unknown:
        return StepResult.inconclusive(*unknown[:3], *evi.gaps(ev, "pod_logs"), *ok[:2])
    return StepResult.ruled_out(*(ok[:4] or ["no KAITO inference pod with a probe to compare"]))


def _config_text(ws: Obj, configmaps: list[Obj]) -> tuple[str | None, list[str]]:
    """(ConfigMap ref, problems) of the workspace's inference.config."""
    name = (ws.get("inference") or {}).get("config")
    ref = f"{kube.namespace(ws)}/{name}"
    cm = next(
        (c for c in configmaps if kube.namespace(c) == kube.namespace(ws) and kube.name(c) == name),
        None,
    )
    if cm is None:
        return ref, [f"ConfigMap {ref} named by inference.config does not exist"]
    text = (cm.get("data") or {}).get(srv.CONFIG_KEY)
    if text is None:
        return ref, [
            f"ConfigMap {ref} has no {srv.CONFIG_KEY} key (keys: "
            f"{', '.join(cm.get('data') or {}) or 'none'})"
        ]
    return ref, [f"ConfigMap {ref}: {p}" for p in srv.config_problems(text)]


def _rejected(ws: Obj, pods: list[Obj], logs: list[Obj] | None, ctx: CheckContext) -> list[str]:
    """Argument/config errors in the logs of this workspace's pods that are crashing now."""
    out = []
    for pod in srv.workspace_pods(ws, pods):
        if not srv.crashing(pod, ctx):
            continue  # an old crash's log is not evidence of today's config
        for entry in sorted(srv.pod_logs(logs, pod), key=lambda e: not e.get("previous")):
            errors = srv.config_errors(entry.get("text"))
            which = "previous" if entry.get("previous") else "current"
            out += [f"{kube.ref(pod)} {which} log: {e}" for e in errors[:2]]
            if errors:
                break
    return out


@check(
    "serving.bad_inference_config",
    inputs={**WS_INPUTS, "configmaps": "kubernetes.list", "pod_logs": "kubernetes.pod_logs"},
    optional=("configmaps", "pod_logs"),
)
def bad_inference_config(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """inference.config is missing, unparsable or wrong, or the server rejected its arguments."""
    configmaps, logs = evi.data(ev, "configmaps"), evi.data(ev, "pod_logs")
    hits, ok, unknown, facts = [], [], [], {}
    for ws in _workspaces(ev, ctx):
        rejected, problems, ref = _rejected(ws, ev["pods"].data or [], logs, ctx), [], None
        if not (ws.get("inference") or {}).get("config"):
            ok.append(f"workspace {kube.ref(ws)} sets no inference.config (preset defaults)")
        elif configmaps is None:
            unknown.append(f"workspace {kube.ref(ws)}: cannot read its inference.config")
        else:
            ref, problems = _config_text(ws, configmaps)
            if not problems:
                ok.append(f"ConfigMap {ref} parses and its vllm: settings look valid")
        if rejected or problems:
            hits += rejected + problems
            found = {
                "workspace": kube.ref(ws),
                "configmap": ref,
                "error": rejected[0].split(" log: ", 1)[1] if rejected else None,
                "problem": problems[0] if problems else None,
            }
            facts.update({k: v for k, v in found.items() if v and k not in facts})
    if hits:
        return StepResult.confirmed(*hits[:6], **facts)
    if unknown:
        return StepResult.inconclusive(*unknown, *evi.gaps(ev, "configmaps"))
    return StepResult.ruled_out(*(ok[:4] or ["no KAITO workspace in scope"]))
