"""The thread replies under the summary: every finding's full evidence, grouped by verdict,
then the sources that could not be read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slack_sdk.models.blocks import DividerBlock, PlainTextObject, SectionBlock

from bot.model.text import plural
from bot.model.verdicts import Diagnosis, Finding, StepOutcome, Verdict
from bot.render import filters
from bot.render.filters import cut, icon, mrkdwn
from bot.render.slack_blocks import (
    LINE_CHARS,
    as_dict,
    bid,
    bullet,
    chunks,
    context,
    header,
    macro,
    section,
    title_element,
)
from bot.render.slack_packing import Packer, Unit

_GROUPS = (
    (Verdict.CONFIRMED, "Confirmed"),
    (Verdict.INCONCLUSIVE, "Inconclusive"),
    (Verdict.RULED_OUT, "Ruled out"),
)


def _finding(name: str, *args: Any) -> str:
    return str(macro("slack_finding.md.j2", name)(*args)).strip()


def _heading(f: Finding, first: bool) -> list[dict[str, Any]]:
    safe = filters.mrkdwn_safe(f.title)
    blocks: list[dict[str, Any]] = []
    if not first:
        blocks.append(as_dict(DividerBlock(block_id=bid("finding", f.playbook, "divider"))))
    if safe:
        blocks.append(section(_finding("heading", f, True), bid("finding", f.playbook)))
    else:
        title = PlainTextObject(text=f"{icon(f.verdict)} {f.title}")
        blocks.append(as_dict(SectionBlock(text=title, block_id=bid("finding", f.playbook))))
        blocks.append(section(_finding("heading", f, False), bid("finding", f.playbook, "about")))
    return blocks


def _step_texts(o: StepOutcome) -> list[str]:
    bullets = [bullet(line) for line in o.lines] or [_finding("no_lines")]
    head = cut(_finding("step_head", o, False), 800, "in the JSON output")
    return chunks(head, _finding("step_head", o, True), bullets)


def _prose_texts(name: str, lines: Iterable[str], items: list[str] | None = None) -> list[str]:
    """A titled section of raw `lines` (escaped here) or of ready mrkdwn `items`."""
    if items is None:
        items = [cut(line, LINE_CHARS, "in the JSON output", escape=mrkdwn) for line in lines]
    head, cont = _finding("section_head", name, False), _finding("section_head", name, True)
    return chunks(head, cont, items)


def _finding_units(f: Finding, first: bool) -> list[Unit]:
    resume = title_element(f, _finding("continued", f, True))
    if isinstance(resume, PlainTextObject):
        resume = PlainTextObject(text=f"{resume.text} (continued) · {f.playbook}")
    resume_block = context(resume, bid("finding", f.playbook, "continued"))
    texts = [("evidence", t) for o in f.steps for t in _step_texts(o)]
    if f.diagnosis:
        prose = _prose_texts("What it means, what to do", filters.reflow(f.diagnosis))
        texts.extend(("diagnosis", t) for t in prose)
    if f.fixes:
        fixes = _prose_texts("Fixes offered", [], items=[_finding("fix", x) for x in f.fixes])
        texts.extend(("fixes", t) for t in fixes)
    units: list[Unit] = []
    counters: dict[str, int] = {}
    heading = _heading(f, first)
    for kind, text in texts:
        counters[kind] = counters.get(kind, 0) + 1
        block = section(text, bid("finding", f.playbook, kind, counters[kind]))
        # The heading travels with the first evidence so it never ends a message alone.
        blocks = [*heading, block] if not units else [block]
        units.append(Unit(blocks, resume=resume_block, started=bool(units)))
    return units or [Unit(heading, resume=resume_block)]


def pack_thread(d: Diagnosis, packer: Packer) -> None:
    for verdict, name in _GROUPS:
        group = [f for f in d.findings if f.verdict == verdict]
        if not group:
            continue
        title = f"{icon(verdict)} {name} · {plural(len(group), 'finding')}"
        fallback = f"GPU diagnosis · {d.cluster} · evidence: {name.lower()} ({len(group)})"
        again = context(f"*{mrkdwn(title)}* (continued)", bid("group", verdict, "continued"))
        packer.open(fallback, [header(title, bid("group", verdict))], lambda b=again: [b])
        for i, f in enumerate(group):
            for unit in _finding_units(f, first=i == 0):
                packer.add(unit)
    if d.errors:
        title = f"⚠️ Could not read {plural(len(d.errors), 'source')}"
        again = context(f"*{mrkdwn(title)}* (continued)", "errors:continued")
        fallback = f"GPU diagnosis · {d.cluster} · sources that could not be read"
        packer.open(fallback, [header(title, "errors")], lambda b=again: [b])
        note = "_Findings that needed these are inconclusive, never ruled out._"
        for k, text in enumerate(chunks(note, note, [bullet(e) for e in d.errors]), start=1):
            packer.add(Unit([section(text, bid("errors", k))]))
