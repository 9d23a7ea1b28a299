"""Who may apply which fix, and the guard's clocks: the `fixes:` section of the configuration.

Deny by default (DESIGN.md safe defaults): until `allow` names someone, every apply is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Risk = Literal["low", "medium", "high"]
RISK_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


class VerifyWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_seconds: float = Field(120, ge=0, description="wait before the first re-check")
    every_seconds: float = Field(60, ge=0, description="between re-checks")
    window_seconds: float = Field(900, ge=0, description="give up (verdict 'pending') after")


class FixPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow: dict[Risk, list[str]] = Field(
        default_factory=dict,
        description="risk -> who may apply fixes up to that risk: Slack user ids (U.../W...), "
        "Slack user group ids (S...), or local:NAME for `gpubot fix` operators",
    )
    approvers: list[str] = Field(
        default_factory=list,
        description="who may approve high-risk fixes (same forms); empty: anyone allowed at high",
    )
    team_id: str | None = Field(
        default=None, description="the Slack workspace (T...) whose users may click; others refused"
    )
    operator: str | None = Field(
        default=None, description="the local identity of `gpubot fix` (GPUBOT_OPERATOR overrides)"
    )
    cooldown_minutes: float = Field(30, ge=0, description="per target, after an apply")
    offer_hours: float = Field(24, gt=0, description="how long a fix button can open a plan")
    confirm_minutes: float = Field(15, gt=0, description="how long a shown plan can be confirmed")
    approval_minutes: float = Field(60, gt=0, description="how long a request awaits approval")
    undo_hours: float = Field(24, gt=0, description="how long Undo stays offered")
    group_cache_seconds: float = Field(120, ge=0, description="Slack user group member cache")
    apply_lease_seconds: float = Field(
        90,
        gt=0,
        description="an apply not heard from (heartbeat) this long belongs to a dead process: "
        "it is marked interrupted and its target's hold lapses",
    )
    apply_heartbeat_seconds: float = Field(
        20,
        gt=0,
        description="how often a running apply renews its lease; also how often "
        "`gpubot serve` sweeps for interrupted applies",
    )
    verify: VerifyWindow = Field(default_factory=VerifyWindow)

    @model_validator(mode="after")
    def _beats_within_the_lease(self) -> FixPolicy:
        # Two missed beats must still fit in the lease, or a busy but healthy apply is
        # taken for dead.
        if self.apply_heartbeat_seconds * 2 > self.apply_lease_seconds:
            raise ValueError("apply_heartbeat_seconds must be at most half of apply_lease_seconds")
        return self

    @property
    def apply_lease(self) -> timedelta:
        return timedelta(seconds=self.apply_lease_seconds)


@dataclass(frozen=True)
class Actor:
    """Who clicked or typed: a Slack user (with their workspace) or a local operator."""

    id: str  # U123 / local:alice
    team: str | None = None
    via: Literal["slack", "cli"] = "slack"

    @property
    def mention(self) -> str:
        return f"<@{self.id}>" if self.via == "slack" else self.id


# group id -> member user ids (the Slack side caches usergroups.users.list)
MemberLookup = Callable[[str], frozenset[str]]


def _named(entries: list[str], actor: Actor, members: MemberLookup) -> bool:
    for entry in entries:
        if entry == actor.id:
            return True
        if entry.startswith("S") and actor.via == "slack" and actor.id in members(entry):
            return True
    return False


def no_groups(group: str) -> frozenset[str]:
    """Outside Slack (the CLI) there are no user groups to expand."""
    return frozenset()


def refusal(policy: FixPolicy, actor: Actor, risk: str, members: MemberLookup) -> str | None:
    """Why `actor` may not apply a fix of `risk`, or None when they may."""
    if actor.via == "slack" and policy.team_id and actor.team != policy.team_id:
        return f"{actor.mention} is not in this bot's Slack workspace"
    if not any(policy.allow.values()):
        return "no one may apply fixes until the configuration names who may (fixes.allow)"
    entries = [
        e for r, names in policy.allow.items() if RISK_ORDER[r] >= RISK_ORDER[risk] for e in names
    ]
    if not _named(entries, actor, members):
        return f"{actor.mention} is not allowed to apply {risk}-risk fixes"
    return None


def approval_refusal(
    policy: FixPolicy, approver: Actor, requester: str, members: MemberLookup
) -> str | None:
    """Why `approver` may not approve a high-risk request made by `requester`."""
    if approver.id == requester:
        return f"{approver.mention} cannot approve their own request: a second person must"
    if policy.approvers:
        if approver.via == "slack" and policy.team_id and approver.team != policy.team_id:
            return f"{approver.mention} is not in this bot's Slack workspace"
        if not _named(policy.approvers, approver, members):
            return f"{approver.mention} is not an approver (fixes.approvers)"
        return None
    return refusal(policy, approver, "high", members)
