"""The wording of fix messages: templates/slack_fix.md.j2 rendered with mrkdwn-safe filters
(user mentions, before/after values), and the text blocks every fix message is built from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.render import filters
from bot.render.filters import Mrkdwn, cut, mrkdwn

SECTION_CHARS = 2_800  # Block Kit allows 3,000 per section; Slack counts some characters twice
VALUE_CHARS = 300  # one before/after value; the full plan is in the audit trail
FULL_PLAN = "in `gpubot audit`"
# A user (U…/W…) or group (S…) id from Slack or the configuration; anything else is text.
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
_MENTION = re.compile(r"(<@[UW][A-Z0-9]{2,}>|<!subteam\^S[A-Z0-9]{2,}>)")


def who(user: str | None) -> Mrkdwn:
    """A Slack user or group id as a mention; a local operator or anything else as text."""
    if not user:
        return Mrkdwn("someone")
    if _USER.match(user):
        return Mrkdwn(f"<@{user}>")
    if _GROUP.match(user):
        return Mrkdwn(f"<!subteam^{user}>")
    return Mrkdwn(mrkdwn(user))


def mentions(users: Sequence[str], separator: str) -> Mrkdwn:
    return Mrkdwn(mrkdwn(separator).join(who(u) for u in users))


def md(text: Any) -> Mrkdwn:
    """Escape text from the guard, keeping the user mentions it names (`<@U123>`)."""
    parts = _MENTION.split(filters.one_line(text))
    return Mrkdwn("".join(p if i % 2 else mrkdwn(p) for i, p in enumerate(parts)))


def value(v: Any, missing: str) -> Mrkdwn:
    """One before/after value: code when it can be, cut (saying so) when long."""
    if v is None:
        return Mrkdwn(f"_({missing})_")
    text = json.dumps(v, sort_keys=True) if isinstance(v, dict | list | bool) else str(v)
    text = cut(filters.one_line(text), VALUE_CHARS, FULL_PLAN)
    return Mrkdwn(mrkdwn(text) if "`" in text else f"`{mrkdwn(text)}`")


@cache
def _env() -> Environment:
    return filters.mrkdwn_environment(who=who, mentions=mentions, md=md, value=value)


def text(name: str, *args: Any) -> str:
    """One macro of templates/slack_fix.md.j2, rendered."""
    macro: Callable[..., str] = getattr(_env().get_template("slack_fix.md.j2").module, name)
    return str(macro(*args)).strip()


def section(text: str, block_id: str) -> dict[str, Any]:
    text = cut(text, SECTION_CHARS, FULL_PLAN)
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id).to_dict()


def context(text: str, block_id: str) -> dict[str, Any]:
    text = cut(text, SECTION_CHARS, FULL_PLAN)
    return ContextBlock(elements=[MarkdownTextObject(text=text)], block_id=block_id).to_dict()


def clock(at: datetime | None) -> str:
    return at.strftime("%H:%M UTC") if at else "an unknown time"
