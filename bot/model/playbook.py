"""Playbook and runbook specs: the YAML formats, strict (unknown keys are errors)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.model.domain import OWNERS
from bot.model.evidence import QUESTION_KINDS

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EvidenceSpec(Strict):
    """One named piece of evidence: which source question, with which parameters."""

    source: str = Field(description="question kind, e.g. kubernetes.list or azure.usages")
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_question(self) -> EvidenceSpec:
        if self.source not in QUESTION_KINDS:
            raise ValueError(
                f"unknown source {self.source!r} (known: {', '.join(sorted(QUESTION_KINDS))})"
            )
        QUESTION_KINDS[self.source][0].model_validate(self.params)
        return self


class StepSpec(Strict):
    """A confirm step: a registered check run over named evidence with parameters."""

    id: str = Field(pattern=ID_PATTERN)
    role: Literal["symptom", "cause", "context"] = Field(
        description="symptom: is it happening; cause: is this row's cause in place; "
        "context: extra evidence that never changes the verdict"
    )
    check: str = Field(description="name of a registered check (gpubot playbooks checks)")
    inputs: dict[str, str] = Field(
        default_factory=dict, description="check input -> evidence name (default: same name)"
    )
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    description: str | None = None


class FixOfferSpec(Strict):
    fix: str = Field(description="fix id from the catalogue (gpubot playbooks fixes)")
    when: list[str] = Field(
        default_factory=list, description="step ids that must be confirmed (default: finding)"
    )
    for_each: str | None = Field(
        default=None, description="expression giving a list; each item offers the fix once"
    )
    params: dict[str, Any] = Field(default_factory=dict)


class PlaybookSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    row: int | None = Field(default=None, ge=1, description="row of the seed's table, if any")
    kind: Literal["symptom", "readiness"] = "symptom"
    title: str
    rung: str | None = Field(default=None, description="readiness: the rung as it passes")
    symptom: str = Field(description="the symptom in the on-call's words")
    owner: str = Field(description="layer from the seed's who-owns-what table")
    explanation: str = Field(description="link to the human explanation")
    evidence: dict[str, EvidenceSpec]
    steps: list[StepSpec] = Field(min_length=1)
    summary: str = Field(description="Jinja2: one line a person reads first (when confirmed)")
    diagnosis: str = Field(description="Jinja2: what it means and what to do (when confirmed)")
    fixes: list[FixOfferSpec] = Field(default_factory=list)

    @field_validator("owner")
    @classmethod
    def _known_owner(cls, value: str) -> str:
        if value not in OWNERS:
            raise ValueError(f"unknown owner {value!r} (known: {', '.join(OWNERS)})")
        return value

    @field_validator("explanation")
    @classmethod
    def _https(cls, value: str) -> str:
        if not re.match(r"^https://\S+$", value):
            raise ValueError("must be an https:// link")
        return value

    @model_validator(mode="after")
    def _steps(self) -> PlaybookSpec:
        ids = [s.id for s in self.steps]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate step ids: {sorted(dupes)}")
        if not any(s.role == "symptom" for s in self.steps):
            raise ValueError("needs at least one step with role: symptom")
        return self


class Schedule(Strict):
    cron: str = Field(pattern=r"^\S+ \S+ \S+ \S+ \S+$", description="five-field cron")
    timezone: str = "UTC"


class AlertMatch(Strict):
    alertname: str | None = Field(default=None, description="regular expression, full match")
    labels: dict[str, str] = Field(default_factory=dict, description="label -> full-match regex")
    text: str | None = Field(default=None, description="regex searched in plain-text posts")

    @field_validator("alertname", "text")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @field_validator("labels")
    @classmethod
    def _label_regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            _compile(pattern)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> AlertMatch:
        if self.alertname is None and not self.labels and self.text is None:
            raise ValueError("a route needs alertname, labels or text")
        return self


def _compile(pattern: str) -> None:
    """re.error is not a ValueError, so pydantic would let it escape the loader."""
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ValueError(f"not a regular expression: {pattern[:60]!r}: {exc}") from None


class AlertRoute(Strict):
    name: str
    match: AlertMatch
    playbooks: list[str] = Field(min_length=1)


class RunbookSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    description: str | None = None
    playbooks: list[str] = Field(default_factory=list)
    schedule: Schedule | None = None
    routes: list[AlertRoute] = Field(default_factory=list)
    fallback: list[str] = Field(default_factory=list, description="alert-routes: unmatched")

    def all_playbook_ids(self) -> list[str]:
        ids = list(self.playbooks) + list(self.fallback)
        for route in self.routes:
            ids.extend(route.playbooks)
        return ids
