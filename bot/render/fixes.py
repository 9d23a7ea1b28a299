"""Slack Block Kit for guarded fixes: the plan (before → after) with Confirm/Cancel, the request
for a second person's approval, the plan once decided (applied, cancelled, failed), the
verification that follows, and refusals.

The wording lives in templates/slack_fix.md.j2, rendered by fix_text; this module only arranges
blocks, built with `slack_sdk.models` so the SDK checks Block Kit's limits. Button values are the
guard's signed, single-use values, passed through untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, PlainTextObject

from bot.model.fixes import FIXES, FixSpec
from bot.model.plans import FixPlan
from bot.render import filters, fix_text
from bot.render.filters import cut, mrkdwn

MAX_BLOCKS = 50
# `msg_blocks_too_long` counts all text (~12,000 observed): the changes get this much of it.
CHANGES_CHARS = 8_000
MAX_EVIDENCE = 12  # evidence lines under a verification result


def _spec(plan: FixPlan) -> FixSpec:
    return FIXES[plan.fix]


# --- the plan -----------------------------------------------------------------------------------


def _change_sections(plan: FixPlan, room: int) -> list[dict[str, Any]]:
    """One section per object changed (split when long), at most `room` blocks."""
    texts: list[str] = []
    for subject in dict.fromkeys(c.subject for c in plan.changes):
        current = fix_text.text("subject", subject)
        for c in (c for c in plan.changes if c.subject == subject):
            line = fix_text.text("change", c)
            if len(current) + 1 + len(line) > fix_text.SECTION_CHARS:
                texts.append(current)
                current = fix_text.text("subject", f"{subject} (continued)")
            current = f"{current}\n{line}"
        texts.append(current)
    shown: list[str] = []
    budget = CHANGES_CHARS
    for i, text in enumerate(texts):
        # Keep a block for the "more objects" line unless this is the last text.
        blocks_left = room - len(shown) - (0 if i == len(texts) - 1 else 1)
        if blocks_left < 1 or len(text) > budget:
            break
        shown.append(text)
        budget -= len(text)
    blocks = [fix_text.section(t, f"fixplan:changes:{i}") for i, t in enumerate(shown, start=1)]
    if len(shown) < len(texts):
        more = f"_More changes than fit here: the full plan is {fix_text.FULL_PLAN}_"
        blocks.append(fix_text.context(more, "fixplan:changes:more"))
    return blocks


def _plan_blocks(plan: FixPlan, approvers: Sequence[str], room: int) -> list[dict[str, Any]]:
    spec = _spec(plan)
    tail = [
        fix_text.context(
            f"{fix_text.text('risk', spec, approvers)}\n{fix_text.text('effect', plan)}",
            "fixplan:risk",
        )
    ]
    if plan.notes:
        tail.append(fix_text.section(fix_text.text("notes", plan), "fixplan:notes"))
    head = [fix_text.section(fix_text.text("plan_head", spec, plan), "fixplan:head")]
    changes = _change_sections(plan, room - len(head) - len(tail))
    return [*head, *changes, *tail]


def _button(action: str, label: str, val: str, **kw: Any) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=label), action_id=f"guard:{action}", value=val, **kw
    )


def _dialog_text(spec: FixSpec, plan: FixPlan) -> str:
    """Plain text (dialogs do not render mrkdwn), within the dialog's 300 characters."""
    return cut(filters.unmrkdwn(fix_text.text("confirm_dialog", spec, plan)), 300, "in the plan")


def _confirm_button(plan: FixPlan, val: str) -> ButtonElement:
    spec = _spec(plan)
    style = "danger" if spec.risk == "high" else "primary"
    dialog = ConfirmObject(
        title=filters.clip(f"{spec.title}?", 100),
        text=PlainTextObject(text=_dialog_text(spec, plan)),
        confirm="Request approval" if spec.requires_approval else "Apply",
        deny="Back",
        style=style,
    )
    label = "Request approval" if spec.requires_approval else "Confirm"
    return _button("confirm", label, val, style=style, confirm=dialog)


def _message(fallback: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """`fallback` is mrkdwn too (notifications, screen readers): escaped already."""
    return {"text": cut(fallback, 3000, "in the message"), "blocks": blocks[:MAX_BLOCKS]}


def plan_message(
    plan: FixPlan,
    *,
    approvers: Sequence[str],
    buttons: Mapping[str, str],
    blocked: str | None = None,
) -> dict[str, Any]:
    """The plan awaiting confirmation: Confirm/Cancel, or why it cannot be applied here."""
    extra: list[dict[str, Any]] = []
    if blocked:
        extra.append(fix_text.context(fix_text.text("blocked", blocked), "fixplan:blocked"))
    elements = []
    if "confirm" in buttons:
        elements.append(_confirm_button(plan, buttons["confirm"]))
    if "cancel" in buttons:
        elements.append(_button("cancel", "Cancel", buttons["cancel"]))
    if elements:
        extra.append(ActionsBlock(elements=elements, block_id="fixplan:actions").to_dict())
    blocks = _plan_blocks(plan, approvers, MAX_BLOCKS - len(extra))
    fallback = f"Plan: {mrkdwn(_spec(plan).title)} on {mrkdwn(plan.target)}"
    return _message(fallback, [*blocks, *extra])


def decided_plan(
    plan: FixPlan, *, approvers: Sequence[str], line: str, undo: str | None = None
) -> dict[str, Any]:
    """The plan once decided (`line`: applied, awaiting approval, cancelled, failed...):
    Confirm/Cancel are gone; Undo stays for an applied, reversible fix."""
    extra = [fix_text.section(line, "fixplan:status")]
    if undo:
        dialog = ConfirmObject(
            title="Plan the undo?",
            text=PlainTextObject(
                text="Shows a plan back to the recorded values; nothing changes yet."
            ),
            confirm="Show plan",
            deny="Back",
        )
        undo_button = _button("undo", "Undo", undo, confirm=dialog)
        extra.append(ActionsBlock(elements=[undo_button], block_id="fixplan:undo").to_dict())
    blocks = _plan_blocks(plan, approvers, MAX_BLOCKS - len(extra))
    return _message(line, [*blocks, *extra])


def applied_line(
    plan: FixPlan, *, requester: str | None, approver: str | None, at: datetime | None, summary: str
) -> str:
    """`Applied by @bob, approved by @carol at 07:52 UTC · <what the actuator did>`."""
    return fix_text.text(
        "applied", requester, approver, fix_text.clock(at), summary, bool(plan.undoes)
    )


def awaiting_line(*, requester: str | None, at: datetime | None) -> str:
    return fix_text.text("awaiting", requester, fix_text.clock(at))


def closed_line(status: str, *, actor: str | None, at: datetime | None, reason: str = "") -> str:
    """Cancelled, rejected, conflict, refused or failed: nothing (more) will change."""
    return fix_text.text("closed", status, actor, fix_text.clock(at), reason)


def approval_request(
    plan: FixPlan, *, requester: str | None, approvers: Sequence[str], buttons: Mapping[str, str]
) -> dict[str, Any]:
    """`@x asks to apply … [Approve] [Reject]` above the plan, for a second person; once
    decided it is replaced by `decided_plan` like the plan message itself."""
    spec = _spec(plan)
    text = fix_text.text("requested", requester, spec, plan, approvers)
    elements = []
    if "approve" in buttons:
        dialog = ConfirmObject(
            title=filters.clip(f"Approve: {spec.title}?", 100),
            text=PlainTextObject(text=_dialog_text(spec, plan)),
            confirm="Approve and apply",
            deny="Back",
            style="danger",
        )
        approve = _button("approve", "Approve", buttons["approve"], style="danger", confirm=dialog)
        elements.append(approve)
    if "reject" in buttons:
        elements.append(_button("reject", "Reject", buttons["reject"]))
    extra = [ActionsBlock(elements=elements, block_id="fixplan:actions").to_dict()]
    ask = fix_text.section(text, "fixrequest:text")
    blocks = _plan_blocks(plan, approvers, MAX_BLOCKS - 1 - len(extra))
    return _message(text, [ask, *blocks, *extra] if elements else [ask, *blocks])


# --- after applying ---------------------------------------------------------------------------


def verifying_message(delay_seconds: float) -> dict[str, Any]:
    if delay_seconds >= 60:
        delay = f"{delay_seconds / 60:g} min"
    else:
        delay = f"{delay_seconds:g} s" if delay_seconds else ""
    text = fix_text.text("verifying", delay)
    return _message(text, [fix_text.context(text, "fixverify:waiting")])


def verification_message(status: str, message: str, evidence: Sequence[str]) -> dict[str, Any]:
    """✅ Symptom gone / ❌ Still failing / ⏳ Pending / ❔ could not tell, with its evidence."""
    text = fix_text.text("verification", status, message)
    blocks = [fix_text.section(text, "fixverify:result")]
    lines = [
        f"• {cut(filters.one_line(e), 400, fix_text.FULL_PLAN, escape=mrkdwn)}" for e in evidence
    ]
    if len(lines) > MAX_EVIDENCE:
        lines = [
            *lines[:MAX_EVIDENCE],
            f"_… {len(lines) - MAX_EVIDENCE} more lines {fix_text.FULL_PLAN}_",
        ]
    if lines:
        blocks.append(fix_text.context("\n".join(lines), "fixverify:evidence"))
    return _message(text, blocks)


def interrupted_message(fix: str, target: str, request_id: str) -> dict[str, Any]:
    text = fix_text.text("interrupted", fix, target, request_id)
    return _message(text, [fix_text.section(text, "fixinterrupted")])


def refusal_text(reason: str) -> str:
    """An ephemeral refusal, for the clicker only."""
    return fix_text.text("refusal", reason)
