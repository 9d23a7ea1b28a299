"""Packing blocks into Slack messages under the per-message limits (block count and the
cumulative text behind `msg_blocks_too_long`): what does not fit continues in a new message that
starts with a "(continued)" note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.render.slack_blocks import MAX_BLOCKS, MESSAGE_CHARS, bid, size


@dataclass
class Message:
    fallback: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    chars: int = 0
    intro: int = 0  # blocks that only introduce (headers, "continued" notes)
    reserved: dict[str, Any] | None = None  # a block kept for the end (the counts line)
    ids: set[str] = field(default_factory=set)

    def fits(self, blocks: list[dict[str, Any]]) -> bool:
        extra = [self.reserved] if self.reserved else []
        count = len(self.blocks) + len(blocks) + len(extra)
        chars = self.chars + sum(size(b) for b in [*blocks, *extra])
        return count <= MAX_BLOCKS and chars <= MESSAGE_CHARS

    def add(self, block: dict[str, Any]) -> None:
        block_id = block.get("block_id")
        if block_id is not None:  # block_ids must be unique within a message
            n = 2
            while block_id in self.ids:
                block_id = bid(block["block_id"], f"~{n}")
                n += 1
            block = {**block, "block_id": block_id}
            self.ids.add(block_id)
        self.blocks.append(block)
        self.chars += size(block)

    def payload(self) -> dict[str, Any]:
        blocks = [*self.blocks, self.reserved] if self.reserved else self.blocks
        return {"text": self.fallback, "blocks": blocks}


@dataclass
class Unit:
    """Blocks that should stay in one message; `resume` names the finding in the next one."""

    blocks: list[dict[str, Any]]
    resume: dict[str, Any] | None = None
    started: bool = False  # an earlier unit of the same finding was already placed


class Packer:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._again: Callable[[], list[dict[str, Any]]] = list
        self._fallback = ""

    def open(
        self,
        fallback: str,
        intro: list[dict[str, Any]],
        again: Callable[[], list[dict[str, Any]]],
    ) -> Message:
        """Start a message; if it overflows, the next starts with `again()`."""
        self._again, self._fallback = again, fallback
        return self._start(fallback, intro)

    def _start(self, fallback: str, intro: list[dict[str, Any]]) -> Message:
        message = Message(fallback=fallback)
        for block in intro:
            message.add(block)
        message.intro = len(intro)
        self.messages.append(message)
        return message

    def add(self, unit: Unit) -> None:
        current = self.messages[-1]
        if not current.fits(unit.blocks) and len(current.blocks) > current.intro:
            current = self._overflow(unit.resume if unit.started else None)
        for i, block in enumerate(unit.blocks):
            if not current.fits([block]):
                current = self._overflow(unit.resume if (unit.started or i) else None)
            current.add(block)

    def _overflow(self, resume: dict[str, Any] | None) -> Message:
        intro = self._again() + ([resume] if resume else [])
        return self._start(f"{self._fallback} (continued)", intro)
