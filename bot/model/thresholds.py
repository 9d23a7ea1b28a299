"""Verdict thresholds (DESIGN.md "Verdict semantics"); every one is configurable."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stuck_minutes: float = Field(10, description="a workspace or pod stuck this long is a stall")
    kv_cache_ratio: float = Field(0.95, description="KV cache usage at or above this is KV-bound")
    slow_pull_minutes: float = Field(5, description="an image pull at least this long is slow")
    cold_node_minutes: float = Field(
        30, description="a GPU node this young in a min-0 pool is cold"
    )
    lookback_minutes: float = Field(60, description="how far back events and logs count")
    flap_transitions: int = Field(
        2, description="Ready/NotReady transitions that count as flapping"
    )
    currency: str = Field("INR", description="currency for indicative GPU prices (INR or USD)")

    @property
    def stuck(self) -> timedelta:
        return timedelta(minutes=self.stuck_minutes)

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.lookback_minutes)

    @property
    def slow_pull(self) -> timedelta:
        return timedelta(minutes=self.slow_pull_minutes)

    @property
    def cold_node(self) -> timedelta:
        return timedelta(minutes=self.cold_node_minutes)
