"""The summary message, readable in five seconds: counts, one line per confirmed or
inconclusive finding, and its fix buttons (moved to a message of their own when they do not fit).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, PlainTextObject

from bot.model.text import plural
from bot.model.verdicts import Diagnosis, Finding, FixOffer, Verdict
from bot.render import filters
from bot.render.filters import cut, icon, mrkdwn
from bot.render.slack_blocks import (
    MAX_ACTIONS,
    MAX_BUTTON,
    MAX_CONFIRM_TEXT,
    MAX_CONFIRM_TITLE,
    as_dict,
    bid,
    context,
    header,
    macro,
    section,
    title_element,
)
from bot.render.slack_packing import Packer, Unit


def _summary(name: str, *args: Any) -> str:
    return str(macro("slack_summary.md.j2", name)(*args)).strip()


def _button(f: Finding, x: FixOffer, n: int) -> ButtonElement:
    approval = "needs a second person's approval" if x.requires_approval else "no approval needed"
    undo = "reversible" if x.reversible else "not reversible"
    plan = (
        f"Risk {x.risk} · {approval} · {undo}. {filters.params(x.params) or 'No parameters'}. "
        "The plan (before → after) is shown before anything changes."
    )
    value = json.dumps({"playbook": f.playbook, "fix": x.id, "i": n}, separators=(",", ":"))
    return ButtonElement(
        text=PlainTextObject(text=filters.clip(x.title, MAX_BUTTON)),
        action_id=f"fix:{x.id}:{n}",
        value=value,
        style="danger" if x.risk == "high" else None,
        confirm=ConfirmObject(
            title=filters.clip(f"Apply: {x.title}?", MAX_CONFIRM_TITLE),
            text=PlainTextObject(text=cut(plan, MAX_CONFIRM_TEXT, "in the thread")),
            confirm="Continue",
            deny="Cancel",
            style="danger" if x.risk == "high" else "primary",
        ),
    )


def _fix_blocks(f: Finding) -> Iterator[dict[str, Any]]:
    buttons = [_button(f, x, n) for n, x in enumerate(f.fixes)]
    for k in range(0, len(buttons), MAX_ACTIONS):
        part = k // MAX_ACTIONS + 1
        block_id = bid("finding", f.playbook, "fixes", *([part] if part > 1 else []))
        yield as_dict(ActionsBlock(elements=buttons[k : k + MAX_ACTIONS], block_id=block_id))


def _summary_lines(d: Diagnosis) -> list[tuple[Finding, dict[str, Any], list[dict[str, Any]]]]:
    """(finding, its one-line block, its fix buttons) for the confirmed and inconclusive."""
    out: list[tuple[Finding, dict[str, Any], list[dict[str, Any]]]] = []
    for f in d.findings:
        safe = filters.mrkdwn_safe(f.title)
        if f.verdict == Verdict.CONFIRMED:
            text = _summary("confirmed", f, safe)
            out.append((f, section(text, bid("finding", f.playbook)), list(_fix_blocks(f))))
        elif f.verdict == Verdict.INCONCLUSIVE:
            text = _summary("inconclusive", f, safe)
            out.append((f, context(text, bid("finding", f.playbook)), []))
    return out


def _fallback_summary(d: Diagnosis) -> str:
    counts = d.counts()
    titles = [f.title for f in d.findings if f.verdict == Verdict.CONFIRMED]
    shown = f" ({filters.clip(', '.join(titles), 500)})" if titles else ""
    return (
        f"GPU diagnosis · {d.cluster}: {icon(Verdict.CONFIRMED)} {counts[Verdict.CONFIRMED]} "
        f"confirmed{shown} · ❔ {counts[Verdict.INCONCLUSIVE]} inconclusive · "
        f"✅ {counts[Verdict.RULED_OUT]} ruled out"
    )


def pack_summary(d: Diagnosis, packer: Packer) -> None:
    where = " · ".join(p for p in (d.cluster, d.location) if p)
    total = len(d.findings)
    n = {str(v): c for v, c in d.counts().items()}
    intro = [
        header(f"GPU diagnosis · {where}", "summary:header"),
        context(_summary("meta", d, total), "summary:meta"),
    ]
    first = packer.open(
        _fallback_summary(d),
        intro,
        lambda: [
            context(f"*Summary (continued)* · GPU diagnosis · {mrkdwn(where)}", "summary:continued")
        ],
    )
    # Reserve room for the counts line at its widest, then write it with the real overflow.
    first.reserved = context(_summary("counts", n, len(d.errors), total, True), "summary:counts")
    if not n[Verdict.CONFIRMED]:
        packer.add(Unit([section(_summary("nothing_confirmed", total), "summary:none")]))
    items = _summary_lines(d)
    together = first.fits([b for _, line, fixes in items for b in (line, *fixes)])
    for _, line, fixes in items:
        # When everything does not fit, every line stays in the first message and the
        # buttons move to the next one: the five-second read matters most.
        packer.add(Unit([line, *fixes] if together else [line]))
    if not together:
        _pack_fix_buttons(d, packer, [(f, fixes) for f, _, fixes in items if fixes])
    placed = {b["block_id"] for b in first.blocks}
    overflow = sum(1 for _, line, _ in items if line["block_id"] not in placed)
    first.reserved = context(
        _summary("counts", n, len(d.errors), overflow, not together), "summary:counts"
    )


def _pack_fix_buttons(
    d: Diagnosis, packer: Packer, items: list[tuple[Finding, list[dict[str, Any]]]]
) -> None:
    if not items:
        return
    title = "*Fixes offered for the confirmed findings*"
    again = context(f"{title} (continued)", "summary:fixes:continued")
    packer.open(
        f"GPU diagnosis · {d.cluster} · fixes", [context(title, "summary:fixes")], lambda: [again]
    )
    for f, fixes in items:
        text = f"{icon(f.verdict)} *{mrkdwn(f.title)}* · {plural(len(f.fixes), 'fix', 'fixes')}"
        label = context(title_element(f, text), bid("finding", f.playbook, "fixes-for"))
        packer.add(Unit([label, *fixes], resume=label))
