"""Reading named evidence the same way in every check: an unread input is a gap, never "none".

Every check gets a mapping of input name -> Answer. An optional input may be absent (not wired)
or unavailable (not read, with the reason); both leave its data unknown, and the evidence line
that says so reads `<source> unavailable: <why>` everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.model.evidence import Answer

Evidence = Mapping[str, Answer]


def data(ev: Evidence, name: str) -> Any:
    """An input's data; None when it is absent or could not be read."""
    answer = ev.get(name)
    return answer.data if answer is not None and answer.available else None


def why_unread(ev: Evidence, name: str) -> str:
    """`<source> unavailable: <why>` for an input the caller knows was not read."""
    return f"{ev[name].source} unavailable: {ev[name].unavailable}"


def gap(ev: Evidence, name: str) -> str | None:
    """`<source> unavailable: <why>` when the input was asked for and could not be read."""
    answer = ev.get(name)
    if answer is None or answer.available:
        return None
    return why_unread(ev, name)


def gaps(ev: Evidence, *names: str) -> list[str]:
    """The gap line of each named input that was asked for and could not be read."""
    return [line for n in names if (line := gap(ev, n)) is not None]
