"""Slack-only additions to the rendered summary: owner mentions, acknowledge/snooze buttons,
a note on findings someone already acknowledged (so the next triage does not page again), and
fix buttons carrying the guard's signed offers instead of the renderer's plain JSON."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject

from bot.model.context import Scope
from bot.model.domain import OWNERS
from bot.model.verdicts import Diagnosis
from bot.slack.offers import Offer, sign_fix_buttons
from bot.slack.settings import SlackConfig
from bot.store.db import Store

MAX_BLOCKS = 50


def _owner_key(team: str) -> str | None:
    return next((k for k, (_, t) in OWNERS.items() if t == team), None)


class Decorator:
    def __init__(self, *, store: Store, config: SlackConfig, offer: Offer | None = None) -> None:
        self.store, self.config, self.offer = store, config, offer

    def _extra_blocks(
        self, playbook: str, owner: str, cluster: str, ack: Any
    ) -> list[dict[str, Any]]:
        if ack is not None:
            when = (
                ack.until.strftime("until %H:%M UTC")
                if ack.until
                else ack.created_at.strftime("at %H:%M UTC")
            )
            verb = "Snoozed" if ack.kind == "snooze" else "Acknowledged"
            note = f":zzz: {verb} by <@{ack.user_id}> {when} — not paging again."
            return [
                ContextBlock(
                    elements=[MarkdownTextObject(text=note)], block_id=f"ack:{playbook}"
                ).to_dict()
            ]
        key = _owner_key(owner)
        group = self.config.owner_groups.get(key or "")
        who = f"<!subteam^{group}> ({owner})" if group else owner
        owners = ContextBlock(
            elements=[MarkdownTextObject(text=f"Owner: {who}")], block_id=f"owner:{playbook}"
        )
        buttons = ActionsBlock(
            block_id=f"ack:{playbook}",
            elements=[
                ButtonElement(text="Acknowledge", action_id=f"ack:{playbook}", value=cluster),
                ButtonElement(
                    text=f"Snooze {self.config.snooze_hours:g} h",
                    action_id=f"snooze:{playbook}",
                    value=cluster,
                ),
            ],
        )
        return [owners.to_dict(), buttons.to_dict()]

    def decorate(
        self, messages: list[dict[str, Any]], diagnosis: Diagnosis, *, scope: Scope | None = None
    ) -> list[dict[str, Any]]:
        if self.offer is not None:
            messages = sign_fix_buttons(messages, diagnosis, self.offer, scope=scope)
        head = dict(messages[0])
        blocks = list(head["blocks"])
        acks = self.store.active_acks(diagnosis.cluster)
        for finding in diagnosis.findings:
            if finding.verdict != "confirmed":
                continue
            prefix = f"finding:{finding.playbook}"
            positions = [
                i
                for i, b in enumerate(blocks)
                if str(b.get("block_id", "")).split(":")[:2] == prefix.split(":")
            ]
            if not positions:
                continue
            extra = self._extra_blocks(
                finding.playbook, finding.owner, diagnosis.cluster, acks.get(finding.playbook)
            )
            if len(blocks) + len(extra) > MAX_BLOCKS:
                break  # the thread still has everything; buttons are a convenience
            at = positions[-1] + 1
            blocks[at:at] = extra
        head["blocks"] = blocks
        return [head, *messages[1:]]
