"""The playbook test file format (strict), see docs/playbook-authoring.md."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.model.thresholds import Thresholds

VerdictName = Literal["confirmed", "ruled_out", "inconclusive"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceOverride(_Strict):
    data: Any = None
    file: str | None = None
    unavailable: str | None = None

    @model_validator(mode="after")
    def _one(self) -> EvidenceOverride:
        given = [self.data is not None, self.file is not None, self.unavailable is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of data, file, unavailable")
        return self


class Expect(_Strict):
    verdict: VerdictName | None = None
    steps: dict[str, VerdictName] = Field(default_factory=dict)
    fixes: list[str] | None = None
    fix_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    lines: dict[str, list[str]] = Field(default_factory=dict)
    summary: str | None = None


class Case(_Strict):
    name: str
    snapshot: str | None = None
    now: str | None = None
    thresholds: Thresholds | None = None
    scope: str | None = Field(default=None, description="NAMESPACE/WORKSPACE")
    evidence: dict[str, EvidenceOverride] = Field(default_factory=dict)
    expect: Expect

    @model_validator(mode="after")
    def _clock(self) -> Case:
        if self.snapshot is None and self.now is None:
            raise ValueError("a case without a snapshot needs `now`")
        return self


class TestFile(_Strict):
    playbook: str
    tests: list[Case] = Field(min_length=1)
