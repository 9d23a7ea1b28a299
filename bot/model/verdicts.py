"""Verdicts, step results and findings: the values that flow from checks to renderers."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    RULED_OUT = "ruled_out"
    INCONCLUSIVE = "inconclusive"


VERDICT_ORDER = {Verdict.CONFIRMED: 0, Verdict.INCONCLUSIVE: 1, Verdict.RULED_OUT: 2}


class StepResult(BaseModel):
    """What one check concluded, with the lines that quote what it read."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    lines: tuple[str, ...] = ()
    facts: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def confirmed(cls, *lines: str, **facts: Any) -> StepResult:
        return cls(verdict=Verdict.CONFIRMED, lines=lines, facts=facts)

    @classmethod
    def ruled_out(cls, *lines: str, **facts: Any) -> StepResult:
        return cls(verdict=Verdict.RULED_OUT, lines=lines, facts=facts)

    @classmethod
    def inconclusive(cls, *lines: str, **facts: Any) -> StepResult:
        return cls(verdict=Verdict.INCONCLUSIVE, lines=lines, facts=facts)


class StepOutcome(BaseModel):
    """A step as reported: its result plus where the evidence came from."""

    model_config = ConfigDict(frozen=True)

    step: str
    role: str
    verdict: Verdict
    lines: tuple[str, ...]
    sources: tuple[str, ...]
    facts: dict[str, Any] = Field(default_factory=dict)

    @property
    def detail(self) -> str:
        return "; ".join(self.lines)


class FixOffer(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    risk: str
    requires_approval: bool
    reversible: bool
    params: dict[str, Any]


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    playbook: str
    row: int | None
    title: str
    verdict: Verdict
    summary: str
    diagnosis: str
    owner: str
    explanation: str
    steps: tuple[StepOutcome, ...]
    fixes: tuple[FixOffer, ...]
    facts: dict[str, Any] = Field(default_factory=dict)

    def sort_key(self) -> tuple[int, int, str]:
        return (
            VERDICT_ORDER[self.verdict],
            self.row if self.row is not None else 99,
            self.playbook,
        )


class Diagnosis(BaseModel):
    model_config = ConfigDict(frozen=True)

    cluster: str
    location: str | None
    source: str
    generated_at: str
    runbook: str
    findings: tuple[Finding, ...]
    errors: tuple[str, ...] = ()

    def counts(self) -> dict[Verdict, int]:
        out = {v: 0 for v in Verdict}
        for f in self.findings:
            out[f.verdict] += 1
        return out
