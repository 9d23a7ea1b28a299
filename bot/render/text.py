"""Terminal text (placeholder until the Jinja2 renderer lands)."""

from __future__ import annotations

from bot.model.verdicts import Diagnosis


def render(d: Diagnosis, *, color: bool = False) -> str:
    out = [f"GPU diagnosis · {d.cluster} · {d.generated_at}"]
    for f in d.findings:
        out.append(f"[{f.verdict}] {f.playbook}: {f.summary}")
        for o in f.steps:
            out.append(f"    {o.step} ({o.role}) {o.verdict}: {o.detail}")
    return "\n".join(out) + "\n"
