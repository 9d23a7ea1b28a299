"""Readiness rungs 3 and 4: every KAITO inference workspace is Ready, and its endpoint answers
/v1/models.

Readiness semantics (confirmed = the rung fails) are in bot/checks/readiness.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bot.checks import _evidence as evi
from bot.checks import _readiness as rd
from bot.checks.registry import check
from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, duration, names, plural
from bot.model.verdicts import StepResult

Obj = dict[str, Any]


# ---- 3. workspaces ready --------------------------------------------------------------------

WORKSPACE_CONDITIONS = ("ResourceReady", "InferenceReady")


def _condition_text(ws: Obj, kind: str, ctx: CheckContext) -> str | None:
    """None when the condition is True, else `InferenceReady=False (reason: message) for 50 min`."""
    cond = kube.condition(ws, kind)
    if cond is None:
        return f"{kind} absent"
    if cond.get("status") == "True":
        return None
    detail = ": ".join(
        str(x) for x in (cond.get("reason"), clip(str(cond.get("message") or ""), 120)) if x
    )
    since = kube.parse_time(cond.get("lastTransitionTime"))
    age = f" for {duration(ctx.now - since)}" if since else ""
    return f"{kind}={cond.get('status')}" + (f" ({detail})" if detail else "") + age


@check("readiness.workspaces_ready", inputs={"workspaces": "kubernetes.list"})
def workspaces_ready(ev: evi.Evidence, params: Any, ctx: CheckContext) -> StepResult:
    """Every KAITO inference workspace has ResourceReady and InferenceReady True."""
    admitted = [
        w for w in ev["workspaces"].data if ctx.scope.admits(kube.namespace(w), kube.name(w))
    ]
    # Tuning workspaces never report InferenceReady; they finish with WorkspaceSucceeded instead.
    serving = [w for w in admitted if w.get("inference") or not w.get("tuning")]
    if not serving:
        others = f" ({plural(len(admitted), 'tuning workspace')})" if admitted else ""
        return StepResult.ruled_out(f"no KAITO inference workspace{others}", ready=0, workspaces=0)
    failing = []
    for ws in serving:
        texts = [t for t in (_condition_text(ws, k, ctx) for k in WORKSPACE_CONDITIONS) if t]
        if texts:
            failing.append(f"{kube.ref(ws)}: " + ", ".join(texts))
    ok = len(serving) - len(failing)
    head = f"{ok}/{len(serving)} workspaces ResourceReady and InferenceReady"
    facts = {
        "ready": ok,
        "workspaces": len(serving),
        "not_ready": [f.split(":")[0] for f in failing],
    }
    if failing:
        return StepResult.confirmed(head, *failing, **facts)
    return StepResult.ruled_out(f"{head} ({names([kube.ref(w) for w in serving])})", **facts)


# ---- 4. endpoint answering ------------------------------------------------------------------


class EndpointParams(rd.RungParams):
    max_latency_ms: int = Field(
        5000, ge=1, description="a /v1/models answer slower than this fails"
    )


def _judge_probe(probe: Obj, max_ms: int) -> tuple[bool, str]:
    """(passes, line) for one `{namespace, service, path, status, latency_ms, body}` probe."""
    where = f"{probe.get('namespace')}/{probe.get('service')} {probe.get('path') or '/v1/models'}"
    status, ms = probe.get("status"), probe.get("latency_ms")
    took = f" in {ms:g} ms" if isinstance(ms, int | float) else ""
    if not status:
        error = rd.probe_error(probe)
        after = f" after {ms:g} ms" if isinstance(ms, int | float) else ""
        return False, f"{where}: no answer{after}" + (f": {error}" if error else "")
    if int(status) != 200:
        error = rd.probe_error(probe)
        return False, f"{where}: {status}{took}" + (f": {error}" if error else "")
    models = rd.probe_models(probe.get("body"))
    if not models:
        return False, f"{where}: 200{took} but no model id in the body"
    if isinstance(ms, int | float) and ms > max_ms:
        return False, f"{where}: 200{took}, slower than {max_ms} ms ({', '.join(models)})"
    return True, f"{where}: 200{took} ({', '.join(models)})"


def _workspace_service(svc: Obj) -> bool:
    """A Service KAITO created for a workspace (its label, or a Workspace owner reference)."""
    owners = kube.meta(svc).get("ownerReferences") or []
    return "kaito.sh/workspace" in kube.labels(svc) or any(
        o.get("kind") == "Workspace" for o in owners
    )


def _expected_endpoints(ev: evi.Evidence) -> set[tuple[str, str]] | None:
    """Workspace Services that should have been probed; None when neither list could be read.

    Without the workspace list, the Services KAITO labelled for a workspace stand in for it;
    without both, which endpoints exist is unknown (a pass would be a guess).
    """
    workspaces, services = evi.data(ev, "workspaces"), evi.data(ev, "services")
    if workspaces is None:
        if services is None:
            return None
        return {(kube.namespace(s), kube.name(s)) for s in services if _workspace_service(s)}
    wanted = {(kube.namespace(w), kube.name(w)) for w in workspaces if w.get("inference")}
    if services is not None:  # KAITO creates the Service only once the workspace's nodes are ready
        wanted &= {(kube.namespace(s), kube.name(s)) for s in services}
    return wanted


@check(
    "readiness.endpoint_answering",
    inputs={
        "probes": "kubernetes.service_probes",
        "workspaces": "kubernetes.list",
        "services": "kubernetes.list",
    },
    optional=("workspaces", "services"),
    params=EndpointParams,
)
def endpoint_answering(ev: evi.Evidence, params: EndpointParams, ctx: CheckContext) -> StepResult:
    """Each inference endpoint answers /v1/models with 200 and a model id."""
    probes = [
        p for p in ev["probes"].data if ctx.scope.admits(p.get("namespace"), p.get("service"))
    ]
    expected = _expected_endpoints(ev)
    judged = [(p, *_judge_probe(p, params.max_latency_ms)) for p in probes]
    bad = [line for _, good, line in judged if not good]
    good = [line for _, ok, line in judged if ok]
    seen = {(p.get("namespace"), p.get("service")) for p in probes}
    unprobed = sorted(e for e in expected or set() if e not in seen and ctx.scope.admits(*e))
    unknown = [
        f"{ns}/{svc}: no /v1/models probe result for this workspace Service" for ns, svc in unprobed
    ]
    latency = next((p.get("latency_ms") for p, ok, _ in judged if ok), None)
    facts = {"answering": len(good), "endpoints": len(judged) + len(unknown), "latency_ms": latency}
    if bad:
        return StepResult.confirmed(*bad, *unknown, *good, **facts)
    if expected is None:  # which workspace Services exist is unknown: one may be unprobed
        what = (
            "cannot tell whether every endpoint was probed" if judged else "no endpoint was probed"
        )
        return StepResult.inconclusive(
            what, *good, evi.why_unread(ev, "workspaces"), evi.why_unread(ev, "services"), **facts
        )
    note = []
    if not ev["workspaces"].available:
        note = [
            evi.why_unread(ev, "workspaces") + " (workspace Services found by their kaito.sh label)"
        ]
    if unknown:
        return StepResult.inconclusive(*unknown, *good, *note, **facts)
    if not judged:
        return StepResult.ruled_out(
            "no inference endpoint to probe (no workspace Service)", *note, **facts
        )
    return StepResult.ruled_out(*good, *note, **facts)
