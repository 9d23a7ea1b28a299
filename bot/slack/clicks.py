"""A button press on a fix message, as the guard and the replies need it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, Respond

from bot.model.fixpolicy import Actor


def fixes_disabled(ack: Ack, respond: Respond) -> None:
    """A bot started without a guard still answers its fix buttons, instead of a silent 404."""
    ack()
    respond(
        text="⛔ Fixes are not enabled on this bot (it was started without a fix guard).",
        response_type="ephemeral",
        replace_original=False,
    )


@dataclass(frozen=True)
class Click:
    """One button press, as the guard and the replies need it."""

    actor: Actor
    value: str
    channel: str
    message_ts: str | None  # the message holding the button (replaced once decided)
    thread_ts: str | None  # its thread (a top-level message starts its own)
    respond: Respond


def click_of(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> Click:
    user = body.get("user") or {}
    container = body.get("container") or {}
    message = body.get("message") or {}
    message_ts = container.get("message_ts") or message.get("ts")
    return Click(
        actor=Actor(
            id=str(user.get("id", "")),
            team=user.get("team_id") or (body.get("team") or {}).get("id"),
            via="slack",
        ),
        value=str(action.get("value") or ""),
        channel=str((body.get("channel") or {}).get("id") or container.get("channel_id") or ""),
        message_ts=message_ts,
        thread_ts=message.get("thread_ts") or container.get("thread_ts") or message_ts,
        respond=respond,
    )
