"""The morning readiness report as text: one line per rung, then quota, pre-warm and idle spend.

A readiness finding is *confirmed* when its rung FAILS (❌), *ruled out* when it passes (✅),
inconclusive when it could not be read (❔). The rung order comes from the runbook (pass
`order=runbook.playbooks`); the words come from `templates/morning.txt.j2`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import jinja2

from bot.model.domain import format_money
from bot.model.verdicts import Diagnosis, Finding, FixOffer, Verdict

# The morning-readiness runbook's ladder, used when the caller passes no order.
LADDER = (
    "gpu-not-advertised",
    "device-plugin-unhealthy",
    "workspace-not-ready",
    "endpoint-not-answering",
    "quota-no-headroom",
    "prewarm-missing",
    "idle-gpu-spend",
)
# Each playbook's `rung:` (what a passing rung reads like), for callers that pass no `rungs`.
RUNGS = {
    "gpu-not-advertised": "GPU advertised on GPU nodes",
    "device-plugin-unhealthy": "device plugin / driver healthy",
    "workspace-not-ready": "workspaces ResourceReady and InferenceReady",
    "endpoint-not-answering": "endpoint /v1/models answering",
    "quota-no-headroom": "quota headroom for one more node per GPU family in use",
    "prewarm-missing": "pre-warm in place where the pool scales to zero",
    "idle-gpu-spend": "idle GPU node-hours yesterday",
}
QUOTA, PREWARM, IDLE = "quota-no-headroom", "prewarm-missing", "idle-gpu-spend"

MARKS = {Verdict.RULED_OUT: "✅", Verdict.CONFIRMED: "❌", Verdict.INCONCLUSIVE: "❔"}
COLORS = {Verdict.RULED_OUT: "32", Verdict.CONFIRMED: "31", Verdict.INCONCLUSIVE: "33"}
PREFIXES = ("Ruled out: ", "Inconclusive: ")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bot.render", "templates"),
        autoescape=False,  # plain text for a terminal or a code block, never HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _paint(text: str, verdict: Verdict, color: bool) -> str:
    return f"\033[{COLORS[verdict]}m{text}\033[0m" if color else text


def _line(f: Finding) -> str:
    """The finding's one line without the engine's verdict prefix (the mark says it)."""
    for prefix in PREFIXES:
        if f.summary.startswith(prefix):
            return f.summary[len(prefix) :]
    return f.summary


def _fix_text(fix: FixOffer) -> str:
    params = ", ".join(f"{k}={v}" for k, v in fix.params.items() if v is not None)
    return f"{fix.title} ({params})" if params else fix.title


def _ordered(findings: Iterable[Finding], order: Sequence[str] | None) -> list[Finding]:
    by_id = {f.playbook: f for f in findings}
    ids = [i for i in (order or LADDER) if i in by_id]
    return [by_id[i] for i in ids] + [f for f in by_id.values() if f.playbook not in ids]


def _quota(f: Finding, color: bool) -> list[str]:
    """One row per GPU family in use, then the regional total."""
    out = []
    for r in f.facts.get("families") or []:
        verdict = Verdict.RULED_OUT if r["headroom_nodes"] >= 1 else Verdict.CONFIRMED
        out.append(
            f"{_paint(MARKS[verdict], verdict, color)} {r['family']} {r['used']}/{r['limit']} "
            f"vCPUs: room for {r['headroom_nodes']} more {r['sku']} ({r['vcpus']} vCPUs each)"
        )
    regional = next((o for o in f.steps if o.step == "regional-headroom" and o.lines), None)
    if out and regional is not None:
        out.append(
            f"{_paint(MARKS[regional.verdict], regional.verdict, color)} {regional.lines[0]}"
        )
    return out


def _prewarm(f: Finding, color: bool) -> list[str]:
    """One row per workload on a pool that scales to zero: its pre-warm, or none."""
    ok, bad = Verdict.RULED_OUT, Verdict.CONFIRMED
    out = [
        f"{_paint(MARKS[ok], ok, color)} {p['pool']}: {p['workload']} ({p['namespace']}) warmed by "
        f"{p['cronjob']} '{p['schedule']}' ({p.get('time_zone') or 'UTC'})"
        for p in f.facts.get("prewarms") or []
    ]
    return out + [
        f"{_paint(MARKS[bad], bad, color)} {p['pool']}: {p['workload']} ({p['namespace']}) "
        "has no pre-warm"
        for p in f.facts.get("missing") or []
    ]


def _idle(f: Finding) -> tuple[str | None, list[str]]:
    """(total hours and cost, one row per idle node)."""
    if "idle_hours" not in f.facts:
        return None, []
    currency = f.facts.get("currency", "INR")
    nodes = []
    for n in f.facts.get("idle_nodes") or []:
        cost = format_money(n["cost"], currency) if n.get("cost") is not None else "price unknown"
        pool = f", pool {n['pool']}" if n.get("pool") else ""
        nodes.append(f"{n['node']} ({n['sku'] or 'SKU unknown'}{pool}): {n['hours']:g} h {cost}")
    money = f" {f.facts['idle_cost_text']}" if f.facts.get("idle_cost_text") else ""
    return f"{f.facts['idle_hours']:g} node-hours in the last 24 h{money}", nodes


def _rung(f: Finding, rungs: Mapping[str, str], color: bool) -> dict[str, Any]:
    """Mark, rung, its one line, detail rows (quota, pre-warm, idle) and the fixes offered."""
    line, details = _line(f), []
    if f.playbook == QUOTA:
        details = _quota(f, color)
    elif f.playbook == PREWARM:
        details = _prewarm(f, color)
    elif f.playbook == IDLE:
        head, details = _idle(f)
        line = head or line
    if details and f.playbook != IDLE:
        line = ""  # the rows say it better than the summary, one family or workload each
    return {
        "mark": _paint(MARKS[f.verdict], f.verdict, color),
        "rung": rungs.get(f.playbook, f.title),
        "line": line,
        "details": details,
        "fixes": [_fix_text(x) for x in f.fixes],
    }


def view(
    diagnosis: Diagnosis,
    *,
    order: Sequence[str] | None = None,
    rungs: Mapping[str, str] | None = None,
    color: bool = False,
) -> dict[str, Any]:
    """What the template shows, computed once (the template only lays it out)."""
    findings = _ordered(diagnosis.findings, order)
    failed = sum(1 for f in findings if f.verdict == Verdict.CONFIRMED)
    unknown = sum(1 for f in findings if f.verdict == Verdict.INCONCLUSIVE)
    return {
        "cluster": diagnosis.cluster,
        "location": diagnosis.location,
        "when": diagnosis.generated_at[:16].replace("T", " ") + " UTC",
        "total": len(findings),
        "failed": failed,
        "unknown": unknown,
        "rungs": [_rung(f, {**RUNGS, **(rungs or {})}, color) for f in findings],
    }


def render(
    diagnosis: Diagnosis,
    *,
    order: Sequence[str] | None = None,
    rungs: Mapping[str, str] | None = None,
    color: bool = False,
) -> str:
    """The morning report of one cluster as text (ANSI colours on the marks when `color`)."""
    return (
        _environment()
        .get_template("morning.txt.j2")
        .render(**view(diagnosis, order=order, rungs=rungs, color=color))
    )


def render_slack(
    diagnosis: Diagnosis,
    *,
    order: Sequence[str] | None = None,
    rungs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The morning report as one Slack message: a header and the ladder, split into sections
    under Block Kit's 3,000-character limit (lines are never cut)."""
    from slack_sdk.models.blocks import HeaderBlock, MarkdownTextObject, SectionBlock

    text = render(diagnosis, order=order, rungs=rungs)
    title, _, body = text.partition("\n")
    blocks: list[dict[str, Any]] = [
        HeaderBlock(text=title[:150], block_id="morning:header").to_dict()
    ]
    chunk: list[str] = []
    lines = [piece for line in body.strip("\n").splitlines() for piece in _pieces(line, 2800)]
    for line in [*lines, ""]:
        if line and sum(len(x) + 1 for x in chunk) + len(line) < 2900:
            chunk.append(line)
            continue
        if chunk:
            section = SectionBlock(
                text=MarkdownTextObject(text="\n".join(chunk)), block_id=f"morning:{len(blocks)}"
            )
            blocks.append(section.to_dict())
        chunk = [line] if line else []
    return {"text": title, "blocks": blocks[:50]}


def _pieces(line: str, width: int) -> list[str]:
    """A line longer than a section holds continues on the next line, never silently cut."""
    return [line[i : i + width] for i in range(0, len(line), width)] or [""]
