"""Jinja2 for playbook text and fix parameters, always in the sandbox, never eval."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.model.domain import format_money
from bot.model.text import duration

_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)


def _duration(value: Any) -> str:
    if isinstance(value, timedelta):
        return duration(value)
    return duration(timedelta(minutes=float(value)))


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters["duration"] = _duration
    env.filters["money"] = lambda amount, currency="INR": format_money(float(amount), currency)
    return env


def check_syntax(text: str) -> None:
    """Raises jinja2.TemplateSyntaxError with the line inside the template."""
    environment().parse(text)


def check_param_syntax(value: Any) -> None:
    """Every string inside `value`, as render_param will render it (nested ones too)."""
    if isinstance(value, str):
        match = _WHOLE_EXPRESSION.match(value)
        if match and "{{" not in match.group(1):
            environment().compile_expression(match.group(1))
        else:
            check_syntax(value)
    elif isinstance(value, dict):
        for item in value.values():
            check_param_syntax(item)
    elif isinstance(value, list):
        for item in value:
            check_param_syntax(item)


def render(text: str, context: dict[str, Any]) -> str:
    return environment().from_string(text).render(**context).strip()


def render_param(value: Any, context: dict[str, Any]) -> Any:
    """`"{{ expr }}"` alone keeps the expression's type (int, list); other strings render."""
    if isinstance(value, str):
        match = _WHOLE_EXPRESSION.match(value)
        if match and "{{" not in match.group(1):
            return environment().compile_expression(match.group(1), undefined_to_none=False)(
                **context
            )
        if "{{" in value or "{%" in value:
            return render(value, context)
    if isinstance(value, dict):
        return {k: render_param(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_param(v, context) for v in value]
    return value


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    return environment().compile_expression(expression, undefined_to_none=False)(**context)
