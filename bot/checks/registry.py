"""Register checks by name. The decorator records a frozen spec and returns the function as is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.model.context import CheckContext
from bot.model.evidence import QUESTION_KINDS, Answer
from bot.model.verdicts import StepResult


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


CheckFn = Callable[[Mapping[str, Answer], Any, CheckContext], StepResult]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    fn: CheckFn
    inputs: Mapping[str, str]  # input name -> question kind it must be wired to
    optional: frozenset[str]
    params: type[BaseModel]
    doc: str


REGISTRY: dict[str, CheckSpec] = {}


def check(
    name: str,
    *,
    inputs: Mapping[str, str],
    optional: tuple[str, ...] = (),
    params: type[BaseModel] = NoParams,
) -> Callable[[CheckFn], CheckFn]:
    for kind in inputs.values():
        if kind not in QUESTION_KINDS:
            raise ValueError(f"check {name}: unknown question kind {kind!r}")
    unknown_optional = set(optional) - set(inputs)
    if unknown_optional:
        raise ValueError(f"check {name}: optional inputs not declared: {unknown_optional}")

    def register(fn: CheckFn) -> CheckFn:
        if name in REGISTRY:
            raise ValueError(f"check {name} registered twice")
        REGISTRY[name] = CheckSpec(
            name=name,
            fn=fn,
            inputs=dict(inputs),
            optional=frozenset(optional),
            params=params,
            doc=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
        )
        return fn

    return register
