"""Kubernetes label and field selectors, with the API server's semantics, over plain dicts.

Used by the snapshot source so offline answers match live ones, and by the test emulator.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]

_SET_EXPR = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


class SelectorError(ValueError):
    pass


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside a set's parentheses."""
    parts, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def label_predicate(selector: str | None) -> Predicate:
    if not selector:
        return lambda obj: True
    tests: list[Callable[[dict[str, str]], bool]] = []
    for term in _split(selector):
        set_match = _SET_EXPR.match(term)
        if set_match:
            key, op, raw = set_match.groups()
            values = {v.strip() for v in raw.split(",") if v.strip()}
            if op == "in":
                tests.append(lambda lab, k=key, vs=values: lab.get(k) in vs)
            else:
                tests.append(lambda lab, k=key, vs=values: lab.get(k) not in vs)
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            tests.append(lambda lab, k=key, v=value: lab.get(k) != v)
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            tests.append(lambda lab, k=key, v=value: lab.get(k) == v)
        elif term.startswith("!"):
            absent = term[1:].strip()
            tests.append(lambda lab, k=absent: k not in lab)
        elif re.fullmatch(r"[\w./-]+", term):
            tests.append(lambda lab, k=term: k in lab)
        else:
            raise SelectorError(f"invalid label selector term {term!r}")

    def matches(obj: Obj) -> bool:
        lab = (obj.get("metadata") or {}).get("labels") or {}
        return all(t(lab) for t in tests)

    return matches


def _field_value(obj: Obj, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


SUPPORTED_FIELDS = {
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "status.phase",
    "spec.schedulerName",
    "involvedObject.kind",
    "involvedObject.name",
    "involvedObject.namespace",
    "reason",
    "type",
    "spec.unschedulable",
}


def field_predicate(selector: str | None) -> Predicate:
    if not selector:
        return lambda obj: True
    tests: list[Predicate] = []
    for term in _split(selector):
        negate = "!=" in term
        key, value = (s.strip() for s in term.replace("==", "=").replace("!=", "=").split("=", 1))
        if key not in SUPPORTED_FIELDS:
            raise SelectorError(f"field label not supported: {key}")
        if negate:
            tests.append(lambda o, k=key, v=value: _field_value(o, k) != v)
        else:
            tests.append(lambda o, k=key, v=value: _field_value(o, k) == v)
    return lambda obj: all(t(obj) for t in tests)


def select(
    items: list[Obj],
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
) -> list[Obj]:
    by_label, by_field = label_predicate(label_selector), field_predicate(field_selector)
    return [
        item
        for item in items
        if (namespace is None or (item.get("metadata") or {}).get("namespace") == namespace)
        and by_label(item)
        and by_field(item)
    ]
