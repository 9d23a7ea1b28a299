"""Slack Block Kit: a summary message readable in five seconds, then thread replies with every
finding's full evidence.

Every block is built with `slack_sdk.models` and serialized with `to_dict()`, so the SDK checks
Block Kit's per-object limits. The per-message limits (50 blocks, the cumulative text behind
`msg_blocks_too_long`) are ours: long content continues in the next section or message marked
"(continued)"; a single line too long for a section is cut with a notice saying how much is
missing. Every finding's blocks carry `finding:<playbook-id>` in their `block_id`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.model.text import plural
from bot.model.verdicts import Diagnosis, Finding, FixOffer, StepOutcome, Verdict
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

_GROUPS = (
    (Verdict.CONFIRMED, "Confirmed"),
    (Verdict.INCONCLUSIVE, "Inconclusive"),
    (Verdict.RULED_OUT, "Ruled out"),
)


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


def _macro(template: str, name: str) -> Callable[..., str]:
    return getattr(_env().get_template(template).module, name)  # type: ignore[no-any-return]


def _summary(name: str, *args: Any) -> str:
    return str(_macro("slack_summary.md.j2", name)(*args)).strip()


def _finding(name: str, *args: Any) -> str:
    return str(_macro("slack_finding.md.j2", name)(*args)).strip()


# --- block helpers ---------------------------------------------------------------------------


def _bid(*parts: object) -> str:
    """A block_id from parts; over 255 characters it keeps its start and a stable hash."""
    text = ":".join(str(p) for p in parts)
    if len(text) <= MAX_BLOCK_ID:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    return f"{text[: MAX_BLOCK_ID - 13]}~{digest}"


def _section(text: str, block_id: str) -> dict[str, Any]:
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id).to_dict()


def _context(text: str | PlainTextObject, block_id: str) -> dict[str, Any]:
    element = text if isinstance(text, PlainTextObject) else MarkdownTextObject(text=text)
    return ContextBlock(elements=[element], block_id=block_id).to_dict()


def _header(text: str, block_id: str) -> dict[str, Any]:
    return HeaderBlock(text=filters.clip(text, MAX_HEADER), block_id=block_id).to_dict()


def _dict(block: Block) -> dict[str, Any]:
    return block.to_dict()


def _size(obj: Any) -> int:
    """Characters of display text in a block (what `msg_blocks_too_long` adds up)."""
    if isinstance(obj, dict):
        return sum(
            len(v) if k == "text" and isinstance(v, str) else _size(v) for k, v in obj.items()
        )
    if isinstance(obj, list):
        return sum(_size(v) for v in obj)
    return 0


def _chunks(head: str, cont: str, items: Iterable[str]) -> list[str]:
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


def _bullet(line: str, where: str = "in the JSON output") -> str:
    return "• " + cut(filters.one_line(line), LINE_CHARS, where, escape=mrkdwn)


# --- packing blocks into messages --------------------------------------------------------------


@dataclass
class _Message:
    fallback: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    chars: int = 0
    intro: int = 0  # blocks that only introduce (headers, "continued" notes)
    reserved: dict[str, Any] | None = None  # a block kept for the end (the counts line)
    ids: set[str] = field(default_factory=set)

    def fits(self, blocks: list[dict[str, Any]]) -> bool:
        extra = [self.reserved] if self.reserved else []
        count = len(self.blocks) + len(blocks) + len(extra)
        size = self.chars + sum(_size(b) for b in [*blocks, *extra])
        return count <= MAX_BLOCKS and size <= MESSAGE_CHARS

    def add(self, block: dict[str, Any]) -> None:
        block_id = block.get("block_id")
        if block_id is not None:  # block_ids must be unique within a message
            n = 2
            while block_id in self.ids:
                block_id = _bid(block["block_id"], f"~{n}")
                n += 1
            block = {**block, "block_id": block_id}
            self.ids.add(block_id)
        self.blocks.append(block)
        self.chars += _size(block)

    def payload(self) -> dict[str, Any]:
        blocks = [*self.blocks, self.reserved] if self.reserved else self.blocks
        return {"text": self.fallback, "blocks": blocks}


@dataclass
class _Unit:
    """Blocks that should stay in one message; `resume` names the finding in the next one."""

    blocks: list[dict[str, Any]]
    resume: dict[str, Any] | None = None
    started: bool = False  # an earlier unit of the same finding was already placed


class _Packer:
    def __init__(self) -> None:
        self.messages: list[_Message] = []
        self._again: Callable[[], list[dict[str, Any]]] = list
        self._fallback = ""

    def open(
        self,
        fallback: str,
        intro: list[dict[str, Any]],
        again: Callable[[], list[dict[str, Any]]],
    ) -> _Message:
        """Start a message; if it overflows, the next starts with `again()`."""
        self._again, self._fallback = again, fallback
        return self._start(fallback, intro)

    def _start(self, fallback: str, intro: list[dict[str, Any]]) -> _Message:
        message = _Message(fallback=fallback)
        for block in intro:
            message.add(block)
        message.intro = len(intro)
        self.messages.append(message)
        return message

    def add(self, unit: _Unit) -> None:
        current = self.messages[-1]
        if not current.fits(unit.blocks) and len(current.blocks) > current.intro:
            current = self._overflow(unit.resume if unit.started else None)
        for i, block in enumerate(unit.blocks):
            if not current.fits([block]):
                current = self._overflow(unit.resume if (unit.started or i) else None)
            current.add(block)

    def _overflow(self, resume: dict[str, Any] | None) -> _Message:
        intro = self._again() + ([resume] if resume else [])
        return self._start(f"{self._fallback} (continued)", intro)


# --- the summary message -----------------------------------------------------------------------


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
        block_id = _bid("finding", f.playbook, "fixes", *([part] if part > 1 else []))
        yield _dict(ActionsBlock(elements=buttons[k : k + MAX_ACTIONS], block_id=block_id))


def _summary_lines(d: Diagnosis) -> list[tuple[Finding, dict[str, Any], list[dict[str, Any]]]]:
    """(finding, its one-line block, its fix buttons) for the confirmed and inconclusive."""
    out: list[tuple[Finding, dict[str, Any], list[dict[str, Any]]]] = []
    for f in d.findings:
        safe = filters.mrkdwn_safe(f.title)
        if f.verdict == Verdict.CONFIRMED:
            text = _summary("confirmed", f, safe)
            out.append((f, _section(text, _bid("finding", f.playbook)), list(_fix_blocks(f))))
        elif f.verdict == Verdict.INCONCLUSIVE:
            text = _summary("inconclusive", f, safe)
            out.append((f, _context(text, _bid("finding", f.playbook)), []))
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


def _pack_summary(d: Diagnosis, packer: _Packer) -> None:
    where = " · ".join(p for p in (d.cluster, d.location) if p)
    total = len(d.findings)
    n = {str(v): c for v, c in d.counts().items()}
    intro = [
        _header(f"GPU diagnosis · {where}", "summary:header"),
        _context(_summary("meta", d, total), "summary:meta"),
    ]
    first = packer.open(
        _fallback_summary(d),
        intro,
        lambda: [
            _context(
                f"*Summary (continued)* · GPU diagnosis · {mrkdwn(where)}", "summary:continued"
            )
        ],
    )
    # Reserve room for the counts line at its widest, then write it with the real overflow.
    first.reserved = _context(_summary("counts", n, len(d.errors), total, True), "summary:counts")
    if not n[Verdict.CONFIRMED]:
        packer.add(_Unit([_section(_summary("nothing_confirmed", total), "summary:none")]))
    items = _summary_lines(d)
    together = first.fits([b for _, line, fixes in items for b in (line, *fixes)])
    for _, line, fixes in items:
        # When everything does not fit, every line stays in the first message and the
        # buttons move to the next one: the five-second read matters most.
        packer.add(_Unit([line, *fixes] if together else [line]))
    if not together:
        _pack_fix_buttons(d, packer, [(f, fixes) for f, _, fixes in items if fixes])
    placed = {b["block_id"] for b in first.blocks}
    overflow = sum(1 for _, line, _ in items if line["block_id"] not in placed)
    first.reserved = _context(
        _summary("counts", n, len(d.errors), overflow, not together), "summary:counts"
    )


def _pack_fix_buttons(
    d: Diagnosis, packer: _Packer, items: list[tuple[Finding, list[dict[str, Any]]]]
) -> None:
    if not items:
        return
    title = "*Fixes offered for the confirmed findings*"
    again = _context(f"{title} (continued)", "summary:fixes:continued")
    packer.open(
        f"GPU diagnosis · {d.cluster} · fixes", [_context(title, "summary:fixes")], lambda: [again]
    )
    for f, fixes in items:
        text = f"{icon(f.verdict)} *{mrkdwn(f.title)}* · {plural(len(f.fixes), 'fix', 'fixes')}"
        label = _context(_title_element(f, text), _bid("finding", f.playbook, "fixes-for"))
        packer.add(_Unit([label, *fixes], resume=label))


# --- thread replies: full evidence ---------------------------------------------------------------


def _title_element(f: Finding, text: str) -> str | PlainTextObject:
    """The title verbatim: in mrkdwn when it reads the same there, else as plain text."""
    if filters.mrkdwn_safe(f.title):
        return text
    return PlainTextObject(text=f"{icon(f.verdict)} {f.title}")


def _heading(f: Finding, first: bool) -> list[dict[str, Any]]:
    safe = filters.mrkdwn_safe(f.title)
    blocks: list[dict[str, Any]] = []
    if not first:
        blocks.append(_dict(DividerBlock(block_id=_bid("finding", f.playbook, "divider"))))
    if safe:
        blocks.append(_section(_finding("heading", f, True), _bid("finding", f.playbook)))
    else:
        title = PlainTextObject(text=f"{icon(f.verdict)} {f.title}")
        blocks.append(_dict(SectionBlock(text=title, block_id=_bid("finding", f.playbook))))
        blocks.append(_section(_finding("heading", f, False), _bid("finding", f.playbook, "about")))
    return blocks


def _step_texts(o: StepOutcome) -> list[str]:
    bullets = [_bullet(line) for line in o.lines] or [_finding("no_lines")]
    head = cut(_finding("step_head", o, False), 800, "in the JSON output")
    return _chunks(head, _finding("step_head", o, True), bullets)


def _prose_texts(name: str, lines: Iterable[str], items: list[str] | None = None) -> list[str]:
    """A titled section of raw `lines` (escaped here) or of ready mrkdwn `items`."""
    if items is None:
        items = [cut(line, LINE_CHARS, "in the JSON output", escape=mrkdwn) for line in lines]
    head, cont = _finding("section_head", name, False), _finding("section_head", name, True)
    return _chunks(head, cont, items)


def _finding_units(f: Finding, first: bool) -> list[_Unit]:
    resume = _title_element(f, _finding("continued", f, True))
    if isinstance(resume, PlainTextObject):
        resume = PlainTextObject(text=f"{resume.text} (continued) · {f.playbook}")
    resume_block = _context(resume, _bid("finding", f.playbook, "continued"))
    texts = [("evidence", t) for o in f.steps for t in _step_texts(o)]
    if f.diagnosis:
        prose = _prose_texts("What it means, what to do", filters.reflow(f.diagnosis))
        texts.extend(("diagnosis", t) for t in prose)
    if f.fixes:
        fixes = _prose_texts("Fixes offered", [], items=[_finding("fix", x) for x in f.fixes])
        texts.extend(("fixes", t) for t in fixes)
    units: list[_Unit] = []
    counters: dict[str, int] = {}
    heading = _heading(f, first)
    for kind, text in texts:
        counters[kind] = counters.get(kind, 0) + 1
        block = _section(text, _bid("finding", f.playbook, kind, counters[kind]))
        # The heading travels with the first evidence so it never ends a message alone.
        blocks = [*heading, block] if not units else [block]
        units.append(_Unit(blocks, resume=resume_block, started=bool(units)))
    return units or [_Unit(heading, resume=resume_block)]


def _pack_thread(d: Diagnosis, packer: _Packer) -> None:
    for verdict, name in _GROUPS:
        group = [f for f in d.findings if f.verdict == verdict]
        if not group:
            continue
        title = f"{icon(verdict)} {name} · {plural(len(group), 'finding')}"
        fallback = f"GPU diagnosis · {d.cluster} · evidence: {name.lower()} ({len(group)})"
        again = _context(f"*{mrkdwn(title)}* (continued)", _bid("group", verdict, "continued"))
        packer.open(fallback, [_header(title, _bid("group", verdict))], lambda b=again: [b])
        for i, f in enumerate(group):
            for unit in _finding_units(f, first=i == 0):
                packer.add(unit)
    if d.errors:
        title = f"⚠️ Could not read {plural(len(d.errors), 'source')}"
        again = _context(f"*{mrkdwn(title)}* (continued)", "errors:continued")
        fallback = f"GPU diagnosis · {d.cluster} · sources that could not be read"
        packer.open(fallback, [_header(title, "errors")], lambda b=again: [b])
        note = "_Findings that needed these are inconclusive, never ruled out._"
        for k, text in enumerate(_chunks(note, note, [_bullet(e) for e in d.errors]), start=1):
            packer.add(_Unit([_section(text, _bid("errors", k))]))


# --- entry points ----------------------------------------------------------------------------


def render_messages(diagnosis: Diagnosis) -> list[dict[str, Any]]:
    """Slack message payloads `{"text", "blocks"}`: the summary first, then thread replies."""
    packer = _Packer()
    _pack_summary(diagnosis, packer)
    _pack_thread(diagnosis, packer)
    return [m.payload() for m in packer.messages]


def render_json(diagnosis: Diagnosis) -> str:
    """`gpubot diagnose --format slack`: `{"messages": [...]}`."""
    doc = {"messages": render_messages(diagnosis)}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
