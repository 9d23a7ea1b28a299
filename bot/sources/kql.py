"""Build KQL text from escaped literals only, so a pod or namespace name can never change a query.

Values go into `{name}` placeholders of a template as KQL literals. Strings become double-quoted
literals with the escapes KQL documents (`\\\\`, `\\"`, `\\n`, `\\t`); any other control
character is refused rather than guessed at. After substitution the query is tokenized again
and must have the template's token structure, each placeholder now one literal: the check that
makes "cannot change the meaning" a property of every query sent, not just of the escaper.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
# Tokens of the query text, just enough to tell literals and comments from everything else.
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*)
  | (?P<string>
        [hH]?@"(?:[^"]|"")*"            # verbatim, "" is a quote
      | [hH]?@'(?:[^']|'')*'
      | [hH]?"(?:[^"\\\n]|\\.)*"         # escaped; no raw newline inside
      | [hH]?'(?:[^'\\\n]|\\.)*'
      | ```.*?```                       # multi-line
    )
  | (?P<placeholder>\{[A-Za-z_][A-Za-z0-9_]*\})
  | (?P<word>[A-Za-z0-9_.$]+)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)

Value = str | int | float | bool | datetime | timedelta | Sequence[str]


class KqlError(ValueError):
    """A value that cannot be a KQL literal, or a template that would not keep it one."""


def string_literal(value: str) -> str:
    """A double-quoted KQL string literal whose content is exactly `value`."""
    if not isinstance(value, str):
        raise KqlError(f"expected a string, got {type(value).__name__}")
    out = []
    for char in value:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code < 0xE000:
            # Control characters and lone surrogates have no documented KQL escape: refuse.
            raise KqlError(f"character U+{code:04X} cannot appear in a KQL string literal")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def literal(value: Value) -> str:
    """Any supported Python value as KQL literal text (a sequence becomes `"a", "b"`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"long({value})"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise KqlError(f"{value} is not a finite number")
        return f"real({value!r})"
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return f"datetime({aware.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')})"
    if isinstance(value, timedelta):
        # Whole milliseconds: `1500ms` is a KQL timespan literal without float formatting doubts.
        return f"{round(value.total_seconds() * 1000)}ms"
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return ", ".join(string_literal(v) for v in value)
    raise KqlError(f"cannot use {type(value).__name__} {value!r} as a KQL literal")


def tokens(query: str) -> list[tuple[str, str]]:
    """(kind, text) for every token except whitespace; kinds: comment, string, placeholder, ..."""
    out = []
    for match in _TOKEN.finditer(query):
        kind = match.lastgroup or "punct"
        if kind != "ws":
            out.append((kind, match.group()))
    return out


def with_params(template: str, **values: Value) -> str:
    """Substitute escaped literals into `{name}` placeholders; refuse anything else."""
    template_tokens = tokens(template)
    placed = [text[1:-1] for kind, text in template_tokens if kind == "placeholder"]
    wanted = set(placed)
    # Counted, not as sets: `{v}` in a comment is stray even when `{v}` is also used outside.
    stray = Counter(m.group(1) for m in _PLACEHOLDER.finditer(template)) - Counter(placed)
    if stray:
        # A placeholder inside a string or comment would splice text, not a literal.
        raise KqlError(f"placeholder {{{sorted(stray)[0]}}} is inside a string or comment")
    if missing := wanted - values.keys():
        raise KqlError(f"no value for placeholder {{{sorted(missing)[0]}}}")
    if unused := values.keys() - wanted:
        raise KqlError(f"template has no placeholder {{{sorted(unused)[0]}}}")
    rendered = {name: literal(value) for name, value in values.items()}
    query = "".join(
        rendered[text[1:-1]] if kind == "placeholder" else text
        for kind, text in _tokens_with_ws(template)
    )
    expected = []
    for kind, text in template_tokens:
        if kind == "placeholder":
            expected.extend(tokens(rendered[text[1:-1]]))
        else:
            expected.append((kind, text))
    if tokens(query) != expected:
        raise KqlError("substituted values changed the query's token structure")
    return query


def _tokens_with_ws(query: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "punct", m.group()) for m in _TOKEN.finditer(query)]
