"""JSON Schema for the playbook and runbook formats, for editor completion.

Generated from the same pydantic models the loader validates with, plus the registered
checks, fixes, question kinds and owners as enums, so the schema can never disagree with the
loader. `gpubot playbooks schema > playbooks/playbook.schema.json` refreshes the shipped copy.
"""

from __future__ import annotations

import json
from typing import Any

from bot.checks import load_all
from bot.model.domain import OWNERS
from bot.model.evidence import QUESTION_KINDS
from bot.model.fixes import FIXES
from bot.model.playbook import PlaybookSpec, RunbookSpec


def _check_variants() -> list[dict[str, Any]]:
    """One if/then per check so `with:` gets that check's parameters."""
    out = []
    for name, spec in sorted(load_all().items()):
        params = spec.params.model_json_schema()
        params.pop("title", None)
        params.setdefault("additionalProperties", False)
        out.append(
            {
                "if": {"properties": {"check": {"const": name}}, "required": ["check"]},
                "then": {"properties": {"with": params}},
            }
        )
    return out


def playbook_schema() -> dict[str, Any]:
    schema = PlaybookSpec.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    step = defs["StepSpec"]
    step["properties"]["check"]["enum"] = sorted(load_all())
    step["allOf"] = _check_variants()
    defs["EvidenceSpec"]["properties"]["source"]["enum"] = sorted(QUESTION_KINDS)
    defs["FixOfferSpec"]["properties"]["fix"]["enum"] = sorted(FIXES)
    schema["properties"]["owner"]["enum"] = list(OWNERS)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://gpubot.dev/schema/playbook.schema.json"
    return schema


def runbook_schema() -> dict[str, Any]:
    schema = RunbookSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://gpubot.dev/schema/runbook.schema.json"
    return schema


def to_json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
