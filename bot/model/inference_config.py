"""KAITO's inference config text (ConfigMap key `inference_config.yaml`, a `vllm:` section) and
the one edit gpubot makes to it, lowering `max-model-len` in place.

Pure, so the check that offers cap-max-model-len and the actuator that applies it judge the same
text the same way: an offer exists only for a config the actuator can edit.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

KEY = "inference_config.yaml"
LINE = re.compile(r"^(?P<head>[ \t]+max-model-len:[ \t]*)(?P<value>[^\s#]+)(?P<tail>.*)$", re.M)


class NotEditable(ValueError):
    """The text cannot be edited in place; the message is one line for a person."""


def vllm_section(text: str | None) -> dict[str, Any] | None:
    try:
        doc = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return None
    section = doc.get("vllm") if isinstance(doc, dict) else None
    return section if isinstance(section, dict) else None


def max_model_len(text: str | None) -> int | None:
    """`vllm.max-model-len` when it is a plain integer (what the edit can lower), else None."""
    value = (vllm_section(text) or {}).get("max-model-len")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def edit_max_model_len(text: str, new: int) -> str:
    """The same text with `vllm.max-model-len` set to `new`, changing that one line only (so
    the team's comments and other settings stay), checked by parsing the result."""
    lines = LINE.findall(text)
    if len(lines) != 1:
        raise NotEditable(f"{KEY} has {len(lines)} max-model-len lines: cannot edit it in place")
    edited = LINE.sub(lambda m: f"{m['head']}{new}{m['tail']}", text)
    before, after = vllm_section(text), vllm_section(edited)
    if before is None or after != {**before, "max-model-len": new}:
        raise NotEditable(f"{KEY}: max-model-len is not a setting of the vllm: section")
    return edited
