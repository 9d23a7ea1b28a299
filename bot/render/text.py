"""Terminal text: the same content as Slack, rendered through `templates/text.j2`.

Plain text has no escape codes (pipes, logs, CI). With `color=True` the template emits rich
markup, every value from the diagnosis is markup-escaped (evidence may contain `[`), and rich
renders it to ANSI. The template wraps lines itself, so rich must not re-wrap them.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from rich.console import Console
from rich.markup import escape

from bot.model.verdicts import Diagnosis, Verdict
from bot.render.filters import FILTERS

WIDTH = 100  # the terminal width rich renders at; the template wraps a little inside it
_WRAP = WIDTH - 4

_TITLE_STYLE = {
    Verdict.CONFIRMED: "bold red",
    Verdict.INCONCLUSIVE: "bold yellow",
    Verdict.RULED_OUT: "bold green",
}
_STEP_STYLE = {Verdict.CONFIRMED: "red", Verdict.INCONCLUSIVE: "yellow", Verdict.RULED_OUT: "green"}
_RISK_STYLE = {"low": "green", "medium": "yellow", "high": "bold red"}


class _Styled(str):
    """Text that is already rich markup (escaped and tagged): not escaped again."""


def _finalize_color(value: Any) -> str:
    return value if isinstance(value, _Styled) else escape(str(value))


def _style_color(value: Any, style: str = "") -> _Styled:
    text = escape(str(value))
    return _Styled(f"[{style}]{text}[/]" if style else text)


def _style_plain(value: Any, style: str = "") -> str:
    return str(value)


@cache
def _template(color: bool) -> Template:
    env = Environment(
        loader=PackageLoader("bot.render", "templates"),
        autoescape=False,  # not HTML: colour mode escapes through `finalize` instead
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize_color if color else None,
    )
    env.filters.update(FILTERS)
    env.filters["s"] = _style_color if color else _style_plain
    return env.get_template("text.j2")


def render(diagnosis: Diagnosis, *, color: bool = False) -> str:
    """The diagnosis for a person at a terminal; confirmed first, ruled out compact at the end."""
    counts = diagnosis.counts()
    out = _template(color).render(
        d=diagnosis,
        total=len(diagnosis.findings),
        n={str(v).lower(): counts[v] for v in Verdict},
        detailed=[f for f in diagnosis.findings if f.verdict != Verdict.RULED_OUT],
        ruled_out=[f for f in diagnosis.findings if f.verdict == Verdict.RULED_OUT],
        width=_WRAP,
        title_style=_TITLE_STYLE,
        step_style=_STEP_STYLE,
        risk_style=_RISK_STYLE,
    )
    if not color:
        return out
    console = Console(
        file=io.StringIO(),
        force_terminal=True,
        color_system="standard",  # deterministic: the caller decided colour, not $TERM
        no_color=False,
        width=WIDTH,
        emoji=False,  # `:name:` in metric names must not turn into emoji
        highlight=False,
    )
    console.print(out.rstrip("\n"), soft_wrap=True)
    return console.file.getvalue()  # type: ignore[attr-defined]
