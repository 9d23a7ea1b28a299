"""The `--format json` document, exactly as DESIGN.md's CLI contract (plus additive fields)."""

from __future__ import annotations

import json
from typing import Any

from bot.model.verdicts import Diagnosis, Finding


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "playbook": f.playbook,
        "row": f.row,
        "title": f.title,
        "verdict": str(f.verdict),
        "summary": f.summary,
        "evidence": [
            {
                "step": o.step,
                "verdict": str(o.verdict),
                "detail": o.detail,
                "source": ", ".join(o.sources),
                "role": o.role,
                "lines": list(o.lines),
            }
            for o in f.steps
        ],
        "fixes": [
            {
                "id": x.id,
                "title": x.title,
                "risk": x.risk,
                "requires_approval": x.requires_approval,
                "reversible": x.reversible,
                "params": x.params,
            }
            for x in f.fixes
        ],
        "diagnosis": f.diagnosis,
        "owner": f.owner,
        "explanation": f.explanation,
    }


def document(d: Diagnosis) -> dict[str, Any]:
    return {
        "cluster": d.cluster,
        "source": d.source,
        "generated_at": d.generated_at,
        "runbook": d.runbook,
        "findings": [finding_dict(f) for f in d.findings],
        "errors": list(d.errors),
    }


def render(d: Diagnosis) -> str:
    return json.dumps(document(d), indent=2, ensure_ascii=False, default=str) + "\n"
