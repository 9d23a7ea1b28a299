"""Issue 8 hostile input: mutated and malformed playbook and runbook YAML through the real
loader. Each file either loads or gives a CatalogError whose every problem is
`file:line: field: problem` for that file; never another exception, never code execution
(no YAML tag constructs a Python object), and bounded time (alias bombs, deep nesting)."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine.loader import CatalogError, load_catalog
from tests.conftest import ROOT

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HANG_GUARD_S = 20  # one tiny file; a bomb that expands would take minutes or hours
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yaml"))
RUNBOOKS = sorted((ROOT / "runbooks").glob("*.yaml"))
EMPTY_TRIAGE = "id: triage\ntitle: t\nplaybooks: []\n"
PWNED = "gpubot-fuzz-pwned"  # a file that YAML code execution would create next to the files

LAUGHS = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 9)}]\n" for i in range(9)
)
HOSTILE_VALUES = [
    f"!!python/object/apply:os.mkdir ['{PWNED}']",
    f"!!python/object/new:pathlib.Path.touch ['{PWNED}']",
    f"!!python/object/apply:subprocess.check_call [[touch, {PWNED}]]",
    "!!python/name:os.system",
    "!!python/object:os.system {cmd: x}",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [{a: 1}]",
    "!!int zz",
    "!!timestamp 2026-13-45",
    "!custom thing",
    "&self [*self]",
    "*undefined_alias",
    "[" * 300 + "]" * 300,
    "{a: " * 80 + "1" + "}" * 80,
    "{[a, b]: c}",
    "{{ unclosed",
    "'{% for x in %}'",
    "'{{ " + "(" * 600 + "1" + ")" * 600 + " }}'",
    "\"{{ ''.__class__.__mro__[1].__subclasses__() }}\"",
    "'{% include \"/etc/passwd\" %}'",
    "\t- tab indented",
    "\x00\x07 control",
    "---\nsecond: document",
    '"unterminated',
    "-1e999999",
    "0x" + "f" * 200,
    "~",
    "[]",
    "{}",
]
HOSTILE_LINES = [LAUGHS, "<<: *base", "? [complex, key]\n: value", "% YAML 1.1", "\ufeff"]
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=3)
    ),
    max_leaves=8,
)
TEMPLATE_JUNK = st.sampled_from(
    ["{{", "}}", "{%", "%}", "{#", "(", "[", "|", "endif", " steps['x'].facts.y ", "\n"]
)
EDITS = st.lists(
    st.tuples(
        st.sampled_from(["delete", "retype", "add-key", "bad-jinja", "stringify"]),
        st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
        JSONISH,
        st.lists(TEMPLATE_JUNK, min_size=1, max_size=6).map("".join),
    ),
    min_size=1,
    max_size=4,
)
TEXT_EDITS = st.lists(
    st.tuples(
        st.sampled_from(["value", "insert", "truncate", "garbage"]),
        st.integers(min_value=0, max_value=10_000),
        st.sampled_from(HOSTILE_VALUES) | st.text(max_size=30),
        st.sampled_from(HOSTILE_LINES) | st.text(max_size=30),
    ),
    min_size=1,
    max_size=3,
)


# ---- mutations ---------------------------------------------------------------------------------


def _edit_tree(data: Any, op: str, walk: list[int], value: Any, junk: str) -> Any:
    """Walk into `data` by `walk` (indices modulo the width), then change what is there."""
    parent, key = None, None
    node = data
    for step in walk:
        if not isinstance(node, dict | list) or not node:
            break
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, keys[step % len(keys)]
        node = node[key]
    if op == "add-key" and isinstance(node, dict):
        node[f"unknown_{walk[0]}"] = value
    elif parent is None:
        return value if op == "retype" else data
    elif op == "delete":
        del parent[key]
    elif op == "retype":
        parent[key] = value
    elif op == "bad-jinja":
        parent[key] = f"{node}{junk}" if isinstance(node, str) else junk
    elif op == "stringify":
        parent[key] = str(node)
    return data


def _edit_text(text: str, op: str, at: int, value: str, line: str) -> str:
    lines = text.splitlines()
    i = at % max(1, len(lines))
    if op == "value" and lines and ": " in lines[i]:
        lines[i] = lines[i].split(": ", 1)[0] + ": " + value
    elif op == "insert":
        lines[i:i] = line.splitlines() or [""]
    elif op == "truncate":
        return text[: at % max(1, len(text))]
    else:
        cut = at % max(1, len(text))
        return text[:cut] + value + text[cut:]
    return "\n".join(lines) + "\n"


# ---- the property ------------------------------------------------------------------------------


@contextmanager
def _catalog_dirs(*, empty_triage: bool = True) -> Iterator[tuple[Path, Path]]:
    """playbooks/ and runbooks/ in a fresh temporary directory, which is also the cwd, so a
    YAML tag that ran code would leave PWNED behind where the test looks. A runbook is fuzzed
    with no playbooks: its references are then problems too, named like any other, and each
    example stays cheap (compiling every playbook per example would dominate the run)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        playbooks, runbooks = root / "playbooks", root / "runbooks"
        playbooks.mkdir()
        runbooks.mkdir()
        if empty_triage:
            (runbooks / "triage.yaml").write_text(EMPTY_TRIAGE)
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(root)
            yield playbooks, runbooks
        assert not (root / PWNED).exists(), "a YAML tag ran code"


def _assert_loads_or_names_the_file(folder: Path, target: Path, text: str) -> None:
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    started = time.monotonic()
    try:
        load_catalog(folder.parent / "playbooks", folder.parent / "runbooks")
    except CatalogError as exc:
        line_count = max(1, text.count("\n") + 1)
        assert exc.problems
        for problem in exc.problems:
            match = re.match(rf"^(.*{re.escape(target.name)}):(\d+): (.+?): (.+)$", problem, re.S)
            assert match, f"not file:line: field: problem: {problem!r}"
            assert 1 <= int(match.group(2)) <= line_count, problem
            assert "Traceback" not in problem
    assert time.monotonic() - started < HANG_GUARD_S


@FUZZ
@given(st.sampled_from(PLAYBOOKS), EDITS)
def test_structurally_mutated_playbook_loads_or_names_file_line_field(
    source: Path, edits: list[tuple[str, list[int], Any, str]]
) -> None:
    data = yaml.safe_load(source.read_text())
    for op, walk, value, junk in edits:
        data = _edit_tree(data, op, walk, value, junk)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    with _catalog_dirs() as (playbooks, _):
        _assert_loads_or_names_the_file(playbooks, playbooks / source.name, text)


@FUZZ
@given(st.sampled_from(PLAYBOOKS), TEXT_EDITS)
def test_hostile_playbook_text_loads_or_names_file_line_field(
    source: Path, edits: list[tuple[str, int, str, str]]
) -> None:
    text = source.read_text()
    for op, at, value, line in edits:
        text = _edit_text(text, op, at, value, line)
    with _catalog_dirs() as (playbooks, _):
        _assert_loads_or_names_the_file(playbooks, playbooks / source.name, text)


@FUZZ
@given(st.sampled_from(RUNBOOKS), EDITS, TEXT_EDITS)
def test_mutated_runbook_loads_or_names_file_line_field(
    source: Path, edits: list[tuple[str, list[int], Any, str]], text_edits: list[Any]
) -> None:
    data = yaml.safe_load(source.read_text())
    for op, walk, value, junk in edits:
        data = _edit_tree(data, op, walk, value, junk)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    for op, at, value, line in text_edits[:1]:
        text = _edit_text(text, op, at, value, line)
    with _catalog_dirs(empty_triage=False) as (_, runbooks):
        _assert_loads_or_names_the_file(runbooks, runbooks / source.name, text)


# ---- each hostile construct, by name: the problem it must produce ------------------------------


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("title", HOSTILE_VALUES[0], "YAML tag tag:yaml.org,2002:python/object/apply:os.mkdir"),
        ("title", HOSTILE_VALUES[3], "not allowed (plain data only)"),
        ("title", HOSTILE_VALUES[4], "YAML tag tag:yaml.org,2002:python/object:os.system"),
        ("title", "!!binary aGVsbG8=", "not allowed (plain data only)"),
        ("title", "!!int zz", "not a valid int"),
        ("title", "&self [*self]", "an alias refers to a value that contains it"),
        ("title", "[" * 300 + "]" * 300, "nested deeper than"),
        ("title", "{[a, b]: c}", "a key must be a plain scalar"),
        ("summary", "'{{ " + "(" * 600 + "1" + ")" * 600 + " }}'", "template nested too deeply"),
        ("summary", "'{% for x in %}'", "template syntax"),
    ],
    ids=[
        "python-apply",
        "python-name",
        "python-object",
        "binary",
        "bad-int",
        "recursive-alias",
        "deep-nesting",
        "complex-key",
        "deep-jinja",
        "bad-jinja",
    ],
)
def test_each_hostile_construct_is_named_at_its_line(field: str, value: str, problem: str) -> None:
    text = (ROOT / "playbooks/pod-pending.yaml").read_text()
    before, _, after = text.partition(f"\n{field}: ")
    line = before.count("\n") + 2
    rest = after.split("\n", 1)[1] if field == "title" else _drop_block(after)
    hostile = f"{before}\n{field}: {value}\n{rest}"
    with _catalog_dirs() as (playbooks, _):
        (playbooks / "pod-pending.yaml").write_text(hostile)
        with pytest.raises(CatalogError) as exc:
            load_catalog(playbooks, playbooks.parent / "runbooks")
    assert any(f"pod-pending.yaml:{line}: " in p and problem in p for p in exc.value.problems), (
        exc.value.problems
    )


def _drop_block(after: str) -> str:
    """The text after a folded `summary: >-` block: from the next top-level key on."""
    lines = after.split("\n")[1:]
    return "\n".join(lines[next(i for i, ln in enumerate(lines) if ln and ln[0] != " ") :])


def test_billion_laughs_stops_quickly_at_the_alias_budget() -> None:
    text = (ROOT / "playbooks/pod-pending.yaml").read_text() + LAUGHS
    started = time.monotonic()
    with _catalog_dirs() as (playbooks, _):
        (playbooks / "pod-pending.yaml").write_text(text)
        with pytest.raises(CatalogError) as exc:
            load_catalog(playbooks, playbooks.parent / "runbooks")
    assert any("alias expansion" in p for p in exc.value.problems), exc.value.problems
    assert time.monotonic() - started < HANG_GUARD_S  # 9**9 values if expanded


def test_a_bad_alert_route_regex_is_a_problem_not_a_crash() -> None:
    text = (ROOT / "runbooks/alert-routes.yaml").read_text()
    first = re.search(r"alertname: '[^']*'", text)
    assert first is not None
    broken = text.replace(first.group(0), "alertname: '(unclosed'", 1)
    line = text[: first.start()].count("\n") + 1
    with _catalog_dirs(empty_triage=False) as (_, runbooks):
        (runbooks / "alert-routes.yaml").write_text(broken)
        with pytest.raises(CatalogError) as exc:
            load_catalog(runbooks.parent / "playbooks", runbooks)
    assert any(
        f"alert-routes.yaml:{line}: " in p and "not a regular expression" in p
        for p in exc.value.problems
    ), exc.value.problems
