"""Block Kit building blocks for the diagnosis messages: the limits we respect, the Jinja macros
that word them, and the small builders every block goes through.

Every block is built with `slack_sdk.models` and serialized with `to_dict()`, so the SDK checks
Block Kit's per-object limits; the per-message limits below are ours to keep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from jinja2 import Environment
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.model.verdicts import Finding
from bot.render import filters
from bot.render.filters import Mrkdwn, cut, icon, mrkdwn

# Block Kit limits (docs.slack.dev reference; slack-bolt-facts.md §3) and our margins.
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_ACTIONS = 25
MAX_BUTTON = 75
MAX_BLOCK_ID = 255
MAX_CONFIRM_TITLE, MAX_CONFIRM_TEXT = 100, 300
# `msg_blocks_too_long` is cumulative and undocumented (~12,000 characters observed).
MESSAGE_CHARS = 11_000
# Slack may count characters differently from Python (UTF-16, emoji): keep a margin.
SECTION_CHARS = 2_800
LINE_CHARS = 2_000  # one evidence line longer than this is cut, saying so


# --- templates -------------------------------------------------------------------------------


def _md_cut(value: Any, limit: int, where: str) -> Mrkdwn:
    return Mrkdwn(cut(str(value), limit, where, escape=mrkdwn))


def _md_link(url: str, label: str) -> Mrkdwn:
    # Only a plain https URL can sit inside <url|label>; anything else is quoted as text.
    if url.startswith(("https://", "http://")) and not set(url) & set("<>| \n"):
        return Mrkdwn(f"<{mrkdwn(url)}|{mrkdwn(label)}>")
    return Mrkdwn(mrkdwn(url))


@cache
def _env() -> Environment:
    return filters.mrkdwn_environment(md_cut=_md_cut, md_link=_md_link)


def macro(template: str, name: str) -> Callable[..., str]:
    """One macro of a `templates/` file, called like a function."""
    return getattr(_env().get_template(template).module, name)  # type: ignore[no-any-return]


# --- block builders --------------------------------------------------------------------------


def bid(*parts: object) -> str:
    """A block_id from parts; over 255 characters it keeps its start and a stable hash."""
    text = ":".join(str(p) for p in parts)
    if len(text) <= MAX_BLOCK_ID:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    return f"{text[: MAX_BLOCK_ID - 13]}~{digest}"


def section(text: str, block_id: str) -> dict[str, Any]:
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id).to_dict()


def context(text: str | PlainTextObject, block_id: str) -> dict[str, Any]:
    element = text if isinstance(text, PlainTextObject) else MarkdownTextObject(text=text)
    return ContextBlock(elements=[element], block_id=block_id).to_dict()


def header(text: str, block_id: str) -> dict[str, Any]:
    return HeaderBlock(text=filters.clip(text, MAX_HEADER), block_id=block_id).to_dict()


def as_dict(block: Block) -> dict[str, Any]:
    return block.to_dict()


def size(obj: Any) -> int:
    """Characters of display text in a block (what `msg_blocks_too_long` adds up)."""
    if isinstance(obj, dict):
        return sum(
            len(v) if k == "text" and isinstance(v, str) else size(v) for k, v in obj.items()
        )
    if isinstance(obj, list):
        return sum(size(v) for v in obj)
    return 0


def chunks(head: str, cont: str, items: Iterable[str]) -> list[str]:
    """Section texts: `head` then items, continuing under `cont` when a section is full."""
    out: list[str] = []
    current = head
    fresh = True
    for item in items:
        if not fresh and len(current) + 1 + len(item) > SECTION_CHARS:
            out.append(current)
            current = cont
        current = f"{current}\n{item}"
        fresh = False
    out.append(current)
    return out


def bullet(line: str, where: str = "in the JSON output") -> str:
    return "• " + cut(filters.one_line(line), LINE_CHARS, where, escape=mrkdwn)


def title_element(f: Finding, text: str) -> str | PlainTextObject:
    """The title verbatim: in mrkdwn when it reads the same there, else as plain text."""
    if filters.mrkdwn_safe(f.title):
        return text
    return PlainTextObject(text=f"{icon(f.verdict)} {f.title}")
