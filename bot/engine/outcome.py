"""What the fix guard tells its callers: one `Outcome` per step, rendered by Slack or the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.model.plans import FixPlan
from bot.model.redact import redact
from bot.store.ledger import FixRequest

# Outcomes that mean "nothing was changed as asked": the caller shows them as errors.
NOT_DONE = frozenset({"refused", "failed", "conflict"})


@dataclass(frozen=True)
class Outcome:
    """What happened, for the caller to show. `status` is one of the audit actions."""

    status: str  # planned | refused | requested | approved | rejected | cancelled | applied |
    #              failed | conflict | verified | still_failing | pending | inconclusive | ...
    message: str
    request: FixRequest | None = None
    plan: FixPlan | None = None
    # Signed button values: confirm / cancel / approve / reject / undo
    buttons: dict[str, str] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()  # verification: the evidence lines that decided it

    @property
    def ok(self) -> bool:
        return self.status not in NOT_DONE


def mention(user: str | None) -> str:
    """A Slack user as a mention; a local operator (`local:NAME`) as written."""
    if not user:
        return "someone"
    return user if user.startswith("local:") else f"<@{user}>"


def first_line(exc: BaseException) -> str:
    """An unexpected exception as one short line: its type and the first line of its text,
    credential shapes masked.

    SDK exceptions carry response headers and bodies after the first line; those never reach
    a message or an audit row."""
    text = redact((str(exc).splitlines() or [""])[0][:200])
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
