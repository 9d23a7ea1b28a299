"""Fix actuators: plan a fix from current state, apply the stored plan, plan its undo.

Only this package writes to Kubernetes or Azure. Each module registers one actuator per fix
id of the catalogue (`bot.model.fixes.FIXES`) with `@actuator("fix-id")`. The guard
(`bot.engine.guard`) decides whether and when to call `apply`; actuators never authorize,
never audit, and never apply a plan they did not make.

Contract every actuator keeps:
- `plan(ctx, params)` reads through `ctx` only (so plans work from a snapshot too) and
  returns a `FixPlan` with exact before/after values and the preconditions the write will
  carry (ARM ETag for If-Match; Kubernetes resourceVersion). Raises `FixRefused` with one
  human line when the fix cannot be planned (target missing, controller-owned, ...).
- `apply(ctx, plan)` writes exactly what the plan says, conditioned on its preconditions;
  a precondition failure raises `FixConflict` and writes nothing; an API failure raises
  `FixFailed`. Never re-plans.
- `undo(ctx, plan)` (reversible fixes only) returns a new plan whose after-values are the
  recorded before-state, with preconditions read now, `undoes` left for the guard to set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bot.model.plans import ApplyResult, FixPlan
from bot.sources.actuators.context import FixContext


class Actuator(Protocol):
    fix: str

    def plan(self, ctx: FixContext, params: Any) -> FixPlan: ...

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult: ...

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan: ...


ACTUATORS: dict[str, Actuator] = {}


def actuator(fix: str) -> Callable[[type], type]:
    def register(cls: type) -> type:
        if fix in ACTUATORS:
            raise RuntimeError(f"actuator {fix} registered twice")
        instance = cls()
        instance.fix = fix
        ACTUATORS[fix] = instance
        return cls

    return register


def load_all() -> dict[str, Actuator]:
    """Import every actuator module (registration happens at import)."""
    from bot.sources.actuators import azure_fixes, kube_fixes  # noqa: F401

    return ACTUATORS
