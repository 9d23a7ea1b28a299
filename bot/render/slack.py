"""Slack Block Kit: a summary message readable in five seconds, then thread replies with every
finding's full evidence.

Every block is built with `slack_sdk.models` and serialized with `to_dict()`, so the SDK checks
Block Kit's per-object limits. The per-message limits (50 blocks, the cumulative text behind
`msg_blocks_too_long`) are ours: long content continues in the next section or message marked
"(continued)"; a single line too long for a section is cut with a notice saying how much is
missing. Every finding's blocks carry `finding:<playbook-id>` in their `block_id`.

The pieces: `slack_blocks` (limits, templates, block builders), `slack_packing` (blocks into
messages), `slack_summary` (the first message) and `slack_thread` (the replies).
"""

from __future__ import annotations

import json
from typing import Any

from bot.model.verdicts import Diagnosis
from bot.render.slack_packing import Packer
from bot.render.slack_summary import pack_summary
from bot.render.slack_thread import pack_thread


def render_messages(diagnosis: Diagnosis) -> list[dict[str, Any]]:
    """Slack message payloads `{"text", "blocks"}`: the summary first, then thread replies."""
    packer = Packer()
    pack_summary(diagnosis, packer)
    pack_thread(diagnosis, packer)
    return [m.payload() for m in packer.messages]


def render_json(diagnosis: Diagnosis) -> str:
    """`gpubot diagnose --format slack`: `{"messages": [...]}`."""
    doc = {"messages": render_messages(diagnosis)}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
