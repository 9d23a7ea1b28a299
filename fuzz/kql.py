"""Fuzz KQL literal quoting (bot/sources/kql.py `string_literal` and `with_params`).

For any string, `string_literal` raises KqlError or returns exactly one KQL string token whose
unescaped content is the string itself. `with_params` raises only KqlError, and what it
returns is the template with each placeholder replaced by that one literal, nothing else
changed: a value can never end a string, open a comment or add an operator. Templates are
realistic ones (placeholders next to strings, comments, `h`/`@` prefixes, `in (...)`) or
fuzzer-written text.

    python fuzz/kql.py [libFuzzer args] [corpus dirs]
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["bot"]):  # coverage of our code only
    from bot.sources import kql

TEMPLATES = [
    "KubePodInventory | where Namespace == {v} | take 10",
    "T | where Name in ({v}) // pods asked about",
    'T | where A == {v} and B == "x}{" | project C',
    "T | where A has {v}//{v} in a comment: refused\n| take 1",
    "print h{v}, @{v}, x{v}y",
    "T | where A == 'x' or B == {v}",
    "T | where Msg contains {v} | extend s = strcat({v}, @'c:\\dir')",
    "```\n{\n``` | where A == {v}",
]
UNESCAPE = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}


def unescape(literal: str) -> str:
    """The value a double-quoted KQL literal holds, per the escapes KQL documents."""
    assert literal[0] == '"' and literal[-1] == '"', literal
    out, chars = [], iter(literal[1:-1])
    for char in chars:
        if char == "\\":
            out.append(UNESCAPE[next(chars)])
        else:
            assert char != '"', f"unescaped quote in {literal!r}"
            out.append(char)
    return "".join(out)


def check_literal(value: str) -> str | None:
    try:
        text = kql.string_literal(value)
    except kql.KqlError:
        return None
    assert kql.tokens(text) == [("string", text)], f"{value!r} is not one token: {text!r}"
    assert unescape(text) == value, f"{text!r} does not hold {value!r}"
    return text


def check_template(template: str, value: str | list[str]) -> None:
    try:
        query = kql.with_params(template, v=value)
    except kql.KqlError:
        return
    rendered = kql.literal(value)
    assert query == template.replace("{v}", rendered), (template, value, query)
    expected = []
    for kind, text in kql.tokens(template):
        expected += kql.tokens(rendered) if text == "{v}" else [(kind, text)]
    assert kql.tokens(query) == expected, (template, value, query)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    value = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 120))  # surrogates and controls too
    check_literal(value)
    if fdp.ConsumeBool():
        template = TEMPLATES[fdp.ConsumeIntInRange(0, len(TEMPLATES) - 1)]
    else:
        template = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 80))
        template = template.replace("\x00", "{v}")  # give the fuzzer an easy placeholder
    many = [value, fdp.ConsumeUnicode(10)] if fdp.ConsumeBool() else value
    try:
        check_template(template, many)
    except KeyError as exc:  # a template with a placeholder other than {v}: must be KqlError
        raise AssertionError(f"with_params raised {exc!r}") from exc


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
