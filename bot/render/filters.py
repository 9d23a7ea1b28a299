"""Jinja2 filters shared by the text and Slack renderers.

Nothing here drops content silently: when text has to be cut, the cut says how much is
missing and where to find it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.model.verdicts import Verdict

ICONS = {
    Verdict.CONFIRMED: "🔴",
    Verdict.INCONCLUSIVE: "❔",
    Verdict.RULED_OUT: "✅",
}
LABELS = {
    Verdict.CONFIRMED: "confirmed",
    Verdict.INCONCLUSIVE: "inconclusive",
    Verdict.RULED_OUT: "ruled out",
}
# Prefixes the engine puts on default summaries; the icon already says the same thing.
_VERDICT_PREFIXES = ("Ruled out: ", "Inconclusive: ")
# Characters that Slack mrkdwn would turn into formatting around a title.
_MRKDWN_FORMATTING = set("&<>*_~`")


def icon(verdict: Verdict | str) -> str:
    return ICONS[Verdict(verdict)]


def label(verdict: Verdict | str) -> str:
    return LABELS[Verdict(verdict)]


def mrkdwn(text: Any) -> str:
    """Escape the three characters Slack's mrkdwn treats as control (`&` first)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unmrkdwn(text: str) -> str:
    """Inverse of `mrkdwn` (tests reassemble evidence with it)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn_safe(text: str) -> bool:
    """True when `text` reads the same raw and inside `*bold*` mrkdwn."""
    return not (set(text) & _MRKDWN_FORMATTING)


def reason(summary: str) -> str:
    """A default summary without its verdict prefix (`Ruled out: x` -> `x`)."""
    for prefix in _VERDICT_PREFIXES:
        if summary.startswith(prefix):
            return summary[len(prefix) :]
    return summary


def one_line(text: Any) -> str:
    """Collapse newlines so a bullet stays one bullet (no characters are lost but whitespace)."""
    return " ".join(str(text).split())


def cut(
    text: str,
    limit: int,
    where: str = "in the JSON output",
    escape: Callable[[str], str] = str,
) -> str:
    """`escape(text)` in at most `limit` characters; a cut says how many characters are missing
    and where the rest is. The count is of original characters, before escaping."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    # The notice takes room too: size it with the widest count it could show.
    budget = limit - len(_notice(len(text), where))
    size = keep = 0
    for ch in text:
        width = len(escape(ch))
        if size + width > budget:
            break
        size += width
        keep += 1
    return escape(text[:keep]) + _notice(len(text) - keep, where)


def _notice(missing: int, where: str) -> str:
    return f" … {missing:,} more characters {where}"


def clip(text: str, limit: int) -> str:
    """For labels whose full text is shown elsewhere (button text, dialog titles)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s")


def reflow(text: Any) -> list[str]:
    """Playbook prose comes hard-wrapped from YAML: join its lines back into paragraphs, but
    keep blank lines and list items (`- x`, `1. x`) on their own line."""
    out: list[str] = []
    joinable = False
    for raw in str(text).splitlines():
        line = raw.strip()
        if not line:
            out.append("")
            joinable = False
        elif joinable and not _LIST_ITEM.match(raw):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(raw.rstrip())
            joinable = True
    while out and not out[-1]:
        out.pop()
    return out


def wrap(text: Any, width: int = 96, indent: int = 0, hanging: int = 0) -> str:
    """Wrap each paragraph to `width`, keeping blank lines; long words are not broken."""
    pad = " " * indent
    out: list[str] = []
    for para in reflow(text) or [""]:
        if not para.strip():
            out.append("")
            continue
        out.extend(
            textwrap.wrap(
                para,
                width=width,
                initial_indent=pad,
                subsequent_indent=pad + " " * hanging,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out)


def params(values: dict[str, Any]) -> str:
    """`family=standardNCADSA100v4Family, new_limit=48` (None values left out: unset)."""
    return ", ".join(f"{k}={v}" for k, v in values.items() if v is not None)


def yes_no(flag: bool, yes: str, no: str) -> str:
    return yes if flag else no


FILTERS: dict[str, Callable[..., Any]] = {
    "icon": icon,
    "label": label,
    "mrkdwn": mrkdwn,
    "reason": reason,
    "one_line": one_line,
    "cut": cut,
    "clip": clip,
    "wrap": wrap,
    "reflow": reflow,
    "params": params,
    "yes_no": yes_no,
}


class Mrkdwn(str):
    """Text already escaped for mrkdwn (by a filter): `finalize` must not escape it twice."""


def _finalize_mrkdwn(value: Any) -> str:
    return value if isinstance(value, Mrkdwn) else mrkdwn(value)


def mrkdwn_environment(**extra: Callable[..., Any]) -> Environment:
    """The Jinja2 environment of the Slack templates: every value is escaped for mrkdwn unless
    a filter already did (it returns `Mrkdwn`); the shared filters plus `extra`."""
    env = Environment(
        loader=PackageLoader("bot.render", "templates"),
        autoescape=False,  # mrkdwn, not HTML: `finalize` escapes & < >
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize_mrkdwn,
    )
    env.filters.update(FILTERS)
    env.filters.update(extra)
    return env
