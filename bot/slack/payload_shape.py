"""The shape an interactivity payload must have before Bolt reads it.

Bolt assumes Slack's shapes: `user`, `team`, `channel`, `container` and `message` are objects;
`actions`, when there, is a non-empty list of objects whose `action_id` and `block_id` are
strings. Anything else made it raise while building the request or matching listeners, which
was a 500 with a traceback in the log. Slack never sends such a payload, so it is answered 400
before Bolt sees it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

OBJECTS = ("user", "team", "enterprise", "channel", "container", "message", "view", "state")
STRINGS = ("type", "trigger_id", "response_url", "api_app_id", "token")
ACTION_STRINGS = ("action_id", "block_id", "type", "action_ts")


def problem(body: bytes, content_type: str) -> str | None:
    """Why a /slack/events body cannot be an interactivity payload Slack sent; None if it can
    (or if it is not one: commands and events are Bolt's to judge)."""
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return "the body is not a form"
    if "payload" not in form:
        return None  # a slash command
    try:
        payload: Any = json.loads(form["payload"][0])
    except ValueError:
        return "the payload is not JSON"
    if not isinstance(payload, dict):
        return "the payload is not an object"
    return _fields(payload)


def _fields(payload: dict[str, Any]) -> str | None:
    for key in OBJECTS:
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            return f"{key} is not an object"
    for key in STRINGS:
        if payload.get(key) is not None and not isinstance(payload[key], str):
            return f"{key} is not a string"
    if "actions" not in payload:
        return None
    actions = payload["actions"]  # Bolt reads actions[0] whenever the key is there
    if not isinstance(actions, list) or not actions:
        return "actions is not a non-empty list"
    if not all(isinstance(a, dict) for a in actions):
        return "actions is not a list of objects"
    for action in actions:
        for key in ACTION_STRINGS:
            if action.get(key) is not None and not isinstance(action[key], str):
                return f"an action's {key} is not a string"
    return None
