"""vCPU quota arithmetic: does a quota leave room for the next node, and what limit would.

ARM reports each compute quota as a Usage (`name.value`, `limit`, `currentValue`, in vCPUs).
A GPU node draws on its VM family's quota (on-demand) or on lowPriorityCores (Spot), and every
on-demand node also on the Total Regional vCPUs (`cores`). Pure, so the quota checks and the
request-quota fix judge headroom the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REGIONAL = "cores"  # Total Regional vCPUs
LOW_PRIORITY = "lowPriorityCores"  # what Spot nodes draw on instead of their family


def quota_name(family: str, *, spot: bool) -> str:
    """The quota a node of this VM family draws on: its family's, or Spot's low-priority one."""
    return LOW_PRIORITY if spot else family


@dataclass(frozen=True)
class QuotaUsage:
    """One quota as ARM reports it: its name as Azure spells it, the limit and what is used."""

    name: str
    limit: int
    used: int

    @classmethod
    def from_arm(cls, usage: Mapping[str, Any], default_name: str) -> QuotaUsage:
        """A Usage - List entry; a missing number reads as 0, a missing name as `default_name`."""
        name = (usage.get("name") or {}).get("value", default_name)
        return cls(str(name), int(usage.get("limit") or 0), int(usage.get("currentValue") or 0))

    @property
    def free(self) -> int:
        return self.limit - self.used

    def fits(self, vcpus: int) -> bool:
        """Room for one more node of `vcpus` (a quota of 0 never has room)."""
        return self.limit > 0 and self.used + vcpus <= self.limit

    def nodes_that_fit(self, vcpus: int) -> int:
        """How many more nodes of `vcpus` the free vCPUs hold."""
        return max(self.free, 0) // vcpus

    def limit_for(self, vcpus: int, nodes: int) -> int:
        """The limit that leaves room for `nodes` more nodes of `vcpus` (never below today's)."""
        return max(self.limit, self.used + vcpus * nodes)
