"""Mask credentials that workloads print into the text gpubot quotes.

Checks quote what they read (event messages, log lines, Log Analytics rows) so a person can
verify a verdict, and workloads print tokens there: a probe URL with `?access_token=`, an
`Authorization: Bearer` header in an error, a connection string. gpubot never knows those
values, so it masks what looks like one. The engine applies this once to every finding, so
Slack, text, JSON and Markdown all carry the same masked text.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[redacted]"
_KEY = (
    r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|account[_-]?key"
    r"|private[_-]?key|client[_-]?secret|credential)s?|sig"
)
# (pattern, replacement): group 1, when present, is kept as context for the reader
_RULES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        MASK,
    ),
    (re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{MASK}"),
    (re.compile(r"\b(?:xox[a-z]|xapp)-[A-Za-z0-9-]{8,}"), MASK),  # Slack tokens
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]{4,}"), MASK),  # JWTs (Entra ID, K8s SA)
    (re.compile(r"\b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"), MASK),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+(?=@)", re.I), rf"\1{MASK}"),
    (
        re.compile(
            rf"(?i)\b((?:{_KEY})[\"']?\s*[:=]\s*[\"']?)(?!(?:bearer|basic)\b|\[redacted\])"
            r"[^\s\"'&;,<>()\[\]{}]{6,}"
        ),
        rf"\1{MASK}",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """Every string inside dicts, lists and tuples; other values unchanged."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    return value
