"""KQL literals: hostile pod and namespace names stay literals and never change a query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sources.kql import KqlError, literal, string_literal, tokens, with_params

TEMPLATE = (
    "// gpubot:pod-errors\n"
    "ContainerLogV2\n"
    "| where TimeGenerated > ago(1h)\n"
    "| where PodNamespace == {namespace} and PodName in ({pods})\n"
    "| summarize count() by PodName"
)

HOSTILE = [
    'a"b',
    "a'b",
    'x" | take 1 | project secret="',
    "ns | where 1 == 1",
    "pod;drop",
    "kube-system\n| union SecurityEvent",
    "// comment marker",
    "pod // trailing comment",
    "back\\slash",
    "ends-with-backslash\\",
    '\\" | take 1 //',
    "tab\there",
    '@"verbatim"',
    "```multi```",
    "{namespace}",
    "ünïcødé-名前-🚀",
    'h"obfuscated"',
]


def unescape(lit: str) -> str:
    """Inverse of string_literal per KQL's documented escapes: what the service will read."""
    assert lit.startswith('"') and lit.endswith('"')
    body, out, i = lit[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"'}[body[i + 1]])
            i += 2
        else:
            assert body[i] != '"', "unescaped quote would end the literal"
            out.append(body[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_name_is_one_string_token_with_the_same_value(name: str) -> None:
    lit = string_literal(name)
    assert tokens(lit) == [("string", lit)]
    assert unescape(lit) == name
    assert "\n" not in lit  # a raw newline could end a KQL statement line


@pytest.mark.parametrize("name", HOSTILE)
def test_query_keeps_its_structure_with_hostile_names(name: str) -> None:
    query = with_params(TEMPLATE, namespace=name, pods=[name, "ok-pod"])
    template = tokens(TEMPLATE)
    got = tokens(query)
    # Same tokens outside the literals; each placeholder became exactly the expected literals.
    expected: list[tuple[str, str]] = []
    for kind, text in template:
        if text == "{namespace}":
            expected.append(("string", string_literal(name)))
        elif text == "{pods}":
            expected += [("string", string_literal(name)), ("punct", ","), ("string", '"ok-pod"')]
        else:
            expected.append((kind, text))
    assert got == expected
    assert query.splitlines()[0] == "// gpubot:pod-errors"
    assert len(query.splitlines()) == len(TEMPLATE.splitlines())


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\t")))
def test_any_printable_text_round_trips(name: str) -> None:
    lit = string_literal(name)
    assert tokens(lit) == [("string", lit)]
    assert unescape(lit) == name
    with_params("T | where Name == {name}", name=name)


@pytest.mark.parametrize("bad", ["a\rb", "nul\x00", "bell\x07", "del\x7f", "c1\x85", "\ud800"])
def test_control_characters_without_a_kql_escape_are_refused(bad: str) -> None:
    with pytest.raises(KqlError):
        string_literal(bad)


def test_placeholders_must_match_values_and_sit_outside_literals() -> None:
    with pytest.raises(KqlError, match="no value"):
        with_params("T | where A == {a}")
    with pytest.raises(KqlError, match="no placeholder"):
        with_params("T | where A == {a}", a="x", b="y")
    with pytest.raises(KqlError, match="inside a string or comment"):
        with_params('T | where A == "{a}"', a="x")
    with pytest.raises(KqlError, match="inside a string or comment"):
        with_params("// {a}\nT", a="x")
    # A literal glued to a word would merge tokens: refused, not sent.
    with pytest.raises(KqlError, match="token structure"):
        with_params("T | take x{n}", n=5)
    with pytest.raises(KqlError, match="token structure"):
        with_params("T | where A == h{a}", a="x")  # h"x" is KQL's obfuscated string form


# Found by fuzz/kql.py: a placeholder inside a comment or string was accepted, and left there
# unsubstituted, when the same name was also used outside one.
@pytest.mark.parametrize(
    "template", ["T | where A has {a} // {a}", "T | where A == '{a}' or B == {a}"]
)
def test_a_placeholder_inside_a_literal_is_refused_even_if_also_used_outside(template) -> None:
    with pytest.raises(KqlError, match="inside a string or comment"):
        with_params(template, a="x")


def test_non_string_literals() -> None:
    assert literal(True) == "true"
    assert literal(5) == "long(5)"
    assert literal(0.5) == "real(0.5)"
    assert literal(datetime(2026, 11, 27, 7, 40, tzinfo=UTC)) == (
        "datetime(2026-11-27T07:40:00.000000Z)"
    )
    assert literal(timedelta(minutes=90)) == "5400000ms"
    with pytest.raises(KqlError):
        literal(float("nan"))
    with pytest.raises(KqlError):
        literal([])
    with pytest.raises(KqlError):
        literal({"a": 1})  # type: ignore[arg-type]


def test_bundled_queries_tokenize_and_start_with_their_id() -> None:
    from bot.model.evidence import known_queries

    for query_id, text in known_queries().items():
        assert tokens(text)[0] == ("comment", f"// gpubot:{query_id}")
        assert with_params(text) == text  # no placeholders today: passes through unchanged
