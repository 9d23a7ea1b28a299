"""Slack Block Kit for guarded fixes: the plan (before → after) with Confirm/Cancel, the request
for a second person's approval, the plan once decided (applied, cancelled, failed), the
verification that follows, and refusals.

The wording lives in templates/slack_fix.md.j2; this module only arranges blocks, built with
`slack_sdk.models` so the SDK checks Block Kit's limits. Button values are the guard's signed,
single-use values, passed through untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.model.fixes import FIXES, FixSpec
from bot.model.plans import FixPlan
from bot.render import filters
from bot.render.filters import cut, mrkdwn

MAX_BLOCKS = 50
SECTION_CHARS = 2_800  # Block Kit allows 3,000 per section; Slack counts some characters twice
# `msg_blocks_too_long` counts all text (~12,000 observed): the changes get this much of it.
CHANGES_CHARS = 8_000
VALUE_CHARS = 300  # one before/after value; the full plan is in the audit trail
MAX_EVIDENCE = 12  # evidence lines under a verification result
FULL_PLAN = "in `gpubot audit`"
# A user (U…/W…) or group (S…) id from Slack or the configuration; anything else is text.
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
_MENTION = re.compile(r"(<@[UW][A-Z0-9]{2,}>|<!subteam\^S[A-Z0-9]{2,}>)")


class _Mrkdwn(str):
    """Already escaped (by a filter): `finalize` must not escape it twice."""


def _finalize(value: Any) -> str:
    return value if isinstance(value, _Mrkdwn) else mrkdwn(value)


def who(user: str | None) -> _Mrkdwn:
    """A Slack user or group id as a mention; a local operator or anything else as text."""
    if not user:
        return _Mrkdwn("someone")
    if _USER.match(user):
        return _Mrkdwn(f"<@{user}>")
    if _GROUP.match(user):
        return _Mrkdwn(f"<!subteam^{user}>")
    return _Mrkdwn(mrkdwn(user))


def mentions(users: Sequence[str], separator: str) -> _Mrkdwn:
    return _Mrkdwn(mrkdwn(separator).join(who(u) for u in users))


def md(text: Any) -> _Mrkdwn:
    """Escape text from the guard, keeping the user mentions it names (`<@U123>`)."""
    parts = _MENTION.split(filters.one_line(text))
    return _Mrkdwn("".join(p if i % 2 else mrkdwn(p) for i, p in enumerate(parts)))


def value(v: Any, missing: str) -> _Mrkdwn:
    """One before/after value: code when it can be, cut (saying so) when long."""
    if v is None:
        return _Mrkdwn(f"_({missing})_")
    text = json.dumps(v, sort_keys=True) if isinstance(v, dict | list | bool) else str(v)
    text = cut(filters.one_line(text), VALUE_CHARS, FULL_PLAN)
    return _Mrkdwn(mrkdwn(text) if "`" in text else f"`{mrkdwn(text)}`")


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("bot.render", "templates"),
        autoescape=False,  # mrkdwn, not HTML: `finalize` escapes & < >
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters.update(filters.FILTERS)
    env.filters.update({"who": who, "mentions": mentions, "md": md, "value": value})
    return env


def _text(name: str, *args: Any) -> str:
    macro: Callable[..., str] = getattr(_env().get_template("slack_fix.md.j2").module, name)
    return str(macro(*args)).strip()


def _section(text: str, block_id: str) -> dict[str, Any]:
    text = cut(text, SECTION_CHARS, FULL_PLAN)
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id).to_dict()


def _context(text: str, block_id: str) -> dict[str, Any]:
    text = cut(text, SECTION_CHARS, FULL_PLAN)
    return ContextBlock(elements=[MarkdownTextObject(text=text)], block_id=block_id).to_dict()


def _spec(plan: FixPlan) -> FixSpec:
    return FIXES[plan.fix]


def _clock(at: datetime | None) -> str:
    return at.strftime("%H:%M UTC") if at else "an unknown time"


# --- the plan -----------------------------------------------------------------------------------


def _change_sections(plan: FixPlan, room: int) -> list[dict[str, Any]]:
    """One section per object changed (split when long), at most `room` blocks."""
    texts: list[str] = []
    for subject in dict.fromkeys(c.subject for c in plan.changes):
        current = _text("subject", subject)
        for c in (c for c in plan.changes if c.subject == subject):
            line = _text("change", c)
            if len(current) + 1 + len(line) > SECTION_CHARS:
                texts.append(current)
                current = _text("subject", f"{subject} (continued)")
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
    blocks = [_section(t, f"fixplan:changes:{i}") for i, t in enumerate(shown, start=1)]
    if len(shown) < len(texts):
        more = f"_More changes than fit here: the full plan is {FULL_PLAN}_"
        blocks.append(_context(more, "fixplan:changes:more"))
    return blocks


def _plan_blocks(plan: FixPlan, approvers: Sequence[str], room: int) -> list[dict[str, Any]]:
    spec = _spec(plan)
    tail = [_context(f"{_text('risk', spec, approvers)}\n{_text('effect', plan)}", "fixplan:risk")]
    if plan.notes:
        tail.append(_section(_text("notes", plan), "fixplan:notes"))
    head = [_section(_text("plan_head", spec, plan), "fixplan:head")]
    changes = _change_sections(plan, room - len(head) - len(tail))
    return [*head, *changes, *tail]


def _button(action: str, label: str, val: str, **kw: Any) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=label), action_id=f"guard:{action}", value=val, **kw
    )


def _dialog_text(spec: FixSpec, plan: FixPlan) -> str:
    """Plain text (dialogs do not render mrkdwn), within the dialog's 300 characters."""
    return cut(filters.unmrkdwn(_text("confirm_dialog", spec, plan)), 300, "in the plan")


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
        extra.append(_context(_text("blocked", blocked), "fixplan:blocked"))
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
    extra = [_section(line, "fixplan:status")]
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
    return _text("applied", requester, approver, _clock(at), summary, bool(plan.undoes))


def awaiting_line(*, requester: str | None, at: datetime | None) -> str:
    return _text("awaiting", requester, _clock(at))


def closed_line(status: str, *, actor: str | None, at: datetime | None, reason: str = "") -> str:
    """Cancelled, rejected, conflict, refused or failed: nothing (more) will change."""
    return _text("closed", status, actor, _clock(at), reason)


def approval_request(
    plan: FixPlan, *, requester: str | None, approvers: Sequence[str], buttons: Mapping[str, str]
) -> dict[str, Any]:
    """`@x asks to apply … [Approve] [Reject]` above the plan, for a second person; once
    decided it is replaced by `decided_plan` like the plan message itself."""
    spec = _spec(plan)
    text = _text("requested", requester, spec, plan, approvers)
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
    ask = _section(text, "fixrequest:text")
    blocks = _plan_blocks(plan, approvers, MAX_BLOCKS - 1 - len(extra))
    return _message(text, [ask, *blocks, *extra] if elements else [ask, *blocks])


# --- after applying ---------------------------------------------------------------------------


def verifying_message(delay_seconds: float) -> dict[str, Any]:
    if delay_seconds >= 60:
        delay = f"{delay_seconds / 60:g} min"
    else:
        delay = f"{delay_seconds:g} s" if delay_seconds else ""
    text = _text("verifying", delay)
    return _message(text, [_context(text, "fixverify:waiting")])


def verification_message(status: str, message: str, evidence: Sequence[str]) -> dict[str, Any]:
    """✅ Symptom gone / ❌ Still failing / ⏳ Pending / ❔ could not tell, with its evidence."""
    text = _text("verification", status, message)
    blocks = [_section(text, "fixverify:result")]
    lines = [f"• {cut(filters.one_line(e), 400, FULL_PLAN, escape=mrkdwn)}" for e in evidence]
    if len(lines) > MAX_EVIDENCE:
        lines = [*lines[:MAX_EVIDENCE], f"_… {len(lines) - MAX_EVIDENCE} more lines {FULL_PLAN}_"]
    if lines:
        blocks.append(_context("\n".join(lines), "fixverify:evidence"))
    return _message(text, blocks)


def interrupted_message(fix: str, target: str, request_id: str) -> dict[str, Any]:
    text = _text("interrupted", fix, target, request_id)
    return _message(text, [_section(text, "fixinterrupted")])


def refusal_text(reason: str) -> str:
    """An ephemeral refusal, for the clicker only."""
    return _text("refusal", reason)
