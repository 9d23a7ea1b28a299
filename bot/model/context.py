"""What a check may know besides its evidence: the clock, thresholds, scope and cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.model.thresholds import Thresholds


@dataclass(frozen=True)
class Scope:
    """`--workspace NS/NAME` or `/gpu diagnose ns/ws`: limit workload-level rows to one target."""

    namespace: str | None = None
    workspace: str | None = None

    def admits(self, namespace: str | None, name: str | None = None) -> bool:
        if self.namespace and namespace != self.namespace:
            return False
        return not (self.workspace and name is not None and name != self.workspace)

    def __str__(self) -> str:
        if self.namespace and self.workspace:
            return f"{self.namespace}/{self.workspace}"
        return self.namespace or "cluster"


@dataclass(frozen=True)
class CheckContext:
    now: datetime
    thresholds: Thresholds = field(default_factory=Thresholds)
    scope: Scope = field(default_factory=Scope)
    cluster: dict[str, Any] = field(default_factory=dict)
