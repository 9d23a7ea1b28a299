"""How `gpubot fix` and `gpubot audit` print: plain text for people, one JSON object for scripts.

The guard's `Outcome` carries everything; nothing here decides anything.
"""

from __future__ import annotations

import json
from typing import Any

from bot.model.fixes import FIXES


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def plan_lines(plan: Any, request: Any) -> list[str]:
    spec = FIXES.get(plan.fix)
    traits = [f"risk {spec.risk}" if spec else "", "reversible" if plan.reversible else "one-way"]
    traits.append("takes effect " + ("outside gpubot" if plan.effect == "eventual" else "now"))
    if spec and spec.requires_approval:
        traits.append("needs a second person's approval")
    head = f"{'Undo' if plan.undoes else 'Plan'} {request.id if request else ''}: {plan.fix} on "
    lines = [
        head + f"{plan.target} (cluster {plan.cluster})",
        "  " + " · ".join(t for t in traits if t),
    ]
    lines += [
        f"  change  {c.subject}  {c.field}: "
        + (
            f"{_value(c.before)} (unchanged)"
            if c.before == c.after
            else f"{_value(c.before)} -> {_value(c.after)}"
        )
        for c in plan.changes
    ]
    conditions = ", ".join(f"{k} {v}" for k, v in sorted(plan.preconditions.items()))
    lines += [f"  writes  {t}" for t in plan.touches]
    if conditions:
        lines.append(f"  only if {conditions} is unchanged")
    lines += [f"  note    {n}" for n in plan.notes]
    return lines


def outcome_text(outcome: Any) -> str:
    lines = []
    if outcome.plan is not None and outcome.status in ("planned", "requested"):
        lines += plan_lines(outcome.plan, outcome.request)
    lines.append(outcome.message)
    lines += [f"  {line}" for line in outcome.evidence[:20]]
    return "\n".join(lines) + "\n"


def next_steps(outcome: Any) -> list[str]:
    """What the operator can do next, as commands (stderr: stdout carries only the result)."""
    request = outcome.request
    if request is None:
        return []
    if outcome.status == "requested":
        return [
            f"request {request.id} awaits approval: a second operator must run "
            f"`gpubot fix approve {request.id}` (or `gpubot fix reject {request.id}`)"
        ]
    if outcome.status == "applied" and not request.undo_of:
        hints = [f"gpubot fix verify {request.id}"]
        if "undo" in outcome.buttons:
            hints.append(f"gpubot fix undo {request.id}")
        return ["next: " + " · ".join(hints)]
    return []


def outcome_json(outcome: Any) -> str:
    request = outcome.request
    doc = {
        "status": outcome.status,
        "message": outcome.message,
        "request_id": request.id if request else None,
        "request_status": request.status if request else None,
        "fix": request.fix if request else (outcome.plan.fix if outcome.plan else None),
        "cluster": request.cluster if request else None,
        "requester": request.requester if request else None,
        "approver": request.approver if request else None,
        "verification": request.verification if request else None,
        "plan": outcome.plan.model_dump(mode="json") if outcome.plan else None,
        "evidence": list(outcome.evidence),
    }
    return json.dumps(doc, indent=2) + "\n"


def audit_text(records: list[Any]) -> str:
    if not records:
        return "no audit records match\n"
    rows = [("WHEN", "WHO", "WHERE", "ACTION", "FIX", "TARGET", "REQUEST", "REASON")]
    for r in records:
        where = r.channel or ("terminal" if r.actor.startswith("local:") else "-")
        rows.append(
            (
                r.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                r.actor,
                f"{r.cluster or '-'}/{where}",
                r.action,
                r.fix or "-",
                r.target or "-",
                r.request_id or "-",
                (r.reason or "").replace("\n", " "),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)).rstrip()
        + (f"  {row[-1]}" if row[-1] else "")
        + "\n"
        for row in rows
    )


def audit_json(records: list[Any]) -> str:
    return json.dumps([r.as_dict() for r in records], indent=2) + "\n"
