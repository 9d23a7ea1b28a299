"""The evidence interface every source implements (snapshot now; live APIs behind the same)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.model.evidence import Answer, Question


class BadInput(ValueError):
    """Input the user gave us cannot be used (missing dir, unparsable file): one line, named."""


@dataclass(frozen=True)
class ClusterInfo:
    name: str
    location: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    log_analytics_workspace_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "location": self.location,
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "log_analytics_workspace_id": self.log_analytics_workspace_id,
        }


class Source(Protocol):
    kind: str  # "snapshot" | "live"
    cluster: ClusterInfo

    def now(self) -> datetime: ...

    def answer(self, question: Question) -> Answer:
        """Never raises for an unavailable fact: returns Answer.missing(question, reason)."""
        ...
