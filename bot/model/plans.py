"""What a fix will do, computed from live state before anyone confirms it.

An actuator (`bot.sources.actuators`) reads the objects a fix touches and returns a `FixPlan`:
exact before/after values, the objects touched, the preconditions the write will carry (an
ARM ETag for If-Match, a Kubernetes resourceVersion), and what restoring the before-state
needs. The guard (`bot.engine.guard`) stores the plan, shows it, and hands it back to the same
actuator to apply; nothing is re-derived between the confirmation and the write.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Change(BaseModel):
    """One value that changes: `subject` is the object, `field` the path inside it."""

    model_config = ConfigDict(frozen=True)

    subject: str  # e.g. "managed cluster aks-inference" / "statefulset kaito-ws/workspace-llama"
    field: str  # e.g. "autoScalerProfile.scale-down-unneeded-time" / "spec.replicas"
    before: Any = None  # None = absent
    after: Any = None  # None = removed


class FixPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    fix: str  # catalogue id (bot.model.fixes.FIXES)
    cluster: str
    target: str  # one human line: what the fix acts on
    target_key: str  # stable key for the per-target cooldown, e.g. "prewarm-now/ns/sts/name"
    params: dict[str, Any]  # the validated parameters the plan was computed from
    changes: tuple[Change, ...] = ()
    touches: tuple[str, ...] = ()  # objects written: "apps/v1 StatefulSet kaito-ws/x"
    # What the write is conditioned on, so a concurrent change aborts it instead of being
    # overwritten: {"etag": "..."} for ARM If-Match, {"resourceVersion": "..."} for Kubernetes.
    preconditions: dict[str, str] = Field(default_factory=dict)
    # Data the actuator needs to restore the before-state (None: not reversible).
    restore: dict[str, Any] | None = None
    # "immediate": the symptom can clear as soon as the write lands; "eventual": it clears
    # only after something outside the bot acts (quota approval, the autoscaler's next scan),
    # so verification may end "pending".
    effect: Literal["immediate", "eventual"] = "immediate"
    notes: tuple[str, ...] = ()  # caveats shown with the plan
    undoes: str | None = None  # the request id this plan reverts, for an undo

    @property
    def noop(self) -> bool:
        """Nothing would change: the guard refuses to apply it (and says why)."""
        return all(c.before == c.after for c in self.changes)

    @property
    def reversible(self) -> bool:
        return self.restore is not None


class ApplyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    summary: str  # one line for the thread: "statefulset kaito-ws/x scaled 0 -> 1"
    written: tuple[str, ...] = ()  # the requests made, "PATCH apps/v1 ... kaito-ws/x"
    details: dict[str, Any] = Field(default_factory=dict)  # e.g. a quota request's id/status


class FixError(Exception):
    """Base of the failures an actuator reports; the message is one human line, no secrets."""


class FixRefused(FixError):
    """The fix cannot be planned as asked (target gone, controller-owned, bad parameters)."""


class FixConflict(FixError):
    """The object changed since the plan (ETag / resourceVersion mismatch): nothing written."""


class FixFailed(FixError):
    """The API refused or failed the write."""
